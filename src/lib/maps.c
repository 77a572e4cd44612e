/*
 * A streaming reader of /proc/PID/maps: one mapping at a time, so memory
 * does not depend on how many mappings the target has.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_hex(char **p, char stop, uint64_t *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(*p, &end, 16);
	if (errno || end == *p || *end != stop)
		return -1;
	*out = v;
	*p = end + 1;
	return 0;
}

/* Parse one maps line (without its newline) in place. */
int maps_parse_line(char *line, struct pmscan_mapping *m)
{
	char *p = line;
	uint64_t maj, min;

	memset(m, 0, sizeof(*m));
	m->tracked = -1;
	if (parse_hex(&p, '-', &m->start) || parse_hex(&p, ' ', &m->end))
		return -EINVAL;
	if (strlen(p) < 5 || p[4] != ' ')
		return -EINVAL;
	memcpy(m->perms, p, 4);
	p += 5;
	if (parse_hex(&p, ' ', &m->offset) || parse_hex(&p, ':', &maj) ||
	    parse_hex(&p, ' ', &min))
		return -EINVAL;
	m->dev_major = (unsigned)maj;
	m->dev_minor = (unsigned)min;
	char *end;
	errno = 0;
	m->inode = strtoull(p, &end, 10);
	if (errno || end == p || (*end != ' ' && *end != '\0'))
		return -EINVAL;
	while (*end == ' ')
		end++;
	m->name = end;
	if (m->end <= m->start)
		return -EINVAL;
	return 0;
}

int maps_open(struct maps_reader *r, int maps_fd)
{
	memset(r, 0, sizeof(*r));
	int fd = dup(maps_fd);
	if (fd < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	r->f = fdopen(fd, "r");
	if (!r->f) {
		int e = errno;
		close(fd);
		return -e;
	}
	return 0;
}

int maps_next(struct maps_reader *r, struct pmscan_mapping *m)
{
	errno = 0;
	ssize_t n = getline(&r->line, &r->cap, r->f);
	if (n < 0) {
		if (ferror(r->f))
			return errno ? -errno : -EIO;
		return 0;
	}
	if (n > 0 && r->line[n - 1] == '\n')
		r->line[n - 1] = '\0';
	return maps_parse_line(r->line, m) < 0 ? -EPROTO : 1;
}

void maps_close(struct maps_reader *r)
{
	if (r->f)
		fclose(r->f);
	free(r->line);
	memset(r, 0, sizeof(*r));
}

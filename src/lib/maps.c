/* SPDX-License-Identifier: LGPL-2.1-or-later */
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

/* Each reader keeps its own offset (pread), so readers of one target can
   nest: a dup'd fd would share the file offset. */
int maps_open(struct maps_reader *r, int maps_fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = maps_fd;
	r->cap = 16384;
	r->buf = malloc(r->cap);
	return r->buf ? 0 : -ENOMEM;
}

int maps_next(struct maps_reader *r, struct pmscan_mapping *m)
{
	for (;;) {
		char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		if (nl) {
			char *line = r->buf + r->pos;
			*nl = '\0';
			r->pos = (size_t)(nl - r->buf) + 1;
			return maps_parse_line(line, m) < 0 ? -EPROTO : 1;
		}
		if (r->eof) {
			if (r->pos == r->len)
				return 0;
			r->buf[r->len] = '\0';	/* a last line without newline */
			char *line = r->buf + r->pos;
			r->pos = r->len;
			return maps_parse_line(line, m) < 0 ? -EPROTO : 1;
		}
		/* Keep the partial line, make room, read more. */
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
		if (r->cap - r->len < 4096) {
			char *n = realloc(r->buf, r->cap * 2);
			if (!n)
				return -ENOMEM;
			r->buf = n;
			r->cap *= 2;
		}
		ssize_t got = pread(r->fd, r->buf + r->len, r->cap - r->len - 1, r->off);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			r->eof = true;
		r->len += (size_t)got;
		r->off += got;
	}
}

void maps_close(struct maps_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

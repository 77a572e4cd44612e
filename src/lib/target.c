/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Opening a target process: pidfd first, then its /proc files, then a check
 * through the pidfd that the process those files belong to is still the one
 * the pidfd names (a pid cannot be reused while its process lives).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

static int open_proc(pid_t pid, const char *file)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* A zombie keeps its pid but has no memory to scan. */
static bool is_zombie(pid_t pid)
{
	char path[64], buf[512];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

PMSCAN_EXPORT int pmscan_target_alive(const struct pmscan_target *t)
{
	struct pollfd p = { .fd = t->pidfd, .events = POLLIN };

	if (t->self)
		return 1;
	int r = poll(&p, 1, 0);
	if (r < 0)
		return -1;
	/* A pidfd becomes readable when its process exits. */
	if (r > 0 && (p.revents & (POLLIN | POLLHUP)))
		return 0;
	return is_zombie(t->pid) ? 0 : 1;
}

PMSCAN_EXPORT struct pmscan_target *pmscan_target_open(pid_t pid)
{
	struct pmscan_target *t;
	int e;

	if (pid < 0) {
		errno = ESRCH;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->pidfd = t->pagemap_fd = t->maps_fd = -1;
	t->timeout_ms = DEFAULT_TIMEOUT_MS;
	t->self = pid == 0 || pid == getpid();
	t->pid = t->self ? getpid() : pid;

	t->pidfd = pidfd_open(t->pid, 0);
	if (t->pidfd < 0)
		goto fail;
	if (!t->self && is_zombie(t->pid)) {
		errno = ESRCH;
		goto fail;
	}
	t->pagemap_fd = open_proc(t->pid, "pagemap");
	if (t->pagemap_fd < 0)
		goto fail_proc;
	t->maps_fd = open_proc(t->pid, "maps");
	if (t->maps_fd < 0)
		goto fail_proc;
	if (pmscan_target_alive(t) != 1) {
		errno = ESRCH;
		goto fail;
	}
	return t;

fail_proc:
	/* The /proc directory vanishing means the process went away. */
	if (errno == ENOENT)
		errno = ESRCH;
fail:
	e = errno;
	pmscan_target_close(t);
	errno = e;
	return NULL;
}

PMSCAN_EXPORT void pmscan_target_close(struct pmscan_target *t)
{
	if (!t)
		return;
	if (t->maps_fd >= 0)
		close(t->maps_fd);
	if (t->pagemap_fd >= 0)
		close(t->pagemap_fd);
	if (t->pidfd >= 0)
		close(t->pidfd);
	free(t);
}

PMSCAN_EXPORT pid_t pmscan_target_pid(const struct pmscan_target *t)
{
	return t->pid;
}

PMSCAN_EXPORT int pmscan_target_set_timeout(struct pmscan_target *t, unsigned ms)
{
	if (ms == 0 || ms > INT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	t->timeout_ms = (int)ms;
	return 0;
}

int target_fail(struct pmscan_target *t, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	return -err;
}

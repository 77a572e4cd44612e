/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Opening a target process: pidfd first, then its /proc files, then a check
 * through the pidfd that the process those files belong to is still the one
 * the pidfd names (a pid cannot be reused while its process lives).
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static int open_proc(const char *where, const char *file)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%s/%s", where, file);
	return open(path, O_RDONLY | O_CLOEXEC);
}

ssize_t proc_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static char task_state(const char *path)
{
	char buf[512];

	if (proc_read(path, buf, sizeof(buf)) <= 0)
		return '?';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* A live thread of the process: the leader, or when the leader is a
   zombie (it called pthread_exit() while other threads run on) another
   thread, whose /proc/PID/task/TID files still show the memory. 0 when
   every thread is gone: a zombie keeps its pid but has no memory. */
pid_t target_live_task(pid_t pid)
{
	char path[64];
	char st;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	st = task_state(path);
	if (st != 'Z' && st != 'X')
		return st == '?' ? 0 : pid;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	struct dirent *e;
	pid_t tid = 0;
	if (!d)
		return 0;
	while (!tid && (e = readdir(d))) {
		char tpath[320];
		if (e->d_name[0] == '.')
			continue;
		snprintf(tpath, sizeof(tpath), "/proc/%d/task/%s/stat", (int)pid, e->d_name);
		st = task_state(tpath);
		if (st != 'Z' && st != 'X' && st != '?')
			tid = atoi(e->d_name);
	}
	closedir(d);
	return tid;
}

static bool is_zombie(pid_t pid)
{
	return target_live_task(pid) == 0;
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
	t->pt_budget = DEFAULT_PT_BUDGET;
	t->tracker_fd = -1;
	t->self = pid == 0 || pid == getpid();
	t->pid = t->self ? getpid() : pid;

	t->pidfd = pidfd_open(t->pid, 0);
	if (t->pidfd < 0)
		goto fail;
	if (!t->self && is_zombie(t->pid)) {
		errno = ESRCH;
		goto fail;
	}
	pid_t tid = t->self ? t->pid : target_live_task(t->pid);
	char where[64];
	if (tid == t->pid || tid == 0)
		snprintf(where, sizeof(where), "%d", (int)t->pid);
	else
		snprintf(where, sizeof(where), "%d/task/%d", (int)t->pid, (int)tid);
	t->pagemap_fd = open_proc(where, "pagemap");
	if (t->pagemap_fd < 0)
		goto fail_proc;
	t->maps_fd = open_proc(where, "maps");
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

PMSCAN_EXPORT int pmscan_target_set_page_table_budget(struct pmscan_target *t, uint64_t bytes)
{
	t->pt_budget = bytes;
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

/* A copy of the process's fd. A zombie leader has no fd table of its own:
   go through a live thread's pidfd (PIDFD_THREAD, Linux 6.9+). -errno. */
int target_getfd(struct pmscan_target *t, int fd)
{
	int copy = (int)syscall(SYS_pidfd_getfd, t->pidfd, fd, 0);

	if (copy < 0 && errno == ESRCH) {
		pid_t tid = target_live_task(t->pid);
		if (tid > 0 && tid != t->pid) {
			int tfd = (int)syscall(SYS_pidfd_open, tid, O_EXCL /* PIDFD_THREAD */);
			if (tfd >= 0) {
				copy = (int)syscall(SYS_pidfd_getfd, tfd, fd, 0);
				int e = errno;
				close(tfd);
				errno = e;
			}
		}
	}
	return copy < 0 ? -errno : copy;
}

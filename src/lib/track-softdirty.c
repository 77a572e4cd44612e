/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The soft-dirty tracker, and the choice between trackers. Soft-dirty needs
 * nothing inside the process: writing "4" to /proc/PID/clear_refs clears
 * the soft-dirty bit of every page (and the VMA flag) of the whole process,
 * and the kernel sets it again at each page's next write. "Written" is then
 * the SOFT_DIRTY category (scan.c maps the request). No ptrace, no state
 * left in the process, nothing to undo; works back to Linux 3.11 wherever
 * the kernel has CONFIG_MEM_SOFT_DIRTY (docs/kernel.md).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- which trackers work here ------------------------------------------ */

static bool uffd_ok;
static const char *uffd_why = "";
static pthread_once_t uffd_once = PTHREAD_ONCE_INIT;

/* Arming asks the target's own userfaultfd for these; asking pmscan's own
   tells whether the kernel has them, without touching any process. */
static void uffd_probe(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	if (fd < 0) {
		uffd_why = errno == ENOSYS || errno == EINVAL ?
			   "the running kernel offers no userfaultfd" :
			   "pmscan cannot create a userfaultfd here (a seccomp filter or "
			   "vm.unprivileged_userfaultfd?)";
		return;
	}
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED };
	uffd_ok = ioctl(fd, UFFDIO_API, &api) == 0;
	if (!uffd_ok)
		uffd_why = "the running kernel lacks userfaultfd async write-protect (Linux 6.7+)";
	close(fd);
}

bool probe_uffd_wp_async(const char **why)
{
	pthread_once(&uffd_once, uffd_probe);
	if (why)
		*why = uffd_why;
	return uffd_ok;
}

static char both_why[512];
static pthread_once_t both_once = PTHREAD_ONCE_INIT;

static void both_reasons(void)
{
	const char *u, *s;

	probe_uffd_wp_async(&u);
	probe_soft_dirty(&s);
	snprintf(both_why, sizeof(both_why), "no write tracker works here: uffd: %s; soft-dirty: %s",
		 u, s);
}

PMSCAN_EXPORT const char *pmscan_tracker_unavailable(int tracker)
{
	const char *why;

	switch (tracker) {
	case PMSCAN_TRACKER_UFFD:
		return probe_uffd_wp_async(&why) ? NULL : why;
	case PMSCAN_TRACKER_SOFT_DIRTY:
		return probe_soft_dirty(&why) ? NULL : why;
	case PMSCAN_TRACKER_AUTO:
		if (probe_uffd_wp_async(NULL) || probe_soft_dirty(NULL))
			return NULL;
		/* Built once: the reasons never change within a process. */
		pthread_once(&both_once, both_reasons);
		return both_why;
	default:
		return "not a tracker";
	}
}

int tracker_resolve(const struct pmscan_target *t)
{
	switch (t->tracker) {
	case PMSCAN_TRACKER_UFFD:
	case PMSCAN_TRACKER_SOFT_DIRTY:
		return t->tracker;
	default:
		if (probe_uffd_wp_async(NULL))
			return PMSCAN_TRACKER_UFFD;
		if (probe_soft_dirty(NULL))
			return PMSCAN_TRACKER_SOFT_DIRTY;
		return -ENOTSUP;
	}
}

PMSCAN_EXPORT int pmscan_target_set_tracker(struct pmscan_target *t, int tracker)
{
	if (tracker != PMSCAN_TRACKER_AUTO && tracker != PMSCAN_TRACKER_UFFD &&
	    tracker != PMSCAN_TRACKER_SOFT_DIRTY) {
		errno = EINVAL;
		return -1;
	}
	/* A kernel without async write-protect shows itself to the uffd
	   tracker (no mapping is ever registered: nothing reads written, and
	   arming says why), so UFFD may be chosen anywhere. Soft-dirty would
	   silently read every page clean: refused. AUTO may find nothing:
	   that is reported where tracking is used. */
	if (tracker == PMSCAN_TRACKER_SOFT_DIRTY && pmscan_tracker_unavailable(tracker)) {
		errno = ENOTSUP;
		return -1;
	}
	t->tracker = tracker;
	return 0;
}

PMSCAN_EXPORT int pmscan_target_get_tracker(const struct pmscan_target *t)
{
	int r = tracker_resolve(t);

	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

/* ---- resetting ----------------------------------------------------------- */

/* Write "4" to the process's clear_refs. The file is opened first and the
   pidfd checked after: a pid reused in between is never reset. */
int soft_dirty_reset(struct pmscan_target *t)
{
	char path[64];
	pid_t tid = t->self ? t->pid : target_live_task(t->pid);
	int fd, e = 0;

	if (tid <= 0)
		return target_fail(t, ESRCH, "process %d has exited", (int)t->pid);
	/* A zombie leader has no memory left to reset; a live thread's
	   directory reaches the same mm. */
	if (tid == t->pid)
		snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)t->pid);
	else
		snprintf(path, sizeof(path), "/proc/%d/task/%d/clear_refs", (int)t->pid, (int)tid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno == ENOENT ? ESRCH : errno;
		return target_fail(t, e, "cannot open /proc/%d/clear_refs to reset soft-dirty bits",
				   (int)t->pid);
	}
	if (pmscan_target_alive(t) != 1)
		e = ESRCH;
	else if (write(fd, "4", 1) != 1)
		e = errno == ENOENT ? ESRCH : errno;
	close(fd);
	if (e == ESRCH)
		return target_fail(t, ESRCH, "process %d has exited", (int)t->pid);
	if (e)
		return target_fail(t, e, "cannot write /proc/%d/clear_refs to reset soft-dirty bits",
				   (int)t->pid);
	return 0;
}

int soft_dirty_arm(struct pmscan_target *t, size_t nranges, struct pmscan_arm_stats *st)
{
	struct maps_reader mr;
	struct pmscan_mapping m;
	int r;

	if (nranges)
		return target_fail(t, EINVAL, "the soft-dirty tracker resets the whole process: "
				   "it cannot be armed in ranges");
	if ((r = soft_dirty_reset(t)) < 0)
		return r;
	if (st) {
		st->fd = -1;
		/* What the reset covered, for the caller's report; clear_refs
		   passes over VM_PFNMAP mappings (the vDSO data). */
		if (maps_open(&mr, t->maps_fd) == 0) {
			while (maps_next(&mr, &m) > 0) {
				if (!strncmp(m.name, "[vvar", 5) || !strcmp(m.name, "[vsyscall]")) {
					st->skipped++;
					continue;
				}
				st->mappings++;
				st->bytes += m.end - m.start;
			}
			maps_close(&mr);
		}
	}
	return 1;
}

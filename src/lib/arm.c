/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Arming: write tracking in a process that never asked for it. The target
 * itself must create the userfaultfd (a uffd registers only its creator's
 * memory), so pmscan injects one userfaultfd() syscall with ptrace, takes a
 * copy of the new fd with pidfd_getfd(), and does everything else from
 * outside: UFFDIO_API, UFFDIO_REGISTER, write-protect. The fd stays open in
 * the target, so tracking outlives pmscan; later runs find it again.
 */
#include "internal.h"
#include "inject.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_EVENT_STOP
# define PTRACE_EVENT_STOP 128
#endif

/* The features pmscan asks for. THREAD_ID and EXACT_ADDRESS change nothing
   in async mode (they shape fault messages, which async WP never sends);
   together they mark the fd as pmscan's tracker in /proc/PID/fdinfo. */
#define TRACKER_FEATURES (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | \
			  UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EXACT_ADDRESS)
#define TRACKER_SIGNATURE (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_THREAD_ID | \
			   UFFD_FEATURE_EXACT_ADDRESS)

/* Mappings larger than this are not tracked: write-protecting untouched
   pages costs a page-table entry each (8 bytes per page). */
#define TRACK_MAX_BYTES (UINT64_C(64) << 30)

static int fail(struct pmscan_target *t, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct pmscan_target *t, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	return -err;
}

PMSCAN_EXPORT const char *pmscan_target_error(const struct pmscan_target *t)
{
	return t->err;
}

/* ---- finding the tracker ---------------------------------------------- */

static bool fd_is_tracker(pid_t pid, int fd)
{
	char path[64], link[64], line[128];
	ssize_t n;
	FILE *f;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	if (strcmp(link, "anon_inode:[userfaultfd]"))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long api, ioctls;
		unsigned features;
		if (sscanf(line, "API: %llx:%x:%llx", &api, &features, &ioctls) == 3) {
			found = (features & TRACKER_SIGNATURE) == TRACKER_SIGNATURE;
			break;
		}
	}
	fclose(f);
	return found;
}

PMSCAN_EXPORT int pmscan_tracker_fd(const struct pmscan_target *t)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int found = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)t->pid);
	d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			errno = ESRCH;
		return -1;
	}
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name)
			continue;
		if (fd_is_tracker(t->pid, (int)fd)) {
			found = (int)fd;
			break;
		}
	}
	closedir(d);
	if (found < 0)
		errno = ENOENT;
	return found;
}

/* ---- one injected syscall ------------------------------------------- */

static long status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* A live thread of the process: the leader unless it already exited. */
static pid_t pick_thread(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	pid_t tid = pid;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)pid);
	FILE *f = fopen(path, "re");
	if (f) {
		char buf[512], *p;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X')
			return pid;
	}
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return pid;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != pid) {
			tid = atoi(e->d_name);
			break;
		}
	closedir(d);
	return tid;
}

/* Address of a syscall instruction already in the target: the vDSO has
   some; failing that, any executable mapping. No code is written. */
static int find_syscall_insn(struct pmscan_target *t, uint64_t *addr)
{
	struct maps_reader mr;
	struct pmscan_mapping m;
	unsigned char buf[65536];
	int r, pass;

	for (pass = 0; pass < 2; pass++) {
		if ((r = maps_open(&mr, t->maps_fd)) < 0)
			return r;
		while ((r = maps_next(&mr, &m)) > 0) {
			if (pass == 0 ? strcmp(m.name, "[vdso]") != 0 : m.perms[2] != 'x')
				continue;
			if (!strcmp(m.name, "[vsyscall]"))
				continue;
			for (uint64_t a = m.start; a < m.end; a += sizeof(buf)) {
				size_t len = m.end - a < sizeof(buf) ? (size_t)(m.end - a) : sizeof(buf);
				struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)a, len };
				ssize_t n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
				if (n <= 0)
					break;
				for (ssize_t i = 0; i + (ssize_t)arch_syscall_insn_len <= n; i++)
					if (!memcmp(buf + i, arch_syscall_insn, arch_syscall_insn_len)) {
						*addr = a + (uint64_t)i;
						maps_close(&mr);
						return 0;
					}
			}
		}
		maps_close(&mr);
		if (r < 0)
			return r;
	}
	return -ENOEXEC;
}

/* Wait for the next stop of tid; -ESRCH when it exited instead. */
static int wait_stop(pid_t tid, int *status)
{
	for (;;) {
		pid_t r = waitpid(tid, status, __WALL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECHILD ? -ESRCH : -errno;
		}
		if (WIFEXITED(*status) || WIFSIGNALED(*status))
			return -ESRCH;
		return 0;
	}
}

/* Resume until the next syscall stop (entry or exit). Other stops (a job
   control stop; signals are blocked) are passed over. */
static int run_to_syscall_stop(pid_t tid)
{
	int status;

	for (int tries = 0; tries < 64; tries++) {
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			return errno == ESRCH ? -ESRCH : -errno;
		int r = wait_stop(tid, &status);
		if (r < 0)
			return r;
		if (WSTOPSIG(status) == (SIGTRAP | 0x80))
			return 0;
		if ((status >> 8) == (SIGTRAP | (PTRACE_EVENT_EXIT << 8)))
			return -ESRCH;
		if ((status >> 16) == PTRACE_EVENT_STOP)
			continue;
		/* A synchronous signal (a fault at our pc): give up. */
		return -EFAULT;
	}
	return -EAGAIN;
}

/* Save, inject, restore, in a thread already in a ptrace-stop of ours. */
static int inject_stopped(struct pmscan_target *t, pid_t tid, long nr, const uint64_t args[6], long *ret)
{
	struct arch_regs saved, regs;
	uint64_t saved_mask = 0, all = ~UINT64_C(0), pc = 0;
	int r;

	if (ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof(saved_mask), &saved_mask) < 0 ||
	    ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(all), &all) < 0)
		return -errno;
	if ((r = arch_get_regs(tid, &saved)) < 0)
		goto mask;
	if (!arch_regs_native(&saved)) {
		r = fail(t, ENOEXEC, "process %d is not a native 64-bit process", (int)t->pid);
		goto mask;
	}
	arch_fixup_restart(&saved);
	if ((r = find_syscall_insn(t, &pc)) < 0) {
		fail(t, -r, "no syscall instruction found in process %d", (int)t->pid);
		goto mask;
	}
	regs = saved;
	arch_setup_syscall(&regs, pc, nr, args);
	if ((r = arch_set_regs(tid, &regs)) < 0)
		goto regs;
	if ((r = run_to_syscall_stop(tid)) < 0 || (r = run_to_syscall_stop(tid)) < 0)
		goto regs;
	if ((r = arch_get_regs(tid, &regs)) < 0)
		goto regs;
	*ret = arch_syscall_result(&regs);
regs:
	if (arch_set_regs(tid, &saved) < 0 && r == 0)
		r = -errno;
mask:
	ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(saved_mask), &saved_mask);
	return r;
}

/*
 * Run syscall nr(args) in the target and put its return value in *ret.
 * Seize and interrupt one thread, save its registers and signal mask, block
 * every signal, run the call at an existing syscall instruction, then
 * restore everything and detach; on every path, errors included.
 */
static int inject(struct pmscan_target *t, long nr, const uint64_t args[6], long *ret)
{
	pid_t tid;
	int status, r;

	if (t->tracer_of > 0) {
		r = inject_stopped(t, t->tracer_of, nr, args, ret);
		goto out;
	}
	tid = pick_thread(t->pid);
	long tracer = status_field(tid, "TracerPid");
	if (tracer > 0)
		return fail(t, EBUSY, "process %d is already traced by process %ld (a debugger?)",
			    (int)t->pid, tracer);
	if (ptrace(PTRACE_SEIZE, tid, 0, (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXIT)) < 0) {
		int e = errno;
		tracer = status_field(tid, "TracerPid");
		if (e == EPERM && tracer > 0)
			return fail(t, EBUSY, "process %d is already traced by process %ld (a debugger?)",
				    (int)t->pid, tracer);
		return fail(t, e, "cannot attach to process %d with ptrace", (int)t->pid);
	}
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
		r = -errno;
		goto detach;
	}
	if ((r = wait_stop(tid, &status)) < 0)
		goto out;
	r = inject_stopped(t, tid, nr, args, ret);
detach:
	if (ptrace(PTRACE_DETACH, tid, 0, 0) < 0 && errno != ESRCH && r == 0)
		r = -errno;
out:
	if (r == -ESRCH || pmscan_target_alive(t) == 0)
		return fail(t, ESRCH, "process %d exited while being armed", (int)t->pid);
	if (r < 0 && !t->err[0])
		fail(t, -r, "injecting a system call into process %d", (int)t->pid);
	return r;
}

PMSCAN_EXPORT int pmscan_target_set_tracer(struct pmscan_target *t, pid_t tid)
{
	if (tid < 0 || t->self) {
		errno = EINVAL;
		return -1;
	}
	t->tracer_of = tid;
	return 0;
}

static int inject_close(struct pmscan_target *t, int fd)
{
	uint64_t args[6] = { (uint64_t)fd };
	long ret = 0;
	int r = inject(t, SYS_close, args, &ret);

	return r < 0 ? r : ret < 0 ? (int)ret : 0;
}

/* ---- registering ----------------------------------------------------- */

static const char *special_names[] = { "[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]", NULL };

/* NULL when the mapping may be registered, else why not. */
static const char *untrackable(const struct pmscan_mapping *m)
{
	for (int i = 0; special_names[i]; i++)
		if (!strcmp(m->name, special_names[i]))
			return "kernel-provided mapping";
	if (m->perms[0] == '-' && m->perms[1] == '-' && m->perms[2] == '-')
		return "no access rights (a reservation or guard page; tracked once made accessible)";
	if (m->end - m->start > TRACK_MAX_BYTES)
		return "larger than 64 GiB (write-protecting it would populate page tables for "
		       "every untouched page)";
	return NULL;
}

static const char *register_error(int e)
{
	switch (e) {
	case EBUSY:
		return "already registered with another userfaultfd of the process";
	case EPERM:
		return "the process could never write it (no VM_MAYWRITE)";
	case EINVAL:
		return "the kernel cannot track this kind of mapping";
	default:
		return strerror(e);
	}
}

static int uffd_register(int uffd, const struct pmscan_mapping *m)
{
	struct uffdio_register reg = {
		.range = { m->start, m->end - m->start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg) < 0 ? -errno : 0;
}

/* Write-protect [start, end): a reset of the written state. */
static int protect(struct pmscan_target *t, uint64_t start, uint64_t end)
{
	struct pm_scan_arg a = {
		.size = sizeof(a), .flags = PM_SCAN_WP_MATCHING, .start = start, .end = end,
		.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
	};

	return pagemap_ioctl(t->pagemap_fd, &a) < 0 ? -errno : 0;
}

static bool in_ranges(const struct pmscan_mapping *m, const struct pmscan_range *ranges, size_t n)
{
	if (!n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (ranges[i].start < m->end && ranges[i].end > m->start)
			return true;
	return false;
}

/* Register every untracked mapping (in ranges); write-protect them when
   protect_new. Untrackable ones go to on_skip. */
static int register_all(struct pmscan_target *t, int uffd, const struct pmscan_range *ranges, size_t n,
			bool protect_new, pmscan_skip_fn on_skip, void *arg, struct pmscan_arm_stats *st)
{
	struct maps_reader mr;
	struct pmscan_mapping m;
	int r;

	if ((r = maps_open(&mr, t->maps_fd)) < 0)
		return r;
	while ((r = maps_next(&mr, &m)) > 0) {
		if (!in_ranges(&m, ranges, n))
			continue;
		const char *why = untrackable(&m);
		int e = 0;
		if (!why && (e = -uffd_register(uffd, &m)) != 0) {
			if (e == ENOMEM || e == ESRCH || pmscan_target_alive(t) == 0) {
				r = -ESRCH;
				break;
			}
			why = register_error(e);
		}
		if (why) {
			if (st)
				st->skipped++;
			if (on_skip)
				on_skip(&m, why, arg);
			continue;
		}
		if (protect_new && (r = protect(t, m.start, m.end)) < 0)
			break;
		if (st) {
			st->mappings++;
			st->bytes += m.end - m.start;
		}
	}
	maps_close(&mr);
	if (r == -ESRCH || pmscan_target_alive(t) == 0)
		return fail(t, ESRCH, "process %d exited while being armed", (int)t->pid);
	return r < 0 ? fail(t, -r, "registering the mappings of process %d", (int)t->pid) : 0;
}

static int get_tracker_copy(struct pmscan_target *t, int fd)
{
	int copy = (int)syscall(SYS_pidfd_getfd, t->pidfd, fd, 0);

	if (copy < 0)
		return fail(t, errno, "cannot take a copy of fd %d of process %d", fd, (int)t->pid);
	return copy;
}

PMSCAN_EXPORT int pmscan_arm(struct pmscan_target *t, const struct pmscan_range *ranges, size_t nranges,
			     pmscan_skip_fn on_skip, void *arg, struct pmscan_arm_stats *st)
{
	uint64_t args[6] = { O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY };
	long fd = -1;
	int uffd = -1, r;

	t->err[0] = '\0';
	if (st)
		memset(st, 0, sizeof(*st));
	if (t->self) {
		errno = EINVAL;
		fail(t, EINVAL, "pmscan does not arm itself (use the write-watch API)");
		return -1;
	}
	if ((r = pmscan_tracker_fd(t)) >= 0) {
		if (st)
			st->fd = r;
		return 0;
	}
	if (errno != ENOENT) {
		r = -errno;
		goto out;
	}
	if ((r = inject(t, SYS_userfaultfd, args, &fd)) < 0)
		goto out;
	if (fd < 0) {
		r = fail(t, (int)-fd, "process %d could not create a userfaultfd", (int)t->pid);
		goto out;
	}
	if ((r = uffd = get_tracker_copy(t, (int)fd)) < 0)
		goto undo;
	struct uffdio_api api = { .api = UFFD_API, .features = TRACKER_FEATURES | UFFD_FEATURE_WP_HUGETLBFS_SHMEM };
	if (ioctl(uffd, UFFDIO_API, &api) < 0) {
		/* EINVAL: a feature this kernel lacks (WP_ASYNC is 6.7+). */
		r = fail(t, errno == EINVAL ? ENOTSUP : errno,
			 "the running kernel lacks userfaultfd async write-protect (Linux 6.7+)");
		goto undo;
	}
	if ((r = register_all(t, uffd, ranges, nranges, true, on_skip, arg, st)) < 0)
		goto undo;
	if (st)
		st->fd = (int)fd;
	close(uffd);
	return 1;

undo:
	/* Leave the process as it was: no tracker fd, nothing registered. */
	if (uffd >= 0)
		close(uffd);
	if (pmscan_target_alive(t) == 1) {
		char keep[sizeof(t->err)];
		memcpy(keep, t->err, sizeof(keep));
		inject_close(t, (int)fd);
		memcpy(t->err, keep, sizeof(keep));
	}
out:
	errno = -r;
	return -1;
}

PMSCAN_EXPORT int pmscan_disarm(struct pmscan_target *t)
{
	struct maps_reader mr;
	struct pmscan_mapping m;
	int fd, uffd, r;

	t->err[0] = '\0';
	fd = pmscan_tracker_fd(t);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		fail(t, errno, "listing the fds of process %d", (int)t->pid);
		return -1;
	}
	uffd = get_tracker_copy(t, fd);
	if (uffd < 0) {
		errno = -uffd;
		return -1;
	}
	/* Unregister explicitly: a child that inherited the fd would keep the
	   registrations alive after the close. */
	if (maps_open(&mr, t->maps_fd) == 0) {
		while (maps_next(&mr, &m) > 0) {
			struct uffdio_range range = { m.start, m.end - m.start };
			ioctl(uffd, UFFDIO_UNREGISTER, &range);
		}
		maps_close(&mr);
	}
	close(uffd);
	r = inject_close(t, fd);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 1;
}

/* The pages of a just-registered mapping that hold written data: anonymous
   (a written private file page is anonymous too), not the zero page. */
static int report_written(struct pmscan_target *t, const struct pmscan_mapping *m,
			  pmscan_region_fn on_written, void *arg)
{
	struct pmscan_scan *s = pmscan_scan_new(t);
	int r = -1;

	if (s && pmscan_scan_set_masks(s, 0, PMSCAN_PRESENT | PMSCAN_SWAPPED,
				       PMSCAN_FILE | PMSCAN_PFNZERO, PMSCAN_PRESENT | PMSCAN_SWAPPED) == 0 &&
	    pmscan_scan_add_range(s, m->start, m->end) == 0) {
		pmscan_scan_set_callbacks(s, NULL, on_written, arg);
		r = pmscan_scan_run(s);
	}
	pmscan_scan_free(s);
	return r;
}

static int uffd_protect(int uffd, const struct pmscan_mapping *m)
{
	struct uffdio_writeprotect wp = {
		.range = { m->start, m->end - m->start },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0 ? -errno : 0;
}

PMSCAN_EXPORT int pmscan_rearm(struct pmscan_target *t, const struct pmscan_range *ranges, size_t nranges,
			       unsigned flags, pmscan_region_fn on_written, void *arg,
			       struct pmscan_arm_stats *st)
{
	int fd, uffd, r;

	if (flags & ~PMSCAN_REARM_PROTECT) {
		errno = EINVAL;
		return -1;
	}

	t->err[0] = '\0';
	if (st)
		memset(st, 0, sizeof(*st));
	fd = pmscan_tracker_fd(t);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (st)
		st->fd = fd;
	uffd = get_tracker_copy(t, fd);
	if (uffd < 0) {
		errno = -uffd;
		return -1;
	}
	/* Only untracked mappings. New ones are not protected: they read as
	   written once, being new since tracking began. */
	struct maps_reader mr;
	struct pmscan_mapping m;
	r = maps_open(&mr, t->maps_fd);
	while (r == 0 && maps_next(&mr, &m) > 0) {
		if (!in_ranges(&m, ranges, nranges) || untrackable(&m) ||
		    mapping_tracked(t, m.start) != 0)
			continue;
		if (uffd_register(uffd, &m) < 0)
			continue;
		if (flags & PMSCAN_REARM_PROTECT) {
			if (on_written)
				report_written(t, &m, on_written, arg);
			uffd_protect(uffd, &m);
		}
		if (st) {
			st->mappings++;
			st->bytes += m.end - m.start;
		}
	}
	if (r == 0)
		maps_close(&mr);
	close(uffd);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 1;
}

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
#include "remote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
/* Armed with ranges (--arm --range): later scans register new mappings only
   inside the ranges they are given themselves. Recorded in the tracker, where
   every later run finds it, as a feature that changes nothing for WP-only
   registrations (it concerns missing-page faults in shmem). */
#define TRACKER_RANGED UFFD_FEATURE_MISSING_SHMEM


#define fail target_fail

PMSCAN_EXPORT const char *pmscan_target_error(const struct pmscan_target *t)
{
	return t->err;
}

/* ---- finding the tracker ---------------------------------------------- */

static bool fd_is_tracker(pid_t pid, int fd, unsigned *features_out)
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
			if (features_out)
				*features_out = features;
			break;
		}
	}
	fclose(f);
	return found;
}

/* Is any mapping of the process registered for async write-protect? (The
   slow way, for kernels where any_registered cannot say.) */
static const char *untrackable(const struct pmscan_mapping *m);

static bool has_tracked_mapping(struct pmscan_target *t)
{
	struct maps_reader mr;
	struct pmscan_mapping m;
	bool found = false;

	if (maps_open(&mr, t->maps_fd) < 0)
		return false;
	while (!found && maps_next(&mr, &m) > 0)
		if (!untrackable(&m) && mapping_tracked(t, m.start) == 1)
			found = true;
	maps_close(&mr);
	return found;
}

/* Is any page of the process registered for async write-protect? One
   PAGEMAP_SCAN over the whole address space, stopped at the first such page
   (mappings without it are passed over whole). A tracker fd inherited
   through fork() is bound to the parent's memory and the child's mappings
   lost their registration at the fork, so with none registered the process
   has no tracker of its own, however many fds it holds. 1, 0, or -1 when
   the kernel cannot say (no PAGEMAP_SCAN). */
static int any_registered(struct pmscan_target *t)
{
	struct page_region one;
	struct pm_scan_arg a = {
		.size = sizeof(a), .end = probe_user_end(),
		.vec = (uintptr_t)&one, .vec_len = 1, .max_pages = 1,
		.category_mask = PAGE_IS_WPALLOWED, .return_mask = PAGE_IS_WPALLOWED,
	};

	if (!a.end || !have_pagemap_scan())
		return -1;
	int n = pagemap_ioctl(t->pagemap_fd, &a);
	return n < 0 ? -1 : n > 0;
}

/* ---- where the tracker is, remembered ----------------------------------
   Finding the tracker in the fd table costs a readlink per fd (about 75 ms
   at 20000 fds), so its number is remembered: in t for this caller's later
   calls, and for later runs (each pmscan is a new process) in a file named
   PID-START (START: the process's start time, so that a reused pid never
   matches) in /run/pmscan for root, else in $XDG_RUNTIME_DIR/pmscan; a
   directory that is not the caller's own and private is not used. The
   number is a hint only: it is taken when that fd passes the same check as
   the table's, else the table is read. */

static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long v = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (proc_read(path, buf, sizeof(buf)) <= 0)
		return 0;
	/* Field 22; fields 3 to 21 follow the last ')'. */
	char *p = strrchr(buf, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		v = strtoull(p + 1, NULL, 10);
	return v;
}

static bool hint_dir(char *dir, size_t len)
{
	struct stat st;
	const char *base = geteuid() == 0 ? "/run" : secure_getenv("XDG_RUNTIME_DIR");

	if (!base || base[0] != '/' || (size_t)snprintf(dir, len, "%s/pmscan", base) >= len)
		return false;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return false;
	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	       !(st.st_mode & 077);
}

static bool hint_path(const struct pmscan_target *t, char *path, size_t len)
{
	char dir[256];
	unsigned long long start = start_time(t->pid);

	return start && hint_dir(dir, sizeof(dir)) &&
	       (size_t)snprintf(path, len, "%s/%d-%llu", dir, (int)t->pid, start) < len;
}

static int hint_read(const struct pmscan_target *t)
{
	char path[320], buf[16];
	int fd, v = -1;
	ssize_t n;

	if (!hint_path(t, path, sizeof(path)) || (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		v = atoi(buf);
	}
	return v;
}

/* Files of processes that are gone, or have another start time. */
static void hint_prune(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int pid;
		unsigned long long start;
		if (sscanf(e->d_name, "%d-%llu", &pid, &start) == 2 && pid > 0 &&
		    start_time(pid) != start)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

static void hint_write(const struct pmscan_target *t, int tracker)
{
	char path[320], dir[256], tmp[340], buf[16];
	int fd, n = snprintf(buf, sizeof(buf), "%d\n", tracker);

	if (!hint_path(t, path, sizeof(path)))
		return;
	/* the directory hint_path checked: path up to its last '/' */
	snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
	hint_prune(dir);
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	bool ok = write(fd, buf, (size_t)n) == n;
	close(fd);
	if (!ok || rename(tmp, path) < 0)
		unlink(tmp);
}

static void hint_forget(struct pmscan_target *t)
{
	char path[320];

	t->tracker_fd = -1;
	if (hint_path(t, path, sizeof(path)))
		unlink(path);
}

/* The fd of the process's own tracker; *inherited counts tracker fds that
   are bound to another process's memory (copies inherited from a parent),
   when the fd table was read. */
static int find_tracker_how(struct pmscan_target *t, int *inherited, bool *ranged, bool remembered)
{
	unsigned features = 0;
	char path[64];
	DIR *d;
	struct dirent *e;
	int found = -1, bound;

	*inherited = 0;
	/* Nothing registered: no tracker of its own, and no table to read. */
	if ((bound = any_registered(t)) == 0) {
		t->tracker_fd = -1;
		return -ENOENT;
	}
	pid_t tid = target_live_task(t->pid);
	pid_t owner = tid > 0 ? tid : t->pid;
	/* The number remembered: this caller's, else a later run's hint. */
	int hint = !remembered ? -1 : t->tracker_fd >= 0 ? t->tracker_fd : hint_read(t);
	if (hint >= 0 && bound == 1 && fd_is_tracker(owner, hint, &features)) {
		t->tracker_fd = hint;
		if (ranged)
			*ranged = features & TRACKER_RANGED;
		return hint;
	}
	if (tid > 0 && tid != t->pid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/fd", (int)t->pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)t->pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name || !fd_is_tracker(owner, (int)fd, &features))
			continue;
		if (bound < 0)
			bound = has_tracked_mapping(t) ? 1 : 0;
		if (bound && found < 0) {
			found = (int)fd;
			if (ranged)
				*ranged = features & TRACKER_RANGED;
		}
		else
			(*inherited)++;
	}
	closedir(d);
	if (found < 0) {
		if (hint >= 0)
			hint_forget(t);
		return -ENOENT;
	}
	t->tracker_fd = found;
	hint_write(t, found);
	return found;
}

static int find_tracker(struct pmscan_target *t, int *inherited, bool *ranged)
{
	return find_tracker_how(t, inherited, ranged, true);
}

PMSCAN_EXPORT int pmscan_tracker_fd(const struct pmscan_target *t)
{
	int inherited, r = find_tracker((struct pmscan_target *)t, &inherited, NULL);

	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

/* ---- one injected syscall ------------------------------------------- */

static int inject_close(struct pmscan_target *t, int fd)
{
	struct remote_call c = { .nr = SYS_close, .args = { (uint64_t)fd }, .undo_nr = -1 };
	int r = remote_run(t, &c);

	return r < 0 ? r : c.ret < 0 ? (int)c.ret : 0;
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

static bool in_ranges(const struct pmscan_mapping *m, const struct pmscan_range *ranges, size_t n)
{
	if (!n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (ranges[i].start < m->end && ranges[i].end > m->start)
			return true;
	return false;
}

/*
 * Write-protect a mapping just registered. Every entry is protected, empty
 * ones with a marker (so a page only read later never reads as written):
 * exact, but an empty 2 MiB chunk with no page table gets one, which the
 * page-table budget bounds (page_table_cost).
 *
 * The pages that hold data written since tracking began (anonymous,
 * present or swapped, not the zero page) go to on_written (may be NULL)
 * and, unless protect_all, are left unprotected, so that they read as
 * written: only pages really written count, whenever the mapping appeared.
 */
#define CHUNK (UINT64_C(2) << 20)

struct settle {
	int uffd;
	uint64_t cursor;	/* protected up to here */
	uint64_t populated;	/* 2 MiB chunks seen holding pages */
	uint64_t last_chunk;	/* + 1; 0 none */
	bool count_only;
	bool tracked;		/* m is tracked already */
	bool protect_all;
	pmscan_region_fn on_written;
	void *arg;
};

static int uffd_wp(int uffd, uint64_t start, uint64_t end)
{
	struct uffdio_writeprotect wp = {
		.range = { start, end - start },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0 ? -errno : 0;
}

static int settle_region(const struct pmscan_region *r, void *arg)
{
	struct settle *st = arg;
	int e;

	for (uint64_t c = r->start / CHUNK; c <= (r->end - 1) / CHUNK; c++)
		if (c + 1 != st->last_chunk) {
			st->populated++;
			st->last_chunk = c + 1;
		}
	if (st->count_only || (r->categories & (PMSCAN_FILE | PMSCAN_PFNZERO)))
		return 0;
	if (st->on_written && (e = st->on_written(r, st->arg)) != 0)
		return e;
	if (!st->protect_all) {
		if (r->start > st->cursor && (e = uffd_wp(st->uffd, st->cursor, r->start)) < 0)
			return e;
		st->cursor = r->end;
	}
	return 0;
}

/* Walk the pages of m that hold something, into st: PAGEMAP_SCAN over m
   alone (a scan request would read the whole maps file for each mapping,
   quadratic in their number), regions merged across its batches. */
static int walk_populated(struct pmscan_target *t, const struct pmscan_mapping *m, struct settle *st)
{
	struct page_region vec[512];
	struct merger mg;
	uint64_t pos = m->start;
	int r = 0;

	merger_init(&mg, settle_region, st);
	while (r == 0 && pos < m->end) {
		/* In a tracked mapping, swap entries may be the markers themselves. */
		struct pm_scan_arg a = {
			.size = sizeof(a), .start = pos, .end = m->end,
			.vec = (uintptr_t)vec, .vec_len = 512,
			.category_anyof_mask = PAGE_IS_PRESENT | (st->tracked ? 0 : PAGE_IS_SWAPPED),
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE | PAGE_IS_PFNZERO,
		};
		int n = pagemap_ioctl(t->pagemap_fd, &a);
		if (n < 0)
			return -errno;
		for (int i = 0; r == 0 && i < n; i++) {
			struct pmscan_region reg = { .start = vec[i].start, .end = vec[i].end,
						     .categories = vec[i].categories, .mapping = m };
			r = merger_add(&mg, &reg);
		}
		uint64_t last = n > 0 ? vec[n - 1].end : 0;
		uint64_t next = a.walk_end > last ? a.walk_end : last;
		if (n < 512 || next <= pos)
			break;
		pos = next;
	}
	if (r == 0)
		r = merger_flush(&mg);
	return r < 0 ? r : r > 0 ? -r : 0;
}

static uint64_t chunks_of(const struct pmscan_mapping *m)
{
	return (m->end + CHUNK - 1) / CHUNK - m->start / CHUNK;
}

/*
 * The page tables protecting m may add: one per 2 MiB chunk that has none
 * yet. The upper bound (every chunk) when it fits in what is left of the
 * budget, else counted: chunks holding pages have a table already.
 */
static uint64_t page_table_cost(struct pmscan_target *t, const struct pmscan_mapping *m, uint64_t left,
				bool tracked, uint64_t *charged)
{
	uint64_t ps = (uint64_t)page_size_cached(), chunks = chunks_of(m);
	/* Mappings side by side share the 2 MiB chunk between them: one
	   page table, counted once (*charged: the last chunk counted, + 1). */
	bool shared = charged && *charged == m->start / CHUNK + 1;
	struct settle st = { .count_only = true, .tracked = tracked,
			     .last_chunk = shared ? *charged : 0 };

	if (shared)
		chunks--;
	uint64_t bound = chunks * ps;
	if (bound <= left || walk_populated(t, m, &st) < 0)
		return bound;
	return (chunks - (st.populated < chunks ? st.populated : chunks)) * ps;
}

/* The mapping's cost was counted: its last chunk is charged. */
static void charge(uint64_t *charged, const struct pmscan_mapping *m)
{
	*charged = (m->end - 1) / CHUNK + 1;
}

static int settle_mapping(struct pmscan_target *t, int uffd, const struct pmscan_mapping *m,
			  bool protect_all, pmscan_region_fn on_written, void *arg)
{
	struct settle st = { .uffd = uffd, .cursor = m->start, .protect_all = protect_all,
			     .on_written = on_written, .arg = arg };
	int r;

	if (protect_all && !on_written)
		return protect_range(uffd, t->pagemap_fd, m->start, m->end);
	if ((r = walk_populated(t, m, &st)) < 0)
		return r;
	if (protect_all)
		return uffd_wp(uffd, m->start, m->end);
	return st.cursor < m->end ? uffd_wp(uffd, st.cursor, m->end) : 0;
}

static const char *over_budget(char *buf, size_t len, uint64_t cost, uint64_t left)
{
	snprintf(buf, len, "write-protecting it would add %llu KiB of page tables to the process, "
		 "more than the %llu KiB left of the budget (--max-page-tables raises it)",
		 (unsigned long long)(cost >> 10), (unsigned long long)(left >> 10));
	return buf;
}

/* Register every untracked mapping (in ranges); write-protect them when
   protect_new. Untrackable ones go to on_skip. */
static int register_all(struct pmscan_target *t, int uffd, const struct pmscan_range *ranges, size_t n,
			bool protect_new, pmscan_skip_fn on_skip, void *arg, struct pmscan_arm_stats *st)
{
	struct maps_reader mr;
	struct pmscan_mapping m;
	uint64_t budget = t->pt_budget, charged = 0;
	int r;

	if ((r = maps_open(&mr, t->maps_fd)) < 0)
		return r;
	while ((r = maps_next(&mr, &m)) > 0) {
		if (!in_ranges(&m, ranges, n))
			continue;
		const char *why = untrackable(&m);
		int e = 0;
		char pt[200];
		uint64_t cost = why || !protect_new ? 0 : page_table_cost(t, &m, budget, false, &charged);
		if (!why && cost > budget)
			why = over_budget(pt, sizeof(pt), cost, budget);
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
		if (protect_new && (r = settle_mapping(t, uffd, &m, true, NULL, NULL)) < 0)
			break;
		budget -= cost;
		charge(&charged, &m);
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
	int copy = target_getfd(t, fd);

	if (copy < 0)
		return fail(t, -copy, "cannot take a copy of fd %d of process %d", fd, (int)t->pid);
	return copy;
}

static int tracker_api(int uffd, bool ranged)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = TRACKER_FEATURES | UFFD_FEATURE_WP_HUGETLBFS_SHMEM |
					      (ranged ? TRACKER_RANGED : 0) };

	return ioctl(uffd, UFFDIO_API, &api) < 0 ? -errno : 0;
}

/* Can this kernel track at all? Asked of pmscan's own userfaultfd, before
   anything is done to the target. */
static int kernel_can_track(struct pmscan_target *t)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	int r;

	if (fd < 0)
		return fail(t, errno == EINVAL || errno == ENOSYS ? ENOTSUP : errno,
			    "the running kernel offers no userfaultfd to pmscan");
	r = tracker_api(fd, false);
	close(fd);
	if (r == -EINVAL)
		return fail(t, ENOTSUP, "the running kernel lacks userfaultfd async write-protect "
			    "(Linux 6.7+)");
	return r < 0 ? fail(t, -r, "probing userfaultfd") : 0;
}

/* In the injector, the target still stopped: make the new fd a tracker, or
   have it closed in the same stop (no half-made tracker is ever left). */
static int init_tracker(struct pmscan_target *t, struct remote_call *c)
{
	int uffd = target_getfd(t, (int)c->ret);
	int r;

	if (uffd < 0)
		return fail(t, -uffd, "cannot take a copy of fd %ld of process %d", c->ret, (int)t->pid);
	r = tracker_api(uffd, t->arming_ranged);
	close(uffd);
	return r < 0 ? fail(t, -r, "setting up the userfaultfd of process %d", (int)t->pid) : 0;
}

static int arm_held(struct pmscan_target *t, const struct pmscan_range *ranges, size_t nranges,
		    pmscan_skip_fn on_skip, void *arg, struct pmscan_arm_stats *st)
{
	struct remote_call c = {
		.nr = SYS_userfaultfd, .args = { O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY },
		.after = init_tracker, .undo_nr = SYS_close,
	};
	int uffd, r;

	/* The pidfd names the process: if it is gone, its pid may be another's. */
	if (pmscan_target_alive(t) != 1)
		return fail(t, ESRCH, "process %d has exited", (int)t->pid);
	if ((r = pmscan_tracker_fd(t)) >= 0) {
		if (st)
			st->fd = r;
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	if ((r = kernel_can_track(t)) < 0)
		return r;
	t->arming_ranged = nranges > 0;
	if ((r = remote_run(t, &c)) < 0)
		return r;
	if (c.ret < 0)
		return fail(t, (int)-c.ret, "process %d could not create a userfaultfd", (int)t->pid);
	if ((r = uffd = get_tracker_copy(t, (int)c.ret)) < 0)
		goto undo;
	if ((r = register_all(t, uffd, ranges, nranges, true, on_skip, arg, st)) < 0)
		goto undo;
	if (st)
		st->fd = (int)c.ret;
	close(uffd);
	t->tracker_fd = (int)c.ret;
	hint_write(t, (int)c.ret);
	return 1;

undo:
	/* Leave the process as it was: no tracker fd, nothing registered. */
	if (uffd >= 0)
		close(uffd);
	if (pmscan_target_alive(t) == 1) {
		char keep[sizeof(t->err)];
		memcpy(keep, t->err, sizeof(keep));
		inject_close(t, (int)c.ret);
		memcpy(t->err, keep, sizeof(keep));
	}
	return r;
}

/* A caller's stats struct the library cannot fill: EINVAL, nothing done. */
static int stats_refused(struct pmscan_target *t, const struct pmscan_arm_stats *st)
{
	fail(t, EINVAL, "struct pmscan_arm_stats: size %zu is less than the %zu bytes of its first "
	     "version (set st->size = sizeof(*st))", st->size, (size_t)ARM_STATS_V1_SIZE);
	errno = EINVAL;
	return -1;
}

/* pmscan_arm and pmscan_rearm, filling a whole struct of the library's own
   (their callers copy out what fits in the caller's, pmscan.h). */
static int arm_call(struct pmscan_target *t, const struct pmscan_range *ranges, size_t nranges,
		    pmscan_skip_fn on_skip, void *arg, struct pmscan_arm_stats *st)
{
	sigset_t saved;
	int r;

	t->err[0] = '\0';
	if (st)
		memset(st, 0, sizeof(*st));
	if (t->self) {
		errno = EINVAL;
		fail(t, EINVAL, "pmscan does not arm itself (use the write-watch API)");
		return -1;
	}
	/* Tracker dispatch: soft-dirty is one write to clear_refs, with no
	   ptrace and nothing to hold signals for (track-softdirty.c). */
	switch (tracker_resolve(t)) {
	case PMSCAN_TRACKER_SOFT_DIRTY:
		r = soft_dirty_arm(t, nranges, st);
		if (r < 0) {
			errno = -r;
			return -1;
		}
		return r;
	case -ENOTSUP:
		errno = ENOTSUP;
		fail(t, ENOTSUP, "%s", pmscan_tracker_unavailable(PMSCAN_TRACKER_AUTO));
		return -1;
	}
	/* A signal to the caller takes effect once the process is armed or
	   left as it was, never half-way. */
	remote_hold_signals(&saved);
	r = arm_held(t, ranges, nranges, on_skip, arg, st);
	remote_release_signals(&saved);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

PMSCAN_EXPORT int pmscan_arm(struct pmscan_target *t, const struct pmscan_range *ranges, size_t nranges,
			     pmscan_skip_fn on_skip, void *arg, struct pmscan_arm_stats *st)
{
	struct pmscan_arm_stats all = { .size = sizeof(all) };
	int r;

	if (arm_stats_check(st) < 0)
		return stats_refused(t, st);
	r = arm_call(t, ranges, nranges, on_skip, arg, st ? &all : NULL);
	arm_stats_put(st, &all);
	return r;
}

static int disarm_held(struct pmscan_target *t)
{
	struct maps_reader mr;
	struct pmscan_mapping m;
	int fd, uffd, inherited;

	if (pmscan_target_alive(t) != 1)
		return fail(t, ESRCH, "process %d has exited", (int)t->pid);
	/* The table itself, in its order, as it always was: a tracker that a
	   killed --arm left unregistered is closed by a later --disarm then
	   (the first one listed goes first), which the remembered number
	   would pass over. Disarming is rare; scans use the number. */
	fd = find_tracker_how(t, &inherited, NULL, false);
	if (fd == -ENOENT)
		return 0;	/* an inherited copy is the parent's: left alone */
	if (fd < 0)
		return fail(t, -fd, "listing the fds of process %d", (int)t->pid);
	uffd = get_tracker_copy(t, fd);
	if (uffd < 0)
		return uffd;
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
	int r = inject_close(t, fd);
	if (r == 0)
		hint_forget(t);
	return r < 0 ? r : 1;
}

PMSCAN_EXPORT int pmscan_disarm(struct pmscan_target *t)
{
	sigset_t saved;
	int r;

	t->err[0] = '\0';
	/* Tracker dispatch: soft-dirty leaves nothing in the process to undo. */
	if (tracker_is_soft_dirty(t))
		return 0;
	remote_hold_signals(&saved);
	r = disarm_held(t);
	remote_release_signals(&saved);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

/* PROCMAP_QUERY (Linux 6.11): one mapping of /proc/PID/maps by address. */
struct maps_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define MAPS_QUERY _IOWR('f', 17, struct maps_query)
#define MAPS_QUERY_COVERING_OR_NEXT 0x10

/*
 * Is there nothing for pmscan_rearm to register? The pages that are not
 * registered come in a few stretches (PAGEMAP_SCAN from the start, asking
 * for the first such page, then again from the end of each mapping found
 * there); each is a mapping that is looked up alone (PROCMAP_QUERY). When
 * every one is a mapping arming leaves out ([vdso], no access rights) or
 * outside the ranges, nothing is new: 1. 0 when something may be new (or
 * the kernel cannot say this way): the maps are read then. Mappings the
 * kernel never walks (VM_PFNMAP) cannot be registered and are not seen.
 */
static int nothing_fresh(struct pmscan_target *t, const struct pmscan_range *ranges, size_t nranges)
{
	uint64_t end = probe_user_end(), pos = 0;
	char name[4096];

	if (!end || !have_pagemap_scan())
		return 0;
	for (int guard = 0; guard < 4096; guard++) {
		struct page_region one;
		struct pm_scan_arg a = {
			.size = sizeof(a), .start = pos, .end = end,
			.vec = (uintptr_t)&one, .vec_len = 1, .max_pages = 1,
			.category_inverted = PAGE_IS_WPALLOWED, .category_mask = PAGE_IS_WPALLOWED,
			.return_mask = PAGE_IS_WPALLOWED,
		};
		int n = pagemap_ioctl(t->pagemap_fd, &a);
		if (n < 0)
			return 0;
		if (n == 0)
			return 1;
		struct maps_query q = {
			.size = sizeof(q), .query_flags = MAPS_QUERY_COVERING_OR_NEXT,
			.query_addr = one.start, .vma_name_size = sizeof(name),
			.vma_name_addr = (uintptr_t)name,
		};
		if (ioctl(t->maps_fd, MAPS_QUERY, &q) < 0 || q.vma_start > one.start)
			return 0;
		if (!q.vma_name_size)
			name[0] = '\0';
		struct pmscan_mapping m = {
			.start = q.vma_start, .end = q.vma_end, .name = name,
			.perms = { q.vma_flags & 1 ? 'r' : '-', q.vma_flags & 2 ? 'w' : '-',
				   q.vma_flags & 4 ? 'x' : '-', q.vma_flags & 8 ? 's' : 'p' },
		};
		if (!untrackable(&m) && in_ranges(&m, ranges, nranges))
			return 0;
		if (m.end >= end)
			return 1;
		pos = m.end;
	}
	return 0;
}

static int rearm_call(struct pmscan_target *t, const struct pmscan_range *ranges, size_t nranges,
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
	/* Tracker dispatch: with soft-dirty every mapping is tracked from its
	   creation (a new one reads written in full until the next reset). */
	if (tracker_is_soft_dirty(t)) {
		if (st)
			st->fd = -1;
		return 1;
	}
	int inherited;
	bool ranged = false;
	fd = find_tracker(t, &inherited, &ranged);
	if (fd < 0) {
		if (fd == -ENOENT)
			return 0;
		errno = -fd;
		return -1;
	}
	if (st)
		st->fd = fd;
	/* Armed with ranges: only the ranges this call names may grow it. */
	if (ranged && !nranges)
		return 1;
	uffd = get_tracker_copy(t, fd);
	if (uffd < 0) {
		errno = -uffd;
		return -1;
	}
	/* Most calls find nothing new: said without reading the maps. */
	if (nothing_fresh(t, ranges, nranges) == 1) {
		close(uffd);
		return 1;
	}
	/* One pass over the maps: the page tables the tracked mappings hold
	   (their empty 2 MiB chunks, each given one by the markers) count
	   against the budget, so that it holds across runs; the new mappings
	   are registered after it, within what is left. */
	struct maps_reader mr = { 0 };
	struct pmscan_mapping m;
	struct fresh_map { struct pmscan_mapping m; char name[256]; } *fresh = NULL;
	struct pmscan_range *big = NULL;
	size_t nfresh = 0, nbig = 0;
	uint64_t used = 0, ps = (uint64_t)page_size_cached();
	struct reg_cursor cur;
	reg_cursor_init(&cur, t, probe_user_end());
	r = maps_open(&mr, t->maps_fd);
	while (r == 0 && (r = maps_next(&mr, &m)) > 0) {
		r = 0;
		if (untrackable(&m))
			continue;
		int tr = reg_cursor_tracked(&cur, &m);
		if (tr == 1) {
			/* Small ones are not worth a scan: their tables are few.
			   Counted below, only when something new needs the budget. */
			if (chunks_of(&m) * ps > (UINT64_C(1) << 20)) {
				struct pmscan_range *n = realloc(big, (nbig + 1) * sizeof(*big));
				if (!n) {
					r = -ENOMEM;
					break;
				}
				big = n;
				big[nbig++] = (struct pmscan_range){ m.start, m.end };
			}
			continue;
		}
		if (tr != 0 || !in_ranges(&m, ranges, nranges))
			continue;
		struct fresh_map *n = realloc(fresh, (nfresh + 1) * sizeof(*fresh));
		if (!n) {
			r = -ENOMEM;
			break;
		}
		fresh = n;
		fresh[nfresh].m = m;
		snprintf(fresh[nfresh].name, sizeof(fresh[nfresh].name), "%s", m.name);
		nfresh++;
	}
	maps_close(&mr);
	/* Each realloc may have moved the names: point at them only now. */
	for (size_t i = 0; i < nfresh; i++)
		fresh[i].m.name = fresh[i].name;
	for (size_t i = 0; r == 0 && nfresh && i < nbig; i++) {
		struct pmscan_mapping bm = { .start = big[i].start, .end = big[i].end, .name = "" };
		used += page_table_cost(t, &bm, 0, true, NULL);
	}
	free(big);
	uint64_t charged = 0;
	uint64_t left = used < t->pt_budget ? t->pt_budget - used : 0;
	for (size_t i = 0; r == 0 && i < nfresh; i++) {
		struct pmscan_mapping *fm = &fresh[i].m;
		/* Over the page-table budget: left untracked, and so never
		   reported written. */
		uint64_t cost = page_table_cost(t, fm, left, false, &charged);
		if (cost > left)
			continue;
		int e = uffd_register(uffd, fm);
		if (e == -ESRCH) {
			r = e;
			break;
		}
		if (e < 0)
			continue;	/* gone since, or a kind the kernel cannot track */
		left -= cost;
		charge(&charged, fm);
		if ((r = settle_mapping(t, uffd, fm, flags & PMSCAN_REARM_PROTECT, on_written, arg)) < 0) {
			fail(t, -r, "protecting the new mapping 0x%llx-0x%llx of process %d",
			     (unsigned long long)fm->start, (unsigned long long)fm->end, (int)t->pid);
			break;
		}
		if (st) {
			st->mappings++;
			st->bytes += fm->end - fm->start;
		}
	}
	free(fresh);
	close(uffd);
	if (r < 0 && pmscan_target_alive(t) == 0)
		r = fail(t, ESRCH, "process %d exited", (int)t->pid);
	if (r < 0) {
		if (!t->err[0])
			fail(t, -r, "registering the new mappings of process %d", (int)t->pid);
		errno = -r;
		return -1;
	}
	return 1;
}

PMSCAN_EXPORT int pmscan_rearm(struct pmscan_target *t, const struct pmscan_range *ranges, size_t nranges,
			       unsigned flags, pmscan_region_fn on_written, void *arg,
			       struct pmscan_arm_stats *st)
{
	struct pmscan_arm_stats all = { .size = sizeof(all) };
	int r;

	if (arm_stats_check(st) < 0)
		return stats_refused(t, st);
	r = rearm_call(t, ranges, nranges, flags, on_written, arg, st ? &all : NULL);
	arm_stats_put(st, &all);
	return r;
}

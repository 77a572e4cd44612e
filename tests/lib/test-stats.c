/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The statistics structs' size rule (pmscan.h): the caller sets st->size;
 * the library writes the fields it knows that fit in it, never size,
 * reserved or a byte past size, and refuses a size below the first
 * version's with EINVAL, writing nothing and (pmscan_arm, pmscan_rearm)
 * doing nothing to the process. Checked on pmscan_scan_get_stats after a
 * real scan of a child whose pages the test knows, and on pmscan_arm and
 * pmscan_rearm arming that child, against its /proc/PID/maps. Today's
 * structs are the first versions, so "a caller built against the first
 * version" is a size equal to sizeof; a caller built against a later,
 * larger version is the struct in a larger buffer with canary bytes after
 * it. Where no tracker works, arm_stats_fields is replaced by
 * arm_stats_unavailable (the refusal, with the reason printed): automake's
 * TAP driver counts cmocka's skip as a failure.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmscan.h"

#define NPAGES 16	/* the child's written region */
#define NEWPAGES 4	/* the mapping it creates on request */
#define EXTRA 64	/* bytes a later version of a struct might add */
#define CANARY 0xa5
/* A field the library wrote holds something else than CANARY bytes. */
#define UNTOUCHED64 UINT64_C(0xa5a5a5a5a5a5a5a5)
#define UNTOUCHED32 UINT32_C(0xa5a5a5a5)

struct child {
	pid_t pid;
	int cmd, reply;		/* requests to it, its answers */
	uint64_t mem;		/* NPAGES written pages, PROT_NONE pages around */
};

static long ps;

/* Anonymous read-write pages between two PROT_NONE pages, so that the
   read-write part is a mapping of its own. */
static char *guarded_map(size_t pages)
{
	char *p = mmap(NULL, (pages + 2) * (size_t)ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + ps, pages * (size_t)ps, PROT_READ | PROT_WRITE) < 0)
		return NULL;
	madvise(p + ps, pages * (size_t)ps, MADV_NOHUGEPAGE);
	return p + ps;
}

static void child_main(char *mem, int cmd, int reply)
{
	char c;

	for (int i = 0; i < NPAGES; i++)
		mem[(size_t)i * (size_t)ps] = 1;
	if (write(reply, "r", 1) != 1)
		_exit(1);
	/* 'n': create a new mapping, write its first page, answer its address. */
	while (read(cmd, &c, 1) == 1) {
		char *p = guarded_map(NEWPAGES);
		uint64_t a = (uint64_t)(uintptr_t)p;
		if (p)
			p[0] = 1;
		if (write(reply, &a, sizeof(a)) != sizeof(a))
			_exit(1);
	}
	_exit(0);
}

static int start_child(void **state)
{
	static struct child ch;
	int to[2], from[2];
	char *mem = guarded_map(NPAGES);
	char c;

	if (!mem || pipe(to) < 0 || pipe(from) < 0)
		return -1;
	ch.pid = fork();
	if (ch.pid < 0)
		return -1;
	if (ch.pid == 0) {
		close(to[1]);
		close(from[0]);
		child_main(mem, to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	ch.cmd = to[1];
	ch.reply = from[0];
	ch.mem = (uint64_t)(uintptr_t)mem;
	munmap(mem - ps, (NPAGES + 2) * (size_t)ps);
	if (read(ch.reply, &c, 1) != 1)
		return -1;
	*state = &ch;
	return 0;
}

static int stop_child(void **state)
{
	struct child *ch = *state;

	close(ch->cmd);
	close(ch->reply);
	kill(ch->pid, SIGKILL);
	waitpid(ch->pid, NULL, 0);
	return 0;
}

/* ---- scan statistics ---------------------------------------------------- */

/* A scan of the child's written pages with a budget, so that every field of
   the stats has a value the test knows. */
static struct pmscan_scan *known_scan(struct pmscan_target *t, const struct child *ch, int *engine)
{
	struct pmscan_scan *s = pmscan_scan_new(t);

	assert_non_null(s);
	*engine = pmscan_kernel_categories() ? PMSCAN_ENGINE_IOCTL : PMSCAN_ENGINE_READ;
	assert_int_equal(pmscan_scan_set_engine(s, *engine), 0);
	assert_int_equal(pmscan_scan_set_masks(s, PMSCAN_PRESENT, 0, 0, PMSCAN_PRESENT), 0);
	assert_int_equal(pmscan_scan_set_flags(s, PMSCAN_SCAN_TRACKING_INFO), 0);
	assert_int_equal(pmscan_scan_set_max_pages(s, NPAGES - 2), 0);
	assert_int_equal(pmscan_scan_add_range(s, ch->mem, ch->mem + NPAGES * (uint64_t)ps), 0);
	assert_int_equal(pmscan_scan_run(s), 0);
	return s;
}

static void assert_known_scan_stats(const struct pmscan_scan_stats *st, int engine)
{
	assert_int_equal(st->pages, NPAGES - 2);	/* the budget */
	assert_int_equal(st->regions, 1);
	assert_int_equal(st->mappings, 1);
	assert_int_equal(st->untracked, 1);		/* the child is not armed */
	assert_int_equal(st->untracked_pages, NPAGES);
	if (engine == PMSCAN_ENGINE_IOCTL)
		assert_true(st->ioctls >= 1 && st->ioctls != UNTOUCHED64);
	else
		assert_int_equal(st->ioctls, 0);
	assert_int_equal(st->budget_reached, 1);
}

/* A caller of today's struct gets every field; size and reserved are its
   own. */
static void scan_stats_fields(void **state)
{
	struct child *ch = *state;
	struct pmscan_target *t = pmscan_target_open(ch->pid);
	struct pmscan_scan_stats st;
	int engine;

	assert_non_null(t);
	/* UFFD everywhere: with AUTO, a kernel without it would pick soft-dirty,
	   where every mapping counts as tracked. */
	assert_int_equal(pmscan_target_set_tracker(t, PMSCAN_TRACKER_UFFD), 0);
	struct pmscan_scan *s = known_scan(t, ch, &engine);
	memset(&st, CANARY, sizeof(st));
	st.size = sizeof(st);
	assert_int_equal(pmscan_scan_get_stats(s, &st), 0);
	assert_int_equal(st.size, sizeof(st));
	assert_int_equal(st.reserved, UNTOUCHED32);
	assert_known_scan_stats(&st, engine);
	pmscan_scan_free(s);
	pmscan_target_close(t);
}

/* The struct at the start of a larger buffer, canary bytes everywhere. */
union scan_buf {
	struct pmscan_scan_stats st;
	unsigned char b[sizeof(struct pmscan_scan_stats) + EXTRA];
};

static void assert_canary(const unsigned char *b, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (b[i] != CANARY)
			fail_msg("byte %zu written (0x%02x)", i, b[i]);
}

static void scan_stats_sizes(void **state)
{
	struct child *ch = *state;
	struct pmscan_target *t = pmscan_target_open(ch->pid);
	union scan_buf u, before;
	int engine;

	assert_non_null(t);
	assert_int_equal(pmscan_target_set_tracker(t, PMSCAN_TRACKER_UFFD), 0);
	struct pmscan_scan *s = known_scan(t, ch, &engine);

	/* A program built against the first version (today's): every field,
	   nothing after the struct. */
	memset(&u, CANARY, sizeof(u));
	u.st.size = sizeof(u.st);
	assert_int_equal(pmscan_scan_get_stats(s, &u.st), 0);
	assert_known_scan_stats(&u.st, engine);
	assert_canary(u.b, sizeof(u.st), sizeof(u));

	/* One built against a later, larger version: accepted, the fields this
	   library knows written, the newer ones left as the caller set them. */
	memset(&u, CANARY, sizeof(u));
	u.st.size = sizeof(u);
	assert_int_equal(pmscan_scan_get_stats(s, &u.st), 0);
	assert_int_equal(u.st.size, sizeof(u));
	assert_known_scan_stats(&u.st, engine);
	assert_int_equal(u.st.reserved, UNTOUCHED32);
	assert_canary(u.b, sizeof(u.st), sizeof(u));
	/* However large: only the known fields are written. */
	memset(&u, CANARY, sizeof(u));
	u.st.size = SIZE_MAX;
	assert_int_equal(pmscan_scan_get_stats(s, &u.st), 0);
	assert_known_scan_stats(&u.st, engine);
	assert_canary(u.b, sizeof(u.st), sizeof(u));

	/* Too small, down to 0: EINVAL, nothing written. */
	const size_t small[] = { 0, 1, sizeof(size_t), offsetof(struct pmscan_scan_stats, budget_reached),
				 sizeof(struct pmscan_scan_stats) - 1 };
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		memset(&u, CANARY, sizeof(u));
		u.st.size = small[i];
		before = u;
		errno = 0;
		assert_int_equal(pmscan_scan_get_stats(s, &u.st), -1);
		assert_int_equal(errno, EINVAL);
		assert_memory_equal(&u, &before, sizeof(u));
	}
	errno = 0;
	assert_int_equal(pmscan_scan_get_stats(s, NULL), -1);
	assert_int_equal(errno, EINVAL);
	pmscan_scan_free(s);
	pmscan_target_close(t);
}

/* ---- arm statistics ----------------------------------------------------- */

union arm_buf {
	struct pmscan_arm_stats st;
	unsigned char b[sizeof(struct pmscan_arm_stats) + EXTRA];
};

static void arm_buf_init(union arm_buf *u, size_t size)
{
	memset(u, CANARY, sizeof(*u));
	u->st.size = size;
}

/* The child is not armed: no tracker, nothing registered. */
static void assert_not_armed(struct pmscan_target *t)
{
	errno = 0;
	assert_int_equal(pmscan_tracker_fd(t), -1);
	assert_int_equal(errno, ENOENT);
}

/* Too small a size: EINVAL before anything is done, on any kernel. */
static void arm_stats_refused(void **state)
{
	struct child *ch = *state;
	struct pmscan_target *t = pmscan_target_open(ch->pid);
	const size_t small[] = { 0, sizeof(size_t), offsetof(struct pmscan_arm_stats, fd),
				 sizeof(struct pmscan_arm_stats) - 1 };
	union arm_buf u, before;

	assert_non_null(t);
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		arm_buf_init(&u, small[i]);
		before = u;
		errno = 0;
		assert_int_equal(pmscan_arm(t, NULL, 0, NULL, NULL, &u.st), -1);
		assert_int_equal(errno, EINVAL);
		assert_memory_equal(&u, &before, sizeof(u));
		assert_non_null(strstr(pmscan_target_error(t), "pmscan_arm_stats"));
		assert_not_armed(t);
		errno = 0;
		assert_int_equal(pmscan_rearm(t, NULL, 0, 0, NULL, NULL, &u.st), -1);
		assert_int_equal(errno, EINVAL);
		assert_memory_equal(&u, &before, sizeof(u));
	}
	/* The soft-dirty tracker (where it works) refuses it as early: its
	   reset would be the process touched. */
	if (!pmscan_tracker_unavailable(PMSCAN_TRACKER_SOFT_DIRTY)) {
		assert_int_equal(pmscan_target_set_tracker(t, PMSCAN_TRACKER_SOFT_DIRTY), 0);
		arm_buf_init(&u, 0);
		errno = 0;
		assert_int_equal(pmscan_arm(t, NULL, 0, NULL, NULL, &u.st), -1);
		assert_int_equal(errno, EINVAL);
		assert_non_null(strstr(pmscan_target_error(t), "pmscan_arm_stats"));
	}
	pmscan_target_close(t);
}

/* The mappings of the child, from /proc/PID/maps. */
static void child_maps(pid_t pid, uint64_t *n, uint64_t *bytes)
{
	char path[64], line[4096];
	unsigned long long a, b;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	*n = *bytes = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx-%llx", &a, &b) == 2) {
			++*n;
			*bytes += b - a;
		}
	fclose(f);
}

struct skips {
	uint64_t n, bytes;
};

static void count_skip(const struct pmscan_mapping *m, const char *why, void *arg)
{
	struct skips *k = arg;

	(void)why;
	k->n++;
	k->bytes += m->end - m->start;
}

static int arm_tracker;	/* the tracker arm_stats_fields uses */

static void arm_stats_fields(void **state)
{
	struct child *ch = *state;
	struct pmscan_target *t = pmscan_target_open(ch->pid);
	struct pmscan_arm_stats st;
	struct skips k = { 0, 0 };
	union arm_buf u;
	uint64_t n, bytes, addr;
	int r;

	assert_non_null(t);
	printf("# arming with the %s tracker\n", arm_tracker == PMSCAN_TRACKER_UFFD ? "uffd" : "soft-dirty");
	assert_int_equal(pmscan_target_set_tracker(t, arm_tracker), 0);
	child_maps(ch->pid, &n, &bytes);

	/* Today's struct: every field, against the child's maps. */
	memset(&st, CANARY, sizeof(st));
	st.size = sizeof(st);
	r = pmscan_arm(t, NULL, 0, count_skip, &k, &st);
	if (r < 0)
		fail_msg("pmscan_arm: %s: %s", pmscan_target_error(t), strerror(errno));
	assert_int_equal(r, 1);
	assert_int_equal(st.size, sizeof(st));
	assert_int_equal(st.reserved, UNTOUCHED32);
	assert_int_equal(st.mappings + st.skipped, n);
	assert_true(st.mappings >= 1);
	if (arm_tracker == PMSCAN_TRACKER_UFFD) {
		assert_int_equal(st.skipped, k.n);
		assert_int_equal(st.bytes, bytes - k.bytes);
		assert_true(st.fd >= 0);
		assert_int_equal(st.fd, pmscan_tracker_fd(t));
	} else {
		/* What the reset covers: all but the vDSO's data. */
		assert_true(st.bytes > 0 && st.bytes < bytes);
		assert_int_equal(st.fd, -1);
	}
	int fd = st.fd;

	/* A later, larger struct, on the "already armed" path (uffd) or a
	   second reset (soft-dirty): accepted, nothing past the struct. */
	arm_buf_init(&u, sizeof(u));
	r = pmscan_arm(t, NULL, 0, NULL, NULL, &u.st);
	assert_int_equal(r, arm_tracker == PMSCAN_TRACKER_UFFD ? 0 : 1);
	assert_int_equal(u.st.size, sizeof(u));
	assert_int_equal(u.st.fd, fd);
	if (arm_tracker == PMSCAN_TRACKER_UFFD) {
		assert_int_equal(u.st.mappings, 0);
		assert_int_equal(u.st.bytes, 0);
		assert_int_equal(u.st.skipped, 0);
	} else {
		assert_int_equal(u.st.mappings, st.mappings);
	}
	assert_int_equal(u.st.reserved, UNTOUCHED32);
	assert_canary(u.b, sizeof(u.st), sizeof(u));

	/* pmscan_rearm after the child created a mapping: it alone is
	   registered (uffd); soft-dirty has nothing to register. */
	assert_int_equal(write(ch->cmd, "n", 1), 1);
	assert_int_equal(read(ch->reply, &addr, sizeof(addr)), sizeof(addr));
	assert_true(addr != 0);
	arm_buf_init(&u, sizeof(u));
	assert_int_equal(pmscan_rearm(t, NULL, 0, 0, NULL, NULL, &u.st), 1);
	assert_int_equal(u.st.fd, fd);
	assert_int_equal(u.st.mappings, arm_tracker == PMSCAN_TRACKER_UFFD ? 1 : 0);
	assert_int_equal(u.st.bytes, arm_tracker == PMSCAN_TRACKER_UFFD ? NEWPAGES * (uint64_t)ps : 0);
	assert_int_equal(u.st.skipped, 0);
	assert_int_equal(u.st.reserved, UNTOUCHED32);
	assert_canary(u.b, sizeof(u.st), sizeof(u));
	/* Again, the exact size: nothing new. */
	memset(&st, CANARY, sizeof(st));
	st.size = sizeof(st);
	assert_int_equal(pmscan_rearm(t, NULL, 0, 0, NULL, NULL, &st), 1);
	assert_int_equal(st.fd, fd);
	assert_int_equal(st.mappings, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.skipped, 0);

	/* NULL: no stats, arming works as before. */
	assert_int_equal(pmscan_rearm(t, NULL, 0, 0, NULL, NULL, NULL), 1);
	pmscan_disarm(t);
	pmscan_target_close(t);
}

/* Where no tracker works: arming is refused, and the stats hold what was
   done (nothing) with nothing written past the struct. */
static void arm_stats_unavailable(void **state)
{
	struct child *ch = *state;
	struct pmscan_target *t = pmscan_target_open(ch->pid);
	union arm_buf u;

	const char *why = pmscan_tracker_unavailable(PMSCAN_TRACKER_AUTO);

	printf("# arm_stats_fields not run: %s\n",
	       why ? why : "arming through userfaultfd is implemented for x86_64 and aarch64 only");
	assert_non_null(t);
	arm_buf_init(&u, sizeof(u));
	errno = 0;
	assert_int_equal(pmscan_arm(t, NULL, 0, NULL, NULL, &u.st), -1);
	assert_int_equal(errno, why ? ENOTSUP : ENOEXEC);
	assert_int_equal(u.st.mappings, 0);
	assert_int_equal(u.st.skipped, 0);
	assert_canary(u.b, sizeof(u.st), sizeof(u));
	pmscan_target_close(t);
}

int main(void)
{
	ps = sysconf(_SC_PAGESIZE);
	const struct CMUnitTest armed[] = {
		cmocka_unit_test_setup_teardown(scan_stats_fields, start_child, stop_child),
		cmocka_unit_test_setup_teardown(scan_stats_sizes, start_child, stop_child),
		cmocka_unit_test_setup_teardown(arm_stats_refused, start_child, stop_child),
		cmocka_unit_test_setup_teardown(arm_stats_fields, start_child, stop_child),
	};
	const struct CMUnitTest unarmed[] = {
		cmocka_unit_test_setup_teardown(scan_stats_fields, start_child, stop_child),
		cmocka_unit_test_setup_teardown(scan_stats_sizes, start_child, stop_child),
		cmocka_unit_test_setup_teardown(arm_stats_refused, start_child, stop_child),
		cmocka_unit_test_setup_teardown(arm_stats_unavailable, start_child, stop_child),
	};
	/* uffd needs the syscall injection of x86_64 or aarch64 as well. */
#if defined(__x86_64__) || defined(__aarch64__)
	if (!pmscan_tracker_unavailable(PMSCAN_TRACKER_UFFD))
		arm_tracker = PMSCAN_TRACKER_UFFD;
	else
#endif
	if (!pmscan_tracker_unavailable(PMSCAN_TRACKER_SOFT_DIRTY))
		arm_tracker = PMSCAN_TRACKER_SOFT_DIRTY;
	else
		return cmocka_run_group_tests(unarmed, NULL, NULL);
	return cmocka_run_group_tests(armed, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Engine pieces: region merging, maps lines, the kernel probes, the
   protect helper, and the read engine against the ioctl engine on the
   test's own memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <cmocka.h>

#include "internal.h"

#define PS 4096

struct seen {
	struct pmscan_region r[16];
	int n;
	int fail_at;		/* emit returns -EPIPE at this call (1-based) */
};

static int collect(const struct pmscan_region *r, void *arg)
{
	struct seen *s = arg;
	if (s->n + 1 == s->fail_at)
		return -EPIPE;
	s->r[s->n++] = *r;
	return 0;
}

static struct pmscan_region reg(uint64_t start, uint64_t end, uint64_t cat,
				const struct pmscan_mapping *m)
{
	return (struct pmscan_region){ start * PS, end * PS, cat, m };
}

static void merges_adjacent_equal(void **state)
{
	struct seen s = { .n = 0 };
	struct merger mg;
	struct pmscan_mapping m = { .name = "" };
	(void)state;
	merger_init(&mg, collect, &s);
	struct pmscan_region in[] = {
		reg(0, 2, 2, &m), reg(2, 5, 2, &m),	/* split at a batch boundary */
		reg(5, 6, 10, &m),			/* other categories */
		reg(7, 8, 10, &m),			/* a gap */
		reg(8, 9, 10, &m),
	};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		assert_int_equal(merger_add(&mg, &in[i]), 0);
	assert_int_equal(s.n, 2);	/* the last one is still pending */
	assert_int_equal(merger_flush(&mg), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.r[0].start, 0);
	assert_int_equal(s.r[0].end, 5 * PS);
	assert_int_equal(s.r[1].categories, 10);
	assert_int_equal(s.r[2].start, 7 * PS);
	assert_int_equal(s.r[2].end, 9 * PS);
	assert_int_equal(mg.regions, 3);
	assert_int_equal(mg.pages, 5 + 1 + 2);
	assert_int_equal(merger_flush(&mg), 0);	/* nothing pending: no-op */
	assert_int_equal(s.n, 3);
}

static void no_merge_across_mappings(void **state)
{
	struct seen s = { .n = 0 };
	struct merger mg;
	struct pmscan_mapping m1 = { .name = "a" }, m2 = { .name = "b" };
	(void)state;
	merger_init(&mg, collect, &s);
	struct pmscan_region a = reg(0, 2, 2, &m1), b = reg(2, 4, 2, &m2);
	merger_add(&mg, &a);
	merger_add(&mg, &b);
	merger_flush(&mg);
	assert_int_equal(s.n, 2);
}

static void emit_error_propagates(void **state)
{
	struct seen s = { .n = 0, .fail_at = 2 };
	struct merger mg;
	struct pmscan_mapping m = { .name = "" };
	(void)state;
	merger_init(&mg, collect, &s);
	struct pmscan_region a = reg(0, 1, 2, &m), b = reg(3, 4, 2, &m), c = reg(6, 7, 2, &m);
	assert_int_equal(merger_add(&mg, &a), 0);
	assert_int_equal(merger_add(&mg, &b), 0);
	assert_int_equal(merger_add(&mg, &c), -EPIPE);
}

static void maps_lines(void **state)
{
	struct pmscan_mapping m;
	char l1[] = "7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 ";
	char l2[] = "55d0c0a00000-55d0c0a21000 r-xp 0001a000 fd:01 1234567                    /usr/bin/my prog (deleted)";
	char l3[] = "7ffd1c3d2000-7ffd1c3f3000 rw-p 00000000 00:00 0                          [stack]";
	(void)state;
	assert_int_equal(maps_parse_line(l1, &m), 0);
	assert_int_equal(m.start, 0x7f1c2a000000);
	assert_int_equal(m.end, 0x7f1c2a021000);
	assert_string_equal(m.perms, "rw-p");
	assert_string_equal(m.name, "");
	assert_int_equal(m.tracked, -1);
	assert_int_equal(maps_parse_line(l2, &m), 0);
	assert_int_equal(m.offset, 0x1a000);
	assert_int_equal(m.dev_major, 0xfd);
	assert_int_equal(m.dev_minor, 1);
	assert_int_equal(m.inode, 1234567);
	assert_string_equal(m.name, "/usr/bin/my prog (deleted)");
	assert_int_equal(maps_parse_line(l3, &m), 0);
	assert_string_equal(m.name, "[stack]");
}

static void maps_bad_lines(void **state)
{
	struct pmscan_mapping m;
	char b1[] = "garbage";
	char b2[] = "2000-1000 rw-p 00000000 00:00 0";
	char b3[] = "1000-2000 rw-p 00000000 00:00";
	char b4[] = "1000-2000 rw 00000000 00:00 0";
	(void)state;
	assert_int_equal(maps_parse_line(b1, &m), -EINVAL);
	assert_int_equal(maps_parse_line(b2, &m), -EINVAL);
	assert_int_equal(maps_parse_line(b3, &m), -EINVAL);
	assert_int_equal(maps_parse_line(b4, &m), -EINVAL);
}

/* Readers of one maps fd nest: each keeps its own offset. */
static void maps_readers_nest(void **state)
{
	struct maps_reader outer, inner;
	struct pmscan_mapping m;
	int fd = open("/proc/self/maps", O_RDONLY), n_outer = 0, n_inner = 0, n_alone = 0;
	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(maps_open(&outer, fd), 0);
	while (maps_next(&outer, &m) > 0)
		n_alone++;
	maps_close(&outer);
	assert_int_equal(maps_open(&outer, fd), 0);
	assert_int_equal(maps_next(&outer, &m), 1);
	n_outer = 1;
	assert_int_equal(maps_open(&inner, fd), 0);
	while (maps_next(&inner, &m) > 0)
		n_inner++;
	maps_close(&inner);
	while (maps_next(&outer, &m) > 0)
		n_outer++;
	maps_close(&outer);
	close(fd);
	assert_true(n_alone > 5);
	/* The process may map a little between readings; never lose the rest. */
	assert_true(n_outer >= n_alone - 2);
	assert_true(n_inner >= n_alone - 2);
}


/* The matching rule of KERNEL.md / docs/kernel.md, on a few pages. */
static void masks_match_rule(void **state)
{
	/* require present, exclude written, anyof file|swapped */
	struct scan_masks k = { .inv = PMSCAN_WRITTEN, .mask = PMSCAN_PRESENT | PMSCAN_WRITTEN,
				.anyof = PMSCAN_FILE | PMSCAN_SWAPPED };
	(void)state;
	assert_true(scan_masks_match(&k, PMSCAN_PRESENT | PMSCAN_FILE));
	assert_false(scan_masks_match(&k, PMSCAN_PRESENT | PMSCAN_FILE | PMSCAN_WRITTEN));
	assert_false(scan_masks_match(&k, PMSCAN_PRESENT));
	assert_false(scan_masks_match(&k, PMSCAN_FILE));
	struct scan_masks none = { 0 };
	assert_true(scan_masks_match(&none, 0));
}

static int chld_seen;
static void on_chld(int sig)
{
	(void)sig;
	chld_seen++;
}

/* The probes fork children the caller must never notice: no SIGCHLD, no
   child left for its wait(-1). Runs first, so the probes run here. */
static void probes_invisible(void **state)
{
	struct sigaction sa = { .sa_handler = on_chld }, old;
	const char *why = NULL;
	(void)state;
	sigaction(SIGCHLD, &sa, &old);
	bool sd = probe_soft_dirty(&why);
	bool wpm = probe_wp_matching_unpopulated_ok();
	(void)pmscan_kernel_categories();
	print_message("# soft-dirty %s%s%s; WP_MATCHING on unpopulated ranges %s\n",
		      sd ? "works" : "absent", sd ? "" : ": ", sd ? "" : why,
		      wpm ? "exact" : "broken or untestable: UFFDIO_WRITEPROTECT used");
	assert_true(sd || (why && why[0]));
	assert_int_equal(chld_seen, 0);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	sigaction(SIGCHLD, &old, NULL);
	/* soft-dirty in the kernel mask only where it really works */
	if (!sd)
		assert_false(pmscan_kernel_categories() & PMSCAN_SOFT_DIRTY);
}

/* A userfaultfd in async WP mode on [p, p+len) of this process, or -1. */
static int track_own(void *p, size_t len)
{
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	struct uffdio_register reg = {
		.range = { (uintptr_t)p, len }, .mode = UFFDIO_REGISTER_MODE_WP,
	};
	if (uffd < 0)
		return -1;
	if (ioctl(uffd, UFFDIO_API, &api) < 0 || ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		close(uffd);
		return -1;
	}
	return uffd;
}

struct regions {
	struct pmscan_region r[16384];
	size_t n;
	uint64_t want_start, want_end;
};

static int keep(const struct pmscan_region *r, void *arg)
{
	struct regions *rs = arg;
	if (rs->n < 16384)
		rs->r[rs->n++] = *r;
	return 0;
}

static void scan_own(struct pmscan_target *t, int engine, uint64_t start, uint64_t end,
		     uint64_t require, uint64_t anyof, uint64_t exclude, uint64_t ret,
		     uint64_t max_pages, struct regions *out)
{
	struct pmscan_scan *s = pmscan_scan_new(t);
	assert_non_null(s);
	out->n = 0;
	assert_int_equal(pmscan_scan_set_engine(s, engine), 0);
	assert_int_equal(pmscan_scan_set_masks(s, require, anyof, exclude, ret), 0);
	assert_int_equal(pmscan_scan_set_max_pages(s, max_pages), 0);
	assert_int_equal(pmscan_scan_add_range(s, start, end), 0);
	pmscan_scan_set_callbacks(s, NULL, keep, out);
	assert_int_equal(pmscan_scan_run(s), 0);
	pmscan_scan_free(s);
}

/* protect_range then one write: exactly that page reads written, on every
   kernel (the helper avoids WP_MATCHING where the kernel gets it wrong). */
static void protect_range_exact(void **state)
{
	size_t len = 8u << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	(void)state;
	if (!(pmscan_kernel_categories() & PMSCAN_WRITTEN))
		skip();
	assert_true(p != MAP_FAILED);
	madvise(p, len, MADV_NOHUGEPAGE);
	int uffd = track_own(p, len);
	if (uffd < 0)
		skip();
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	assert_true(pm >= 0);
	uint64_t a = (uintptr_t)p, b = a + len;
	assert_int_equal(protect_range(uffd, pm, a, b), 0);
	p[(4u << 20) + 5 * PS] = 1;
	struct pmscan_target *t = pmscan_target_open(0);
	static struct regions got;
	scan_own(t, PMSCAN_ENGINE_IOCTL, a, b, PMSCAN_WRITTEN, 0, 0, PMSCAN_WRITTEN, 0, &got);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.r[0].start, a + (4u << 20) + 5 * PS);
	assert_int_equal(got.r[0].end - got.r[0].start, PS);
	/* the same through the read engine */
	scan_own(t, PMSCAN_ENGINE_READ, a, b, PMSCAN_WRITTEN, 0, 0, PMSCAN_WRITTEN, 0, &got);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.r[0].start, a + (4u << 20) + 5 * PS);
	pmscan_target_close(t);
	close(pm);
	close(uffd);
	munmap(p, len);
}

static void same_regions(const struct regions *x, const struct regions *y)
{
	assert_int_equal(x->n, y->n);
	for (size_t i = 0; i < x->n; i++) {
		assert_int_equal(x->r[i].start, y->r[i].start);
		assert_int_equal(x->r[i].end, y->r[i].end);
		assert_int_equal(x->r[i].categories, y->r[i].categories);
	}
}

/* Tracked and untracked memory of our own, through both engines. */
static void engines_agree_own(void **state)
{
	size_t pages = 3000, len = pages * PS;
	char *p = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	(void)state;
	if (!pmscan_kernel_categories())
		skip();
	assert_true(p != MAP_FAILED);
	madvise(p, 2 * len, MADV_NOHUGEPAGE);
	mprotect(p + len, len, PROT_READ | PROT_WRITE | PROT_EXEC);	/* two mappings */
	int uffd = track_own(p, len);
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (uffd >= 0)
		assert_int_equal(protect_range(uffd, pm, (uintptr_t)p, (uintptr_t)p + len), 0);
	for (size_t i = 0; i < pages; i += 3) {
		p[i * PS] = 1;
		p[len + i * PS] = 1;
	}
	for (size_t i = 1; i < pages; i += 5) {
		(void)*(volatile char *)(p + i * PS);
		(void)*(volatile char *)(p + len + i * PS);
	}
	madvise(p + 100 * PS, 40 * PS, MADV_DONTNEED);
	struct pmscan_target *t = pmscan_target_open(0);
	uint64_t a = (uintptr_t)p, b = a + 2 * len, known = pmscan_engine_categories(PMSCAN_ENGINE_READ);
	const uint64_t W = PMSCAN_WRITTEN, P = PMSCAN_PRESENT, Z = PMSCAN_PFNZERO, S = PMSCAN_SWAPPED;
	const struct { uint64_t req, any, exc, ret, max; } q[] = {
		{ W, 0, 0, W, 0 }, { P, 0, 0, P, 0 }, { P | W, 0, 0, P | W, 0 },
		{ 0, W | P, 0, W | P, 0 }, { P, 0, W, P, 0 }, { 0, 0, P, W | S, 0 },
		{ 0, 0, 0, 0, 0 }, { P, 0, 0, P, 77 }, { W, 0, 0, W, 5 },
		{ 0, P | Z, 0, P | Z, 0 },
	};
	static struct regions x, y;
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		if ((q[i].req | q[i].any | q[i].exc | q[i].ret) & ~known)
			continue;
		uint64_t ret = q[i].ret ? q[i].ret : known & pmscan_kernel_categories();
		scan_own(t, PMSCAN_ENGINE_IOCTL, a, b, q[i].req, q[i].any, q[i].exc, ret, q[i].max, &x);
		scan_own(t, PMSCAN_ENGINE_READ, a, b, q[i].req, q[i].any, q[i].exc, ret, q[i].max, &y);
		print_message("# query %zu: %zu regions\n", i, x.n);
		same_regions(&x, &y);
	}
	/* Untracked: no written page, whatever the kernel says. */
	scan_own(t, PMSCAN_ENGINE_IOCTL, a + len, b, W, 0, 0, W, 0, &x);
	assert_int_equal(x.n, 0);
	pmscan_target_close(t);
	close(pm);
	if (uffd >= 0)
		close(uffd);
	munmap(p, 2 * len);
}

/*
 * Linux before 6.7, simulated: a seccomp filter makes PAGEMAP_SCAN fail
 * with ENOTTY as it does there. Runs in a fresh exec of this program (the
 * probes run once per process). Returns 0 when the library falls back to
 * the read engine and says what it cannot do.
 */
static int old_kernel_checks(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)PAGEMAP_SCAN, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTTY),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	static struct regions got;
	size_t pages = 64;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return 77;
	if (pmscan_kernel_categories() || errno != ENOTSUP)
		return 10;
	uint64_t rd = pmscan_engine_categories(PMSCAN_ENGINE_READ);
	if (!(rd & PMSCAN_PRESENT) || (rd & PMSCAN_WRITTEN))
		return 11;
	const char *why = pmscan_category_unavailable(PMSCAN_ENGINE_AUTO, 1);
	if (!why || !strstr(why, "write-protect"))
		return 12;
	char *p = mmap(NULL, pages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 13;
	for (size_t i = 0; i < pages; i += 4)
		p[i * PS] = 1;
	struct pmscan_target *t = pmscan_target_open(0);
	struct pmscan_scan *s = t ? pmscan_scan_new(t) : NULL;
	if (!s)
		return 14;
	if (pmscan_scan_set_engine(s, PMSCAN_ENGINE_IOCTL) == 0 || errno != ENOTSUP)
		return 15;
	if (pmscan_scan_get_engine(s) != PMSCAN_ENGINE_READ)
		return 16;
	if (pmscan_scan_set_masks(s, PMSCAN_WRITTEN, 0, 0, 0) == 0 || errno != ENOTSUP)
		return 17;
	if (pmscan_scan_set_masks(s, PMSCAN_PRESENT, 0, 0, PMSCAN_PRESENT) < 0 ||
	    pmscan_scan_add_range(s, (uintptr_t)p, (uintptr_t)p + pages * PS) < 0)
		return 18;
	got.n = 0;
	pmscan_scan_set_callbacks(s, NULL, keep, &got);
	if (pmscan_scan_run(s) < 0)
		return 19;
	if (got.n != pages / 4)
		return 20;
	for (size_t i = 0; i < got.n; i++)
		if (got.r[i].start != (uintptr_t)p + i * 4 * PS || got.r[i].end - got.r[i].start != PS ||
		    got.r[i].categories != PMSCAN_PRESENT)
			return 21;
	pmscan_scan_free(s);
	pmscan_target_close(t);
	return 0;
}

static void old_kernel_falls_back(void **state)
{
	int status;
	(void)state;
	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "test-engine", "--no-pagemap-scan", (char *)NULL);
		_exit(99);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--no-pagemap-scan"))
		return old_kernel_checks();

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(probes_invisible),
		cmocka_unit_test(masks_match_rule),
		cmocka_unit_test(protect_range_exact),
		cmocka_unit_test(engines_agree_own),
		cmocka_unit_test(old_kernel_falls_back),
		cmocka_unit_test(merges_adjacent_equal),
		cmocka_unit_test(no_merge_across_mappings),
		cmocka_unit_test(emit_error_propagates),
		cmocka_unit_test(maps_lines),
		cmocka_unit_test(maps_bad_lines),
		cmocka_unit_test(maps_readers_nest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

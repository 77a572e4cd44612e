/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Engine pieces that need no target: region merging, maps lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(merges_adjacent_equal),
		cmocka_unit_test(no_merge_across_mappings),
		cmocka_unit_test(emit_error_propagates),
		cmocka_unit_test(maps_lines),
		cmocka_unit_test(maps_bad_lines),
		cmocka_unit_test(maps_readers_nest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

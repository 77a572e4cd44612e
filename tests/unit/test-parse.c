/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Command-line value parsers: ranges, sizes, pids, human sizes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"

#define PS 4096

static void ranges(void **state)
{
	struct pmscan_range r;
	bool rounded;
	(void)state;
	assert_int_equal(parse_range("7f0000000000-7f0000002000", PS, &r, &rounded), 0);
	assert_int_equal(r.start, 0x7f0000000000);
	assert_int_equal(r.end, 0x7f0000002000);
	assert_false(rounded);
	assert_int_equal(parse_range("0x1000-0x3000", PS, &r, &rounded), 0);
	assert_int_equal(r.start, 0x1000);
	assert_int_equal(r.end, 0x3000);
	assert_int_equal(parse_range("0x1000+8K", PS, &r, &rounded), 0);
	assert_int_equal(r.end, 0x3000);
	assert_int_equal(parse_range("0x100000+1M", PS, &r, &rounded), 0);
	assert_int_equal(r.end, 0x200000);
	assert_int_equal(parse_range("1000+2G", PS, &r, &rounded), 0);
	assert_int_equal(r.end, 0x1000 + (UINT64_C(2) << 30));
	assert_int_equal(parse_range("0x1000+4096", PS, &r, &rounded), 0);
	assert_int_equal(r.end, 0x2000);
}

static void ranges_rounded(void **state)
{
	struct pmscan_range r;
	bool rounded;
	(void)state;
	assert_int_equal(parse_range("0x1001-0x2fff", PS, &r, &rounded), 0);
	assert_true(rounded);
	assert_int_equal(r.start, 0x1000);
	assert_int_equal(r.end, 0x3000);
	assert_int_equal(parse_range("0x1000+1", PS, &r, &rounded), 0);
	assert_true(rounded);
	assert_int_equal(r.end, 0x2000);
}

static void ranges_bad(void **state)
{
	struct pmscan_range r;
	bool rounded;
	const char *bad[] = {
		"", "zzz", "0x1000", "0x2000-0x1000", "0x1000-0x1000", "-0x1000", "0x1000-",
		"0x1000+", "0x1000+0", "0x1000+12Q", "0x1000+-5", "0xg000-0x2000",
		"0x1000-0x2000x", "ffffffffffffffff+1M", "0x1000+99999999999999999999",
		"1000-2000-3000",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_range(bad[i], PS, &r, &rounded) == 0)
			fail_msg("range '%s' was accepted", bad[i]);
}

static void sizes(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("4K", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("3MiB", &v), 0);
	assert_int_equal(v, 3 << 20);
	assert_int_equal(parse_size("1T", &v), 0);
	assert_int_equal(v, UINT64_C(1) << 40);
	assert_int_equal(parse_size("0x10", &v), -1);	/* decimal only */
	assert_int_equal(parse_size("010K", &v), 0);	/* leading zeros: not octal */
	assert_int_equal(v, 10 << 10);
	assert_int_equal(parse_size("K", &v), -1);
	assert_int_equal(parse_size("1X", &v), -1);
	assert_int_equal(parse_size("1KK", &v), -1);
	assert_int_equal(parse_size("17179869184G", &v), -1);	/* 2^64 overflows */
}

static void numbers(void **state)
{
	static const char *const bad[] = { "0x10", "1e3", "-1", "+1", " 1", "1 ", "", "0x", "1.5",
					   "18446744073709551616" };
	uint64_t v;
	double d;
	(void)state;
	assert_int_equal(parse_u64("010", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_u64(bad[i], &v) == 0)
			fail_msg("number '%s' was accepted", bad[i]);
	assert_int_equal(parse_seconds("0.5", &d), 0);
	assert_true(d == 0.5);
	assert_int_equal(parse_seconds("010.25", &d), 0);
	assert_true(d == 10.25);
	assert_int_equal(parse_seconds("2", &d), 0);
	assert_true(d == 2);
	static const char *const badsec[] = { "0x0.4p0", "1e1", "inf", "nan", ".5", "5.", "-1", "+1",
					      "", " 1", "1,5", "0x10" };
	for (size_t i = 0; i < sizeof(badsec) / sizeof(badsec[0]); i++)
		if (parse_seconds(badsec[i], &d) == 0)
			fail_msg("seconds '%s' were accepted", badsec[i]);
}

static void pids(void **state)
{
	pid_t p;
	(void)state;
	assert_int_equal(parse_pid("1234", &p), 0);
	assert_int_equal(p, 1234);
	assert_int_equal(parse_pid("0", &p), -1);
	assert_int_equal(parse_pid("-1", &p), -1);
	assert_int_equal(parse_pid("12a", &p), -1);
	assert_int_equal(parse_pid("99999999999", &p), -1);
	assert_int_equal(parse_pid("", &p), -1);
}

static void human(void **state)
{
	char b[16];
	(void)state;
	format_size(4096, b, sizeof(b));
	assert_string_equal(b, "4K");
	format_size(1536 * 1024, b, sizeof(b));
	assert_string_equal(b, "1.5M");
	format_size(10 * 1024 * 1024, b, sizeof(b));
	assert_string_equal(b, "10M");
	format_size(100, b, sizeof(b));
	assert_string_equal(b, "100B");
	format_size(UINT64_C(2) << 30, b, sizeof(b));
	assert_string_equal(b, "2G");
	format_size(1023 * 1024 + 1000, b, sizeof(b));	/* rounds up: the next unit */
	assert_string_equal(b, "1M");
	format_size(UINT64_C(1023) * 1024 * 1024 + 512 * 1024, b, sizeof(b));	/* 1023.5M */
	assert_string_equal(b, "1G");
	format_size(UINT64_C(1023) * 1024 * 1024 + 511 * 1024, b, sizeof(b));
	assert_string_equal(b, "1023M");
	format_size(9 * 1024 * 1024 + 1023 * 1024, b, sizeof(b));
	assert_string_equal(b, "10M");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ranges),
		cmocka_unit_test(numbers),
		cmocka_unit_test(ranges_rounded),
		cmocka_unit_test(ranges_bad),
		cmocka_unit_test(sizes),
		cmocka_unit_test(pids),
		cmocka_unit_test(human),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Category names, lists and formatting: no process needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "pmscan.h"

static void names_round_trip(void **state)
{
	(void)state;
	for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++) {
		uint64_t m = 0;
		assert_int_equal(pmscan_categories_parse(pmscan_category_name(i), &m, NULL, NULL), 0);
		assert_int_equal(m, UINT64_C(1) << i);
	}
	assert_null(pmscan_category_name(PMSCAN_NCATEGORIES));
}

static void lists(void **state)
{
	uint64_t m = 0;
	(void)state;
	assert_int_equal(pmscan_categories_parse("written,present", &m, NULL, NULL), 0);
	assert_int_equal(m, PMSCAN_WRITTEN | PMSCAN_PRESENT);
	assert_int_equal(pmscan_categories_parse("0x12", &m, NULL, NULL), 0);
	assert_int_equal(m, PMSCAN_WRITTEN | PMSCAN_SWAPPED);
	assert_int_equal(pmscan_categories_parse("huge,8", &m, NULL, NULL), 0);
	assert_int_equal(m, PMSCAN_HUGE | PMSCAN_PRESENT);
	assert_int_equal(pmscan_categories_parse("soft_dirty", &m, NULL, NULL), 0);
	assert_int_equal(m, PMSCAN_SOFT_DIRTY);
	/* decimal: a leading zero is not octal */
	assert_int_equal(pmscan_categories_parse("010", &m, NULL, NULL), 0);
	assert_int_equal(m, 10);
	assert_int_equal(pmscan_categories_parse("0x", &m, NULL, NULL), -1);
	assert_int_equal(pmscan_categories_parse("0xg", &m, NULL, NULL), -1);
}

static void bad_items(void **state)
{
	uint64_t m = 77;
	const char *bad = NULL;
	size_t len = 0;
	const char *list = "present,writen,file";
	(void)state;
	errno = 0;
	assert_int_equal(pmscan_categories_parse(list, &m, &bad, &len), -1);
	assert_int_equal(errno, EINVAL);
	assert_ptr_equal(bad, list + 8);
	assert_int_equal(len, 6);
	assert_int_equal(m, 77);	/* unchanged on failure */
	assert_int_equal(pmscan_categories_parse("", &m, &bad, &len), -1);
	assert_int_equal(len, 0);
	assert_int_equal(pmscan_categories_parse("present,", &m, &bad, &len), -1);
	assert_int_equal(pmscan_categories_parse("0x400", &m, &bad, &len), -1);	/* beyond the known bits */
	assert_int_equal(pmscan_categories_parse("Written", &m, &bad, &len), -1);
	assert_int_equal(pmscan_categories_parse("12abc", &m, &bad, &len), -1);
}

static void format(void **state)
{
	char buf[128];
	(void)state;
	assert_int_equal(pmscan_categories_format(PMSCAN_PRESENT | PMSCAN_WRITTEN, buf, sizeof(buf)),
			 strlen("written,present"));
	assert_string_equal(buf, "written,present");
	assert_int_equal(pmscan_categories_format(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	pmscan_categories_format(PMSCAN_GUARD | (UINT64_C(1) << 40), buf, sizeof(buf));
	assert_string_equal(buf, "guard,0x10000000000");
	/* Too small a buffer: the needed length, and a terminated prefix. */
	assert_int_equal(pmscan_categories_format(PMSCAN_PRESENT | PMSCAN_WRITTEN, buf, 9), 15);
	assert_string_equal(buf, "written");
}

static void kernel_probe(void **state)
{
	(void)state;
	uint64_t k = pmscan_kernel_categories();
	/* 6.7 introduced the first seven together. */
	if (k)
		assert_int_equal(k & 0x7f, 0x7f);
	else
		assert_int_equal(errno, ENOTSUP);
	assert_int_equal(pmscan_kernel_categories(), k);	/* cached, stable */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_round_trip),
		cmocka_unit_test(lists),
		cmocka_unit_test(bad_items),
		cmocka_unit_test(format),
		cmocka_unit_test(kernel_probe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

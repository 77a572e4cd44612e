/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The tracker choice against its contract (pmscan.h): what each tracker
 * says about the running kernel, how AUTO resolves, the errors of
 * pmscan_target_set_tracker, and, where soft-dirty works, its arm, rearm,
 * disarm and refusals on a child process. Where soft-dirty does not work,
 * soft_dirty_lifecycle is replaced by soft_dirty_unavailable (its refusal,
 * with the reason printed): automake's TAP driver counts cmocka's skip
 * ("not ok # SKIP") as a failure.
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
#include <sys/wait.h>
#include <unistd.h>

#include "pmscan.h"

static pid_t child;

static int start_child(void **state)
{
	(void)state;
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	return child > 0 ? 0 : -1;
}

static int stop_child(void **state)
{
	(void)state;
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}

static void set_tracker_errors(void **state)
{
	(void)state;
	struct pmscan_target *t = pmscan_target_open(child);
	assert_non_null(t);
	errno = 0;
	assert_int_equal(pmscan_target_set_tracker(t, 3), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(pmscan_target_set_tracker(t, -1), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(pmscan_tracker_unavailable(7), "not a tracker");
	/* UFFD is accepted on every kernel. */
	assert_int_equal(pmscan_target_set_tracker(t, PMSCAN_TRACKER_UFFD), 0);
	assert_int_equal(pmscan_target_get_tracker(t), PMSCAN_TRACKER_UFFD);
	if (pmscan_tracker_unavailable(PMSCAN_TRACKER_SOFT_DIRTY)) {
		assert_int_equal(pmscan_target_set_tracker(t, PMSCAN_TRACKER_SOFT_DIRTY), -1);
		assert_int_equal(errno, ENOTSUP);
		/* The failed call changed nothing. */
		assert_int_equal(pmscan_target_get_tracker(t), PMSCAN_TRACKER_UFFD);
	} else {
		assert_int_equal(pmscan_target_set_tracker(t, PMSCAN_TRACKER_SOFT_DIRTY), 0);
		assert_int_equal(pmscan_target_get_tracker(t), PMSCAN_TRACKER_SOFT_DIRTY);
	}
	pmscan_target_close(t);
}

static void auto_resolves(void **state)
{
	(void)state;
	struct pmscan_target *t = pmscan_target_open(child);
	const char *u = pmscan_tracker_unavailable(PMSCAN_TRACKER_UFFD);
	const char *s = pmscan_tracker_unavailable(PMSCAN_TRACKER_SOFT_DIRTY);
	const char *a = pmscan_tracker_unavailable(PMSCAN_TRACKER_AUTO);

	assert_non_null(t);
	printf("# uffd: %s; soft-dirty: %s\n", u ? u : "works", s ? s : "works");
	assert_int_equal(pmscan_target_set_tracker(t, PMSCAN_TRACKER_AUTO), 0);
	if (!u) {
		assert_int_equal(pmscan_target_get_tracker(t), PMSCAN_TRACKER_UFFD);
		assert_null(a);
	} else if (!s) {
		assert_int_equal(pmscan_target_get_tracker(t), PMSCAN_TRACKER_SOFT_DIRTY);
		assert_null(a);
	} else {
		errno = 0;
		assert_int_equal(pmscan_target_get_tracker(t), -1);
		assert_int_equal(errno, ENOTSUP);
		/* Both reasons, named. */
		assert_non_null(a);
		assert_non_null(strstr(a, "uffd: "));
		assert_non_null(strstr(a, "soft-dirty: "));
	}
	pmscan_target_close(t);
}

static void soft_dirty_lifecycle(void **state)
{
	(void)state;
	struct pmscan_target *t = pmscan_target_open(child);
	struct pmscan_arm_stats st = { .size = sizeof(st) };
	struct pmscan_range r = { 0x10000, 0x20000 };

	assert_non_null(t);
	assert_int_equal(pmscan_target_set_tracker(t, PMSCAN_TRACKER_SOFT_DIRTY), 0);
	/* A reset is of the whole process: ranges are refused, nothing done. */
	errno = 0;
	assert_int_equal(pmscan_arm(t, &r, 1, NULL, NULL, &st), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(pmscan_target_error(t), "whole process"));
	/* Arming resets, every time. */
	assert_int_equal(pmscan_arm(t, NULL, 0, NULL, NULL, &st), 1);
	assert_int_equal(st.fd, -1);
	assert_true(st.mappings > 0);
	assert_int_equal(pmscan_arm(t, NULL, 0, NULL, NULL, &st), 1);
	assert_int_equal(pmscan_rearm(t, NULL, 0, 0, NULL, NULL, &st), 1);
	assert_int_equal(pmscan_disarm(t), 0);
	/* --wp with ranges or a page limit: refused, with the reason. */
	struct pmscan_scan *s = pmscan_scan_new(t);
	assert_non_null(s);
	assert_int_equal(pmscan_scan_set_masks(s, PMSCAN_WRITTEN, 0, 0, 0), 0);
	assert_int_equal(pmscan_scan_set_flags(s, PMSCAN_SCAN_WP), 0);
	assert_int_equal(pmscan_scan_set_max_pages(s, 3), 0);
	errno = 0;
	assert_int_equal(pmscan_scan_run(s), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(pmscan_scan_error(s), "whole process"));
	assert_int_equal(pmscan_scan_set_max_pages(s, 0), 0);
	assert_int_equal(pmscan_scan_run(s), 0);
	pmscan_scan_free(s);
	pmscan_target_close(t);
}

/* Where soft-dirty does not work: the lifecycle cannot run; what can be
   checked is that nothing pretends otherwise. */
static void soft_dirty_unavailable(void **state)
{
	(void)state;
	const char *why = pmscan_tracker_unavailable(PMSCAN_TRACKER_SOFT_DIRTY);
	struct pmscan_target *t = pmscan_target_open(child);

	printf("# soft_dirty_lifecycle not run: %s\n", why);
	assert_non_null(t);
	assert_int_equal(pmscan_target_set_tracker(t, PMSCAN_TRACKER_SOFT_DIRTY), -1);
	assert_int_equal(errno, ENOTSUP);
	assert_int_not_equal(pmscan_target_get_tracker(t), PMSCAN_TRACKER_SOFT_DIRTY);
	pmscan_target_close(t);
}

int main(void)
{
	const struct CMUnitTest with_sd[] = {
		cmocka_unit_test(set_tracker_errors),
		cmocka_unit_test(auto_resolves),
		cmocka_unit_test(soft_dirty_lifecycle),
	};
	const struct CMUnitTest without_sd[] = {
		cmocka_unit_test(set_tracker_errors),
		cmocka_unit_test(auto_resolves),
		cmocka_unit_test(soft_dirty_unavailable),
	};
	if (pmscan_tracker_unavailable(PMSCAN_TRACKER_SOFT_DIRTY))
		return cmocka_run_group_tests(without_sd, start_child, stop_child);
	return cmocka_run_group_tests(with_sd, start_child, stop_child);
}

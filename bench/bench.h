/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the benchmark programs share: the median of a run of timings. */
#ifndef PMSCAN_BENCH_H
#define PMSCAN_BENCH_H

#include <stdlib.h>

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sorts v. */
static inline double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return v[n / 2];
}

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A set of address ranges: appended to, then sorted and coalesced, so that
 * overlapping or touching ranges become one. The scan engine's --range list
 * and the write-watch API's watched memory both are one.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

int range_set_add(struct range_set *rs, uint64_t start, uint64_t end)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 8;
		struct pmscan_range *r = realloc(rs->r, cap * sizeof(*r));
		if (!r)
			return -1;
		rs->r = r;
		rs->cap = cap;
	}
	rs->r[rs->n++] = (struct pmscan_range){ start, end };
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct pmscan_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

void range_set_normalize(struct range_set *rs)
{
	size_t n = 0;

	if (!rs->n)
		return;
	qsort(rs->r, rs->n, sizeof(*rs->r), cmp_range);
	for (size_t i = 1; i < rs->n; i++) {
		if (rs->r[i].start <= rs->r[n].end) {
			if (rs->r[i].end > rs->r[n].end)
				rs->r[n].end = rs->r[i].end;
		} else
			rs->r[++n] = rs->r[i];
	}
	rs->n = n + 1;
}

void range_set_free(struct range_set *rs)
{
	free(rs->r);
	rs->r = NULL;
	rs->n = rs->cap = 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The statistics structs' size rule (pmscan.h): the caller's struct has
 * st->size bytes; the library writes each field it knows only when the field
 * fits whole in them, and refuses a size below the first version's. Fields
 * are only ever appended: a new one gets a PUT line below, and the first
 * version's size (*_STATS_V1_SIZE in internal.h) never changes.
 */
#include "internal.h"

#include <errno.h>

/* Today's structs are the first versions, with no padding at their end
   (reserved fills it), so that each appended field makes them larger. A
   version that appends fields checks its own last field here instead. */
_Static_assert(sizeof(struct pmscan_scan_stats) == SCAN_STATS_V1_SIZE, "tail padding in pmscan_scan_stats");
_Static_assert(sizeof(struct pmscan_arm_stats) == ARM_STATS_V1_SIZE, "tail padding in pmscan_arm_stats");

/* Write src->f into dst->f when dst's caller-given size holds the field. */
#define PUT(dst, src, size, f)                                                \
	do {                                                                  \
		if (offsetof(__typeof__(*(dst)), f) + sizeof((dst)->f) <= (size)) \
			(dst)->f = (src)->f;                                  \
	} while (0)

int scan_stats_put(struct pmscan_scan_stats *dst, const struct pmscan_scan_stats *src)
{
	size_t size;

	if (!dst || (size = dst->size) < SCAN_STATS_V1_SIZE)
		return -EINVAL;
	PUT(dst, src, size, pages);
	PUT(dst, src, size, regions);
	PUT(dst, src, size, mappings);
	PUT(dst, src, size, untracked);
	PUT(dst, src, size, untracked_pages);
	PUT(dst, src, size, ioctls);
	PUT(dst, src, size, budget_reached);
	return 0;
}

int arm_stats_check(const struct pmscan_arm_stats *st)
{
	return !st || st->size >= ARM_STATS_V1_SIZE ? 0 : -EINVAL;
}

void arm_stats_put(struct pmscan_arm_stats *dst, const struct pmscan_arm_stats *src)
{
	size_t size;

	if (!dst || (size = dst->size) < ARM_STATS_V1_SIZE)
		return;
	PUT(dst, src, size, mappings);
	PUT(dst, src, size, bytes);
	PUT(dst, src, size, skipped);
	PUT(dst, src, size, fd);
}

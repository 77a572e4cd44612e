/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The reference the tests hold pmscan to: one bare PAGEMAP_SCAN loop over
 * [START, END) of PID with the masks exactly as given, one region per call
 * (vec_len 1, so no batch boundary ever splits a region), resuming at the
 * end of what was returned. Prints "START END CATEGORIES" in hex, one per line.
 *
 *   rawscan PID START END FLAGS INVERTED MASK ANYOF RETURN [MAX_PAGES]
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uapi.h"

int main(int argc, char **argv)
{
	char path[64];
	struct page_region r;
	unsigned long long v[9] = { 0 };

	if (argc < 9) {
		fprintf(stderr, "usage: rawscan PID START END FLAGS INVERTED MASK ANYOF RETURN [MAX_PAGES]\n");
		return 99;
	}
	for (int i = 1; i < argc && i < 10; i++)
		v[i - 1] = strtoull(argv[i], NULL, 0);
	snprintf(path, sizeof(path), "/proc/%llu/pagemap", v[0]);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	unsigned long long pos = v[1], left = v[8];
	while (pos < v[2]) {
		struct pm_scan_arg a = {
			.size = sizeof(a), .flags = v[3], .start = pos, .end = v[2],
			.vec = (unsigned long long)(uintptr_t)&r, .vec_len = 1,
			.max_pages = left, .category_inverted = v[4], .category_mask = v[5],
			.category_anyof_mask = v[6], .return_mask = v[7],
		};
		long n = ioctl(fd, PAGEMAP_SCAN, &a);
		if (n < 0) {
			fprintf(stderr, "rawscan: PAGEMAP_SCAN: %s\n", strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		printf("0x%llx 0x%llx 0x%llx\n", r.start, r.end, r.categories);
		if (v[8]) {
			left -= (r.end - r.start) / (unsigned long long)sysconf(_SC_PAGESIZE);
			if (!left)
				break;
		}
		pos = a.walk_end > r.end ? a.walk_end : r.end;
	}
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The other reference the kernel-matrix tests hold pmscan to: the page flags
 * /proc/PID/pagemap gives for PAGES pages from START, one line per page:
 *   ADDR PRESENT SWAPPED FILE SOFT_DIRTY UFFD_WP      (0 or 1 each)
 * Works on every kernel (pagemap predates PAGEMAP_SCAN by far).
 *
 *   pagemap PID START PAGES
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[64];
	uint64_t buf[512];

	if (argc != 4) {
		fprintf(stderr, "usage: pagemap PID START PAGES\n");
		return 99;
	}
	unsigned long long start = strtoull(argv[2], NULL, 0), pages = strtoull(argv[3], NULL, 0);
	unsigned long long ps = (unsigned long long)sysconf(_SC_PAGESIZE);
	snprintf(path, sizeof(path), "/proc/%s/pagemap", argv[1]);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	for (unsigned long long i = 0; i < pages;) {
		size_t n = pages - i < 512 ? (size_t)(pages - i) : 512;
		off_t off = (off_t)((start / ps + i) * sizeof(uint64_t));
		ssize_t got = pread(fd, buf, n * sizeof(uint64_t), off);
		if (got <= 0 || got % (ssize_t)sizeof(uint64_t)) {
			perror("pagemap: read");
			return 1;
		}
		n = (size_t)got / sizeof(uint64_t);
		for (size_t k = 0; k < n; k++) {
			uint64_t e = buf[k];
			printf("0x%llx %d %d %d %d %d\n", start + (i + k) * ps, (int)(e >> 63 & 1),
			       (int)(e >> 62 & 1), (int)(e >> 61 & 1), (int)(e >> 55 & 1), (int)(e >> 57 & 1));
		}
		i += n;
	}
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the running kernel can do, probed on this process's own memory (never
 * from version numbers), so tests skip with a reason where a feature is
 * missing. Shared by tests/helpers/target.c ("features") and the write-watch
 * tests. See docs in tests/kernels/README for which Debian kernel has what.
 */
#ifndef PMSCAN_TESTS_KFEATURES_H
#define PMSCAN_TESTS_KFEATURES_H

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uapi.h"

/* PAGEMAP_SCAN (6.7+): one scan of one of our own pages. */
static inline int kf_pagemap_scan(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct page_region r;
	int fd, ok = 0;

	if (p == MAP_FAILED)
		return 0;
	p[0] = 1;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		struct pm_scan_arg a = {
			.size = sizeof(a), .start = (uintptr_t)p, .end = (uintptr_t)p + (size_t)ps,
			.vec = (uintptr_t)&r, .vec_len = 1,
			.category_mask = PAGE_IS_PRESENT, .return_mask = PAGE_IS_PRESENT,
		};
		ok = ioctl(fd, PAGEMAP_SCAN, &a) == 1;
		close(fd);
	}
	munmap(p, (size_t)ps);
	return ok;
}

/* userfaultfd async write-protect with unpopulated markers (6.7+). */
static inline int kf_wp_async(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	int ok;

	if (fd < 0)
		return 0;
	ok = ioctl(fd, UFFDIO_API, &api) == 0;
	close(fd);
	return ok;
}

static inline int kf_pagemap_bit(void *addr, int bit)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long ps = sysconf(_SC_PAGESIZE);

	if (fd < 0)
		return -1;
	if (pread(fd, &e, sizeof(e), (off_t)((uintptr_t)addr / (uintptr_t)ps * sizeof(e))) != sizeof(e))
		e = 0;
	close(fd);
	return (int)((e >> bit) & 1);
}

/*
 * Soft-dirty for real (CONFIG_MEM_SOFT_DIRTY): clear this process's bits,
 * then a write must set bit 55 again. A kernel without it accepts the
 * category in PAGEMAP_SCAN masks all the same, so that cannot be the probe.
 * Clears this process's soft-dirty bits: call it in a process that does not
 * care (the target, before it does anything).
 */
static inline int kf_soft_dirty(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	volatile char *p = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd, ok = 0;

	if (p == MAP_FAILED)
		return 0;
	p[0] = 1;
	fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && write(fd, "4", 1) == 1 && kf_pagemap_bit((void *)p, 55) == 0) {
		p[0] = 2;
		ok = kf_pagemap_bit((void *)p, 55) == 1;
	}
	if (fd >= 0)
		close(fd);
	munmap((void *)p, (size_t)ps);
	return ok;
}

/* A hugetlb page can be mapped and faulted in now (the pool is not empty). */
static inline int kf_hugetlb(void)
{
	size_t len = 2UL << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	if (p == MAP_FAILED)
		return 0;
	munmap(p, len);
	return 1;
}

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The write-watch API: Win32 GetWriteWatch/ResetWriteWatch semantics over
 * the calling process's own memory, for ports, garbage collectors and
 * checkpointers. A handle owns a userfaultfd in async write-protect mode;
 * get reads PAGEMAP_SCAN's written pages and, with PMSCAN_WW_RESET,
 * write-protects exactly those in the same call.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WW_VEC 512

/* A watched hugetlb range and its page size: a reset must cover whole pages. */
struct huge_range {
	uint64_t start, end, size;
};

struct pmscan_ww {
	int uffd;
	int pagemap_fd;
	struct range_set watched;	/* normalized: sorted, disjoint, not touching */
	struct huge_range *huge;
	size_t nhuge;
};

static int set_errno(int e)
{
	errno = e;
	return -1;
}

PMSCAN_EXPORT struct pmscan_ww *pmscan_ww_open(void)
{
	struct pmscan_ww *ww = calloc(1, sizeof(*ww));
	int e;

	if (!ww)
		return NULL;
	ww->uffd = ww->pagemap_fd = -1;
	ww->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (ww->uffd < 0) {
		e = errno == ENOSYS ? ENOTSUP : errno;
		goto fail;
	}
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
			    UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
	};
	if (ioctl(ww->uffd, UFFDIO_API, &api) < 0) {
		e = errno == EINVAL ? ENOTSUP : errno;
		goto fail;
	}
	if (!(pmscan_kernel_categories() & PMSCAN_WRITTEN)) {
		e = ENOTSUP;
		goto fail;
	}
	ww->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (ww->pagemap_fd < 0) {
		e = errno;
		goto fail;
	}
	return ww;
fail:
	pmscan_ww_close(ww);
	errno = e;
	return NULL;
}

PMSCAN_EXPORT void pmscan_ww_close(struct pmscan_ww *ww)
{
	if (!ww)
		return;
	/* Closing the uffd unregisters every watched range. */
	if (ww->uffd >= 0)
		close(ww->uffd);
	if (ww->pagemap_fd >= 0)
		close(ww->pagemap_fd);
	range_set_free(&ww->watched);
	free(ww->huge);
	free(ww);
}

/* [start, end) from addr and len: page-rounded outward, or EINVAL. */
static int span(const void *addr, size_t len, uint64_t *start, uint64_t *end)
{
	uint64_t ps = (uint64_t)page_size_cached();
	uint64_t a = (uint64_t)(uintptr_t)addr;

	if (len == 0 || a + len < a || a + len > UINT64_MAX - ps)
		return set_errno(EINVAL);
	*start = a & ~(ps - 1);
	*end = (a + len + ps - 1) & ~(ps - 1);
	return 0;
}

static bool covered(const struct pmscan_ww *ww, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < ww->watched.n; i++)
		if (ww->watched.r[i].start <= start && end <= ww->watched.r[i].end)
			return true;
	return false;
}

static int add_range(struct pmscan_ww *ww, uint64_t start, uint64_t end)
{
	if (range_set_add(&ww->watched, start, end) < 0)
		return -1;
	range_set_normalize(&ww->watched);
	return 0;
}

/* Cut [start, end), wholly inside one range, out of the set. */
static int remove_range(struct pmscan_ww *ww, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < ww->watched.n; i++) {
		struct pmscan_range *r = &ww->watched.r[i];
		if (!(r->start <= start && end <= r->end))
			continue;
		uint64_t tail = r->end;
		r->end = start;		/* may leave it empty: dropped below */
		if (end < tail && range_set_add(&ww->watched, end, tail) < 0)
			return -1;
		size_t n = 0;
		for (size_t j = 0; j < ww->watched.n; j++)
			if (ww->watched.r[j].start < ww->watched.r[j].end)
				ww->watched.r[n++] = ww->watched.r[j];
		ww->watched.n = n;
		range_set_normalize(&ww->watched);
		return 0;
	}
	return set_errno(EINVAL);
}

/* Write-protect the written pages of [start, end): a reset. protect_range
   avoids WP_MATCHING where the kernel gets it wrong (probe.c). */
static int reset_span(struct pmscan_ww *ww, uint64_t start, uint64_t end)
{
	int r = protect_range(ww->uffd, ww->pagemap_fd, start, end);

	return r < 0 ? set_errno(-r) : 0;
}

/*
 * Transparent huge pages: a huge page already there is split by the kernel
 * at the first write after it is protected, leaving only the written 4 KiB
 * page unprotected. Keep khugepaged from collapsing pages later.
 */
static void no_huge_pages(uint64_t start, uint64_t end)
{
	madvise((void *)(uintptr_t)start, end - start, MADV_NOHUGEPAGE);
}

/* The kernel page size of the mapping holding addr (smaps KernelPageSize):
   larger than a page for hugetlb. 0 when it cannot be told. */
static uint64_t kernel_page_size(uint64_t addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;
	uint64_t size = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b, kb;
		if (sscanf(line, "%llx-%llx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = a <= addr && addr < b;
		else if (in && sscanf(line, "KernelPageSize: %llu kB", &kb) == 1) {
			size = kb * 1024;
			break;
		}
	}
	fclose(f);
	return size;
}

static int note_huge(struct pmscan_ww *ww, uint64_t start, uint64_t end)
{
	uint64_t size = kernel_page_size(start);

	if (size <= (uint64_t)page_size_cached())
		return 0;
	struct huge_range *h = realloc(ww->huge, (ww->nhuge + 1) * sizeof(*h));
	if (!h)
		return -1;
	ww->huge = h;
	ww->huge[ww->nhuge++] = (struct huge_range){ start, end, size };
	return 0;
}

/* A reset must not cut a hugetlb page: the kernel cannot protect part of
   one (it would stop there and reset nothing). */
static bool cuts_huge_page(const struct pmscan_ww *ww, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < ww->nhuge; i++) {
		const struct huge_range *h = &ww->huge[i];
		if (h->start < end && start < h->end &&
		    ((start > h->start && start % h->size) || (end < h->end && end % h->size)))
			return true;
	}
	return false;
}

/*
 * Is [start, end) still the memory that was watched? munmap() ends a watch:
 * a hole (msync says ENOMEM) or a mapping not registered with us (a new one
 * at the same address: CHECK_WPASYNC says EPERM) means the watch of that
 * span is over; it is forgotten, and the caller gets EINVAL.
 */
static int still_watched(struct pmscan_ww *ww, uint64_t start, uint64_t end)
{
	struct pm_scan_arg a = {
		.size = sizeof(a), .flags = PM_SCAN_CHECK_WPASYNC, .start = start, .end = end,
		.return_mask = PAGE_IS_WPALLOWED,
	};

	if (msync((void *)(uintptr_t)start, end - start, MS_ASYNC) == 0 &&
	    (pagemap_ioctl(ww->pagemap_fd, &a) >= 0 || errno != EPERM))
		return 0;
	struct uffdio_range range = { start, end - start };
	ioctl(ww->uffd, UFFDIO_UNREGISTER, &range);
	remove_range(ww, start, end);
	return set_errno(EINVAL);
}

PMSCAN_EXPORT int pmscan_ww_watch(struct pmscan_ww *ww, void *addr, size_t len)
{
	uint64_t start, end;

	if (!ww)
		return set_errno(EINVAL);
	if (span(addr, len, &start, &end) < 0)
		return -1;
	/* msync validates without side effects: ENOMEM for a hole. */
	if (msync((void *)(uintptr_t)start, end - start, MS_ASYNC) < 0)
		return set_errno(errno == ENOMEM ? EINVAL : errno);
	no_huge_pages(start, end);
	struct uffdio_register reg = {
		.range = { start, end - start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	if (ioctl(ww->uffd, UFFDIO_REGISTER, &reg) < 0)
		return -1;
	/* Start clean: protect every page, populated or not. */
	int pr = protect_range(ww->uffd, ww->pagemap_fd, start, end);
	if (pr < 0)
		errno = -pr;
	if (pr < 0 || add_range(ww, start, end) < 0 || note_huge(ww, start, end) < 0) {
		int e = errno;
		ioctl(ww->uffd, UFFDIO_UNREGISTER, &reg.range);
		return set_errno(e);
	}
	return 0;
}

/* [start, end) of a range that must lie wholly inside watched memory. */
static int watched_span(struct pmscan_ww *ww, const void *addr, size_t len,
			uint64_t *start, uint64_t *end)
{
	if (!ww)
		return set_errno(EINVAL);
	if (span(addr, len, start, end) < 0)
		return -1;
	if (!covered(ww, *start, *end))
		return set_errno(EINVAL);
	return still_watched(ww, *start, *end);
}

PMSCAN_EXPORT int pmscan_ww_unwatch(struct pmscan_ww *ww, void *addr, size_t len)
{
	uint64_t start, end;

	if (watched_span(ww, addr, len, &start, &end) < 0)
		return -1;
	struct uffdio_range range = { start, end - start };
	if (ioctl(ww->uffd, UFFDIO_UNREGISTER, &range) < 0)
		return -1;
	return remove_range(ww, start, end);
}

PMSCAN_EXPORT int pmscan_ww_reset(struct pmscan_ww *ww, void *base, size_t size)
{
	uint64_t start, end;

	if (watched_span(ww, base, size, &start, &end) < 0)
		return -1;
	if (cuts_huge_page(ww, start, end))
		return set_errno(EINVAL);
	return reset_span(ww, start, end);
}

PMSCAN_EXPORT int pmscan_ww_get(struct pmscan_ww *ww, unsigned flags, void *base, size_t size,
				void **addresses, size_t *count, size_t *granularity)
{
	struct page_region vec[WW_VEC];
	uint64_t start, end, ps = (uint64_t)page_size_cached();
	size_t max, got = 0;

	/* Wine's order: where the count goes, then what it says, then the
	   address buffer. */
	if (!count || !granularity)
		return set_errno(EFAULT);
	if (*count == 0 || size == 0 || (flags & ~PMSCAN_WW_RESET))
		return set_errno(EINVAL);
	if (!addresses)
		return set_errno(EFAULT);
	if (watched_span(ww, base, size, &start, &end) < 0)
		return -1;
	if ((flags & PMSCAN_WW_RESET) && cuts_huge_page(ww, start, end))
		return set_errno(EINVAL);
	max = *count;

	uint64_t pos = start;
	while (pos < end && got < max) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags = (flags & PMSCAN_WW_RESET) ? PM_SCAN_WP_MATCHING : 0,
			.start = pos, .end = end,
			.vec = (uintptr_t)vec, .vec_len = WW_VEC,
			/* The budget makes the kernel protect exactly what it returns. */
			.max_pages = max - got,
			.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
		};
		long n = pagemap_ioctl(ww->pagemap_fd, &a);
		if (n < 0) {
			/* Pages already returned may have been reset: report them. */
			if (got)
				break;
			return -1;
		}
		uint64_t last = 0;
		for (long i = 0; i < n; i++) {
			for (uint64_t p = vec[i].start; p < vec[i].end && got < max; p += ps)
				addresses[got++] = (void *)(uintptr_t)p;
			last = vec[i].end;
		}
		if (n < WW_VEC || got >= max)
			break;
		/* walk_end can be stale (docs/kernel.md): resume after what was returned. */
		uint64_t next = a.walk_end > last ? a.walk_end : last;
		if (next <= pos)
			break;
		pos = next;
	}
	*count = got;
	*granularity = (size_t)ps;
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the running kernel can really do, found by trying each feature on
 * pmscan's own memory (never by version numbers: distributions backport and
 * configure differently; see docs/kernel.md). Each probe runs once per
 * process. Probes that would change the caller's state (clear_refs resets
 * soft-dirty for the whole process; a userfaultfd registration) run in a
 * short-lived child that shares nothing with the caller.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PM_PFN_MASK	((UINT64_C(1) << 55) - 1)
#define PM_SOFT_DIRTY	(UINT64_C(1) << 55)
#define PM_GUARD	(UINT64_C(1) << 58)
#define PM_PRESENT	(UINT64_C(1) << 63)

#ifndef MADV_GUARD_INSTALL
# define MADV_GUARD_INSTALL 102
#endif

/* The pagemap entry of one page of the calling process, or 0 on error. */
static uint64_t own_entry(int fd, const void *addr)
{
	uint64_t e;
	off_t off = (off_t)((uintptr_t)addr / (uintptr_t)page_size_cached() * 8);

	if (pread(fd, &e, sizeof(e), off) != (ssize_t)sizeof(e))
		return 0;
	return e;
}

/*
 * Run fn in a child (a fork without SIGCHLD, so the caller's own child
 * handling never sees it) and return the byte it wrote to the pipe, or -1.
 * The child only makes system calls: safe in a threaded caller.
 */
static int in_child(char (*fn)(void))
{
	int p[2], status;
	char c = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	long pid = syscall(SYS_clone, 0UL, 0UL, 0UL, 0UL, 0UL);
	if (pid == 0) {
		c = fn();
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	ssize_t n;
	do
		n = read(p[0], &c, 1);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	while (waitpid((pid_t)pid, &status, __WCLONE) < 0 && errno == EINTR)
		;
	return n == 1 ? (unsigned char)c : -1;
}

/* ---- soft-dirty ------------------------------------------------------- */

static int sd_state;		/* 1 works, 0 not */
static const char *sd_why = "";
static pthread_once_t sd_once = PTHREAD_ONCE_INIT;

/* In the child: write a page, clear_refs, check clean; write, check dirty. */
static char soft_dirty_child(void)
{
	long ps = page_size_cached();
	volatile char *page = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

	if (page == MAP_FAILED || pm < 0)
		return 'p';
	if (cr < 0)
		return 'c';
	page[0] = 1;
	if (write(cr, "4", 1) != 1)
		return 'c';
	if (own_entry(pm, (const void *)page) & PM_SOFT_DIRTY)
		return 'k';		/* clear_refs did not clear it */
	page[0] = 2;
	return (own_entry(pm, (const void *)page) & PM_SOFT_DIRTY) ? 'y' : 'n';
}

/* Without CONFIG_MEM_SOFT_DIRTY no page ever reads soft-dirty; with it, a
   page just written in a new mapping always does (the mapping starts
   soft-dirty). So one page of our own rules the feature out without the
   child (a fork, at every start) and without touching our own bits. */
static bool soft_dirty_absent(void)
{
	long ps = page_size_cached();
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	volatile char *page;
	uint64_t e = 0;

	if (pm < 0)
		return false;
	page = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page != MAP_FAILED) {
		page[0] = 1;
		e = own_entry(pm, (const void *)page);
		munmap((void *)page, (size_t)ps);
	}
	close(pm);
	return (e & PM_PRESENT) && !(e & PM_SOFT_DIRTY);
}

static void soft_dirty_probe(void)
{
	switch (soft_dirty_absent() ? 'n' : in_child(soft_dirty_child)) {
	case 'y':
		sd_state = 1;
		break;
	case 'n':
#if defined(__x86_64__) || defined(__i386__) || defined(__powerpc64__) || defined(__s390x__)
		sd_why = "this kernel was built without CONFIG_MEM_SOFT_DIRTY "
			 "(a written page never reads soft-dirty)";
#else
		sd_why = "this architecture's kernels have no soft-dirty bit "
			 "(a written page never reads soft-dirty)";
#endif
		break;
	case 'k':
		sd_why = "clear_refs does not clear the soft-dirty bit on this kernel";
		break;
	case 'c':
		sd_why = "cannot write /proc/PID/clear_refs";
		break;
	default:
		sd_why = "cannot test soft-dirty (/proc/self/pagemap unreadable or fork failed)";
	}
}

bool probe_soft_dirty(const char **why)
{
	pthread_once(&sd_once, soft_dirty_probe);
	if (why)
		*why = sd_why;
	return sd_state == 1;
}

/* ---- PAGEMAP_SCAN WP_MATCHING on unpopulated page tables ------------- */

static bool wpm_ok = true;
static pthread_once_t wpm_once = PTHREAD_ONCE_INIT;

/*
 * In the child: 6.12.95 (Debian bookworm-backports) protects a 2 MiB range
 * that has no page table yet so badly with PAGEMAP_SCAN + WP_MATCHING that,
 * once one page of it is written, all 512 read as written. Reproduce that
 * on a fresh mapping: 'y' exact, 'n' the bug, 'u' cannot tell.
 */
static char wp_matching_child(void)
{
	/* What one page table covers: 2 MiB with 4 KiB pages. */
	const uint64_t ps = (uint64_t)page_size_cached(), huge = ps * (ps / 8), len = 4 * huge;
	char *raw = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	if (raw == MAP_FAILED || pm < 0 || uffd < 0)
		return 'u';
	/* One whole block inside, whose page table nothing shares. */
	uint64_t start = (uint64_t)(uintptr_t)raw, end = start + len;
	uint64_t block = ((start + huge - 1) & ~(huge - 1)) + huge;
	madvise(raw, (size_t)len, MADV_NOHUGEPAGE);

	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	struct uffdio_register reg = {
		.range = { start, len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	if (ioctl(uffd, UFFDIO_API, &api) < 0 || ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return 'u';
	struct pm_scan_arg a = {
		.size = sizeof(a), .flags = PM_SCAN_WP_MATCHING, .start = start, .end = end,
		.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
	};
	if (ioctl(pm, PAGEMAP_SCAN, &a) < 0)
		return 'u';
	*(volatile char *)(uintptr_t)(block + 5 * ps) = 1;

	struct page_region vec[16];
	struct pm_scan_arg q = {
		.size = sizeof(q), .start = start, .end = end,
		.vec = (uintptr_t)vec, .vec_len = 16,
		.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
	};
	long n = ioctl(pm, PAGEMAP_SCAN, &q);
	if (n < 0)
		return 'u';
	uint64_t pages = 0;
	for (long i = 0; i < n; i++)
		pages += (vec[i].end - vec[i].start) / ps;
	return pages == 1 ? 'y' : pages > 1 ? 'n' : 'u';
}

static void wp_matching_probe(void)
{
	/* Without PAGEMAP_SCAN there is no WP_MATCHING to get wrong. */
	if (!(pmscan_kernel_categories() & PMSCAN_WRITTEN))
		return;
	/* When the test cannot run, assume the worst: UFFDIO_WRITEPROTECT is
	   exact on every kernel, only slower. */
	wpm_ok = in_child(wp_matching_child) == 'y';
}

bool probe_wp_matching_unpopulated_ok(void)
{
	pthread_once(&wpm_once, wp_matching_probe);
	return wpm_ok;
}

int protect_range(int uffd, int pagemap_fd, uint64_t start, uint64_t end)
{
	if (uffd >= 0 && !probe_wp_matching_unpopulated_ok()) {
		struct uffdio_writeprotect wp = {
			.range = { start, end - start },
			.mode = UFFDIO_WRITEPROTECT_MODE_WP,
		};
		int r;
		do
			r = ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
		while (r < 0 && errno == EINTR);
		return r < 0 ? -errno : 0;
	}
	struct pm_scan_arg a = {
		.size = sizeof(a), .flags = PM_SCAN_WP_MATCHING, .start = start, .end = end,
		.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
	};
	return pagemap_ioctl(pagemap_fd, &a) < 0 ? -errno : 0;
}

/* ---- what a pagemap reader can see ------------------------------------ */

static struct {
	uint64_t zero_pfn;	/* 0: page frame numbers are hidden */
	int guard;		/* 1 pagemap shows guards, 0 no guards exist, -1 hidden */
} pm;
static pthread_once_t pm_once = PTHREAD_ONCE_INIT;

static void pagemap_probe(void)
{
	long ps = page_size_cached();
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	char *p = mmap(NULL, 2 * (size_t)ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	pm.guard = -1;
	if (fd < 0 || p == MAP_FAILED)
		goto out;
	madvise(p, 2 * (size_t)ps, MADV_NOHUGEPAGE);
	/* A read fault on private anonymous memory maps the shared zero page;
	   its PFN reads as 0 when the opener lacks CAP_SYS_ADMIN. */
	(void)*(volatile char *)p;
	uint64_t e = own_entry(fd, p);
	if (e & PM_PRESENT)
		pm.zero_pfn = e & PM_PFN_MASK;
	/* Guard regions: a kernel that cannot install them has none to show. */
	if (madvise(p + ps, (size_t)ps, MADV_GUARD_INSTALL) < 0)
		pm.guard = 0;
	else
		pm.guard = (own_entry(fd, p + ps) & PM_GUARD) ? 1 : -1;
out:
	if (p != MAP_FAILED)
		munmap(p, 2 * (size_t)ps);
	if (fd >= 0)
		close(fd);
}

static bool kpf_ok;
static pthread_once_t kpf_once = PTHREAD_ONCE_INIT;

static void kpageflags_probe(void)
{
	uint64_t flags;
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	kpf_ok = pread(fd, &flags, sizeof(flags), 0) == (ssize_t)sizeof(flags);
	close(fd);
}

bool probe_kpageflags(void)
{
	pthread_once(&kpf_once, kpageflags_probe);
	return kpf_ok;
}

/*
 * The huge zero page (a read fault in a PMD-sized THP range): its first
 * PFN, or 0. Probed in this process on purpose: the mm keeps its reference
 * until exit, so the page, and its PFN, stay the same as long as pmscan
 * runs (a child's reference would end with the child, and a later huge zero
 * page could live elsewhere).
 */
static uint64_t hz_pfn;
static pthread_once_t hz_once = PTHREAD_ONCE_INIT;

static void huge_zero_probe(void)
{
	const size_t ptes = (size_t)page_size_cached() / 8, huge = (size_t)page_size_cached() * ptes;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	char *raw = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (fd >= 0 && raw != MAP_FAILED && probe_zero_pfn()) {
		char *p = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
		madvise(p, huge, MADV_HUGEPAGE);
		(void)*(volatile char *)p;
		uint64_t e0 = own_entry(fd, p), e1 = own_entry(fd, p + huge - (size_t)page_size_cached());
		uint64_t pfn = e0 & PM_PFN_MASK;
		/* Whole and aligned, and not the small zero page: the huge one. */
		if ((e0 & PM_PRESENT) && pfn && pfn % ptes == 0 && pfn != probe_zero_pfn() &&
		    (e1 & PM_PFN_MASK) == pfn + ptes - 1)
			hz_pfn = pfn;
	}
	if (raw != MAP_FAILED)
		munmap(raw, 2 * huge);
	if (fd >= 0)
		close(fd);
}

uint64_t probe_huge_zero_pfn(void)
{
	pthread_once(&hz_once, huge_zero_probe);
	return hz_pfn;
}

uint64_t probe_zero_pfn(void)
{
	pthread_once(&pm_once, pagemap_probe);
	return pm.zero_pfn;
}

/* -1 guard regions exist but pagemap does not show them, 0 none can
   exist, 1 pagemap shows them. */
int probe_pagemap_guard(void)
{
	pthread_once(&pm_once, pagemap_probe);
	return pm.guard;
}

/* ---- the end of the user address space -------------------------------- */

static uint64_t user_end;
static pthread_once_t user_end_once = PTHREAD_ONCE_INIT;

/* PAGEMAP_SCAN takes a range only below the caller's highest user address
   (access_ok): the largest of the usual limits (57-, 52-, 48- and 47-bit
   address spaces, the last page reserved on x86_64) that it accepts. */
static void user_end_probe(void)
{
	static const unsigned bits[] = { 56, 52, 48, 47 };
	uint64_t ps = (uint64_t)page_size_cached();
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]) && !user_end; i++) {
		uint64_t end = (UINT64_C(1) << bits[i]) - ps;
		struct pm_scan_arg a = {
			.size = sizeof(a), .start = end - ps, .end = end,
			.category_mask = PAGE_IS_WPALLOWED, .return_mask = PAGE_IS_WPALLOWED,
		};
		if (ioctl(fd, PAGEMAP_SCAN, &a) >= 0)
			user_end = end;
	}
	close(fd);
}

uint64_t probe_user_end(void)
{
	pthread_once(&user_end_once, user_end_probe);
	return user_end;
}

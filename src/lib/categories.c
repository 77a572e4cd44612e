/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Category names, lists of them, and what the running kernel knows.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const names[PMSCAN_NCATEGORIES] = {
	"wpallowed", "written", "file", "present", "swapped",
	"pfnzero", "huge", "soft-dirty", "guard", "accessed",
};

PMSCAN_EXPORT const char *pmscan_category_name(unsigned bit)
{
	return bit < PMSCAN_NCATEGORIES ? names[bit] : NULL;
}

static int lookup(const char *s, size_t len)
{
	for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++)
		if (strlen(names[i]) == len && !strncmp(names[i], s, len))
			return (int)i;
	if (len == 10 && !strncmp(s, "soft_dirty", len))
		return 7;
	return -1;
}

static int parse_number(const char *s, size_t len, uint64_t *out)
{
	char buf[32], *end;

	if (len == 0 || len >= sizeof(buf) || s[0] < '0' || s[0] > '9')
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	/* Decimal (leading zeros are not octal), or hex after 0x as the
	   kernel's PAGE_IS_* values are written; no sign. */
	bool hex = len > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X');
	if (!(hex ? isxdigit((unsigned char)buf[2]) : 1))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(hex ? buf + 2 : buf, &end, hex ? 16 : 10);
	if (errno || *end || (v & ~PMSCAN_ALL_CATEGORIES))
		return -1;
	*out = v;
	return 0;
}

PMSCAN_EXPORT int pmscan_categories_parse(const char *list, uint64_t *mask,
					  const char **bad, size_t *badlen)
{
	uint64_t m = 0;
	const char *p = list;

	if (!list || !mask) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		size_t len = strcspn(p, ",");
		uint64_t v;
		int bit = lookup(p, len);

		if (bit >= 0)
			m |= UINT64_C(1) << bit;
		else if (parse_number(p, len, &v) == 0)
			m |= v;
		else {
			if (bad)
				*bad = p;
			if (badlen)
				*badlen = len;
			errno = EINVAL;
			return -1;
		}
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	*mask = m;
	return 0;
}

PMSCAN_EXPORT size_t pmscan_categories_format(uint64_t mask, char *buf, size_t len)
{
	size_t n = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++) {
		if (!(mask & (UINT64_C(1) << i)))
			continue;
		size_t l = strlen(names[i]) + (n ? 1 : 0);
		if (n + l < len) {
			if (n)
				buf[n] = ',';
			memcpy(buf + n + (n ? 1 : 0), names[i], strlen(names[i]) + 1);
		}
		n += l;
	}
	if (mask & ~PMSCAN_ALL_CATEGORIES) {
		char num[24];
		int l = snprintf(num, sizeof(num), "%s0x%llx", n ? "," : "",
				 (unsigned long long)(mask & ~PMSCAN_ALL_CATEGORIES));
		if (n + (size_t)l < len)
			memcpy(buf + n, num, (size_t)l + 1);
		n += (size_t)l;
	}
	return n;
}

long page_size_cached(void)
{
	static long ps;

	if (!ps)
		ps = sysconf(_SC_PAGESIZE);
	return ps;
}

int pagemap_ioctl(int fd, struct pm_scan_arg *arg)
{
	long r;

	do
		r = ioctl(fd, PAGEMAP_SCAN, arg);
	while (r < 0 && errno == EINTR);
	return (int)r;
}

static uint64_t known_mask;
static int known_errno;
static pthread_once_t known_once = PTHREAD_ONCE_INIT;

static void probe(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		known_errno = errno;
		return;
	}
	/* An empty range still validates every mask: unknown bits give EINVAL. */
	struct pm_scan_arg a = { .size = sizeof(a) };
	if (ioctl(fd, PAGEMAP_SCAN, &a) < 0) {
		known_errno = ENOTSUP;
		close(fd);
		return;
	}
	for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++) {
		a.return_mask = UINT64_C(1) << i;
		if (ioctl(fd, PAGEMAP_SCAN, &a) == 0)
			known_mask |= a.return_mask;
	}
	close(fd);
	/* A kernel that knows the bit accepts it whether or not it was built
	   with CONFIG_MEM_SOFT_DIRTY: ask the feature itself. */
	if ((known_mask & PMSCAN_SOFT_DIRTY) && !probe_soft_dirty(NULL))
		known_mask &= ~PMSCAN_SOFT_DIRTY;
}

/* What PAGEMAP_SCAN's mask probe said, before the soft-dirty test. */
static bool ioctl_knows_bit(unsigned bit)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	struct pm_scan_arg a = { .size = sizeof(a), .return_mask = UINT64_C(1) << bit };
	bool r;

	if (fd < 0)
		return false;
	r = ioctl(fd, PAGEMAP_SCAN, &a) == 0;
	close(fd);
	return r;
}

PMSCAN_EXPORT uint64_t pmscan_kernel_categories(void)
{
	pthread_once(&known_once, probe);
	if (!known_mask)
		errno = known_errno ? known_errno : ENOTSUP;
	return known_mask;
}

bool have_pagemap_scan(void)
{
	return pmscan_kernel_categories() != 0;
}

int engine_resolve(int engine)
{
	if (engine == PMSCAN_ENGINE_AUTO)
		return have_pagemap_scan() ? PMSCAN_ENGINE_IOCTL : PMSCAN_ENGINE_READ;
	return engine;
}

static const char *ioctl_reason(unsigned bit)
{
	const char *sd;

	if (!have_pagemap_scan())
		return "the running kernel has no PAGEMAP_SCAN (Linux 6.7 or later is needed; "
		       "the read engine works without it)";
	if (pmscan_kernel_categories() & (UINT64_C(1) << bit))
		return NULL;
	switch (UINT64_C(1) << bit) {
	case PMSCAN_SOFT_DIRTY:
		if (ioctl_knows_bit(bit) && !probe_soft_dirty(&sd))
			return sd;
		return "the running kernel's PAGEMAP_SCAN does not know it (Linux 6.8+)";
	case PMSCAN_GUARD:
		return "the running kernel's PAGEMAP_SCAN does not know it (Linux 6.16+)";
	case PMSCAN_ACCESSED:
		return "the running kernel's PAGEMAP_SCAN does not know it "
		       "(kernels with userfaultfd read-protect tracking)";
	default:
		return "the running kernel's PAGEMAP_SCAN does not know it";
	}
}

static const char *read_reason(unsigned bit)
{
	const char *sd;

	switch (UINT64_C(1) << bit) {
	case PMSCAN_WRITTEN:
		return have_pagemap_scan() ? NULL :
		       "the running kernel has no userfaultfd async write-protect (Linux 6.7+), "
		       "so no mapping can be tracked for writes";
	case PMSCAN_PFNZERO:
		return probe_zero_pfn() ? NULL :
		       "telling the zero page needs page frame numbers, which /proc/PID/pagemap "
		       "shows only to CAP_SYS_ADMIN";
	case PMSCAN_SOFT_DIRTY:
		return probe_soft_dirty(&sd) ? NULL : sd;
	case PMSCAN_HUGE:
		/* pagemap has no huge bit: a PMD-mapped transparent huge page
		   looks like 512 small ones but in /proc/kpageflags. */
		return probe_zero_pfn() && probe_kpageflags() ? NULL :
		       "telling huge pages needs /proc/kpageflags and page frame numbers, "
		       "which only CAP_SYS_ADMIN reads";
	case PMSCAN_GUARD:
		return probe_pagemap_guard() >= 0 ? NULL :
		       "this kernel has guard regions but its pagemap does not show them (Linux 6.15+)";
	case PMSCAN_ACCESSED:
		return "pagemap has no accessed bit (only PAGEMAP_SCAN reports it)";
	default:
		return NULL;
	}
}

PMSCAN_EXPORT const char *pmscan_category_unavailable(int engine, unsigned bit)
{
	if (bit >= PMSCAN_NCATEGORIES)
		return "not a category this library knows";
	switch (engine_resolve(engine)) {
	case PMSCAN_ENGINE_IOCTL:
		return ioctl_reason(bit);
	case PMSCAN_ENGINE_READ:
		return read_reason(bit);
	default:
		return "not an engine";
	}
}

PMSCAN_EXPORT uint64_t pmscan_engine_categories(int engine)
{
	uint64_t m = 0;

	switch (engine_resolve(engine)) {
	case PMSCAN_ENGINE_IOCTL:
		return pmscan_kernel_categories();
	case PMSCAN_ENGINE_READ:
		for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++)
			if (!read_reason(i))
				m |= UINT64_C(1) << i;
		return m;
	default:
		errno = EINVAL;
		return 0;
	}
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Category names, lists of them, and what the running kernel knows.
 */
#include "internal.h"

#include <errno.h>
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
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 0);
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
}

PMSCAN_EXPORT uint64_t pmscan_kernel_categories(void)
{
	pthread_once(&known_once, probe);
	if (!known_mask)
		errno = known_errno ? known_errno : ENOTSUP;
	return known_mask;
}

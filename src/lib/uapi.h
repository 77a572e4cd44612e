/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel interface definitions pmscan needs, for systems whose headers
 * predate them (Debian 12 ships 6.1 headers; PAGEMAP_SCAN arrived in 6.7).
 * Each block is used only when configure found the system lacks it.
 */
#ifndef PMSCAN_UAPI_H
#define PMSCAN_UAPI_H

#include "config.h"

#include <stdint.h>
#include <sys/ioctl.h>
#include <linux/types.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>

#ifndef HAVE_STRUCT_PAGE_REGION
struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};
#endif

#ifndef HAVE_STRUCT_PM_SCAN_ARG
struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};
#endif

#ifndef PAGEMAP_SCAN
# define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
#ifndef PM_SCAN_WP_MATCHING
# define PM_SCAN_WP_MATCHING (1 << 0)
#endif
#ifndef PM_SCAN_CHECK_WPASYNC
# define PM_SCAN_CHECK_WPASYNC (1 << 1)
#endif

/* Category bits; the kernel adds them over releases (see docs/kernel.md). */
#ifndef PAGE_IS_WPALLOWED
# define PAGE_IS_WPALLOWED (1 << 0)
#endif
#ifndef PAGE_IS_WRITTEN
# define PAGE_IS_WRITTEN (1 << 1)
#endif
#ifndef PAGE_IS_FILE
# define PAGE_IS_FILE (1 << 2)
#endif
#ifndef PAGE_IS_PRESENT
# define PAGE_IS_PRESENT (1 << 3)
#endif
#ifndef PAGE_IS_SWAPPED
# define PAGE_IS_SWAPPED (1 << 4)
#endif
#ifndef PAGE_IS_PFNZERO
# define PAGE_IS_PFNZERO (1 << 5)
#endif
#ifndef PAGE_IS_HUGE
# define PAGE_IS_HUGE (1 << 6)
#endif
#ifndef PAGE_IS_SOFT_DIRTY
# define PAGE_IS_SOFT_DIRTY (1 << 7)
#endif
#ifndef PAGE_IS_GUARD
# define PAGE_IS_GUARD (1 << 8)
#endif
#ifndef PAGE_IS_ACCESSED
# define PAGE_IS_ACCESSED (1 << 9)
#endif

#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
# define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
# define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
# define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
# define UFFD_USER_MODE_ONLY 1
#endif

#endif

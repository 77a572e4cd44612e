/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Declarations shared inside libpmscan; not installed.
 */
#ifndef PMSCAN_INTERNAL_H
#define PMSCAN_INTERNAL_H

#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "pmscan.h"
#include "uapi.h"

#define PMSCAN_EXPORT __attribute__((visibility("default")))

struct pmscan_target {
	pid_t pid;
	int pidfd;
	int pagemap_fd;
	int maps_fd;
	bool self;
	char err[256];		/* what the last arm/disarm step that failed was */
	int timeout_ms;		/* bound of every wait on the process */
	uint64_t pt_budget;	/* page tables arming may add (bytes) */
	bool arming_ranged;	/* the arm in progress was given ranges */
	int tracker;		/* PMSCAN_TRACKER_*, as set (AUTO by default) */
	int tracker_fd;		/* the uffd tracker's fd number last found or made
				   here, -1 none: checked before every use (arm.c) */
};

/* maps.c: streaming reader of /proc/PID/maps */
struct maps_reader {
	int fd;
	off_t off;		/* where the next pread starts */
	char *buf;
	size_t cap, len, pos;	/* buf holds [pos, len) unread */
	bool eof;
};
int maps_open(struct maps_reader *r, int maps_fd);
/* 1 with *m filled (m->name points into the reader), 0 at the end, -errno */
int maps_next(struct maps_reader *r, struct pmscan_mapping *m);
void maps_close(struct maps_reader *r);
int maps_parse_line(char *line, struct pmscan_mapping *m);

/* ranges.c: a set of ranges, sorted and coalesced by range_set_normalize */
struct range_set {
	struct pmscan_range *r;
	size_t n, cap;
};
int range_set_add(struct range_set *rs, uint64_t start, uint64_t end);
void range_set_normalize(struct range_set *rs);
void range_set_free(struct range_set *rs);

/* scan.c: the merger, exposed for unit tests */
struct merger {
	struct pmscan_region pending;
	bool has_pending;
	pmscan_region_fn emit;
	void *arg;
	uint64_t regions, pages;
	unsigned shift;		/* log2 of the page size */
};
void merger_init(struct merger *mg, pmscan_region_fn emit, void *arg);

/* Hand the pending region on (inline: once per region on the hot path). */
static inline int merger_flush(struct merger *mg)
{
	if (!mg->has_pending)
		return 0;
	mg->has_pending = false;
	mg->regions++;
	mg->pages += (mg->pending.end - mg->pending.start) >> mg->shift;
	return mg->emit ? mg->emit(&mg->pending, mg->arg) : 0;
}

/* Regions arrive ascending; adjacent ones with equal categories in the same
   mapping become one (the kernel splits them at batch boundaries). */
static inline int merger_add(struct merger *mg, const struct pmscan_region *r)
{
	int e;

	if (mg->has_pending && mg->pending.end == r->start &&
	    mg->pending.categories == r->categories && mg->pending.mapping == r->mapping) {
		mg->pending.end = r->end;
		return 0;
	}
	e = merger_flush(mg);
	mg->pending = *r;
	mg->has_pending = true;
	return e;
}

/* probe.c: what the running kernel really does, tried once on own memory */
/* Soft-dirty works (clear_refs, write, bit 55); else *why says why. */
bool probe_soft_dirty(const char **why);
/* PAGEMAP_SCAN with WP_MATCHING protects ranges with no page table yet
   exactly (false on 6.12.95-like kernels, or when it cannot be tested). */
bool probe_wp_matching_unpopulated_ok(void);
/* Write-protect [start, end), registered with uffd (which may be a copy of
   another process's userfaultfd: its ioctls act on that process): with
   UFFDIO_WRITEPROTECT where WP_MATCHING is broken, else (or when uffd is
   -1) with PAGEMAP_SCAN WP_MATCHING on pagemap_fd. 0 or -errno. */
int protect_range(int uffd, int pagemap_fd, uint64_t start, uint64_t end);
/* /proc/kpageflags can be read (CAP_SYS_ADMIN, and root's file mode). */
bool probe_kpageflags(void);
/* The zero page's PFN, or 0 when PFNs are hidden from this process. */
uint64_t probe_zero_pfn(void);
/* The huge zero page's first PFN (its 512 pages read PFNZERO and HUGE
   through PAGEMAP_SCAN), or 0 when there is none or PFNs are hidden. */
uint64_t probe_huge_zero_pfn(void);
/* 1 pagemap shows guard regions, 0 the kernel has none, -1 it hides them. */
int probe_pagemap_guard(void);
/* The end of the user address space as PAGEMAP_SCAN takes it (page
   aligned), or 0 when PAGEMAP_SCAN cannot say. */
uint64_t probe_user_end(void);

/* categories.c */
bool have_pagemap_scan(void);
int engine_resolve(int engine);

/* scan.c and engine-read.c: a request, and what one run needs */
struct scan_masks {
	uint64_t inv, mask, anyof, ret;	/* as PAGEMAP_SCAN takes them */
};

static inline bool scan_masks_match(const struct scan_masks *k, uint64_t categories)
{
	uint64_t c = categories ^ k->inv;

	return (c & k->mask) == k->mask && (!k->anyof || (c & k->anyof));
}

/* scan.c: mapping_tracked for mappings met in ascending order, in a few
   ioctls for the whole process (end: where the mappings asked about end at
   most, probe_user_end() for all of them). */
struct reg_cursor {
	struct pmscan_target *t;
	uint64_t end;
	uint64_t unreg;		/* first unregistered page from the last query */
	uint64_t ioctls;	/* calls made */
	bool usable, valid;
};
void reg_cursor_init(struct reg_cursor *c, struct pmscan_target *t, uint64_t end);
/* 1 registered, 0 not, -errno */
int reg_cursor_tracked(struct reg_cursor *c, const struct pmscan_mapping *m);

struct read_state;

struct pmscan_scan {
	struct pmscan_target *t;
	uint64_t require, anyof, exclude, ret;
	uint64_t max_pages;
	unsigned flags;
	int engine;		/* PMSCAN_ENGINE_*, as set */
	struct range_set rs;	/* requested ranges; none: the whole process */
	pmscan_mapping_fn on_mapping;
	pmscan_region_fn on_region;
	void *arg;
	struct page_region *vec;
	struct pmscan_scan_stats st;
	/* run state */
	uint64_t budget_left;
	struct pmscan_mapping failed;
	char *failed_name;
	bool has_failed;
	char err[512];		/* why the last run failed, when known */
	struct read_state *rd;	/* the read engine's buffers, kept across runs */
	bool sd;		/* this run's tracker is soft-dirty: WRITTEN is read
				   as SOFT_DIRTY (scan.c) */
	struct reg_cursor cur;	/* which mappings are registered (scan.c) */
	/* scan_piece_ahead: the kernel's answer for [ahead_from, ahead_pos),
	   asked up to ahead_end with masks ahead_k, in vec[ahead_i, ahead_n) */
	bool ahead_valid;
	struct scan_masks ahead_k;
	uint64_t ahead_from, ahead_pos, ahead_end;
	int ahead_i, ahead_n;
};

/* engine-read.c: the /proc/PID/pagemap engine. read_piece scans
   [start, end) of mapping m (tracked already filled when the masks involve
   it), budget and stop as scan_piece; 0 or -errno (s->err says more). */
int read_piece(struct pmscan_scan *s, struct merger *mg, const struct pmscan_mapping *m,
	       uint64_t start, uint64_t end, const struct scan_masks *k, bool *stop);
/* Forget per-run state (call at the start and end of each run). */
void read_run_end(struct pmscan_scan *s);
void read_free(struct pmscan_scan *s);

/* track-softdirty.c: the tracker t uses (PMSCAN_TRACKER_UFFD or
   PMSCAN_TRACKER_SOFT_DIRTY), or -ENOTSUP when AUTO finds none working */
int tracker_resolve(const struct pmscan_target *t);
static inline bool tracker_is_soft_dirty(const struct pmscan_target *t)
{
	return tracker_resolve(t) == PMSCAN_TRACKER_SOFT_DIRTY;
}
/* Userfaultfd async write-protect works here (tried on pmscan's own fd). */
bool probe_uffd_wp_async(const char **why);
/* The soft-dirty tracker's arm (a reset of the whole process; 1 or -errno,
   t->err set) and the reset that follows a scan with PMSCAN_SCAN_WP. */
int soft_dirty_arm(struct pmscan_target *t, size_t nranges, struct pmscan_arm_stats *st);
int soft_dirty_reset(struct pmscan_target *t);

/* stats.c: the statistics structs' size rule (pmscan.h). The first
   version of each struct ends at its reserved member; these sizes never
   change when fields are appended. */
#define SCAN_STATS_V1_SIZE (offsetof(struct pmscan_scan_stats, reserved) + sizeof(uint32_t))
#define ARM_STATS_V1_SIZE (offsetof(struct pmscan_arm_stats, reserved) + sizeof(uint32_t))
/* Copy into the caller's *dst the fields that fit in dst->size: 0, or
   -EINVAL (nothing written) for a NULL dst or a size below the first
   version's. */
int scan_stats_put(struct pmscan_scan_stats *dst, const struct pmscan_scan_stats *src);
/* 0 when st is NULL or its size is acceptable, else -EINVAL. */
int arm_stats_check(const struct pmscan_arm_stats *st);
/* Copy into the caller's *dst (checked, may be NULL) the fields that fit. */
void arm_stats_put(struct pmscan_arm_stats *dst, const struct pmscan_arm_stats *src);

/* target.c: record what failed in t->err; returns -err */
int target_fail(struct pmscan_target *t, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define DEFAULT_TIMEOUT_MS 3000
#define DEFAULT_PT_BUDGET (UINT64_C(64) << 20)
/* target.c: a copy of fd of the process, or -errno */
int target_getfd(struct pmscan_target *t, int fd);
/* target.c: a live thread of pid (pid itself unless its leader is a zombie), 0 none */
pid_t target_live_task(pid_t pid);
/* A small /proc file read whole into buf (NUL-terminated): its length, or -1. */
ssize_t proc_read(const char *path, char *buf, size_t len);

long page_size_cached(void);
int mapping_tracked(struct pmscan_target *t, uint64_t start);

int pagemap_ioctl(int fd, struct pm_scan_arg *arg);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The scan engine: PAGEMAP_SCAN over each mapping that meets the requested
 * ranges, batch after batch, merging regions across batches and handing
 * each merged region to a callback; or, with the read engine
 * (engine-read.c), the same pieces read from /proc/PID/pagemap. The
 * walk over mappings, ranges, tracking and the untracked rule are shared.
 * Nothing here knows about output.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Entries per PAGEMAP_SCAN call; the kernel copies out 512 at a time. */
#define VEC_LEN 4096

/* ---- merging ---------------------------------------------------------- */

void merger_init(struct merger *mg, pmscan_region_fn emit, void *arg)
{
	memset(mg, 0, sizeof(*mg));
	mg->shift = (unsigned)__builtin_ctzl((unsigned long)page_size_cached());
	mg->emit = emit;
	mg->arg = arg;
}

/* ---- requests --------------------------------------------------------- */

PMSCAN_EXPORT struct pmscan_scan *pmscan_scan_new(struct pmscan_target *t)
{
	struct pmscan_scan *s;

	if (!t) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->vec = malloc(VEC_LEN * sizeof(*s->vec));
	if (!s->vec) {
		free(s);
		return NULL;
	}
	s->t = t;
	return s;
}

PMSCAN_EXPORT void pmscan_scan_free(struct pmscan_scan *s)
{
	if (!s)
		return;
	free(s->vec);
	read_free(s);
	range_set_free(&s->rs);
	free(s->failed_name);
	free(s);
}

static uint64_t requested_categories(const struct pmscan_scan *s)
{
	return s->require | s->anyof | s->exclude | s->ret;
}

/* ---- soft-dirty tracker: WRITTEN read as SOFT_DIRTY --------------------
   With the soft-dirty tracker (track-softdirty.c) a page is written when
   its soft-dirty bit is set: the request's WRITTEN becomes SOFT_DIRTY for
   both engines, and reported regions get WRITTEN back. */
static uint64_t sd_to_kernel(uint64_t m)
{
	return (m & PMSCAN_WRITTEN) ? (m & ~PMSCAN_WRITTEN) | PMSCAN_SOFT_DIRTY : m;
}

/* What engine can report for s: with soft-dirty, WRITTEN where it can
   report SOFT_DIRTY. */
static uint64_t scan_known(const struct pmscan_scan *s, int engine)
{
	uint64_t known = pmscan_engine_categories(engine);

	if (!tracker_is_soft_dirty(s->t))
		return known;
	known &= ~PMSCAN_WRITTEN;
	return (known & PMSCAN_SOFT_DIRTY) ? known | PMSCAN_WRITTEN : known;
}

/* AUTO picks the ioctl engine only where it can report what is asked: with
   soft-dirty, SOFT_DIRTY (Linux 6.8+), else the read engine does. */
static int scan_engine(const struct pmscan_scan *s)
{
	int engine = engine_resolve(s->engine);

	if (s->engine == PMSCAN_ENGINE_AUTO && engine == PMSCAN_ENGINE_IOCTL &&
	    tracker_is_soft_dirty(s->t) && !(pmscan_kernel_categories() & PMSCAN_SOFT_DIRTY))
		return PMSCAN_ENGINE_READ;
	return engine;
}

struct sd_emit {
	pmscan_region_fn fn;
	void *arg;
	uint64_t ret;		/* what the caller asked to see */
};

static int sd_emit_region(const struct pmscan_region *r, void *arg)
{
	const struct sd_emit *e = arg;
	struct pmscan_region out = *r;

	if (out.categories & PMSCAN_SOFT_DIRTY)
		out.categories = (out.categories & ~PMSCAN_SOFT_DIRTY) |
				 (e->ret & (PMSCAN_WRITTEN | PMSCAN_SOFT_DIRTY));
	return e->fn ? e->fn(&out, e->arg) : 0;
}
/* ---- end of the soft-dirty mapping ---------------------------------- */

PMSCAN_EXPORT int pmscan_scan_set_masks(struct pmscan_scan *s, uint64_t require,
					uint64_t anyof, uint64_t exclude, uint64_t ret)
{
	uint64_t all = require | anyof | exclude | ret;
	uint64_t known = scan_known(s, scan_engine(s));	/* soft-dirty: see scan_known */

	if (!known)
		return -1;
	if ((require & exclude) || (anyof & exclude)) {
		errno = EINVAL;
		return -1;
	}
	if (all & ~known) {
		errno = ENOTSUP;
		return -1;
	}
	s->require = require;
	s->anyof = anyof;
	s->exclude = exclude;
	s->ret = ret;
	return 0;
}

PMSCAN_EXPORT int pmscan_scan_set_engine(struct pmscan_scan *s, int engine)
{
	if (engine != PMSCAN_ENGINE_AUTO && engine != PMSCAN_ENGINE_IOCTL &&
	    engine != PMSCAN_ENGINE_READ) {
		errno = EINVAL;
		return -1;
	}
	if (engine == PMSCAN_ENGINE_IOCTL && !have_pagemap_scan()) {
		errno = ENOTSUP;
		return -1;
	}
	s->engine = engine;
	return 0;
}

PMSCAN_EXPORT int pmscan_scan_get_engine(const struct pmscan_scan *s)
{
	return scan_engine(s);
}

PMSCAN_EXPORT int pmscan_scan_set_max_pages(struct pmscan_scan *s, uint64_t max_pages)
{
	s->max_pages = max_pages;
	return 0;
}

PMSCAN_EXPORT int pmscan_scan_set_flags(struct pmscan_scan *s, unsigned flags)
{
	if (flags & ~PMSCAN_SCAN_FLAGS_ALL) {
		errno = EINVAL;
		return -1;
	}
	s->flags = flags;
	return 0;
}

PMSCAN_EXPORT int pmscan_scan_add_range(struct pmscan_scan *s, uint64_t start, uint64_t end)
{
	uint64_t ps = (uint64_t)page_size_cached();

	if (end <= start || start % ps || end % ps) {
		errno = EINVAL;
		return -1;
	}
	return range_set_add(&s->rs, start, end);
}

PMSCAN_EXPORT void pmscan_scan_set_callbacks(struct pmscan_scan *s, pmscan_mapping_fn on_mapping,
					     pmscan_region_fn on_region, void *arg)
{
	s->on_mapping = on_mapping;
	s->on_region = on_region;
	s->arg = arg;
}

PMSCAN_EXPORT int pmscan_scan_get_stats(const struct pmscan_scan *s, struct pmscan_scan_stats *st)
{
	int r = scan_stats_put(st, &s->st);

	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

PMSCAN_EXPORT const struct pmscan_mapping *pmscan_scan_failed_mapping(const struct pmscan_scan *s)
{
	return s->has_failed ? &s->failed : NULL;
}

PMSCAN_EXPORT const char *pmscan_scan_error(const struct pmscan_scan *s)
{
	return s->err;
}

/* ---- running ---------------------------------------------------------- */

/* Is the mapping at start registered for async write-protect? The kernel
   answers EPERM to CHECK_WPASYNC for one that is not. 1, 0 or -errno. */
int mapping_tracked(struct pmscan_target *t, uint64_t start)
{
	struct page_region one;
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = PM_SCAN_CHECK_WPASYNC,
		.start = start,
		.end = start + (uint64_t)page_size_cached(),
		.vec = (uintptr_t)&one,
		.vec_len = 1,
		.return_mask = PAGE_IS_WPALLOWED,
	};

	if (pagemap_ioctl(t->pagemap_fd, &a) >= 0)
		return 1;
	return errno == EPERM ? 0 : -errno;
}

static int probe_uffd_registered(struct pmscan_scan *s, const struct pmscan_mapping *m)
{
	/* Async write-protect came with PAGEMAP_SCAN: nothing is tracked without. */
	if (!have_pagemap_scan())
		return 0;
	uint64_t before = s->cur.ioctls;
	int r = reg_cursor_tracked(&s->cur, m);
	s->st.ioctls += s->cur.ioctls - before;
	return r;
}

static int probe_tracked(struct pmscan_scan *s, const struct pmscan_mapping *m)
{
	/* soft-dirty tracker: the kernel keeps the bit in every mapping. */
	if (s->sd)
		return 1;
	return probe_uffd_registered(s, m);
}

/*
 * Which mappings are registered, without one ioctl per mapping: mappings
 * come in ascending order, and one PAGEMAP_SCAN from a mapping's start,
 * asking for the first page that is NOT registered for async write-protect
 * (stopped there), passes over every registered mapping before it in one
 * call. That answer cannot see mappings the kernel never walks (VM_PFNMAP:
 * [vvar], device memory), which are never registered; those are always
 * backed by a file or named by the kernel, so such mappings are asked one
 * by one (mapping_tracked), and private anonymous ones (no inode, no
 * [name]) are answered from the first page found. The same answers as
 * mapping_tracked, in a few calls for a process of any size.
 */
void reg_cursor_init(struct reg_cursor *c, struct pmscan_target *t, uint64_t end)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->end = end;
	c->usable = end && have_pagemap_scan();
}

/* The first page at or after addr that is not registered (and that the
   kernel walks), or c->end when there is none. */
static int first_unregistered(struct reg_cursor *c, uint64_t addr, uint64_t *out)
{
	struct page_region one;
	struct pm_scan_arg a = {
		.size = sizeof(a), .start = addr, .end = c->end,
		.vec = (uintptr_t)&one, .vec_len = 1, .max_pages = 1,
		.category_inverted = PAGE_IS_WPALLOWED, .category_mask = PAGE_IS_WPALLOWED,
		.return_mask = PAGE_IS_WPALLOWED,
	};

	c->ioctls++;
	int n = pagemap_ioctl(c->t->pagemap_fd, &a);
	if (n < 0)
		return -errno;
	*out = n > 0 ? one.start : c->end;
	return 0;
}

int reg_cursor_tracked(struct reg_cursor *c, const struct pmscan_mapping *m)
{
	int r;

	if (!c->usable || m->end > c->end || m->inode || m->dev_major || m->dev_minor ||
	    m->name[0] == '[') {
		c->ioctls++;
		return mapping_tracked(c->t, m->start);
	}
	if (c->unreg < m->start || !c->valid) {
		if ((r = first_unregistered(c, m->start, &c->unreg)) < 0)
			return r;
		c->valid = true;
	}
	/* A mapping is registered whole or not at all. */
	return c->unreg >= m->end;
}

static bool skip_mapping(const struct pmscan_mapping *m)
{
	/* The legacy vsyscall page lies beyond the user address range. */
	return !strcmp(m->name, "[vsyscall]");
}

static void remember_failed(struct pmscan_scan *s, const struct pmscan_mapping *m)
{
	free(s->failed_name);
	s->failed = *m;
	s->failed_name = strdup(m->name);
	s->failed.name = s->failed_name ? s->failed_name : "";
	s->has_failed = true;
}

/* Walks the mappings meeting the ranges; calls fn for each piece. */
struct walk {
	struct maps_reader mr;
	struct pmscan_mapping m;
	size_t ri;		/* first range that may still meet a mapping */
};

static int walk_next_mapping(struct pmscan_scan *s, struct walk *w)
{
	for (;;) {
		int r = maps_next(&w->mr, &w->m);
		if (r <= 0)
			return r;
		if (skip_mapping(&w->m))
			continue;
		if (!s->rs.n)
			return 1;
		while (w->ri < s->rs.n && s->rs.r[w->ri].end <= w->m.start)
			w->ri++;
		if (w->ri == s->rs.n)
			return 0;
		if (s->rs.r[w->ri].start < w->m.end)
			return 1;
	}
}

/*
 * Scan [start, end) of mapping m without a page limit, the kernel's
 * answer reaching ahead: one PAGEMAP_SCAN goes on to span (the end of the
 * range being scanned) over the following mappings, and what it returned
 * beyond m is kept for them, when they are scanned with the same masks
 * (else asked again). Regions are cut at mapping boundaries here, as the
 * kernel merges across them. What the kernel returns for a mapping that
 * is then not scanned is dropped, which is right only when it did not
 * write-protect it: with PM_SCAN_WP_MATCHING the answer reaches ahead only
 * from a mapping whose masks every tracked mapping shares (m->tracked
 * not 0), the kernel passing over untracked ones itself.
 */
static int ahead_fill(struct pmscan_scan *s, uint64_t pos)
{
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.start = pos, .end = s->ahead_end,
		.vec = (uintptr_t)s->vec, .vec_len = VEC_LEN,
		.category_inverted = s->ahead_k.inv,
		.category_mask = s->ahead_k.mask,
		.category_anyof_mask = s->ahead_k.anyof,
		.return_mask = s->ahead_k.ret,
	};

	if ((s->flags & PMSCAN_SCAN_WP) && !s->sd)
		a.flags |= PM_SCAN_WP_MATCHING;
	s->ahead_valid = false;
	s->st.ioctls++;
	int n = pagemap_ioctl(s->t->pagemap_fd, &a);
	if (n < 0)
		return -errno;
	uint64_t last_end = n > 0 ? s->vec[n - 1].end : 0;
	/* walk_end can be stale after several internal refills
	   (docs/kernel.md): never resume before what was returned. */
	uint64_t next = a.walk_end > last_end ? a.walk_end : last_end;
	if (n < VEC_LEN && (!(a.flags & PM_SCAN_WP_MATCHING) || next >= s->ahead_end)) {
		next = s->ahead_end;
	} else if (next <= pos) {
		if (a.flags & PM_SCAN_WP_MATCHING) {
			snprintf(s->err, sizeof(s->err), "cannot reset part of the hugetlb page at "
				 "0x%llx: give a range that covers whole huge pages",
				 (unsigned long long)pos);
			return -EINVAL;
		}
		return -EAGAIN;
	}
	s->ahead_pos = next;
	s->ahead_i = 0;
	s->ahead_n = n;
	s->ahead_valid = true;
	return 0;
}

static int scan_piece_ahead(struct pmscan_scan *s, struct merger *mg, const struct pmscan_mapping *m,
			    uint64_t start, uint64_t end, uint64_t span, const struct scan_masks *k)
{
	int e;

	if ((s->flags & PMSCAN_SCAN_WP) && !s->sd && m->tracked == 0)
		span = end;
	if (!s->ahead_valid || memcmp(&s->ahead_k, k, sizeof(*k)) || start < s->ahead_from ||
	    end > s->ahead_end) {
		s->ahead_k = *k;
		s->ahead_from = start;
		s->ahead_end = span > end ? span : end;
		if ((e = ahead_fill(s, start)) < 0)
			return e;
	}
	for (;;) {
		while (s->ahead_i < s->ahead_n) {
			struct page_region *pr = &s->vec[s->ahead_i];
			if (pr->end <= start) {
				s->ahead_i++;	/* before this piece: not scanned */
				continue;
			}
			if (pr->start >= end)
				return 0;	/* a later piece's */
			struct pmscan_region r = {
				.start = pr->start > start ? pr->start : start,
				.end = pr->end < end ? pr->end : end,
				.categories = pr->categories, .mapping = m,
			};
			s->st.pages += (r.end - r.start) >> mg->shift;
			if ((e = merger_add(mg, &r)) != 0)
				return e;
			if (pr->end > end) {
				pr->start = end;
				return 0;
			}
			s->ahead_i++;
		}
		if (s->ahead_pos >= end)
			return 0;
		if ((e = ahead_fill(s, s->ahead_pos)) < 0)
			return e;
	}
}

/* Scan [start, end) inside one mapping. */
static int scan_piece(struct pmscan_scan *s, struct merger *mg, const struct pmscan_mapping *m,
		      uint64_t start, uint64_t end, const struct scan_masks *k, bool *stop)
{
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.vec = (uintptr_t)s->vec,
		.vec_len = VEC_LEN,
		.category_inverted = k->inv,
		.category_mask = k->mask,
		.category_anyof_mask = k->anyof,
		.return_mask = k->ret,
	};
	uint64_t pos = start;

	/* soft-dirty tracker: the reset is clear_refs after the run, and every
	   mapping is tracked: neither flag goes to the kernel. */
	if ((s->flags & PMSCAN_SCAN_WP) && !s->sd)
		a.flags |= PM_SCAN_WP_MATCHING;
	if ((s->flags & PMSCAN_SCAN_CHECK_WPASYNC) && !s->sd)
		a.flags |= PM_SCAN_CHECK_WPASYNC;

	while (pos < end) {
		a.start = pos;
		a.end = end;
		a.walk_end = 0;
		a.max_pages = s->max_pages ? s->budget_left : 0;
		s->st.ioctls++;
		int n = pagemap_ioctl(s->t->pagemap_fd, &a);
		if (n < 0)
			return -errno;

		uint64_t got = 0, last_end = 0;
		for (int i = 0; i < n; i++) {
			const struct page_region *pr = &s->vec[i];
			struct pmscan_region r = {
				.start = pr->start, .end = pr->end,
				.categories = pr->categories, .mapping = m,
			};
			got += (pr->end - pr->start) >> mg->shift;
			last_end = pr->end;
			int e = merger_add(mg, &r);
			if (e)
				return e;
		}
		s->st.pages += got;
		if (s->max_pages) {
			s->budget_left -= got < s->budget_left ? got : s->budget_left;
			if (!s->budget_left) {
				s->st.budget_reached = 1;
				*stop = true;
				return 0;
			}
		}
		/* Without a page limit the kernel stops early only when vec is
		   full, so a short answer means the walk reached end; except when
		   write-protecting, where it stops before a hugetlb page that the
		   range covers only in part: go on, and see below. */
		/* walk_end can be stale after several internal refills
		   (docs/kernel.md): never resume before what was returned. */
		uint64_t next = a.walk_end > last_end ? a.walk_end : last_end;
		if (!s->max_pages && (uint64_t)n < VEC_LEN && (!(s->flags & PMSCAN_SCAN_WP) || next >= end))
			return 0;
		if (next <= pos) {
			/* No progress: a hugetlb page that the remaining page
			   limit cannot cover whole. The budget is spent. */
			if (s->max_pages) {
				s->st.budget_reached = 1;
				*stop = true;
				return 0;
			}
			if (s->flags & PMSCAN_SCAN_WP) {
				snprintf(s->err, sizeof(s->err), "cannot reset part of the hugetlb page at "
					 "0x%llx: give a range that covers whole huge pages",
					 (unsigned long long)pos);
				return -EINVAL;
			}
			return -EAGAIN;
		}
		pos = next;
	}
	return 0;
}

/* With CHECK_WPASYNC, refuse before any page is touched. */
static int precheck_tracked(struct pmscan_scan *s)
{
	struct walk w = { 0 };
	int r = maps_open(&w.mr, s->t->maps_fd);

	if (r < 0)
		return r;
	while ((r = walk_next_mapping(s, &w)) > 0) {
		int tr = probe_tracked(s, &w.m);
		if (tr < 0) {
			r = tr;
			break;
		}
		if (!tr) {
			w.m.tracked = 0;
			remember_failed(s, &w.m);
			r = -EPERM;
			break;
		}
	}
	maps_close(&w.mr);
	return r;
}

/* A "Key: N kB" line of a /proc file, in kB; -1 when absent. */
static long proc_kb(const char *path, const char *key)
{
	FILE *f = fopen(path, "re");
	char line[256];
	size_t klen = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Is no page of the process in swap? Without swap configured, certainly;
   otherwise, when asked (selected is true), the process's own total. */
static bool nothing_swapped(const struct pmscan_target *t, bool selected)
{
	char path[64];

	if (proc_kb("/proc/meminfo", "SwapTotal") == 0)
		return true;
	if (!selected || t->self)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)t->pid);
	return proc_kb(path, "Swap") == 0;
}

/* The masks a mapping is scanned with, or false when nothing in it can
   match. WRITTEN exists only in tracked mappings (docs/kernel.md: 6.7 to 7.2
   report every page of an unregistered mapping as written, 7.3 none), so in
   an untracked one no page has it, whatever the kernel would say. */
static bool mapping_masks(const struct pmscan_scan *s, const struct pmscan_mapping *m,
			  uint64_t ret, uint64_t never, struct scan_masks *k)
{
	uint64_t require = s->require, anyof = s->anyof, exclude = s->exclude;

	/* never: categories no page of this mapping can have. */
	if (m->tracked == 0)
		never |= PMSCAN_WRITTEN | PMSCAN_WPALLOWED;
	else if (m->tracked == 1 && !s->sd && (exclude & PMSCAN_WPALLOWED))	/* soft-dirty: run() */
		return false;
	if (require & never)
		return false;
	if (anyof && !(anyof & ~never))
		return false;
	anyof &= ~never;
	exclude &= ~never;
	ret &= ~never;
	k->inv = exclude;
	k->mask = require | exclude;
	k->anyof = anyof;
	k->ret = ret;
	return true;
}

/* A category the engine cannot compute was asked for: say which and why. */
static int unavailable(struct pmscan_scan *s, int engine, uint64_t missing)
{
	/* soft-dirty tracker, or no tracker at all: say which and why. */
	if ((missing & PMSCAN_WRITTEN) && s->sd) {
		const char *why = pmscan_category_unavailable(engine, 7);
		snprintf(s->err, sizeof(s->err), "the soft-dirty tracker reads 'written' from the "
			 "soft-dirty bit, which the %s engine cannot report: %s",
			 engine == PMSCAN_ENGINE_READ ? "read" : "ioctl", why ? why : "unknown reason");
		return -ENOTSUP;
	}
	if ((missing & PMSCAN_WRITTEN) && pmscan_target_get_tracker(s->t) < 0) {
		snprintf(s->err, sizeof(s->err), "category 'written' needs a write tracker, and %s",
			 pmscan_tracker_unavailable(PMSCAN_TRACKER_AUTO));
		return -ENOTSUP;
	}
	for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++)
		if (missing & (UINT64_C(1) << i)) {
			const char *why = pmscan_category_unavailable(engine, i);
			snprintf(s->err, sizeof(s->err), "the %s engine cannot report category '%s': %s",
				 engine == PMSCAN_ENGINE_READ ? "read" : "ioctl",
				 pmscan_category_name(i), why ? why : "unknown reason");
			break;
		}
	return -ENOTSUP;
}

static int run(struct pmscan_scan *s)
{
	struct walk w = { 0 };
	struct merger mg;
	bool stop = false;
	int engine = scan_engine(s);
	uint64_t known = scan_known(s, engine);
	uint64_t ret = s->ret ? s->ret : known;
	struct sd_emit sde = { s->on_region, s->arg, ret };
	bool want_tracking = (s->flags & PMSCAN_SCAN_TRACKING_INFO) ||
			     ((s->require | s->anyof | s->exclude | ret) &
			      (PMSCAN_WRITTEN | PMSCAN_WPALLOWED));
	int r;

	if (!known) {
		snprintf(s->err, sizeof(s->err), "%s",
			 pmscan_category_unavailable(engine, 0) ?: "the engine cannot run here");
		return -ENOTSUP;
	}
	if (requested_categories(s) & ~known)
		return unavailable(s, engine, requested_categories(s) & ~known);
	/* soft-dirty tracker: clear_refs resets the whole process, never
	   just the ranges or the pages returned. */
	if (s->sd && (s->flags & PMSCAN_SCAN_WP) && (s->rs.n || s->max_pages)) {
		snprintf(s->err, sizeof(s->err), "the soft-dirty tracker resets the whole process, "
			 "so it cannot reset only %s", s->rs.n ? "some ranges" : "the pages returned");
		return -EINVAL;
	}
	if (engine == PMSCAN_ENGINE_READ && (s->flags & PMSCAN_SCAN_WP) && !s->sd) {
		snprintf(s->err, sizeof(s->err), "the read engine cannot write-protect pages "
			 "(resetting written pages needs the ioctl engine)");
		return -ENOTSUP;
	}
	range_set_normalize(&s->rs);
	s->budget_left = s->max_pages;
	/* The markers that write-protect never-populated pages of a tracked
	   mapping read as swap entries (docs/kernel.md): where nothing is
	   swapped, no page is. */
	uint64_t never = 0;
	if (((s->require | s->anyof | s->exclude | ret) & PMSCAN_SWAPPED) &&
	    nothing_swapped(s->t, (s->require | s->anyof | s->exclude) & PMSCAN_SWAPPED))
		never |= PMSCAN_SWAPPED;

	/* The kernel's answer reaches past each mapping (scan_piece_ahead)
	   unless pages are limited or each mapping must be checked first. */
	uint64_t user_end = probe_user_end();
	bool ahead = engine == PMSCAN_ENGINE_IOCTL && !s->max_pages && user_end &&
		     !(s->flags & PMSCAN_SCAN_CHECK_WPASYNC);
	s->ahead_valid = false;
	if (s->flags & PMSCAN_SCAN_CHECK_WPASYNC) {
		reg_cursor_init(&s->cur, s->t, user_end);
		r = precheck_tracked(s);
		if (r < 0)
			return r;
	}
	reg_cursor_init(&s->cur, s->t, user_end);

	if (s->sd)
		merger_init(&mg, sd_emit_region, &sde);	/* SOFT_DIRTY back to WRITTEN */
	else
		merger_init(&mg, s->on_region, s->arg);
	r = maps_open(&w.mr, s->t->maps_fd);
	if (r < 0)
		return r;
	while (!stop && (r = walk_next_mapping(s, &w)) > 0) {
		struct pmscan_mapping *m = &w.m;
		struct scan_masks k;

		if (want_tracking) {
			int tr = probe_tracked(s, m);
			if (tr < 0) {
				r = tr;
				break;
			}
			m->tracked = tr;
			if (!tr) {
				s->st.untracked++;
				s->st.untracked_pages += (m->end - m->start) /
							 (uint64_t)page_size_cached();
			}
		}
		s->st.mappings++;
		if (s->on_mapping && (r = s->on_mapping(m, s->arg)) != 0)
			break;
		uint64_t never_here = never;
		/* soft-dirty tracker: WPALLOWED keeps its uffd meaning. */
		if (s->sd && ((s->require | s->anyof | s->exclude | ret) & PMSCAN_WPALLOWED)) {
			int reg = probe_uffd_registered(s, m);
			if (reg < 0) {
				r = reg;
				break;
			}
			if (!reg)
				never_here |= PMSCAN_WPALLOWED;
		}
		if (!mapping_masks(s, m, ret, never_here, &k))
			continue;
		if (s->sd) {
			k.inv = sd_to_kernel(k.inv);
			k.mask = sd_to_kernel(k.mask);
			k.anyof = sd_to_kernel(k.anyof);
			k.ret = sd_to_kernel(k.ret);
		}

		size_t i = w.ri;
		do {
			uint64_t a = m->start, b = m->end;
			if (s->rs.n) {
				if (s->rs.r[i].start > a)
					a = s->rs.r[i].start;
				if (s->rs.r[i].end < b)
					b = s->rs.r[i].end;
			}
			if (a < b) {
				if (engine == PMSCAN_ENGINE_READ)
					r = read_piece(s, &mg, m, a, b, &k, &stop);
				else if (ahead)
					r = scan_piece_ahead(s, &mg, m, a, b,
							     s->rs.n ? s->rs.r[i].end : user_end, &k);
				else
					r = scan_piece(s, &mg, m, a, b, &k, &stop);
				if (r)
					break;
			}
			i++;
		} while (!stop && i < s->rs.n && s->rs.r[i].start < m->end);
		if (r)
			break;
		/* Regions never merge across mappings. */
		if ((r = merger_flush(&mg)) != 0)
			break;
	}
	/* w.m is a mapping only once maps_next has filled one. */
	if (r < 0 && !s->has_failed && w.m.name)
		remember_failed(s, &w.m);
	maps_close(&w.mr);
	if (r == 0)
		r = merger_flush(&mg);
	s->st.regions = mg.regions;
	return r;
}

/* The maps file holds the memory it was opened on: once the process is
   exiting (before its pidfd says so) or has exec'd, it reads empty, and a
   walk that ended there ended early. One byte tells. */
static bool mm_still_there(const struct pmscan_target *t)
{
	char c;

	return t->self || pread(t->maps_fd, &c, 1, 0) == 1;
}

PMSCAN_EXPORT int pmscan_scan_run(struct pmscan_scan *s)
{
	memset(&s->st, 0, sizeof(s->st));
	s->has_failed = false;
	s->err[0] = '\0';
	s->sd = tracker_is_soft_dirty(s->t);

	int r = run(s);
	read_run_end(s);
	/* soft-dirty tracker: the reset follows the read (a write between the
	   two is lost: documented in pmscan.h). */
	if (r == 0 && s->sd && (s->flags & PMSCAN_SCAN_WP) && (r = soft_dirty_reset(s->t)) < 0)
		snprintf(s->err, sizeof(s->err), "%s", pmscan_target_error(s->t));
	/* A process that died under the scan gives a partial or empty answer
	   (its maps read as empty): that is an error, whatever the ioctl said. */
	if (pmscan_target_alive(s->t) == 0 || !mm_still_there(s->t))
		r = -ESRCH;
	if (r > 0)
		r = -r;
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The read engine: the same regions as PAGEMAP_SCAN, computed from
 * /proc/PID/pagemap (8 bytes per page) on any kernel. Each page's
 * categories follow the kernel's own rule for PAGEMAP_SCAN
 * (fs/proc/task_mmu.c, pagemap_page_category), from the bits pagemap
 * shows for the same page-table entry:
 *   any entry     WRITTEN unless uffd-wp (57): in a tracked mapping an empty
 *                 entry (MADV_DONTNEED, never protected) reads as written
 *   present (63)  PRESENT, FILE (61), PFNZERO when the PFN is the zero page's
 *   swapped (62)  SWAPPED, GUARD (58), FILE (61)
 *   soft-dirty (55) SOFT_DIRTY (pagemap sets it for the VMA's soft-dirty flag
 *                 too, as PAGEMAP_SCAN does)
 * (soft-dirty tracker: scan.c hands this engine SOFT_DIRTY where the request
 * says WRITTEN, so bit 55 answers 'written' on every kernel)
 * plus WPALLOWED for a tracked mapping. HUGE is not in pagemap: hugetlb
 * mappings come from smaps (KernelPageSize), PMD-mapped transparent huge
 * pages from /proc/kpageflags, checked against smaps' count of them.
 * pagemap is read in large chunks, a read that ends inside a PMD-sized
 * block carries on to its end (the following small mappings come from the
 * same read), and a mapping whose every page the masks exclude is never read.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PM_PFN_MASK	((UINT64_C(1) << 55) - 1)
#define PM_SOFT_DIRTY	(UINT64_C(1) << 55)
#define PM_UFFD_WP	(UINT64_C(1) << 57)
#define PM_GUARD	(UINT64_C(1) << 58)
#define PM_FILE		(UINT64_C(1) << 61)
#define PM_SWAP		(UINT64_C(1) << 62)
#define PM_PRESENT	(UINT64_C(1) << 63)

#define KPF_THP		22
#define KPF_ZERO_PAGE	24

/* Entries per read: 512 KiB, a whole number of PMD blocks (512 entries of
   4 KiB pages, 2048 of 16 KiB, 8192 of 64 KiB). */
#define CHUNK 65536

/* How HUGE is found in the current mapping. */
enum huge_mode { HUGE_NONE, HUGE_HUGETLB, HUGE_BLOCKS };

struct read_state {
	uint64_t *buf;
	/* buf holds the entries of [buf_start, buf_start + buf_n pages) as read
	   in this run (buf_n 0: nothing usable) */
	uint64_t buf_start;
	size_t buf_n;
	/* smaps, read alongside the mappings only when HUGE is wanted */
	FILE *smaps;
	char *line;
	size_t linecap;
	bool line_pending;	/* line holds a header not consumed yet */
	int kpageflags;		/* -1 closed, -2 cannot open */
	/* the mapping the huge state below is for */
	uint64_t vma_start, vma_end;
	bool vma_valid;
	enum huge_mode huge;
	uint64_t block_base;	/* first PMD-sized block of the bitmap */
	uint64_t *blocks;	/* bitmap: PMD-mapped blocks */
	size_t nblocks, nblocks_cap;	/* blocks in the bitmap; words allocated */
};

static size_t ptes_per_pmd(void)
{
	return (size_t)page_size_cached() / 8;
}

static uint64_t huge_size(void)
{
	/* A PMD maps one page-table page of 8-byte entries: 2 MiB with 4 KiB
	   pages, 32 MiB with 16 KiB, 512 MiB with 64 KiB. */
	return (uint64_t)page_size_cached() * ptes_per_pmd();
}

static struct read_state *state(struct pmscan_scan *s)
{
	if (!s->rd) {
		s->rd = calloc(1, sizeof(*s->rd));
		if (!s->rd)
			return NULL;
		s->rd->kpageflags = -1;
	}
	if (!s->rd->buf) {
		s->rd->buf = malloc(CHUNK * sizeof(uint64_t));
		if (!s->rd->buf)
			return NULL;
	}
	return s->rd;
}

void read_run_end(struct pmscan_scan *s)
{
	struct read_state *rs = s->rd;

	if (!rs)
		return;
	if (rs->smaps)
		fclose(rs->smaps);
	rs->smaps = NULL;
	rs->line_pending = false;
	if (rs->kpageflags >= 0)
		close(rs->kpageflags);
	rs->kpageflags = -1;
	rs->vma_valid = false;
	rs->buf_n = 0;
}

void read_free(struct pmscan_scan *s)
{
	if (!s->rd)
		return;
	read_run_end(s);
	free(s->rd->buf);
	free(s->rd->line);
	free(s->rd->blocks);
	free(s->rd);
	s->rd = NULL;
}

/* Read entries for [start, start + n pages) into buf; -ESRCH when the
   process is gone (its pagemap reads as empty). */
static int read_entries(struct pmscan_scan *s, uint64_t *buf, uint64_t start, size_t n)
{
	uint64_t ps = (uint64_t)page_size_cached();
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(s->t->pagemap_fd, (char *)buf + done * 8, (n - done) * 8,
				  (off_t)((start / ps + done) * 8));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0 || r % 8)
			return -ESRCH;
		done += (size_t)r / 8;
	}
	return 0;
}

/* Make rs->buf hold the entries of pages [pos, pos + n pages) at least:
   one read, carried on to the next PMD-sized boundary when the buffer has
   room. The kernel walks pagemap in PMD-sized steps, so the rest of the
   step costs no more reads: the next small mappings (a process has
   thousands of one-page ones) come from the same read. Entries already
   there from an earlier read of this run are used as they are. Returns
   the entries usable from pos (at most n) and points *out at them. */
static int fill(struct pmscan_scan *s, struct read_state *rs, uint64_t pos, size_t n,
		const uint64_t **out)
{
	uint64_t ps = (uint64_t)page_size_cached();

	if (rs->buf_n && pos >= rs->buf_start && (pos - rs->buf_start) / ps < rs->buf_n) {
		size_t off = (size_t)((pos - rs->buf_start) / ps);
		*out = rs->buf + off;
		return (int)(n < rs->buf_n - off ? n : rs->buf_n - off);
	}
	rs->buf_n = 0;
	size_t want = n;
	uint64_t hs = huge_size(), stop = ((pos + n * ps) + hs - 1) & ~(hs - 1);
	if (stop > pos + n * ps && (stop - pos) / ps <= CHUNK)
		want = (size_t)((stop - pos) / ps);
	size_t got = 0;
	if (want > n) {
		/* The extra entries are optional: where the address space ends
		   the kernel gives fewer. */
		ssize_t r;
		do
			r = pread(s->t->pagemap_fd, rs->buf, want * 8, (off_t)(pos / ps * 8));
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		got = (size_t)r / 8;
	}
	if (got < n) {
		int r = read_entries(s, rs->buf + got, pos + got * ps, n - got);
		if (r < 0)
			return r;
		got = n;
	}
	rs->buf_start = pos;
	rs->buf_n = got;
	*out = rs->buf;
	return (int)n;
}

/* ---- smaps: the facts pagemap lacks ---------------------------------- */

struct smaps_vma {
	uint64_t kernel_page_kb;
	uint64_t pmd_kb;	/* AnonHugePages + ShmemPmdMapped + FilePmdMapped */
};

static int smaps_header(const char *line, uint64_t *start)
{
	unsigned long long a, b;
	char c;

	/* "start-end perms ...": field lines start with a name and a colon. */
	return sscanf(line, "%llx-%llx %c", &a, &b, &c) == 3 ? (*start = a, 1) : 0;
}

/* The smaps entry of the mapping that starts at vma_start; mappings come in
   address order, so one pass through smaps serves the whole run. */
static int smaps_lookup(struct pmscan_scan *s, struct read_state *rs, uint64_t vma_start,
			struct smaps_vma *v)
{
	uint64_t start;
	bool in = false;

	memset(v, 0, sizeof(*v));
	if (!rs->smaps) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/smaps", (int)s->t->pid);
		rs->smaps = fopen(path, "re");
		if (!rs->smaps)
			return -errno;
	}
	for (;;) {
		if (!rs->line_pending && getline(&rs->line, &rs->linecap, rs->smaps) < 0)
			break;
		rs->line_pending = false;
		if (smaps_header(rs->line, &start)) {
			if (in) {
				rs->line_pending = true;
				return 0;
			}
			if (start == vma_start)
				in = true;
			else if (start > vma_start) {
				rs->line_pending = true;
				break;
			}
			continue;
		}
		if (!in)
			continue;
		unsigned long long kb;
		if (sscanf(rs->line, "KernelPageSize: %llu kB", &kb) == 1)
			v->kernel_page_kb = kb;
		else if (sscanf(rs->line, "AnonHugePages: %llu kB", &kb) == 1 ||
			 sscanf(rs->line, "ShmemPmdMapped: %llu kB", &kb) == 1 ||
			 sscanf(rs->line, "FilePmdMapped: %llu kB", &kb) == 1)
			v->pmd_kb += kb;
	}
	if (in)
		return 0;
	/* The mapping changed between the maps and smaps reads. */
	snprintf(s->err, sizeof(s->err), "the process changed its mappings during the scan");
	return -EAGAIN;
}

/* ---- huge pages ------------------------------------------------------- */

static int kpageflags_of(struct read_state *rs, uint64_t pfn, uint64_t *flags)
{
	if (rs->kpageflags == -1) {
		rs->kpageflags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
		if (rs->kpageflags < 0) {
			rs->kpageflags = -2;
			return -errno;
		}
	}
	if (rs->kpageflags < 0)
		return -EACCES;
	if (pread(rs->kpageflags, flags, 8, (off_t)(pfn * 8)) != 8)
		return -EIO;
	return 0;
}

/* Is the PMD-sized block whose entries are e[0..] one transparent huge page
   mapped whole: present, physically contiguous from an aligned frame, and a
   THP in kpageflags? A PTE-mapped one looks the same: smaps' count decides.
   *zero: it is the huge zero page, which smaps does not count. */
static int thp_block(struct read_state *rs, const uint64_t *e, bool *yes, bool *zero)
{
	uint64_t pfn = e[0] & PM_PFN_MASK, flags;

	*yes = *zero = false;
	size_t n = ptes_per_pmd();

	if (!(e[0] & PM_PRESENT) || !pfn || pfn % n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(e[i] & PM_PRESENT) || (e[i] & PM_PFN_MASK) != pfn + i)
			return 0;
	int r = kpageflags_of(rs, pfn, &flags);
	if (r < 0)
		return r;
	*yes = (flags >> KPF_THP) & 1;
	*zero = *yes && ((flags >> KPF_ZERO_PAGE) & 1);
	return 0;
}

/* Which whole PMD-sized blocks of the mapping are PMD-mapped huge pages, into
   rs->blocks; checked against smaps' total so a split one is never taken
   for a huge one. */
static int find_huge_blocks(struct pmscan_scan *s, struct read_state *rs,
			    const struct pmscan_mapping *m, uint64_t pmd_kb)
{
	uint64_t hs = huge_size();
	uint64_t first = (m->start + hs - 1) & ~(hs - 1), last = m->end & ~(hs - 1);
	size_t nblocks = (size_t)((last - first) / hs), words = (nblocks + 63) / 64;
	uint64_t found = 0;
	const char *why = NULL;
	int r;

	if (!probe_zero_pfn())
		why = "page frame numbers, which /proc/PID/pagemap shows only to CAP_SYS_ADMIN";
	if (words > rs->nblocks_cap) {
		uint64_t *n = realloc(rs->blocks, words * sizeof(*n));
		if (!n)
			return -ENOMEM;
		rs->blocks = n;
		rs->nblocks_cap = words;
	}
	if (words)
		memset(rs->blocks, 0, words * sizeof(*rs->blocks));
	rs->buf_n = 0;	/* the buffer is used below */
	rs->block_base = first;
	rs->nblocks = nblocks;
	size_t per = ptes_per_pmd(), chunk_blocks = CHUNK / per;
	for (size_t b = 0; b < nblocks && !why; b += chunk_blocks) {
		size_t nb = nblocks - b < chunk_blocks ? nblocks - b : chunk_blocks;
		if ((r = read_entries(s, rs->buf, first + b * hs, nb * per)) < 0)
			return r;
		for (size_t j = 0; j < nb; j++) {
			bool yes, zero;
			r = thp_block(rs, rs->buf + j * per, &yes, &zero);
			if (r < 0) {
				why = "reading /proc/kpageflags, which only CAP_SYS_ADMIN may do";
				break;
			}
			if (yes) {
				rs->blocks[(b + j) / 64] |= UINT64_C(1) << ((b + j) % 64);
				found += !zero;
			}
		}
	}
	if (!why && found * (hs / 1024) == pmd_kb)
		return 0;
	if (why)
		snprintf(s->err, sizeof(s->err),
			 "the read engine cannot tell which pages of mapping 0x%" PRIx64 "-0x%" PRIx64
			 " are huge: it holds %" PRIu64 " kB of PMD-mapped transparent huge pages, "
			 "and telling which needs %s", m->start, m->end, pmd_kb, why);
	else
		snprintf(s->err, sizeof(s->err),
			 "the read engine cannot tell which pages of mapping 0x%" PRIx64 "-0x%" PRIx64
			 " are huge: smaps counts %" PRIu64 " kB of PMD-mapped transparent huge pages, "
			 "kpageflags %" PRIu64 " kB (one split or collapsed during the scan?)",
			 m->start, m->end, pmd_kb, found * (hs / 1024));
	return -ENOTSUP;
}

/* Settle how HUGE is found in mapping m (once per mapping per run). */
static int huge_setup(struct pmscan_scan *s, struct read_state *rs, const struct pmscan_mapping *m)
{
	uint64_t hs = huge_size();
	struct smaps_vma v;
	int r;

	if (rs->vma_valid && rs->vma_start == m->start && rs->vma_end == m->end)
		return 0;
	rs->vma_valid = true;
	rs->vma_start = m->start;
	rs->vma_end = m->end;
	rs->huge = HUGE_NONE;
	/* A huge page needs a whole aligned PMD-sized block inside the mapping. */
	if (((m->start + hs - 1) & ~(hs - 1)) + hs > m->end)
		return 0;
	if ((r = smaps_lookup(s, rs, m->start, &v)) < 0) {
		rs->vma_valid = false;
		return r;
	}
	if (v.kernel_page_kb * 1024 > (uint64_t)page_size_cached()) {
		rs->huge = HUGE_HUGETLB;
		return 0;
	}
	if (!v.pmd_kb)
		return 0;
	if ((r = find_huge_blocks(s, rs, m, v.pmd_kb)) < 0) {
		rs->vma_valid = false;
		return r;
	}
	rs->huge = HUGE_BLOCKS;
	return 0;
}

static bool in_huge_block(const struct read_state *rs, uint64_t addr)
{
	if (addr < rs->block_base)
		return false;
	uint64_t b = (addr - rs->block_base) / huge_size();
	if (b >= rs->nblocks)
		return false;
	return (rs->blocks[b / 64] >> (b % 64)) & 1;
}

/* ---- the scan --------------------------------------------------------- */

/* Categories of a page from the flag bits of its pagemap entry (bits 55-63
   shifted down) and the facts pmscan adds: bit 9 zero page, bit 10 huge. */
static uint64_t categories_of(uint64_t key, uint64_t vma_cat)
{
	uint64_t e = key << 55, c = vma_cat;

	/* Whatever is not write-protected reads as written, an empty entry
	   too (a page dropped with MADV_DONTNEED, or never protected): the
	   caller strips WRITTEN outside tracked mappings. */
	if (!(e & PM_UFFD_WP))
		c |= PMSCAN_WRITTEN;
	if (e & PM_PRESENT) {
		c |= PMSCAN_PRESENT;
		if (e & PM_FILE)
			c |= PMSCAN_FILE;
	} else if (e & PM_SWAP) {
		c |= PMSCAN_SWAPPED;
		if (e & PM_GUARD)
			c |= PMSCAN_GUARD;
		else if (e & PM_FILE)
			c |= PMSCAN_FILE;
	}
	if (e & PM_SOFT_DIRTY)
		c |= PMSCAN_SOFT_DIRTY;
	if (key & (1u << 9))
		c |= PMSCAN_PFNZERO;
	if (key & (1u << 10))
		c |= PMSCAN_HUGE;
	return c;
}

/* Private anonymous memory: only anonymous pages and the zero pages (the
   kernel's special mappings, [vdso] and such, hold kernel pages). */
static bool private_anon(const struct pmscan_mapping *m)
{
	const char *n = m->name;

	return !m->inode && m->perms[3] == 'p' &&
	       (n[0] != '[' || !strcmp(n, "[heap]") || !strncmp(n, "[stack", 6) ||
		!strncmp(n, "[anon:", 6));
}

/* Could any page of mapping m match, judging by what is fixed for all of it? */
static bool mapping_can_match(const struct pmscan_mapping *m, const struct scan_masks *k)
{
	uint64_t impossible = 0;

	/* PAGEMAP_SCAN skips VM_PFNMAP mappings; the vDSO data pages are the
	   ones every process has (smaps VmFlags "pf"). */
	if (!strncmp(m->name, "[vvar", 5))
		return false;
	if (private_anon(m))
		impossible |= PMSCAN_FILE;
	if (k->mask & ~k->inv & impossible)
		return false;
	/* anyof never overlaps the inverted bits (pmscan_scan_set_masks). */
	if (k->anyof && !(k->anyof & ~impossible))
		return false;
	return true;
}

int read_piece(struct pmscan_scan *s, struct merger *mg, const struct pmscan_mapping *m,
	       uint64_t start, uint64_t end, const struct scan_masks *k, bool *stop)
{
	struct read_state *rs = state(s);
	uint64_t ps = (uint64_t)page_size_cached();
	uint64_t interest = k->mask | k->anyof | k->ret;
	uint64_t vma_cat = m->tracked == 1 ? PMSCAN_WPALLOWED : 0;
	/* Private anonymous memory holds no file page; pagemap says "file" for
	   the huge zero page there, PAGEMAP_SCAN does not. */
	uint64_t never = private_anon(m) ? PMSCAN_FILE : 0;
	uint64_t zero_pfn = (interest & PMSCAN_PFNZERO) ? probe_zero_pfn() : 0;
	uint64_t huge_zero_pfn = zero_pfn ? probe_huge_zero_pfn() : 0;
	uint64_t huge_pages = ptes_per_pmd();
	bool want_huge = interest & PMSCAN_HUGE;
	struct pmscan_region run = { .mapping = m };
	bool open = false;
	int r;

	if (!rs)
		return -ENOMEM;
	if (!mapping_can_match(m, k))
		return 0;
	if (want_huge && (r = huge_setup(s, rs, m)) < 0)
		return r;
	enum huge_mode huge = want_huge ? rs->huge : HUGE_NONE;

	/* Pages whose entries share the flag bits share the categories (unless
	   the PFN or the huge-page map matters): the loop below compares one
	   shifted word per page and handles each stretch of equal keys at once. */
	bool per_page = zero_pfn || huge != HUGE_NONE;
	uint64_t last_key = UINT64_MAX, cat = 0, prev_key = UINT64_MAX, prev_cat = 0;
	bool match = false, prev_match = false;
	uint64_t pos = start;
	while (pos < end) {
		size_t n = (size_t)((end - pos) / ps);
		const uint64_t *buf = NULL;
		if (n > CHUNK)
			n = CHUNK;
		if ((r = fill(s, rs, pos, n, &buf)) < 0)
			return r;
		n = (size_t)r;
		for (size_t i = 0; i < n;) {
			uint64_t e = buf[i], key = e >> 55;
			uint64_t addr = pos + i * ps;
			size_t j = i + 1;

			if (per_page) {
				uint64_t pfn = e & PM_PFN_MASK;
				/* PAGEMAP_SCAN calls the huge zero page's pages zero too. */
				if (zero_pfn && (e & PM_PRESENT) &&
				    (pfn == zero_pfn || (huge_zero_pfn && pfn - huge_zero_pfn < huge_pages)))
					key |= 1u << 9;
				if (huge == HUGE_HUGETLB ? (e & (PM_PRESENT | PM_SWAP)) != 0 :
				    huge == HUGE_BLOCKS && in_huge_block(rs, addr))
					key |= 1u << 10;
			} else {
				while (j < n && buf[j] >> 55 == key)
					j++;
			}
			if (key != last_key) {
				/* Sparse answers alternate between two keys: keep both. */
				uint64_t tk = prev_key, tc = prev_cat;
				bool tm = prev_match;
				prev_key = last_key;
				prev_cat = cat;
				prev_match = match;
				last_key = key;
				if (tk == key) {
					cat = tc;
					match = tm;
				} else {
					uint64_t c = categories_of(key, vma_cat) & ~never;
					match = scan_masks_match(k, c);
					cat = c & k->ret;
				}
			}
			if (!match) {
				i = j;
				continue;
			}
			uint64_t pages = j - i;
			if (s->max_pages && pages >= s->budget_left) {
				pages = s->budget_left;
				s->st.budget_reached = 1;
				*stop = true;
			}
			if (open && run.end == addr && run.categories == cat) {
				run.end += pages * ps;
			} else {
				if (open && (r = merger_add(mg, &run)) != 0)
					return r;
				run.start = addr;
				run.end = addr + pages * ps;
				run.categories = cat;
				open = true;
			}
			s->st.pages += pages;
			if (s->max_pages) {
				s->budget_left -= pages;
				if (*stop)
					return merger_add(mg, &run);
			}
			i = j;
		}
		pos += n * ps;
	}
	return open ? merger_add(mg, &run) : 0;
}

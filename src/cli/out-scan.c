/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scan output: the region table, the per-mapping summary and the address
 * list, for one process or several, through the table writer. Documents
 * have one shape whatever the number of processes: rows carry their pid,
 * and per-process facts (comm, tracker, errors) go in "processes".
 */
#include "out.h"
#include "fastfmt.h"

#include <err.h>
#include <fcntl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- columns ------------------------------------------------------------ */

enum { R_PID, R_START, R_END, R_PAGES, R_SIZE, R_CATEGORIES, R_PERMS, R_OFFSET, R_DEVICE,
       R_INODE, R_TRACKED, R_MAPPING, R_NCOLS };

static struct column region_cols[R_NCOLS] = {
	[R_PID] = { "PID", "pid", "integer", 7, COL_RIGHT, "process id (shown by default with several processes)" },
	[R_START] = { "START", "start", "string", 14, COL_DEFAULT, "first address of the region (hex)" },
	[R_END] = { "END", "end", "string", 14, COL_DEFAULT, "address just past the region (hex)" },
	[R_PAGES] = { "PAGES", "pages", "integer", 9, COL_RIGHT | COL_DEFAULT, "pages in the region" },
	[R_SIZE] = { "SIZE", "size", "integer", 6, COL_RIGHT | COL_DEFAULT,
		     "size of the region (text: human-readable unless -b; JSON: bytes)" },
	[R_CATEGORIES] = { "CATEGORIES", "categories", "array", 10, COL_DEFAULT,
			   "the page categories of the region, of those reported" },
	[R_PERMS] = { "PERMS", "perms", "string", 5, 0, "the mapping's permissions (rwxp/rwxs)" },
	[R_OFFSET] = { "OFFSET", "offset", "integer", 8, COL_RIGHT, "the mapping's file offset in bytes" },
	[R_DEVICE] = { "DEVICE", "device", "string", 6, 0, "the mapped file's device (major:minor)" },
	[R_INODE] = { "INODE", "inode", "integer", 8, COL_RIGHT, "the mapped file's inode (0 if none)" },
	[R_TRACKED] = { "TRACKED", "tracked", "boolean", 7, 0,
			"whether the mapping is tracked for writes" },
	[R_MAPPING] = { "MAPPING", "mapping", "string", 0, COL_DEFAULT | COL_TRUNC,
			"the mapped file or [heap], [stack], [anon] ..." },
};

enum { S_PID, S_START, S_END, S_SIZE, S_PAGES, S_MATCHED, S_CAT0,
       S_TRACKED = S_CAT0 + PMSCAN_NCATEGORIES, S_PERMS, S_OFFSET, S_DEVICE, S_INODE, S_MAPPING,
       S_NCOLS };

static struct column summary_cols[S_NCOLS] = {
	[S_PID] = { "PID", "pid", "integer", 7, COL_RIGHT, "process id (shown by default with several processes)" },
	[S_START] = { "START", "start", "string", 14, COL_DEFAULT, "first address of the mapping (hex)" },
	[S_END] = { "END", "end", "string", 14, COL_DEFAULT, "address just past the mapping (hex)" },
	[S_SIZE] = { "SIZE", "size", "integer", 6, COL_RIGHT | COL_DEFAULT,
		     "size of the mapping (text: human-readable unless -b; JSON: bytes)" },
	[S_PAGES] = { "PAGES", "pages", "integer", 9, COL_RIGHT, "pages in the mapping" },
	[S_MATCHED] = { "MATCHED", "matched", "integer", 9, COL_RIGHT | COL_DEFAULT,
			"pages of the mapping the selection matched" },
	[S_PERMS] = { "PERMS", "perms", "string", 5, 0, "permissions (rwxp/rwxs)" },
	[S_OFFSET] = { "OFFSET", "offset", "integer", 8, COL_RIGHT, "file offset in bytes" },
	[S_DEVICE] = { "DEVICE", "device", "string", 6, 0, "the mapped file's device (major:minor)" },
	[S_INODE] = { "INODE", "inode", "integer", 8, COL_RIGHT, "the mapped file's inode (0 if none)" },
	[S_TRACKED] = { "TRACKED", "tracked", "boolean", 7, COL_DEFAULT,
			"whether the mapping is tracked for writes (text: yes, no, - unknown)" },
	[S_MAPPING] = { "MAPPING", "mapping", "string", 0, COL_DEFAULT | COL_TRUNC,
			"the mapped file or [heap], [stack], [anon] ..." },
};

/* Category columns of the summary: WRITTEN, PRESENT, ... (matched pages in
   each), named and described from the library's list. */
static void summary_columns_init(uint64_t shown)
{
	static char names[PMSCAN_NCATEGORIES][24], helps[PMSCAN_NCATEGORIES][64];

	for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++) {
		const char *n = pmscan_category_name(i);
		size_t k;
		for (k = 0; n[k] && k + 1 < sizeof(names[i]); k++)
			names[i][k] = (char)(n[k] >= 'a' && n[k] <= 'z' ? n[k] - 32 : n[k]);
		names[i][k] = '\0';
		snprintf(helps[i], sizeof(helps[i]), "matched pages that are %s", n);
		summary_cols[S_CAT0 + i] = (struct column){
			names[i], n, "integer", k < 7 ? 7 : (int)k,
			COL_RIGHT | ((shown >> i) & 1 ? COL_DEFAULT : 0), helps[i],
		};
	}
}

const struct column *scan_columns(enum out_mode mode, uint64_t shown, size_t *n)
{
	if (mode == MODE_SUMMARY) {
		summary_columns_init(shown);
		*n = S_NCOLS;
		return summary_cols;
	}
	*n = R_NCOLS;
	return region_cols;
}

/* ---- shared state --------------------------------------------------------- */

struct scan_out {
	const struct options *o;
	struct obuf ob;
	struct table t;
	enum out_format fmt;
	uint64_t page_size;
	unsigned page_shift;
	uint64_t ret_mask;
	pid_t pid;
	/* the current mapping */
	struct pmscan_mapping m;
	char *name;		/* copy of m.name */
	char *label;		/* its label escaped for fmt */
	size_t label_len;
	char device[24];
	/* categories cache */
	uint64_t cats_mask;
	bool cats_valid;
	char cats[256], cats_json[320];
	size_t cats_len, cats_json_len;
	/* summary: one mapping's counts at a time */
	bool have;
	uint64_t matched, count[PMSCAN_NCATEGORIES];
	/* the document's totals */
	uint64_t total_regions, total_pages, total_mappings, total_matched;
	uint64_t total[PMSCAN_NCATEGORIES];
	/* per-process records, written at the end (JSON) */
	struct proc_rec {
		pid_t pid;
		char *comm;
		char *error;
		const char *tracker;
		uint64_t mappings, regions, pages;
		int64_t untracked;	/* -1 not checked */
	} *procs;
	size_t nprocs;
	bool failed;
	/* the region rows: the cells that changed since the last row
	   (table_row_delta), and the last row's page count */
	uint64_t changed;
	uint64_t last_pages;
	struct cell cells[(int)S_NCOLS > (int)R_NCOLS ? (int)S_NCOLS : (int)R_NCOLS];
};

static struct scan_out so;

static void cats_format(struct scan_out *s, uint64_t mask)
{
	if (s->cats_valid && mask == s->cats_mask)
		return;
	s->cats_valid = true;
	s->cats_mask = mask;
	if (!mask) {
		strcpy(s->cats, "-");
	} else {
		pmscan_categories_format(mask, s->cats, sizeof(s->cats));
	}
	s->cats_len = strlen(s->cats);
	size_t n = 0;
	s->cats_json[n++] = '[';
	for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++) {
		if (!(mask & (UINT64_C(1) << i)))
			continue;
		n += (size_t)snprintf(s->cats_json + n, sizeof(s->cats_json) - n, "%s\"%s\"",
				      n > 1 ? "," : "", pmscan_category_name(i));
	}
	s->cats_json[n++] = ']';
	s->cats_json_len = n;
}

const char *mapping_label(const struct pmscan_mapping *m)
{
	return m->name[0] ? m->name : "[anon]";
}

/* The cells that come from the mapping, shared by both tables. */
static void mapping_cells(struct scan_out *s, struct cell *c, int pid, int perms, int offset,
			  int device, int inode, int tracked, int mapping)
{
	c[pid] = (struct cell){ .kind = CELL_U64, .u = (uint64_t)s->pid };
	c[perms] = (struct cell){ .kind = CELL_STR, .s = s->m.perms };
	c[offset] = (struct cell){ .kind = CELL_U64, .u = s->m.offset };
	c[device] = (struct cell){ .kind = CELL_STR, .s = s->device };
	c[inode] = (struct cell){ .kind = CELL_U64, .u = s->m.inode };
	c[tracked] = s->m.tracked < 0 ? (struct cell){ .kind = CELL_NONE } :
		     (struct cell){ .kind = CELL_BOOL, .u = (uint64_t)s->m.tracked };
	c[mapping] = (struct cell){ .kind = CELL_ESC, .s = s->label, .len = s->label_len,
				    .w = s->fmt == FMT_JSON ? 0 : text_width(s->label, s->label_len) };
}

static int set_mapping(struct scan_out *s, const struct pmscan_mapping *m)
{
	free(s->name);
	free(s->label);
	s->name = strdup(m->name);
	s->label = str_escape(s->fmt, mapping_label(m), &s->label_len);
	if (!s->name || !s->label)
		return -ENOMEM;
	s->m = *m;
	s->m.name = s->name;
	snprintf(s->device, sizeof(s->device), "%u:%u", m->dev_major, m->dev_minor);
	return 0;
}

static int out_status(void)
{
	if (!ferror(stdout))
		return 0;
	return errno ? -errno : -EIO;
}

/* ---- regions -------------------------------------------------------------- */

static int region_mapping(const struct pmscan_mapping *m, void *arg)
{
	struct scan_out *s = arg;
	int r = set_mapping(s, m);

	if (r)
		return r;
	mapping_cells(s, s->cells, R_PID, R_PERMS, R_OFFSET, R_DEVICE, R_INODE, R_TRACKED, R_MAPPING);
	s->cells[R_START].kind = CELL_HEX;
	s->cells[R_END].kind = CELL_HEX;
	s->cells[R_PAGES].kind = CELL_U64;
	s->cells[R_SIZE].kind = CELL_SIZE;
	s->cats_valid = false;
	s->changed = ~UINT64_C(0);
	return out_status();
}

static int region_row(const struct pmscan_region *r, void *arg)
{
	struct scan_out *s = arg;
	struct cell *c = s->cells;
	uint64_t pages = (r->end - r->start) >> s->page_shift;
	uint64_t changed = s->changed | UINT64_C(1) << R_START | UINT64_C(1) << R_END;

	if (r->categories != s->cats_mask || !s->cats_valid) {
		cats_format(s, r->categories);
		c[R_CATEGORIES] = s->fmt == FMT_JSON ?
			(struct cell){ .kind = CELL_RAWJSON, .s = s->cats_json, .len = s->cats_json_len } :
			(struct cell){ .kind = CELL_ESC, .s = s->cats, .len = s->cats_len, .w = s->cats_len };
		changed |= UINT64_C(1) << R_CATEGORIES;
	}
	/* The kinds of these cells never change (set in region_mapping). */
	if (pages != s->last_pages || s->changed) {
		s->last_pages = pages;
		c[R_PAGES].u = pages;
		c[R_SIZE].u = r->end - r->start;
		changed |= UINT64_C(1) << R_PAGES | UINT64_C(1) << R_SIZE;
	}
	c[R_START].u = r->start;
	c[R_END].u = r->end;
	/* Most rows are the last one with other addresses: its bytes again,
	   the digits put over. */
	table_row_delta(&s->t, c, changed);
	s->changed = 0;
	s->total_regions++;
	s->total_pages += pages;
	return s->ob.err ? -s->ob.err : 0;
}

static int address_row(const struct pmscan_region *r, void *arg)
{
	struct scan_out *s = arg;

	for (uint64_t a = r->start; a < r->end; a += s->page_size) {
		ob_hex(&s->ob, a);
		ob_putc(&s->ob, '\n');
	}
	s->total_regions++;
	s->total_pages += (r->end - r->start) >> s->page_shift;
	return s->ob.err ? -s->ob.err : 0;
}

/* ---- summary -------------------------------------------------------------- */

static void summary_flush(struct scan_out *s)
{
	struct cell *c = s->cells;

	if (!s->have)
		return;
	s->have = false;
	mapping_cells(s, c, S_PID, S_PERMS, S_OFFSET, S_DEVICE, S_INODE, S_TRACKED, S_MAPPING);
	c[S_START] = (struct cell){ .kind = CELL_HEX, .u = s->m.start };
	c[S_END] = (struct cell){ .kind = CELL_HEX, .u = s->m.end };
	c[S_SIZE] = (struct cell){ .kind = CELL_SIZE, .u = s->m.end - s->m.start };
	c[S_PAGES] = (struct cell){ .kind = CELL_U64, .u = (s->m.end - s->m.start) / s->page_size };
	c[S_MATCHED] = (struct cell){ .kind = CELL_U64, .u = s->matched };
	for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++)
		c[S_CAT0 + i] = (s->ret_mask >> i) & 1 ?
			(struct cell){ .kind = CELL_U64, .u = s->count[i] } : (struct cell){ .kind = CELL_NONE };
	table_row(&s->t, c);
	s->total_mappings++;
}

static int summary_mapping(const struct pmscan_mapping *m, void *arg)
{
	struct scan_out *s = arg;
	int r;

	summary_flush(s);
	r = set_mapping(s, m);
	if (r)
		return r;
	s->matched = 0;
	memset(s->count, 0, sizeof(s->count));
	s->have = true;
	return out_status();
}

static int summary_region(const struct pmscan_region *r, void *arg)
{
	struct scan_out *s = arg;
	uint64_t pages = (r->end - r->start) >> s->page_shift;

	s->matched += pages;
	s->total_matched += pages;
	s->total_regions++;
	s->total_pages += pages;
	for (uint64_t m = r->categories; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m);
		if (i < PMSCAN_NCATEGORIES) {
			s->count[i] += pages;
			s->total[i] += pages;
		}
	}
	return 0;
}

/* ---- the document ---------------------------------------------------------- */

int scan_out_begin(const struct options *o, uint64_t ret_mask, bool several)
{
	struct scan_out *s = &so;
	size_t ncols;
	const struct column *cols = scan_columns(o->mode, ret_mask, &ncols);
	const char *bad;
	size_t badlen;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	s->page_shift = (unsigned)__builtin_ctzll(s->page_size);
	s->ret_mask = ret_mask;
	s->fmt = o->json ? FMT_JSON : o->raw ? FMT_RAW : FMT_TEXT;
	ob_init(&s->ob, stdout);
	if (o->mode == MODE_ADDRESSES)
		return 0;
	if (table_select(&s->t, cols, ncols, o->columns, &bad, &badlen) < 0)
		errx(EXIT_USAGE, "unknown column '%.*s' (see --list-columns)", (int)badlen, bad);
	/* One shape whatever the count: JSON rows always carry their pid,
	   text gains the column with several processes (unless -o chose
	   the columns outright: +LIST adds to the defaults, PID among them). */
	if ((several && (!o->columns || o->columns[0] == '+')) || o->json) {
		int pid_col = o->mode == MODE_SUMMARY ? S_PID : R_PID;
		if (!table_has(&s->t, pid_col)) {
			memmove(s->t.sel + 1, s->t.sel, s->t.nsel * sizeof(s->t.sel[0]));
			s->t.sel[0] = pid_col;
			s->t.nsel++;
		}
	}
	/* The summary's JSON rows keep the mapping's length in pages. */
	if (o->json && !o->columns && o->mode == MODE_SUMMARY)
		table_add(&s->t, S_PAGES);
	/* The categories column is as wide as the categories it can show. */
	if (o->mode != MODE_SUMMARY) {
		char all[256];
		int w = (int)pmscan_categories_format(ret_mask, all, sizeof(all));
		region_cols[R_CATEGORIES].width = w > 32 ? 32 : w < 10 ? 10 : w;
	}
	table_start(&s->t, &s->ob, s->fmt, isatty(STDOUT_FILENO), o->bytes, o->noheadings);
	if (s->fmt == FMT_JSON) {
		ob_write(&s->ob, "{\"page_size\":", 13);
		ob_u64(&s->ob, s->page_size);
		ob_putc(&s->ob, ',');
		table_json_open(&s->t, o->mode == MODE_SUMMARY ? "mappings" : "regions");
	} else {
		table_header(&s->t);
	}
	return out_status();
}

bool scan_out_needs_tracking(const struct options *o)
{
	if (o->mode == MODE_SUMMARY)
		return table_has(&so.t, S_TRACKED);
	return o->mode == MODE_REGIONS && table_has(&so.t, R_TRACKED);
}

void scan_out_callbacks(pmscan_mapping_fn *on_mapping, pmscan_region_fn *on_region, void **arg)
{
	switch (so.o->mode) {
	case MODE_ADDRESSES:
		*on_mapping = NULL;
		*on_region = address_row;
		break;
	case MODE_SUMMARY:
		*on_mapping = summary_mapping;
		*on_region = summary_region;
		break;
	default:
		*on_mapping = region_mapping;
		*on_region = region_row;
	}
	*arg = &so;
}

void scan_out_process_begin(pid_t pid)
{
	so.pid = pid;
	so.have = false;
}

bool proc_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	/* only the kernel's final newline: a name may hold others */
	if (buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return true;
}

static char *read_comm(pid_t pid)
{
	char buf[64];

	return strdup(proc_comm(pid, buf, sizeof(buf)) ? buf : "");
}

void scan_out_process_end(pid_t pid, const char *comm, const struct pmscan_scan_stats *st,
			  const char *tracker, bool untracked_checked, const char *error)
{
	struct scan_out *s = &so;
	struct proc_rec *n = realloc(s->procs, (s->nprocs + 1) * sizeof(*n));

	if (s->o->mode == MODE_SUMMARY && !error)
		summary_flush(s);
	s->have = false;
	if (!n)
		err(EXIT_SCAN_FAILED, "out of memory");
	s->procs = n;
	n = &s->procs[s->nprocs++];
	memset(n, 0, sizeof(*n));
	n->pid = pid;
	n->comm = comm ? strdup(comm) : read_comm(pid);
	n->error = error ? strdup(error) : NULL;
	if (error)
		s->failed = true;
	n->tracker = tracker;
	if (st) {
		n->mappings = st->mappings;
		n->regions = st->regions;
		n->pages = st->pages;
		n->untracked = untracked_checked ? (int64_t)st->untracked : -1;
	} else {
		n->untracked = -1;
	}
}

static void json_processes(struct scan_out *s)
{
	struct obuf *o = &s->ob;

	ob_puts(o, ",\"processes\":[");
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc_rec *p = &s->procs[i];
		ob_puts(o, i ? ",\n{\"pid\":" : "\n{\"pid\":");
		ob_u64(o, (uint64_t)p->pid);
		ob_puts(o, ",\"comm\":");
		json_str_or_null(o, p->comm && p->comm[0] ? p->comm : NULL);
		ob_puts(o, ",\"tracker\":");
		json_str_or_null(o, p->tracker);
		ob_puts(o, ",\"mappings\":");
		ob_u64(o, p->mappings);
		ob_puts(o, ",\"untracked_mappings\":");
		if (p->untracked >= 0)
			ob_u64(o, (uint64_t)p->untracked);
		else
			ob_puts(o, "null");
		ob_puts(o, ",\"regions\":");
		ob_u64(o, p->regions);
		ob_puts(o, ",\"pages\":");
		ob_u64(o, p->pages);
		ob_puts(o, ",\"error\":");
		json_str_or_null(o, p->error);
		ob_putc(o, '}');
	}
	ob_puts(o, s->nprocs ? "\n]" : "]");
}

static void plural(struct obuf *o, uint64_t n, const char *word)
{
	ob_u64(o, n);
	ob_putc(o, ' ');
	ob_puts(o, word);
	if (n != 1)
		ob_putc(o, 's');
}

int scan_out_end(void)
{
	struct scan_out *s = &so;
	struct obuf *o = &s->ob;
	const struct options *opt = s->o;
	char size[24];

	if (opt->mode == MODE_ADDRESSES) {
		/* nothing around the list */
	} else if (s->fmt == FMT_JSON) {
		table_json_close(&s->t);
		if (opt->mode == MODE_SUMMARY) {
			ob_puts(o, ",\"total_mappings\":");
			ob_u64(o, s->total_mappings);
			ob_puts(o, ",\"total_matched\":");
			ob_u64(o, s->total_matched);
			ob_puts(o, ",\"total_category_pages\":{");
			bool first = true;
			for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++) {
				if (!((s->ret_mask >> i) & 1))
					continue;
				if (!first)
					ob_putc(o, ',');
				first = false;
				ob_putc(o, '"');
				ob_puts(o, pmscan_category_name(i));
				ob_write(o, "\":", 2);
				ob_u64(o, s->total[i]);
			}
			ob_putc(o, '}');
		} else {
			ob_puts(o, ",\"total_regions\":");
			ob_u64(o, s->total_regions);
			ob_puts(o, ",\"total_pages\":");
			ob_u64(o, s->total_pages);
		}
		json_processes(s);
		ob_write(o, "}\n", 2);
	} else if (s->fmt == FMT_TEXT && !opt->noheadings && !s->failed) {
		ob_puts(o, "total: ");
		if (opt->mode == MODE_SUMMARY) {
			plural(o, s->total_mappings, "mapping");
			ob_puts(o, ", ");
			plural(o, s->total_matched, "page");
			ob_puts(o, " matched");
			for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++)
				if ((s->ret_mask >> i) & 1) {
					ob_puts(o, ", ");
					ob_puts(o, pmscan_category_name(i));
					ob_putc(o, ' ');
					ob_u64(o, s->total[i]);
				}
		} else {
			plural(o, s->total_regions, "region");
			ob_puts(o, ", ");
			plural(o, s->total_pages, "page");
			ob_puts(o, ", ");
			format_size_as(s->total_pages * s->page_size, opt->bytes, size, sizeof(size));
			ob_puts(o, size);
		}
		ob_putc(o, '\n');
	}
	ob_free(o);
	for (size_t i = 0; i < s->nprocs; i++) {
		free(s->procs[i].comm);
		free(s->procs[i].error);
	}
	free(s->procs);
	free(s->name);
	free(s->label);
	s->procs = NULL;
	s->name = s->label = NULL;
	return out_status();
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pmscan --watch: a process's write rate and written working set, live.
 * Every interval it scans the written pages with reset, counts them per
 * mapping and adds them to a set of distinct pages; it arms the process
 * first if it must (and disarms it at the end), or starts a command
 * already tracked from its first instruction after exec.
 */
#include "out.h"
#include "remote.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HISTORY 40
#define TOP 5

/* ---- a set of pages: 512-page chunks, each a bitmap, in a hash table --- */

struct chunk {
	uint64_t key;		/* chunk number + 1; 0 is empty */
	uint64_t bits[8];
};

struct pageset {
	struct chunk *t;
	size_t cap, n;
	uint64_t pages;
};

static struct chunk *pageset_slot(struct pageset *s, uint64_t key)
{
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (s->cap - 1);

	while (s->t[i].key && s->t[i].key != key)
		i = (i + 1) & (s->cap - 1);
	return &s->t[i];
}

static int pageset_grow(struct pageset *s)
{
	struct pageset n = { .cap = s->cap ? s->cap * 2 : 1024 };

	n.t = calloc(n.cap, sizeof(*n.t));
	if (!n.t)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->t[i].key)
			*pageset_slot(&n, s->t[i].key) = s->t[i];
	n.n = s->n;
	n.pages = s->pages;
	free(s->t);
	*s = n;
	return 0;
}

/* 1 when the page is new to the set, 0 when it was there, or -ENOMEM. */
static int pageset_add(struct pageset *s, uint64_t page)
{
	if ((s->n + 1) * 4 > s->cap * 3 && pageset_grow(s) < 0)
		return -ENOMEM;
	struct chunk *c = pageset_slot(s, (page >> 9) + 1);
	if (!c->key) {
		c->key = (page >> 9) + 1;
		s->n++;
	}
	uint64_t bit = UINT64_C(1) << (page & 63);
	if (!(c->bits[(page >> 6) & 7] & bit)) {
		c->bits[(page >> 6) & 7] |= bit;
		s->pages++;
		return 1;
	}
	return 0;
}

/* ---- the watch ---------------------------------------------------------- */

struct label {
	char *name;
	uint64_t interval, total;
	uint64_t distinct;	/* pages first written in this mapping since the start */
};

struct watch {
	const struct options *o;
	struct pmscan_target *t;
	struct pmscan_scan *s;
	pid_t pid;
	uint64_t ps;
	struct pageset seen;
	struct label *labels;
	size_t nlabels, cap;
	size_t *hash, hcap;	/* label_index */
	size_t cur;
	uint64_t interval_pages, total_pages, intervals;
	double start, last, peak_rate;
	double history[HISTORY];
	int nhist;
	int drawn;
	bool tty;		/* the live view: a terminal, no --json, --raw or --output */
	char comm[64];		/* --openmetrics: the process's name, as last read */
	double wall_start;	/* --openmetrics: the start, in seconds since the epoch */
	struct obuf ob;
	struct table rows;	/* interval rows (text or JSON lines) */
	struct table per_mapping;	/* the summary's per-mapping table */
	bool launched;
	bool exit_reported;	/* the last interval was reported at its exit */
	unsigned execs;		/* exec stops handled (-- COMMAND) */
	bool left_running;	/* the command goes on after the watch */
	int exit_status;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* SIGCHLD only has to end the wait in ppoll. */
static void on_child(int sig)
{
	(void)sig;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Labels by name: an open-addressing hash of indices into w->labels, so
   that the per-mapping lookup costs the same with 20 names or 20000. */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static void label_rehash(struct watch *w)
{
	size_t cap = w->hcap ? w->hcap * 2 : 64;
	size_t *h = malloc(cap * sizeof(*h));

	if (!h)
		err(EXIT_SCAN_FAILED, "out of memory");
	for (size_t i = 0; i < cap; i++)
		h[i] = SIZE_MAX;
	for (size_t i = 0; i < w->nlabels; i++) {
		size_t j = (size_t)name_hash(w->labels[i].name) & (cap - 1);
		while (h[j] != SIZE_MAX)
			j = (j + 1) & (cap - 1);
		h[j] = i;
	}
	free(w->hash);
	w->hash = h;
	w->hcap = cap;
}

static size_t label_index(struct watch *w, const char *name)
{
	if ((w->nlabels + 1) * 2 > w->hcap)
		label_rehash(w);
	size_t j = (size_t)name_hash(name) & (w->hcap - 1);
	for (; w->hash[j] != SIZE_MAX; j = (j + 1) & (w->hcap - 1))
		if (!strcmp(w->labels[w->hash[j]].name, name))
			return w->hash[j];
	if (w->nlabels == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 32;
		struct label *l = realloc(w->labels, cap * sizeof(*l));
		if (!l)
			err(EXIT_SCAN_FAILED, "out of memory");
		w->labels = l;
		w->cap = cap;
	}
	w->labels[w->nlabels] = (struct label){ .name = strdup(name) };
	if (!w->labels[w->nlabels].name)
		err(EXIT_SCAN_FAILED, "out of memory");
	w->hash[j] = w->nlabels;
	return w->nlabels++;
}

static int on_mapping(const struct pmscan_mapping *m, void *arg)
{
	struct watch *w = arg;

	w->cur = label_index(w, mapping_label(m));
	return 0;
}

static int on_region(const struct pmscan_region *r, void *arg)
{
	struct watch *w = arg;
	uint64_t pages = (r->end - r->start) / w->ps;

	w->interval_pages += pages;
	w->labels[w->cur].interval += pages;
	w->labels[w->cur].total += pages;
	for (uint64_t p = r->start / w->ps; p < r->end / w->ps; p++) {
		int added = pageset_add(&w->seen, p);
		if (added < 0)
			return -ENOMEM;
		w->labels[w->cur].distinct += (uint64_t)added;
	}
	return 0;
}

/* Regions of mappings registered just now: few, so look the label up. */
static int on_new_region(const struct pmscan_region *r, void *arg)
{
	struct watch *w = arg;

	w->cur = label_index(w, mapping_label(r->mapping));
	return on_region(r, arg);
}

/* The request every interval runs: written pages that hold data (present
   or swapped; a mapping registered since the last interval reads as
   written even where nothing was ever mapped), reset as they are read. */
static int new_scan(struct watch *w)
{
	pmscan_scan_free(w->s);
	w->s = pmscan_scan_new(w->t);
	if (!w->s ||
	    pmscan_scan_set_masks(w->s, PMSCAN_WRITTEN, PMSCAN_PRESENT | PMSCAN_SWAPPED, 0,
				  PMSCAN_WRITTEN) < 0 ||
	    pmscan_scan_set_flags(w->s, PMSCAN_SCAN_WP) < 0)
		return -1;
	for (size_t i = 0; i < w->o->nranges; i++)
		if (pmscan_scan_add_range(w->s, w->o->ranges[i].start, w->o->ranges[i].end) < 0)
			return -1;
	pmscan_scan_set_callbacks(w->s, on_mapping, on_region, w);
	return 0;
}

static void rearm(struct watch *w)
{
	/* New mappings: protected at once; what they already hold counts as
	   written in this interval (it was written since the watch began). */
	pmscan_rearm(w->t, w->o->ranges, w->o->nranges, PMSCAN_REARM_PROTECT, on_new_region, w, NULL);
}

/* One scan with reset. 0, or -errno (ESRCH: the process is gone). */
static int sample(struct watch *w)
{
	w->interval_pages = 0;
	for (size_t i = 0; i < w->nlabels; i++)
		w->labels[i].interval = 0;
	if (!w->o->no_rearm)
		rearm(w);
	if (pmscan_scan_run(w->s) < 0)
		return -errno;
	return 0;
}

/* ---- reporting ---------------------------------------------------------- */

static int by_interval(const void *a, const void *b, void *arg)
{
	const struct label *l = arg;
	const size_t *x = a, *y = b;

	return l[*x].interval < l[*y].interval ? 1 : l[*x].interval > l[*y].interval ? -1 : 0;
}

static int by_total(const void *a, const void *b, void *arg)
{
	const struct label *l = arg;
	const size_t *x = a, *y = b;

	return l[*x].total < l[*y].total ? 1 : l[*x].total > l[*y].total ? -1 : 0;
}

/* Indices of the labels with pages, sorted by cmp (malloc'd, in *idx). */
static size_t ranked(struct watch *w, size_t **idx, int (*cmp)(const void *, const void *, void *),
		     bool total)
{
	size_t n = 0;

	*idx = malloc((w->nlabels + 1) * sizeof(**idx));
	if (!*idx)
		err(EXIT_SCAN_FAILED, "out of memory");
	for (size_t i = 0; i < w->nlabels; i++)
		if (total ? w->labels[i].total : w->labels[i].interval)
			(*idx)[n++] = i;
	qsort_r(*idx, n, sizeof(**idx), cmp, w->labels);
	return n;
}

/* ---- output ----------------------------------------------------------------- */

enum { W_PID, W_ELAPSED, W_INTERVAL, W_PAGES, W_BYTES, W_RATE, W_DISTINCT, W_TOP, W_MAPPINGS,
       W_NCOLS };

static const struct column watch_cols[W_NCOLS] = {
	[W_PID] = { "PID", "pid", "integer", 7, COL_RIGHT, "the process watched" },
	[W_ELAPSED] = { "ELAPSED", "elapsed_s", "number", 8, COL_RIGHT | COL_DEFAULT,
			"seconds since the watch began, at the end of the interval" },
	[W_INTERVAL] = { "INTERVAL", "interval_s", "number", 8, COL_RIGHT | COL_DEFAULT,
			 "the interval's true length in seconds" },
	[W_PAGES] = { "PAGES", "written_pages", "integer", 8, COL_RIGHT | COL_DEFAULT,
		      "pages written in the interval" },
	[W_BYTES] = { "BYTES", "written_bytes", "integer", 10, COL_RIGHT | COL_DEFAULT,
		      "bytes written in the interval, pages times the page size (text: human-readable unless -b)" },
	[W_RATE] = { "RATE", "rate_bytes_per_s", "integer", 10, COL_RIGHT | COL_DEFAULT,
		     "write rate over the interval in bytes per second (text: human-readable unless -b)" },
	[W_DISTINCT] = { "DISTINCT", "distinct_pages", "integer", 9, COL_RIGHT | COL_DEFAULT,
			 "distinct pages written since the watch began (written working set)" },
	[W_TOP] = { "TOP", "top_mapping", "string", 0, COL_DEFAULT | COL_TRUNC,
		    "the mapping with the most pages written in the interval" },
	[W_MAPPINGS] = { "MAPPINGS", "mappings", "array", 0, 0,
			 "the mappings written in the interval, most first, with their page counts "
			 "(at most 5; JSON: objects with mapping and written_pages)" },
};

const struct column *watch_columns(size_t *n)
{
	*n = W_NCOLS;
	return watch_cols;
}

enum { M_PAGES, M_SIZE, M_DISTINCT, M_MAPPING, M_NCOLS };

static const struct column summary_map_cols[M_NCOLS] = {
	[M_PAGES] = { "PAGES", "written_pages", "integer", 10, COL_RIGHT | COL_DEFAULT,
		      "pages written in the mapping during the watch" },
	[M_SIZE] = { "SIZE", "written_bytes", "integer", 6, COL_RIGHT | COL_DEFAULT,
		     "their size" },
	[M_DISTINCT] = { "DISTINCT", "distinct_pages", "integer", 9, COL_RIGHT | COL_DEFAULT,
			 "distinct pages of the mapping written during the watch" },
	[M_MAPPING] = { "MAPPING", "mapping", "string", 0, COL_DEFAULT | COL_TRUNC, "the mapping" },
};

static enum out_format watch_format(const struct options *o)
{
	return o->json ? FMT_JSON : o->raw ? FMT_RAW : FMT_TEXT;
}

static void output_init(struct watch *w)
{
	const struct options *o = w->o;
	const char *bad, *spec = o->columns;
	size_t badlen;

	w->tty = isatty(STDOUT_FILENO) && !o->json && !o->raw && !o->columns && !o->openmetrics;
	ob_init(&w->ob, stdout);
	if (!spec && o->json)
		spec = "pid,elapsed,interval,pages,bytes,rate,distinct,top,mappings";
	if (table_select(&w->rows, watch_cols, W_NCOLS, spec, &bad, &badlen) < 0)
		errx(EXIT_USAGE, "unknown column '%.*s' (see --watch --list-columns)", (int)badlen, bad);
	/* JSON rows always carry their pid, as the scan's do. */
	if (o->json && !table_has(&w->rows, W_PID)) {
		memmove(w->rows.sel + 1, w->rows.sel, w->rows.nsel * sizeof(w->rows.sel[0]));
		w->rows.sel[0] = W_PID;
		w->rows.nsel++;
	}
	table_start(&w->rows, &w->ob, watch_format(o), isatty(STDOUT_FILENO), o->bytes,
		    o->noheadings);
	w->rows.lines = true;
	table_select(&w->per_mapping, summary_map_cols, M_NCOLS, NULL, &bad, &badlen);
	table_start(&w->per_mapping, &w->ob, watch_format(o), isatty(STDOUT_FILENO), o->bytes,
		    o->noheadings);
}

/* The mappings written, ranked, as JSON objects or "name=N" for text. */
static void mappings_cell(struct watch *w, struct obuf *tmp, size_t *idx, size_t n, bool total,
			  bool json)
{
	for (size_t i = 0; i < n; i++) {
		const struct label *l = &w->labels[idx[i]];
		uint64_t v = total ? l->total : l->interval;
		if (json) {
			ob_puts(tmp, i ? ",{\"mapping\":" : "{\"mapping\":");
			esc_json(tmp, l->name, strlen(l->name));
			ob_puts(tmp, ",\"written_pages\":");
			ob_u64(tmp, v);
			if (total) {
				ob_puts(tmp, ",\"distinct_pages\":");
				ob_u64(tmp, l->distinct);
			}
			ob_putc(tmp, '}');
		} else {
			if (i)
				ob_putc(tmp, ',');
			esc_text(tmp, l->name, strlen(l->name), w->o->raw);
			ob_putc(tmp, '=');
			ob_u64(tmp, v);
		}
	}
}

/* A growable scratch buffer for one cell (never flushed to a stream). */
struct scratch {
	struct obuf ob;
};

static void scratch_init(struct scratch *sc, size_t cap)
{
	sc->ob.p = malloc(cap);
	sc->ob.cap = sc->ob.p ? cap : 0;
	sc->ob.len = 0;
	sc->ob.f = NULL;
	if (!sc->ob.p)
		err(EXIT_SCAN_FAILED, "out of memory");
}

static void sparkline(struct watch *w, char *buf, size_t len)
{
	static const char *const bars[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	double max = 0;
	size_t n = 0;

	for (int i = 0; i < w->nhist; i++)
		if (w->history[i] > max)
			max = w->history[i];
	buf[0] = '\0';
	for (int i = 0; i < w->nhist && n + 4 < len; i++) {
		int level = max > 0 ? (int)(w->history[i] / max * 7.0 + 0.5) : 0;
		n += (size_t)snprintf(buf + n, len - n, "%s", bars[level]);
	}
}

static void report_tty(struct watch *w, double elapsed, double interval, double rate)
{
	char r[24], b[24], d[24], peak[24], spark[HISTORY * 4 + 1];
	size_t *idx;
	size_t n = ranked(w, &idx, by_interval, false);
	FILE *f = stdout;

	format_size_as((uint64_t)rate, w->o->bytes, r, sizeof(r));
	format_size_as(w->interval_pages * w->ps, w->o->bytes, b, sizeof(b));
	format_size_as(w->seen.pages * w->ps, w->o->bytes, d, sizeof(d));
	format_size_as((uint64_t)w->peak_rate, w->o->bytes, peak, sizeof(peak));
	sparkline(w, spark, sizeof(spark));
	if (w->drawn)
		fprintf(f, "\033[%dA", w->drawn);
	fprintf(f, "pmscan --watch: process %d, elapsed %.1f s, interval %.2f s\033[K\n",
		(int)w->pid, elapsed, interval);
	fprintf(f, "rate      %s/s   written %llu pages (%s) this interval\033[K\n", r,
		(unsigned long long)w->interval_pages, b);
	fprintf(f, "history   %s  peak %s/s\033[K\n", spark, peak);
	fprintf(f, "distinct  %llu pages (%s) since the watch began\033[K\n",
		(unsigned long long)w->seen.pages, d);
	/* The top line is cut to the terminal's width: a wrapped line would
	   break the redraw of the five lines in place. */
	size_t need = 64;
	for (size_t i = 0; i < n && i < TOP; i++)
		need += strlen(w->labels[idx[i]].name) * 4 + 32;
	struct scratch line;
	int cols = terminal_width();
	scratch_init(&line, need);
	ob_puts(&line.ob, "top      ");
	for (size_t i = 0; i < n && i < TOP; i++) {
		const char *name = w->labels[idx[i]].name;
		ob_putc(&line.ob, ' ');
		esc_text(&line.ob, name, strlen(name), false);
		ob_putc(&line.ob, ' ');
		ob_u64(&line.ob, w->labels[idx[i]].interval);
	}
	if (!n)
		ob_puts(&line.ob, " -");
	if (cols > 1)
		ob_fit(&line.ob, 0, cols - 1);
	fwrite(line.ob.p, 1, line.ob.len, f);
	free(line.ob.p);
	fputs("\033[K\n", f);
	w->drawn = 5;
	free(idx);
}

/* ---- OpenMetrics: one exposition per interval ----------------------------- */

enum om_value { OM_PAGES, OM_BYTES, OM_RATE, OM_WSS_PAGES, OM_WSS_BYTES };

/* The families, each given per process (pmscan_NAME) and per mapping
   (pmscan_mapping_NAME): two families, so that sum() over one never counts
   a page twice. Counters end in _total; units end the names. */
static const struct om_family {
	const char *name, *type, *unit, *help;
	enum om_value v;
} om_families[] = {
	{ "written_pages", "counter", NULL,
	  "Pages written since the watch began, summed over its intervals (a page written "
	  "in n intervals counts n times)", OM_PAGES },
	{ "written_bytes", "counter", "bytes",
	  "Bytes written since the watch began (written pages times the page size)", OM_BYTES },
	{ "write_rate_bytes_per_second", "gauge", "bytes_per_second",
	  "Bytes written per second over the last interval", OM_RATE },
	{ "written_working_set_pages", "gauge", NULL,
	  "Distinct pages written since the watch began", OM_WSS_PAGES },
	{ "written_working_set_bytes", "gauge", "bytes",
	  "Distinct pages written since the watch began, in bytes", OM_WSS_BYTES },
};

#define OM_NFAMILIES (sizeof(om_families) / sizeof(om_families[0]))

/* One mapping series: its label value escaped (in a scratch buffer) and the
   counts of every mapping name that escapes to it. */
struct om_series {
	size_t off, len;
	uint64_t interval, total, distinct;
};

static int om_by_label(const void *a, const void *b, void *arg)
{
	const char *buf = arg;
	const struct om_series *x = a, *y = b;
	int c = memcmp(buf + x->off, buf + y->off, x->len < y->len ? x->len : y->len);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The process's name now (exec changes it), or the last one read. */
static void om_read_comm(struct watch *w)
{
	char buf[sizeof(w->comm)];

	if (proc_comm(w->pid, buf, sizeof(buf)))
		memcpy(w->comm, buf, sizeof(buf));
}

/* One metadata line: "# KIND PREFIXNAME TEXT[EXTRA]". */
static void om_meta_line(struct obuf *o, const char *kind, const char *pre, const char *name,
			 const char *text, const char *extra)
{
	ob_puts(o, kind);
	ob_puts(o, pre);
	ob_puts(o, name);
	ob_putc(o, ' ');
	ob_puts(o, text);
	if (extra)
		ob_puts(o, extra);
	ob_putc(o, '\n');
}

static void om_meta(struct obuf *o, const struct om_family *f, bool mapping)
{
	const char *pre = mapping ? "pmscan_mapping_" : "pmscan_";

	om_meta_line(o, "# HELP ", pre, f->name, f->help,
		     mapping ? ", per mapping (the mappings of one name together)" : NULL);
	om_meta_line(o, "# TYPE ", pre, f->name, f->type, NULL);
	if (f->unit)
		om_meta_line(o, "# UNIT ", pre, f->name, f->unit, NULL);
}

/* A sample line: NAME[_total]{LABELS[,mapping=VALUE]} VALUE; labels
   without the closing brace, mapping (escaped) NULL for the process. */
static void om_sample(struct watch *w, const struct om_family *f, const struct obuf *labels,
		      const char *mapping, size_t mapping_len, uint64_t interval, uint64_t total,
		      uint64_t distinct, double secs)
{
	struct obuf *o = &w->ob;

	ob_puts(o, mapping ? "pmscan_mapping_" : "pmscan_");
	ob_puts(o, f->name);
	if (!strcmp(f->type, "counter"))
		ob_puts(o, "_total");
	ob_write(o, labels->p, labels->len);
	if (mapping) {
		ob_write(o, ",mapping=", 9);
		ob_write(o, mapping, mapping_len);
	}
	ob_write(o, "} ", 2);
	switch (f->v) {
	case OM_PAGES: ob_u64(o, total); break;
	case OM_BYTES: ob_u64(o, total * w->ps); break;
	case OM_RATE:
		ob_u64(o, secs > 0 ? (uint64_t)((double)(interval * w->ps) / secs + 0.5) : 0);
		break;
	case OM_WSS_PAGES: ob_u64(o, distinct); break;
	case OM_WSS_BYTES: ob_u64(o, distinct * w->ps); break;
	}
	ob_putc(o, '\n');
}

/* One whole exposition, ending in # EOF: the process's families, then the
   mappings written since the watch began, in the order of their names. */
static void report_om(struct watch *w, double secs)
{
	struct obuf *o = &w->ob, lab = { .f = NULL }, names = { .f = NULL };
	char labbuf[64 + 3 * sizeof(w->comm)];
	struct om_series *ser;
	size_t n = 0, cap = 1;

	om_read_comm(w);
	if (!w->wall_start) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		w->wall_start = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - (now() - w->start);
	}
	/* {pid="N",comm="..." : every sample's labels begin so */
	lab.p = labbuf;
	lab.cap = sizeof(labbuf);
	ob_puts(&lab, "{pid=\"");
	ob_u64(&lab, (uint64_t)w->pid);
	ob_puts(&lab, "\",comm=");
	esc_om(&lab, w->comm, strlen(w->comm));

	/* The mapping series, merged where names escape alike. */
	for (size_t i = 0; i < w->nlabels; i++)
		if (w->labels[i].total)
			cap += strlen(w->labels[i].name) * 3 + 2;
	ser = malloc((w->nlabels + 1) * sizeof(*ser));
	names.p = malloc(cap);
	names.cap = cap;
	if (!ser || !names.p)
		err(EXIT_SCAN_FAILED, "out of memory");
	for (size_t i = 0; i < w->nlabels; i++) {
		const struct label *l = &w->labels[i];
		if (!l->total)
			continue;
		ser[n] = (struct om_series){ .off = names.len, .interval = l->interval,
					     .total = l->total, .distinct = l->distinct };
		esc_om(&names, l->name, strlen(l->name));
		ser[n].len = names.len - ser[n].off;
		n++;
	}
	qsort_r(ser, n, sizeof(*ser), om_by_label, names.p);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && !om_by_label(&ser[m - 1], &ser[i], names.p)) {
			ser[m - 1].interval += ser[i].interval;
			ser[m - 1].total += ser[i].total;
			ser[m - 1].distinct += ser[i].distinct;
		} else {
			ser[m++] = ser[i];
		}
	}

	for (size_t f = 0; f < OM_NFAMILIES; f++) {
		om_meta(o, &om_families[f], false);
		om_sample(w, &om_families[f], &lab, NULL, 0, w->interval_pages, w->total_pages,
			  w->seen.pages, secs);
	}
	ob_puts(o, "# HELP pmscan_interval_seconds Length of the last interval\n"
		   "# TYPE pmscan_interval_seconds gauge\n"
		   "# UNIT pmscan_interval_seconds seconds\n"
		   "pmscan_interval_seconds");
	ob_write(o, lab.p, lab.len);
	ob_write(o, "} ", 2);
	ob_fixed(o, secs, 6);
	ob_puts(o, "\n# HELP pmscan_watch_start_time_seconds Start of the watch (the counters' "
		   "zero), seconds since the Unix epoch\n"
		   "# TYPE pmscan_watch_start_time_seconds gauge\n"
		   "# UNIT pmscan_watch_start_time_seconds seconds\n"
		   "pmscan_watch_start_time_seconds");
	ob_write(o, lab.p, lab.len);
	ob_write(o, "} ", 2);
	ob_fixed(o, w->wall_start, 3);
	ob_putc(o, '\n');
	for (size_t f = 0; f < OM_NFAMILIES; f++) {
		om_meta(o, &om_families[f], true);
		for (size_t i = 0; i < m; i++)
			om_sample(w, &om_families[f], &lab, names.p + ser[i].off, ser[i].len,
				  ser[i].interval, ser[i].total, ser[i].distinct, secs);
	}
	ob_puts(o, "# EOF\n");
	ob_flush(o);
	free(ser);
	free(names.p);
}

static void report(struct watch *w, double t)
{
	double elapsed = t - w->start, interval = t - w->last;
	double rate = interval > 0 ? (double)(w->interval_pages * w->ps) / interval : 0;
	FILE *f = stdout;

	w->last = t;
	w->intervals++;
	w->total_pages += w->interval_pages;
	/* A short last interval (the process exiting) would inflate the peak. */
	if (rate > w->peak_rate && interval >= w->o->interval / 2)
		w->peak_rate = rate;
	if (w->nhist == HISTORY)
		memmove(w->history, w->history + 1, (HISTORY - 1) * sizeof(double));
	else
		w->nhist++;
	w->history[w->nhist - 1] = rate;

	if (w->o->openmetrics) {
		report_om(w, interval);
	} else if (w->tty) {
		report_tty(w, elapsed, interval, rate);
	} else {
		struct cell c[W_NCOLS];
		struct scratch sc;
		size_t *idx;
		size_t n = ranked(w, &idx, by_interval, false);
		bool json = w->o->json;

		size_t room = 64;

		/* a name is unbounded (a path deeper than PATH_MAX shows whole
		   in the maps): each one's worst escape, \u00XX for every byte */
		for (size_t i = 0; i < n && i < TOP; i++)
			room += strlen(w->labels[idx[i]].name) * 6 + 64;
		scratch_init(&sc, room);
		if (json)
			ob_putc(&sc.ob, '[');
		mappings_cell(w, &sc.ob, idx, n < TOP ? n : TOP, false, json);
		if (json)
			ob_putc(&sc.ob, ']');
		c[W_PID] = (struct cell){ .kind = CELL_U64, .u = (uint64_t)w->pid };
		c[W_ELAPSED] = (struct cell){ .kind = CELL_FIXED, .d = elapsed, .prec = 3 };
		c[W_INTERVAL] = (struct cell){ .kind = CELL_FIXED, .d = interval, .prec = 3 };
		c[W_PAGES] = (struct cell){ .kind = CELL_U64, .u = w->interval_pages };
		/* sizes as in every table: human-readable unless -b, JSON bytes */
		c[W_BYTES] = (struct cell){ .kind = CELL_SIZE, .u = w->interval_pages * w->ps };
		c[W_RATE] = (struct cell){ .kind = CELL_SIZE, .u = (uint64_t)(rate + 0.5) };
		c[W_DISTINCT] = (struct cell){ .kind = CELL_U64, .u = w->seen.pages };
		c[W_TOP] = n ? (struct cell){ .kind = CELL_STR, .s = w->labels[idx[0]].name } :
			       (struct cell){ .kind = CELL_NONE };
		c[W_MAPPINGS] = (struct cell){ .kind = CELL_RAWJSON, .s = sc.ob.p, .len = sc.ob.len,
					       .text = sc.ob.len ? sc.ob.p : "-",
					       .text_len = sc.ob.len ? sc.ob.len : 1 };
		if (w->intervals == 1)
			table_header(&w->rows);	/* JSON: none */
		table_row(&w->rows, c);
		free(sc.ob.p);
		free(idx);
		ob_flush(&w->ob);
	}
	fflush(f);
}

static void summary(struct watch *w, double t)
{
	double elapsed = t - w->start;
	double mean = elapsed > 0 ? (double)(w->total_pages * w->ps) / elapsed : 0;
	size_t *idx;
	size_t n = ranked(w, &idx, by_total, true);
	char tb[24], db[24], pk[24], mn[24];
	struct obuf *o = &w->ob;
	FILE *f = stdout;

	if (w->o->openmetrics) {
		/* The last exposition holds the totals; one with zeros if none was
		   written, so that the output is never empty. */
		if (!w->intervals) {
			w->interval_pages = 0;
			for (size_t i = 0; i < w->nlabels; i++)
				w->labels[i].interval = 0;
			report_om(w, elapsed);
		}
	} else if (w->o->json) {
		ob_puts(o, "{\"summary\":true,\"pid\":");
		ob_u64(o, (uint64_t)w->pid);
		ob_puts(o, ",\"elapsed_s\":");
		ob_fixed(o, elapsed, 3);
		ob_puts(o, ",\"intervals\":");
		ob_u64(o, w->intervals);
		ob_puts(o, ",\"written_pages\":");
		ob_u64(o, w->total_pages);
		ob_puts(o, ",\"written_bytes\":");
		ob_u64(o, w->total_pages * w->ps);
		ob_puts(o, ",\"peak_rate_bytes_per_s\":");
		ob_u64(o, (uint64_t)(w->peak_rate + 0.5));
		ob_puts(o, ",\"mean_rate_bytes_per_s\":");
		ob_u64(o, (uint64_t)(mean + 0.5));
		ob_puts(o, ",\"distinct_pages\":");
		ob_u64(o, w->seen.pages);
		ob_puts(o, ",\"distinct_bytes\":");
		ob_u64(o, w->seen.pages * w->ps);
		ob_puts(o, ",\"mappings\":[");
		mappings_cell(w, o, idx, n, true, true);
		ob_putc(o, ']');
		ob_puts(o, ",\"exit_status\":");
		if (w->launched && !w->left_running)
			ob_u64(o, (uint64_t)w->exit_status);
		else
			ob_puts(o, "null");
		ob_puts(o, w->left_running ? ",\"command_left_running\":true}\n" :
			",\"command_left_running\":false}\n");
		ob_flush(o);
	} else {
		format_size_as(w->total_pages * w->ps, w->o->bytes, tb, sizeof(tb));
		format_size_as(w->seen.pages * w->ps, w->o->bytes, db, sizeof(db));
		format_size_as((uint64_t)w->peak_rate, w->o->bytes, pk, sizeof(pk));
		format_size_as((uint64_t)mean, w->o->bytes, mn, sizeof(mn));
		ob_flush(o);
		fprintf(f, "%ssummary: process %d watched for %.2f s (%llu intervals)\n",
			w->tty ? "\n" : "", (int)w->pid, elapsed, (unsigned long long)w->intervals);
		fprintf(f, "written: %llu pages (%s); peak rate %s/s; mean rate %s/s\n",
			(unsigned long long)w->total_pages, tb, pk, mn);
		fprintf(f, "distinct pages written: %llu (%s)\n", (unsigned long long)w->seen.pages, db);
		if (n) {
			struct cell c[M_NCOLS];
			fputs("per mapping:\n", f);
			table_header(&w->per_mapping);
			for (size_t i = 0; i < n; i++) {
				c[M_PAGES] = (struct cell){ .kind = CELL_U64, .u = w->labels[idx[i]].total };
				c[M_SIZE] = (struct cell){ .kind = CELL_SIZE, .u = w->labels[idx[i]].total * w->ps };
				c[M_DISTINCT] = (struct cell){ .kind = CELL_U64, .u = w->labels[idx[i]].distinct };
				c[M_MAPPING] = (struct cell){ .kind = CELL_STR, .s = w->labels[idx[i]].name };
				table_row(&w->per_mapping, c);
			}
			ob_flush(o);
		}
		if (w->left_running)
			fprintf(f, "command left running: process %d (untraced, not tracked)\n", (int)w->pid);
		else if (w->launched)
			fprintf(f, "exit status: %d\n", w->exit_status);
	}
	free(idx);
	fflush(f);
}

/* ---- the process: attached by pid, or launched ------------------------- */

static int open_target(struct watch *w)
{
	/* the scan belongs to the handle it replaces */
	pmscan_scan_free(w->s);
	w->s = NULL;
	pmscan_target_close(w->t);
	w->t = pmscan_target_open(w->pid);
	if (!w->t) {
		int e = errno;
		char hint[256];
		if (e == EPERM || e == EACCES) {
			privilege_hint(w->pid, e, hint, sizeof(hint));
			warnx("cannot open process %d: %s", (int)w->pid, hint);
		} else {
			warnx("cannot open process %d: %s", (int)w->pid, strerror(e));
		}
		return -1;
	}
	pmscan_target_set_tracker(w->t, w->o->tracker);	/* checked by check_kernel */
	if (w->o->timeout_ms)
		pmscan_target_set_timeout(w->t, w->o->timeout_ms);
	if (w->o->pt_budget_set)
		pmscan_target_set_page_table_budget(w->t, w->o->pt_budget);
	return 0;
}

static int arm_now(struct watch *w, bool *armed)
{
	int r = pmscan_arm(w->t, NULL, 0, NULL, NULL, NULL);

	if (r < 0) {
		int e = errno;
		const char *why = pmscan_target_error(w->t);
		char hint[256];
		if ((e == EPERM || e == EACCES) && !strstr(why, "seccomp")) {
			privilege_hint(w->pid, e, hint, sizeof(hint));
			warnx("cannot arm process %d: %s", (int)w->pid, hint);
		} else {
			warnx("cannot arm process %d: %s%s%s", (int)w->pid, why, why[0] ? ": " : "",
			      strerror(e));
		}
		return -1;
	}
	*armed = r == 1;
	return new_scan(w) < 0 ? (warn("cannot set up the scan"), -1) : 0;
}

/* Start the command traced, stopped at its first instruction after exec. */
static int launch(struct watch *w)
{
	pid_t pid = remote_spawn(w->o->command);

	if (pid < 0) {
		warnx("cannot run '%s': %s", w->o->command[0], strerror((int)-pid));
		return pid == -ENOENT ? -127 : -126;
	}
	w->pid = pid;
	w->launched = true;
	return 0;
}

/* Arm through the stopped tracee (at an exec), then let it run. */
static int arm_traced(struct watch *w)
{
	bool armed;

	if (open_target(w) < 0 || arm_now(w, &armed) < 0)
		return -1;
	return 0;
}

static int wait_status_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Deal with the launched command's stops (signals and job control pass
   through untouched). Returns 1 when it ended (exit status stored), 0
   otherwise, -1 on error. */
static int handle_child(struct watch *w)
{
	int status;

	for (;;) {
		int ev = remote_poll(w->pid, &status);
		switch (ev) {
		case REMOTE_RUNNING:
			return 0;
		case REMOTE_ENDED:
			w->exit_status = wait_status_code(status);
			return 1;
		case REMOTE_EXITING:
			/* Its memory is still there: count the last partial interval. */
			if (sample(w) == 0)
				report(w, now());
			w->exit_reported = true;
			remote_resume(w->pid);
			break;
		case REMOTE_EXEC:
			/* A new image (a shell's exec, env, a shim): the tracker
			   closed with the old one; arm the new one and go on. */
			if (arm_traced(w) < 0) {
				remote_resume(w->pid);
				return -1;
			}
			w->execs++;
			remote_resume(w->pid);
			break;
		default:
			return ev == -EINTR ? 0 : -1;
		}
	}
}

static void cannot_follow(const struct watch *w)
{
	warnx("process %d: cannot follow it (%s): it goes on unwatched", (int)w->pid,
	      w->t && pmscan_target_error(w->t)[0] ? pmscan_target_error(w->t) : strerror(errno));
}

/* A launched command whose memory a scan found gone: its exec stop or its
   end is on its way to waitpid; wait for one (bounded: 1 s), so that its
   exit status is the one reaped, never assumed. As handle_child returns. */
static int settle_child(struct watch *w)
{
	const struct timespec nap = { 0, 1000000 };
	unsigned execs = w->execs;

	for (int i = 0; i < 1000; i++) {
		int r = handle_child(w);
		if (r != 0 || w->execs != execs)
			return r;
		nanosleep(&nap, NULL);
	}
	return 0;
}

/* A process watched by pid that the scan found alive with its memory
   gone: it ran execve(2), and its tracker went with the old image. Armed
   again here (what it wrote between the exec and this is not seen).
   0: the watch goes on; -ESRCH: the process is gone; -1: error, said. */
static int after_exec(struct watch *w, int pidfd, bool *armed_by_us)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	bool armed;

	/* what pmscan armed went with the old image */
	*armed_by_us = false;
	if (open_target(w) < 0)
		return errno == ESRCH ? -ESRCH : -1;
	/* the pid still names the process watched from the start */
	if (pidfd < 0 || poll(&p, 1, 0) != 0)
		return -ESRCH;
	if (arm_now(w, &armed) < 0)
		return -1;
	*armed_by_us = armed;
	warnx("process %d ran execve(2): its new image is armed and watched from here", (int)w->pid);
	return 0;
}

int watch_main(const struct options *o)
{
	struct watch w = { .o = o, .ps = (uint64_t)sysconf(_SC_PAGESIZE) };
	bool armed_by_us = false, ended = false;
	int status = EXIT_OK, pidfd = -1;
	sigset_t block, orig;

	w.pid = o->pid;
	output_init(&w);
	if (o->command) {
		int r = launch(&w);
		if (r < 0)
			return r < -1 ? -r : EXIT_SCAN_FAILED;
		if (arm_traced(&w) < 0) {
			/* It has not run an instruction of its own yet. */
			kill(w.pid, SIGKILL);
			waitpid(w.pid, NULL, __WALL);
			return EXIT_SCAN_FAILED;
		}
	} else {
		if (open_target(&w) < 0 || arm_now(&w, &armed_by_us) < 0)
			return EXIT_SCAN_FAILED;
		/* Start clean: what was written before the watch is not counted. */
		if (sample(&w) < 0) {
			warnx("process %d: %s", (int)w.pid, strerror(errno));
			return EXIT_SCAN_FAILED;
		}
		for (size_t i = 0; i < w.nlabels; i++)
			w.labels[i].total = w.labels[i].distinct = 0;
		free(w.seen.t);
		memset(&w.seen, 0, sizeof(w.seen));
		pidfd = pidfd_open(w.pid, 0);
	}
	if (o->command)
		remote_resume(w.pid);

	/* Signals arrive only inside ppoll, so none is missed between checks. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &orig);
	struct sigaction sa = { .sa_handler = on_signal }, sc = { .sa_handler = on_child };
	if (!o->command) {
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	} else {
		/* Ctrl-C goes to the command; pmscan watches it to its end. */
		signal(SIGINT, SIG_IGN);
		sigaction(SIGCHLD, &sc, NULL);
	}

	w.start = w.last = now();
	double next = w.start + o->interval;
	while (!ended) {
		double t = now();
		if (t < next && !interrupted) {
			struct pollfd p = { .fd = pidfd, .events = POLLIN };
			struct timespec ts = { (time_t)(next - t), (long)((next - t - floor(next - t)) * 1e9) };
			sigset_t wait_mask = orig;
			sigdelset(&wait_mask, SIGINT);
			sigdelset(&wait_mask, SIGTERM);
			sigdelset(&wait_mask, SIGCHLD);
			int pr = ppoll(pidfd >= 0 ? &p : NULL, pidfd >= 0 ? 1 : 0, &ts, &wait_mask);
			if (pr > 0 && (p.revents & (POLLIN | POLLHUP)))
				ended = true;
		}
		if (o->command) {
			int r = handle_child(&w);
			if (r < 0) {
				cannot_follow(&w);
				status = EXIT_SCAN_FAILED;
				break;
			}
			if (r > 0) {
				ended = true;
				break;
			}
		}
		if (ended)
			break;
		if (interrupted) {
			if (sample(&w) == 0)
				report(&w, now());
			break;
		}
		t = now();
		if (t >= next) {
			int r = sample(&w);
			if (r == -ESRCH && o->command) {
				/* exec'd or ended: handle_child knows which */
				r = settle_child(&w);
				if (r > 0) {
					ended = true;
					break;
				}
				if (r < 0) {
					cannot_follow(&w);
					status = EXIT_SCAN_FAILED;
					break;
				}
				next = now() + o->interval;
				continue;
			}
			if (r == -ESRCH && pmscan_target_alive(w.t) == 1) {
				/* an execve(2): no interval to report; the next
				   one spans both (each interval states its length) */
				r = after_exec(&w, pidfd, &armed_by_us);
				if (r == 0) {
					next = now() + o->interval;
					continue;
				}
				if (r == -1) {
					/* said: it could not be opened or armed */
					status = EXIT_SCAN_FAILED;
					break;
				}
			}
			if (r == -ESRCH) {
				ended = true;
				break;
			}
			if (r < 0) {
				warnx("scanning process %d failed: %s", (int)w.pid, strerror(-r));
				status = EXIT_SCAN_FAILED;
				break;
			}
			double done = now();
			report(&w, done);
			/* A scan longer than the interval must not squeeze the next
			   one: the next sample is a whole interval after this one. */
			next += o->interval;
			if (next < done)
				next = done + o->interval;
			if (o->count && w.intervals >= o->count)
				break;
		}
	}
	if (o->command && !ended) {
		/* --count reached, or an error: the command goes on as if never
		   watched: untraced, disarmed, running; pmscan does not wait. */
		int r = remote_release(w.pid);
		if (r < 0)
			warnx("warning: could not detach from process %d: %s", (int)w.pid, strerror(-r));
		else if (w.t && pmscan_disarm(w.t) < 0)
			warnx("warning: could not disarm process %d: %s", (int)w.pid, strerror(errno));
		w.left_running = true;
	}
	if (armed_by_us && w.t && pmscan_target_alive(w.t) == 1 && pmscan_disarm(w.t) < 0)
		warnx("warning: could not disarm process %d: %s", (int)w.pid, strerror(errno));
	summary(&w, now());
	ob_free(&w.ob);
	sigprocmask(SIG_SETMASK, &orig, NULL);
	if (pidfd >= 0)
		close(pidfd);
	pmscan_scan_free(w.s);
	pmscan_target_close(w.t);
	for (size_t i = 0; i < w.nlabels; i++)
		free(w.labels[i].name);
	free(w.labels);
	free(w.hash);
	free(w.seen.t);
	if (o->command && status == EXIT_OK && !w.left_running)
		return w.exit_status;
	return status;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Command-line options (glibc argp) into struct options.
 */
#include "out.h"

#include <argp.h>
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *argp_program_version = PACKAGE_STRING;
const char *argp_program_bug_address = PACKAGE_BUGREPORT;

enum {
	OPT_REQUIRE = 256, OPT_ANYOF, OPT_EXCLUDE, OPT_RETURN,
	OPT_PRESENT, OPT_SWAPPED, OPT_FILE, OPT_PFNZERO, OPT_HUGE,
	OPT_SOFT_DIRTY, OPT_GUARD, OPT_WP, OPT_CHECK_WPASYNC, OPT_LIST_CATEGORIES,
	OPT_ARM, OPT_DISARM, OPT_NO_REARM, OPT_WATCH, OPT_COUNT, OPT_ENGINE, OPT_TIMEOUT, OPT_MAX_PAGE_TABLES,
	OPT_TRACKER, OPT_CGROUP, OPT_LIST_COLUMNS, OPT_FORMAT, OPT_OPENMETRICS,
};

static const struct argp_option option_table[] = {
	{ NULL, 0, NULL, 0, "Target:", 1 },
	{ "pid", 'p', "PID[,PID...]", 0, "process to scan (repeatable, or a list)", 1 },
	{ "cgroup", OPT_CGROUP, "DIR", 0,
	  "every process of the cgroup v2 directory DIR (a path, or relative to /sys/fs/cgroup)", 1 },

	{ NULL, 0, NULL, 0, "Selection (LIST: comma-separated category names or numeric masks):", 2 },
	{ "require", OPT_REQUIRE, "LIST", 0, "pages must have every category in LIST", 2 },
	{ "anyof", OPT_ANYOF, "LIST", 0, "pages must have at least one category in LIST", 2 },
	{ "exclude", OPT_EXCLUDE, "LIST", 0, "pages with any category in LIST are skipped", 2 },
	{ "return", OPT_RETURN, "LIST", 0,
	  "categories to report (default: those named in the selection, or all)", 2 },
	{ "written", 'w', NULL, 0, "same as --require=written", 2 },
	{ "present", OPT_PRESENT, NULL, 0, "same as --require=present", 2 },
	{ "swapped", OPT_SWAPPED, NULL, 0, "same as --require=swapped", 2 },
	{ "file", OPT_FILE, NULL, 0, "same as --require=file", 2 },
	{ "pfnzero", OPT_PFNZERO, NULL, 0, "same as --require=pfnzero", 2 },
	{ "huge", OPT_HUGE, NULL, 0, "same as --require=huge", 2 },
	{ "soft-dirty", OPT_SOFT_DIRTY, NULL, 0, "same as --require=soft-dirty", 2 },
	{ "guard", OPT_GUARD, NULL, 0, "same as --require=guard", 2 },

	{ NULL, 0, NULL, 0, "Scope and actions:", 3 },
	{ "range", 'A', "RANGE", 0,
	  "scan only START-END (hex, as in /proc/PID/maps) or START+LENGTH "
	  "(LENGTH with K, M, G); repeatable", 3 },
	{ "max-pages", 'm', "N", 0, "report at most N pages in total", 3 },
	{ "wp", OPT_WP, NULL, 0,
	  "write-protect the written pages reported (reset them); implies --written", 3 },
	{ "check-wpasync", OPT_CHECK_WPASYNC, NULL, 0,
	  "fail if a scanned mapping is not tracked for writes", 3 },
	{ "engine", OPT_ENGINE, "ENGINE", 0,
	  "how to read page states: ioctl (PAGEMAP_SCAN, Linux 6.7+), read (/proc/PID/pagemap, "
	  "any kernel; cannot --wp), or auto (default: ioctl where the kernel has it)", 3 },

	{ NULL, 0, NULL, 0, "Write tracking:", 4 },
	{ "arm", OPT_ARM, NULL, 0,
	  "start tracking writes in the process (with --range: in those ranges) and exit; "
	  "tracking stays on", 4 },
	{ "disarm", OPT_DISARM, NULL, 0,
	  "stop tracking writes; the process is left as it was before --arm", 4 },
	{ "tracker", OPT_TRACKER, "TRACKER", 0,
	  "what 'written' means and how --arm and --wp reset it: uffd (userfaultfd async "
	  "write-protect, Linux 6.7+), soft-dirty (the kernel's soft-dirty bit, reset with "
	  "/proc/PID/clear_refs: whole process, no ptrace), or auto (default: uffd where the "
	  "kernel has it, else soft-dirty)", 4 },
	{ "no-rearm", OPT_NO_REARM, NULL, 0,
	  "do not register mappings created since --arm before scanning", 4 },
	{ "max-page-tables", OPT_MAX_PAGE_TABLES, "SIZE", 0,
	  "page tables arming may add to the process (default 64M; K, M, G); a shared mapping "
	  "that would need more is left untracked", 4 },
	{ "timeout", OPT_TIMEOUT, "SECONDS", 0,
	  "wait at most SECONDS (default 3, fractions allowed) for the process to stop when "
	  "arming or disarming it; a process that does not stop in time is left untouched", 4 },

	{ "watch", OPT_WATCH, "SECONDS", OPTION_ARG_OPTIONAL,
	  "every SECONDS (default 1, fractions allowed) report the pages written and the "
	  "write rate, live; with -- COMMAND [ARG...], start COMMAND tracked and watch it to its end", 4 },
	{ "count", OPT_COUNT, "N", 0, "stop --watch after N intervals (a COMMAND is then left running, untraced)", 4 },

	{ NULL, 0, NULL, 0, "Output:", 5 },
	{ "output", 'o', "LIST", 0,
	  "the columns to show (comma-separated, case-insensitive; +LIST adds to the defaults); "
	  "see --list-columns", 5 },
	{ "list-columns", OPT_LIST_COLUMNS, NULL, 0,
	  "list the columns of the mode given (scan, --summary, --watch, --list-categories) and exit", 5 },
	{ "json", 'J', NULL, 0, "JSON: one document (regions, or with --summary the summary); with --watch one object per interval", 5 },
	{ NULL, 'j', NULL, OPTION_ALIAS, NULL, 5 },
	{ "raw", 'r', NULL, 0,
	  "raw text: fields separated by one space, no alignment, unsafe characters (space "
	  "included) as \\xHH; nothing is cut", 5 },
	{ "format", OPT_FORMAT, "FORMAT", 0,
	  "text (the default), raw (--raw), json (--json), or openmetrics (--watch only: an "
	  "OpenMetrics exposition per interval, for Prometheus)", 5 },
	{ "openmetrics", OPT_OPENMETRICS, NULL, 0, "same as --format=openmetrics", 5 },
	{ "bytes", 'b', NULL, 0, "sizes in bytes rather than human-readable (1K, 1.5M ...)", 5 },
	{ "addresses", 'a', NULL, 0, "one page address per line", 5 },
	{ "summary", 's', NULL, 0, "pages per category per mapping, no region list", 5 },
	{ "noheadings", 'n', NULL, 0, "no header line and no totals line (text output)", 5 },
	{ "list-categories", OPT_LIST_CATEGORIES, NULL, 0,
	  "list the page categories, whether the running kernel knows each, and exit", 5 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

static const char doc[] =
	"Report which pages of a process are written, present, swapped, file-backed, "
	"zero, huge or guarded, using the kernel's PAGEMAP_SCAN ioctl (Linux 6.7+)."
	"\v"
	"Categories: wpallowed written file present swapped pfnzero huge soft-dirty "
	"guard accessed (those the running kernel knows).\n"
	"\n"
	"Written pages exist only in mappings tracked with userfaultfd async "
	"write-protect (--arm, or the process's own); in other mappings no page is "
	"reported written, and pmscan warns when the selection names 'written'. "
	"With --tracker=soft-dirty every mapping is tracked, and written means "
	"soft-dirty since the last reset (see TRACKING in pmscan(1)).\n"
	"\n"
	"Exit status:\n"
	"  0  success\n"
	"  1  the scan failed (no such process, permission, target gone, kernel error, "
	"write error)\n"
	"  2  usage error\n"
	"  3  the kernel lacks PAGEMAP_SCAN or a requested category\n"
	"\n"
	"Examples:\n"
	"  pmscan --arm -p 1234             start tracking writes in process 1234\n"
	"  pmscan -p 1234 --written --wp    what it wrote since the last call, and reset\n"
	"  pmscan --disarm -p 1234          stop tracking\n"
	"  pmscan --watch -p 1234           its write rate, every second\n"
	"  pmscan --watch=0.5 -- make -j8   the write rate of a command, to its end\n"
	"  pmscan --watch=15 --openmetrics -p 1234\n"
	"                                   its write rate as OpenMetrics, every 15 s";

/* The tracker --tracker names, AUTO resolved as the library does: uffd
   where it works, else soft-dirty; -1 when neither works. */
int resolved_tracker(const struct options *o)
{
	if (o->tracker != PMSCAN_TRACKER_AUTO)
		return o->tracker;
	if (!pmscan_tracker_unavailable(PMSCAN_TRACKER_UFFD))
		return PMSCAN_TRACKER_UFFD;
	if (!pmscan_tracker_unavailable(PMSCAN_TRACKER_SOFT_DIRTY))
		return PMSCAN_TRACKER_SOFT_DIRTY;
	return -1;
}

struct parse_state {
	struct options *o;
	bool pid_set;
	int modes;
	const char *format;	/* the output format option first given */
	uint64_t page_size;
};

static uint64_t parse_list(const char *arg, struct argp_state *state)
{
	uint64_t mask;
	const char *bad;
	size_t badlen;

	if (pmscan_categories_parse(arg, &mask, &bad, &badlen) < 0) {
		if (badlen == 0)
			argp_error(state, "empty category in list '%s'", arg);
		argp_error(state, "unknown category '%.*s'", (int)badlen, bad);
	}
	return mask;
}

static void set_mode(struct parse_state *ps, enum out_mode m)
{
	ps->o->mode = m;
	ps->modes++;
}

/* One output format per run: --json, --raw, --openmetrics or --format;
   the same one twice is fine. */
static void set_format(struct parse_state *ps, const char *name, bool json, bool raw, bool om,
		       struct argp_state *state)
{
	struct options *o = ps->o;

	if (ps->format && (o->json != json || o->raw != raw || o->openmetrics != om))
		argp_error(state, "%s and %s exclude each other", ps->format, name);
	if (!ps->format)
		ps->format = name;
	o->json = json;
	o->raw = raw;
	o->openmetrics = om;
}

static void add_pid(struct options *o, pid_t pid, struct argp_state *state)
{
	pid_t *n;

	for (size_t i = 0; i < o->npids; i++)
		if (o->pids[i] == pid)
			return;
	n = realloc(o->pids, (o->npids + 1) * sizeof(*n));
	if (!n)
		argp_failure(state, EXIT_SCAN_FAILED, errno, "out of memory");
	o->pids = n;
	o->pids[o->npids++] = pid;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	struct options *o = ps->o;
	uint64_t v;

	switch (key) {
	case 'p':
		for (const char *p = arg;;) {
			size_t len = strcspn(p, ",");
			char one[24];
			pid_t pid;
			if (len == 0 || len >= sizeof(one))
				argp_error(state, "invalid pid '%.*s'", (int)(len ? len : strlen(arg)),
					   len ? p : arg);
			memcpy(one, p, len);
			one[len] = '\0';
			if (parse_pid(one, &pid))
				argp_error(state, "invalid pid '%s'", one);
			add_pid(o, pid, state);
			if (!p[len])
				break;
			p += len + 1;
		}
		ps->pid_set = true;
		break;
	case OPT_CGROUP:
		if (o->cgroup)
			argp_error(state, "--cgroup given twice");
		o->cgroup = arg;
		ps->pid_set = true;
		break;
	case 'o': o->columns = arg; break;
	case OPT_LIST_COLUMNS: o->list_columns = true; break;
	case 'b': o->bytes = true; break;
	case OPT_REQUIRE: o->require |= parse_list(arg, state); break;
	case OPT_ANYOF: o->anyof |= parse_list(arg, state); break;
	case OPT_EXCLUDE: o->exclude |= parse_list(arg, state); break;
	case OPT_RETURN:
		o->ret |= parse_list(arg, state);
		o->ret_set = true;
		break;
	case 'w': o->require |= PMSCAN_WRITTEN; break;
	case OPT_PRESENT: o->require |= PMSCAN_PRESENT; break;
	case OPT_SWAPPED: o->require |= PMSCAN_SWAPPED; break;
	case OPT_FILE: o->require |= PMSCAN_FILE; break;
	case OPT_PFNZERO: o->require |= PMSCAN_PFNZERO; break;
	case OPT_HUGE: o->require |= PMSCAN_HUGE; break;
	case OPT_SOFT_DIRTY: o->require |= PMSCAN_SOFT_DIRTY; break;
	case OPT_GUARD: o->require |= PMSCAN_GUARD; break;
	case 'A': {
		struct pmscan_range r;
		bool rounded;
		if (parse_range(arg, ps->page_size, &r, &rounded))
			argp_error(state, "invalid range '%s'", arg);
		if (rounded)
			fprintf(stderr, "%s: range '%s' rounded out to whole pages: 0x%llx-0x%llx\n",
				program_invocation_short_name, arg,
				(unsigned long long)r.start, (unsigned long long)r.end);
		struct pmscan_range *n = realloc(o->ranges, (o->nranges + 1) * sizeof(*n));
		if (!n)
			argp_failure(state, EXIT_SCAN_FAILED, errno, "out of memory");
		o->ranges = n;
		o->ranges[o->nranges++] = r;
		break;
	}
	case 'm':
		if (parse_u64(arg, &v) || v == 0)
			argp_error(state, "invalid page count '%s' (a number of pages, at least 1)", arg);
		o->max_pages = v;
		break;
	case OPT_WP: o->wp = true; break;
	case OPT_CHECK_WPASYNC: o->check_wpasync = true; break;
	case OPT_ENGINE:
		if (!strcmp(arg, "auto"))
			o->engine = PMSCAN_ENGINE_AUTO;
		else if (!strcmp(arg, "ioctl"))
			o->engine = PMSCAN_ENGINE_IOCTL;
		else if (!strcmp(arg, "read"))
			o->engine = PMSCAN_ENGINE_READ;
		else
			argp_error(state, "unknown engine '%s' (auto, ioctl or read)", arg);
		o->engine_set = true;
		break;
	case 'j':
	case 'J': set_format(ps, "--json", true, false, false, state); break;
	case 'r': set_format(ps, "--raw", false, true, false, state); break;
	case OPT_OPENMETRICS: set_format(ps, "--openmetrics", false, false, true, state); break;
	case OPT_FORMAT: {
		static const char *const names[] = { "--format=text", "--format=raw", "--format=json",
						     "--format=openmetrics" };
		static const char *const formats[] = { "text", "raw", "json", "openmetrics" };
		size_t f = 0;
		while (f < 4 && strcmp(arg, formats[f]))
			f++;
		if (f == 4)
			argp_error(state, "unknown format '%s' (text, raw, json or openmetrics)", arg);
		set_format(ps, names[f], f == 2, f == 1, f == 3, state);
		break;
	}
	case 'a': set_mode(ps, MODE_ADDRESSES); break;
	case 's': set_mode(ps, MODE_SUMMARY); break;
	case 'n': o->noheadings = true; break;
	case OPT_LIST_CATEGORIES: o->list_categories = true; break;
	case OPT_ARM: o->arm = true; break;
	case OPT_DISARM: o->disarm = true; break;
	case OPT_NO_REARM: o->no_rearm = true; break;
	case OPT_TRACKER:
		if (!strcmp(arg, "auto"))
			o->tracker = PMSCAN_TRACKER_AUTO;
		else if (!strcmp(arg, "uffd"))
			o->tracker = PMSCAN_TRACKER_UFFD;
		else if (!strcmp(arg, "soft-dirty") || !strcmp(arg, "soft_dirty"))
			o->tracker = PMSCAN_TRACKER_SOFT_DIRTY;
		else
			argp_error(state, "unknown tracker '%s' (auto, uffd or soft-dirty)", arg);
		break;
	case OPT_WATCH:
		o->watch = true;
		if (arg && (parse_seconds(arg, &o->interval) ||
			    !(o->interval >= 0.01 && o->interval <= 86400)))
			argp_error(state, "invalid interval '%s' (seconds, from 0.01 to 86400)", arg);
		break;
	case OPT_MAX_PAGE_TABLES:
		if (parse_size(arg, &v))
			argp_error(state, "invalid size '%s' (bytes, with K, M or G)", arg);
		o->pt_budget = v;
		o->pt_budget_set = true;
		break;
	case OPT_TIMEOUT: {
		double secs;
		if (parse_seconds(arg, &secs) || !(secs >= 0.001 && secs <= 3600))
			argp_error(state, "invalid timeout '%s' (seconds, from 0.001 to 3600)", arg);
		o->timeout_ms = (unsigned)(secs * 1000.0 + 0.5);
		break;
	}
	case OPT_COUNT:
		if (parse_u64(arg, &v) || v == 0)
			argp_error(state, "invalid count '%s' (a number of intervals, at least 1)", arg);
		o->count = v;
		break;
	case ARGP_KEY_ARGS:
		if (!o->watch)
			argp_error(state, "unexpected argument '%s'", state->argv[state->next]);
		o->command = state->argv + state->next;
		break;
	case ARGP_KEY_ARG:
		if (o->watch)
			return ARGP_ERR_UNKNOWN;	/* the command: taken whole by ARGP_KEY_ARGS */
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	case ARGP_KEY_END:
		if (o->openmetrics && !o->watch)
			argp_error(state, "%s goes with --watch", ps->format);
		if (o->openmetrics &&
		    (o->columns || o->bytes || o->noheadings || o->list_columns || o->list_categories))
			argp_error(state, "%s takes no --output, --bytes, --noheadings, --list-columns "
				   "or --list-categories", ps->format);
		if (o->list_categories || o->list_columns)
			break;
		if (o->watch) {
			if (ps->pid_set == !!o->command)
				argp_error(state, "--watch takes either -p PID or -- COMMAND [ARG...]");
			if (o->npids > 1 || o->cgroup)
				argp_error(state, "--watch watches one process");
			if (o->require || o->anyof || o->exclude || o->ret_set || o->wp || o->max_pages ||
			    o->check_wpasync || ps->modes || o->arm || o->disarm || o->engine_set)
				argp_error(state, "--watch takes only -p, --range, --count, --json, --format, "
					   "--noheadings, --no-rearm, --tracker, --timeout and --max-page-tables");
			if (o->nranges && resolved_tracker(o) == PMSCAN_TRACKER_SOFT_DIRTY)
				argp_error(state, "the soft-dirty tracker resets the whole process: --watch "
					   "takes no --range");
			break;
		}
		if (o->count)
			argp_error(state, "--count goes with --watch");
		if (!ps->pid_set)
			argp_error(state, "no process given (use -p PID)");
		if (ps->modes > 1)
			argp_error(state, "--addresses and --summary exclude each other");
		if ((o->json || o->raw || o->columns) && o->mode == MODE_ADDRESSES)
			argp_error(state, "--addresses takes no --json, --raw or --output");
		if (o->arm && o->disarm)
			argp_error(state, "--arm and --disarm exclude each other");
		if ((o->arm || o->disarm) &&
		    (o->require || o->anyof || o->exclude || o->ret_set || o->wp || o->max_pages ||
		     o->check_wpasync || ps->modes || o->json || o->engine_set))
			argp_error(state, "--%s takes only -p, --range, --tracker, --timeout and --max-page-tables", o->arm ? "arm" : "disarm");
		if (o->disarm && o->nranges)
			argp_error(state, "--disarm stops all tracking; it takes no --range");
		if (o->wp)
			o->require |= PMSCAN_WRITTEN;
		if (o->wp && o->engine == PMSCAN_ENGINE_READ &&
		    resolved_tracker(o) != PMSCAN_TRACKER_SOFT_DIRTY)
			argp_error(state, "--wp write-protects pages, which only the ioctl engine can do");
		/* clear_refs resets every page of the process at once. */
		if (o->tracker == PMSCAN_TRACKER_SOFT_DIRTY && (o->arm || o->wp) && o->nranges)
			argp_error(state, "--tracker=soft-dirty resets the whole process: --%s takes no "
				   "--range", o->arm ? "arm" : "wp");
		if (o->tracker == PMSCAN_TRACKER_SOFT_DIRTY && o->wp && o->max_pages)
			argp_error(state, "--tracker=soft-dirty resets the whole process: --wp takes no "
				   "--max-pages");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* The kernel has one inversion vector for all masks, so a category cannot
   be both wanted and excluded. */
static void check_contradictions(const struct options *o, struct argp_state *state)
{
	uint64_t both = (o->require | o->anyof) & o->exclude;
	char names[128];

	if (!both)
		return;
	pmscan_categories_format(both, names, sizeof(names));
	if (o->wp && (both & PMSCAN_WRITTEN))
		argp_error(state, "--wp resets written pages, so 'written' cannot be excluded");
	argp_error(state, "category '%s' is both wanted and excluded", names);
}

static error_t parse_opt_final(int key, char *arg, struct argp_state *state)
{
	error_t e = parse_opt(key, arg, state);

	if (key == ARGP_KEY_END)
		check_contradictions(((struct parse_state *)state->input)->o, state);
	return e;
}

/* --cgroup: the processes of a cgroup v2 directory, after those of -p. */
static void read_cgroup(struct options *o)
{
	char path[4096];
	size_t before = o->npids;
	unsigned long long v;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", o->cgroup);
	f = fopen(path, "re");
	/* A relative name: under the cgroup v2 mount, which a hybrid host has
	   at /sys/fs/cgroup/unified. */
	if (!f && errno == ENOENT && o->cgroup[0] != '/') {
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/cgroup.procs", o->cgroup);
		f = fopen(path, "re");
		if (!f && errno == ENOENT) {
			snprintf(path, sizeof(path), "/sys/fs/cgroup/unified/%s/cgroup.procs", o->cgroup);
			f = fopen(path, "re");
		}
	}
	if (!f)
		errx(EXIT_SCAN_FAILED, "cannot read the processes of cgroup '%s': %s", o->cgroup,
		     errno == ENOENT ? "no such cgroup v2 directory" : strerror(errno));
	while (fscanf(f, "%llu", &v) == 1) {
		bool seen = false;
		for (size_t i = 0; i < o->npids; i++)
			seen |= o->pids[i] == (pid_t)v;
		if (seen)
			continue;
		pid_t *n = realloc(o->pids, (o->npids + 1) * sizeof(*n));
		if (!n)
			err(EXIT_SCAN_FAILED, "out of memory");
		o->pids = n;
		o->pids[o->npids++] = (pid_t)v;
	}
	fclose(f);
	if (o->npids == before && !before)
		errx(EXIT_SCAN_FAILED, "cgroup '%s' has no processes", o->cgroup);
}

/* The column names of a table, from the table itself, into f. */
static void column_names(FILE *f, const char *title, const struct column *cols, size_t n)
{
	fprintf(f, "\n%s:", title);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s%s", i % 8 ? " " : "\n  ", cols[i].name,
			cols[i].flags & COL_DEFAULT ? "*" : "");
	fputc('\n', f);
}

/* --help ends with the columns each mode has (defaults starred): the same
   tables --list-columns and the output use. */
static char *help_filter(int key, const char *text, void *input)
{
	char *buf = NULL;
	size_t len = 0;
	size_t n;
	const struct column *cols;
	FILE *f;

	(void)input;
	if (key != ARGP_KEY_HELP_POST_DOC || !text)
		return (char *)text;
	f = open_memstream(&buf, &len);
	if (!f)
		return (char *)text;
	fputs(text, f);
	fputs("\n\nColumns for -o (* shown by default; --list-columns describes them):", f);
	cols = scan_columns(MODE_REGIONS, 0, &n);
	column_names(f, "regions", cols, n);
	cols = scan_columns(MODE_SUMMARY, PMSCAN_WRITTEN, &n);
	column_names(f, "--summary (category columns: those reported)", cols, n);
	cols = watch_columns(&n);
	column_names(f, "--watch", cols, n);
	if (fclose(f) != 0) {
		free(buf);
		return (char *)text;
	}
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	return buf;
}

void parse_options(int argc, char **argv, struct options *o)
{
	static const struct argp argp = {
		option_table, parse_opt_final,
		"-p PID[,PID...] [SELECTION] [OPTION...]\n--cgroup=DIR [SELECTION] [OPTION...]\n--watch[=SECONDS] -p PID [OPTION...]\n"
		"--watch[=SECONDS] [OPTION...] -- COMMAND [ARG...]", doc,
		NULL, help_filter, NULL,
	};
	struct parse_state ps = { .o = o, .page_size = (uint64_t)sysconf(_SC_PAGESIZE) };

	memset(o, 0, sizeof(*o));
	o->interval = 1.0;
	argp_err_exit_status = EXIT_USAGE;
	argp_parse(&argp, argc, argv, 0, NULL, &ps);
	if (!o->ret_set)
		o->ret = o->require | o->anyof;
	if (o->cgroup)
		read_cgroup(o);
	if (o->npids)
		o->pid = o->pids[0];
}

void free_options(struct options *o)
{
	free(o->ranges);
	o->ranges = NULL;
	free(o->pids);
	o->pids = NULL;
}

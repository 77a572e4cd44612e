/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pmscan: report the page states of a process (PAGEMAP_SCAN).
 * main() wires options, target, scan request and sink together, and is the
 * one place where an error becomes a message and an exit code.
 */
#include "out.h"

#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const category_help[PMSCAN_NCATEGORIES] = {
	"mapping registered for userfaultfd async write-protect",
	"written since last write-protected (tracked mappings only)",
	"file-backed or shared memory",
	"in RAM",
	"in swap (or a protected, never-populated page of a tracked mapping)",
	"mapped to the shared zero page",
	"part of a transparent or hugetlb huge page",
	"soft-dirty bit set (CONFIG_MEM_SOFT_DIRTY)",
	"guard region (MADV_GUARD_INSTALL)",
	"accessed since read-protected (userfaultfd read-protect mode)",
};

/* Whether the chosen engine can report each category here, and if not, why
   (the KERNEL column stays second: scripts read it). */
/* The engine a scan uses, as the library picks it: with the soft-dirty
   tracker, AUTO takes the ioctl only where it has SOFT_DIRTY (6.8+). */
static int scan_engine(const struct options *o)
{
	bool sd = resolved_tracker(o) == PMSCAN_TRACKER_SOFT_DIRTY;

	if (o->wp && !sd)
		return PMSCAN_ENGINE_IOCTL;
	if (o->engine != PMSCAN_ENGINE_AUTO)
		return o->engine;
	return pmscan_kernel_categories() &&
	       (!sd || (pmscan_kernel_categories() & PMSCAN_SOFT_DIRTY)) ?
	       PMSCAN_ENGINE_IOCTL : PMSCAN_ENGINE_READ;
}

/* What the scan's engine reports; with soft-dirty, 'written' where it
   reports soft-dirty. */
static uint64_t scan_known(const struct options *o)
{
	uint64_t known = pmscan_engine_categories(scan_engine(o));

	if (resolved_tracker(o) == PMSCAN_TRACKER_SOFT_DIRTY)
		known = (known & ~PMSCAN_WRITTEN) | ((known & PMSCAN_SOFT_DIRTY) ? PMSCAN_WRITTEN : 0);
	return known;
}

enum { LC_CATEGORY, LC_KERNEL, LC_MEANING, LC_REASON, LC_NCOLS };

static const struct column category_cols[LC_NCOLS] = {
	[LC_CATEGORY] = { "CATEGORY", "category", "string", 11, COL_DEFAULT, "the category's name" },
	[LC_KERNEL] = { "KERNEL", "kernel", "boolean", 6, COL_DEFAULT,
			"whether this kernel and engine can report it" },
	[LC_MEANING] = { "MEANING", "meaning", "string", 0, COL_DEFAULT | COL_TRUNC, "what it means" },
	[LC_REASON] = { "REASON", "reason", "string", 0, COL_DEFAULT,
			"why it cannot be reported here (text: -, JSON: null, when it can)" },
};

static const char *engine_name(int engine)
{
	return engine == PMSCAN_ENGINE_READ ? "read" : "ioctl";
}

static const char *tracker_name(int tracker)
{
	return tracker == PMSCAN_TRACKER_SOFT_DIRTY ? "soft-dirty" :
	       tracker == PMSCAN_TRACKER_UFFD ? "uffd" : NULL;
}

static enum out_format out_format(const struct options *o)
{
	return o->json ? FMT_JSON : o->raw ? FMT_RAW : FMT_TEXT;
}

static void select_or_die(struct table *t, const struct column *cols, size_t n, const char *spec)
{
	const char *bad;
	size_t badlen;

	if (table_select(t, cols, n, spec, &bad, &badlen) < 0)
		errx(EXIT_USAGE, "unknown column '%.*s' (see --list-columns)", (int)badlen, bad);
}

static int list_categories(const struct options *o)
{
	int engine = scan_engine(o);
	uint64_t known = scan_known(o);
	bool sd = resolved_tracker(o) == PMSCAN_TRACKER_SOFT_DIRTY;
	struct table t = { 0 };
	struct obuf ob;
	struct cell c[LC_NCOLS];

	if (o->list_columns) {
		ob_init(&ob, stdout);
		table_list_columns(category_cols, LC_NCOLS, &ob, o->json, o->raw, o->noheadings);
		ob_free(&ob);
		return EXIT_OK;
	}
	select_or_die(&t, category_cols, LC_NCOLS, o->columns);
	ob_init(&ob, stdout);
	table_start(&t, &ob, out_format(o), isatty(STDOUT_FILENO), o->bytes, o->noheadings);
	if (o->json) {
		ob_puts(&ob, "{\"engine\":\"");
		ob_puts(&ob, engine_name(engine));
		ob_puts(&ob, "\",\"tracker\":");
		if (tracker_name(resolved_tracker(o))) {
			ob_putc(&ob, '"');
			ob_puts(&ob, tracker_name(resolved_tracker(o)));
			ob_putc(&ob, '"');
		} else {
			ob_puts(&ob, "null");
		}
		ob_putc(&ob, ',');
		table_json_open(&t, "categories");
	}
	for (int pass = 0; pass < 2; pass++) {
	if (pass)
		table_header(&t);
	for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++) {
		bool yes = known & (UINT64_C(1) << i);
		/* soft-dirty tracker: 'written' is the soft-dirty bit. */
		const char *why = yes ? NULL : pmscan_category_unavailable(engine, sd && i == 1 ? 7 : i);

		c[LC_CATEGORY] = (struct cell){ .kind = CELL_STR, .s = pmscan_category_name(i) };
		c[LC_KERNEL] = (struct cell){ .kind = CELL_BOOL, .u = yes };
		c[LC_MEANING] = (struct cell){ .kind = CELL_STR, .s = sd && i == 1 ?
			"soft-dirty since the last reset (soft-dirty tracker)" : category_help[i] };
		c[LC_REASON] = yes ? (struct cell){ .kind = CELL_NONE } :
			(struct cell){ .kind = CELL_STR, .s = why ? why : "unknown" };
		if (pass)
			table_row(&t, c);
		else
			table_measure(&t, c);
	}
	}
	if (o->json) {
		table_json_close(&t);
		ob_write(&ob, "}\n", 2);
	}
	ob_free(&ob);
	return EXIT_OK;
}

/* --list-columns: the columns of the mode's table. */
static int list_columns(const struct options *o)
{
	size_t n;
	const struct column *cols = scan_columns(o->mode, o->ret ? o->ret : scan_known(o), &n);
	struct obuf ob;

	if (o->watch)
		cols = watch_columns(&n);
	ob_init(&ob, stdout);
	table_list_columns(cols, n, &ob, o->json, o->raw, o->noheadings);
	ob_free(&ob);
	return EXIT_OK;
}

/* An unknown -o column is a usage error, said before anything the kernel
   could refuse (the tables are set up again when the output begins). */
static void check_columns(const struct options *o)
{
	struct table t = { 0 };
	const struct column *cols;
	const char *bad;
	size_t n, badlen;

	if (!o->columns || o->arm || o->disarm)
		return;
	cols = o->watch ? watch_columns(&n) : scan_columns(o->mode, 0, &n);
	if (table_select(&t, cols, n, o->columns, &bad, &badlen) < 0)
		errx(EXIT_USAGE, "unknown column '%.*s' (see pmscan %s--list-columns)", (int)badlen, bad,
		     o->watch ? "--watch " : o->mode == MODE_SUMMARY ? "--summary " : "");
}

static bool have_cap(cap_value_t cap)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (caps) {
		cap_get_flag(caps, cap, CAP_EFFECTIVE, &v);
		cap_free(caps);
	}
	return v == CAP_SET;
}

/* Who owns pid (the owner of /proc/PID: its uid, or root when it is not
   dumpable), or -1. */
static long process_uid(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return stat(path, &st) == 0 ? (long)st.st_uid : -1;
}

/* The security modules the kernel runs, e.g. "apparmor", or "". */
static void active_lsms(char *buf, size_t len)
{
	FILE *f = fopen("/sys/kernel/security/lsm", "re");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, (int)len, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	/* capability is always there and never refuses this. */
	if (!strncmp(buf, "capability,", 11))
		memmove(buf, buf + 11, strlen(buf + 11) + 1);
	else if (!strcmp(buf, "capability"))
		buf[0] = '\0';
}

/* Why ptrace-level access to pid was refused, for a message: the cause
   that applies, checked in the order the kernel checks them. */
void privilege_hint(pid_t pid, int e, char *buf, size_t len)
{
	long uid = process_uid(pid);
	long scope = -1;
	bool cap = have_cap(CAP_SYS_PTRACE);
	char lsm[128];
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");

	if (f) {
		if (fscanf(f, "%ld", &scope) != 1)
			scope = -1;
		fclose(f);
	}
	if (!cap && uid >= 0 && (uid_t)uid != geteuid() && uid != 0)
		snprintf(buf, len, "it belongs to uid %ld; another user's process needs CAP_SYS_PTRACE", uid);
	else if (!cap && uid == 0 && geteuid() != 0)
		snprintf(buf, len, "it runs as root, or is set-user-ID or otherwise not dumpable; that "
			 "needs CAP_SYS_PTRACE");
	else if (scope == 3)
		snprintf(buf, len, "%s (kernel.yama.ptrace_scope is 3: no process may be traced)", strerror(e));
	else if (scope > 0 && !cap)
		snprintf(buf, len, "%s (kernel.yama.ptrace_scope is %ld: attaching needs CAP_SYS_PTRACE)",
			 strerror(e), scope);
	else if (!cap)
		snprintf(buf, len, "%s (it is not dumpable, e.g. set-user-ID or PR_SET_DUMPABLE 0; that "
			 "needs CAP_SYS_PTRACE)", strerror(e));
	else if ((active_lsms(lsm, sizeof(lsm)), lsm[0]))
		snprintf(buf, len, "%s, even with CAP_SYS_PTRACE: a security module (%s) refused", strerror(e),
			 lsm);
	else
		snprintf(buf, len, "%s, even with CAP_SYS_PTRACE", strerror(e));
}

static void open_failed(pid_t pid, int e, char *msg, size_t len)
{
	char hint[256];

	switch (e) {
	case ESRCH: {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (access(path, F_OK) == 0)
			snprintf(msg, len, "process %d has exited (a zombie): it has no memory to scan",
				 (int)pid);
		else
			snprintf(msg, len, "no such process: %d", (int)pid);
		break;
	}
	case EACCES:
	case EPERM:
		privilege_hint(pid, e, hint, sizeof(hint));
		snprintf(msg, len, "cannot read the memory map of process %d: %s", (int)pid, hint);
		break;
	case EINVAL:
		snprintf(msg, len, "cannot open process %d: not a process id (a thread id?)", (int)pid);
		break;
	default:
		snprintf(msg, len, "cannot open process %d: %s", (int)pid, strerror(e));
	}
}

/* Exit status 3 with the reason when the kernel or the engine cannot do
   what was asked, else 0. */
static int check_kernel(const struct options *o)
{
	/* soft-dirty: resets are clear_refs, so only --engine=ioctl needs the ioctl. */
	bool sd = resolved_tracker(o) == PMSCAN_TRACKER_SOFT_DIRTY;
	bool need_ioctl = (!sd && (o->arm || o->disarm || o->watch || o->wp)) ||
			  o->engine == PMSCAN_ENGINE_IOCTL;
	/* soft-dirty: the ioctl engine reads it from Linux 6.8 (as the library picks). */
	int engine = scan_engine(o);

	/* Without async write-protect the uffd tracker tracks nothing, which
	   scans show; soft-dirty would read every page clean: refused. */
	if (o->tracker == PMSCAN_TRACKER_SOFT_DIRTY && pmscan_tracker_unavailable(o->tracker)) {
		warnx("the soft-dirty tracker cannot work here: %s",
		      pmscan_tracker_unavailable(o->tracker));
		return EXIT_KERNEL;
	}
	if ((o->arm || o->watch) && resolved_tracker(o) < 0) {
		warnx("%s", pmscan_tracker_unavailable(PMSCAN_TRACKER_AUTO));
		return EXIT_KERNEL;
	}
	uint64_t missing = (o->require | o->anyof | o->exclude | o->ret) & ~scan_known(o);

	if (need_ioctl && !pmscan_kernel_categories()) {
		warnx("the running kernel has no PAGEMAP_SCAN (Linux 6.7 or later is needed%s)",
		      o->arm || o->disarm || o->watch || o->wp ? "" :
		      "; --engine=read works without it");
		return EXIT_KERNEL;
	}
	if (o->arm || o->disarm || o->watch)
		return 0;
	for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++)
		if (missing & (UINT64_C(1) << i)) {
			/* soft-dirty: 'written' is the soft-dirty bit. */
			const char *why = pmscan_category_unavailable(engine, sd && i == 1 ? 7 : i);
			warnx("category '%s' is not available with the %s engine: %s",
			      pmscan_category_name(i),
			      engine == PMSCAN_ENGINE_READ ? "read" : "ioctl",
			      why ? why : "unknown reason");
			return EXIT_KERNEL;
		}
	return 0;
}

static void describe_mapping(const struct pmscan_mapping *m, char *buf, size_t len)
{
	if (m) {
		size_t n;
		char *label = str_escape(FMT_TEXT, mapping_label(m), &n);
		snprintf(buf, len, "mapping 0x%llx-0x%llx %s", (unsigned long long)m->start,
			 (unsigned long long)m->end, label ? label : "?");
		free(label);
	} else {
		snprintf(buf, len, "the process");
	}
}

/* Turn a failed run into one message; returns the exit status. */
static int scan_failed(const struct options *o, struct pmscan_target *t, struct pmscan_scan *s, int e,
		       char *msg, size_t len)
{
	char where[512];
	const struct pmscan_mapping *m = pmscan_scan_failed_mapping(s);

	describe_mapping(m, where, sizeof(where));
	if (ferror(stdout))
		snprintf(msg, len, "write error: %s", strerror(e));
	else if (e == ESRCH && pmscan_target_alive(t) == 1)
		/* alive, its memory gone: a new program */
		snprintf(msg, len, "process %d ran execve(2) during the scan: the memory scanned is "
			 "gone (scan again for the new program's)", (int)o->pid);
	else if (e == ESRCH)
		snprintf(msg, len, "process %d exited during the scan", (int)o->pid);
	else if (e == EPERM && o->check_wpasync)
		snprintf(msg, len, "%s is not tracked for writes (--check-wpasync)", where);
	else if (pmscan_scan_error(s)[0])
		snprintf(msg, len, "%s", pmscan_scan_error(s));
	else if (e == ENOTSUP)
		snprintf(msg, len, "the running kernel cannot do this scan: %s", strerror(e));
	else
		snprintf(msg, len, "%s failed on %s: %s",
			 pmscan_scan_get_engine(s) == PMSCAN_ENGINE_READ ?
			 "reading /proc/PID/pagemap" : "PAGEMAP_SCAN", where, strerror(e));
	return e == ENOTSUP ? EXIT_KERNEL : EXIT_SCAN_FAILED;
}

/* Written pages exist only in tracked mappings: say when the answer leaves
   some out. Tracking is known from each mapping's registration, never from
   what the kernel reported (6.7 to 7.2 call every page of an untracked
   mapping written, 7.3 none). */
static void warn_untracked(const struct options *o, const struct pmscan_scan_stats *st,
			   const struct pmscan_target *t)
{
	if (!st->untracked || !(((o->require | o->anyof | o->exclude) & PMSCAN_WRITTEN) ||
				(o->ret_set && (o->ret & PMSCAN_WRITTEN))))
		return;
	/* Looking for the tracker reads the whole fd table: only here. */
	if (st->untracked < st->mappings || pmscan_tracker_fd(t) >= 0) {
		/* What arming could not track, it listed; --wp skips it quietly. */
		if (!o->wp)
			warnx("warning: %llu of %llu scanned mappings (%llu pages) cannot be tracked "
			      "(kernel-provided, never writable, or too large; see 'pmscan --arm'), so "
			      "which of their pages were written is unknown and none is reported",
			      (unsigned long long)st->untracked, (unsigned long long)st->mappings,
			      (unsigned long long)st->untracked_pages);
		return;
	}
	if (o->wp)
		warnx("warning: %llu of %llu scanned mappings are not tracked for writes and were "
		      "skipped (neither reported nor reset); track them with 'pmscan --arm -p %d'",
		      (unsigned long long)st->untracked, (unsigned long long)st->mappings, (int)o->pid);
	else
		warnx("warning: %llu of %llu scanned mappings (%llu pages) are not tracked for "
		      "writes, so which of their pages were written is unknown and none is "
		      "reported; track them with 'pmscan --arm -p %d' (see TRACKING in pmscan(1))",
		      (unsigned long long)st->untracked, (unsigned long long)st->mappings,
		      (unsigned long long)st->untracked_pages, (int)o->pid);
}

static void print_skip(const struct pmscan_mapping *m, const char *why, void *arg)
{
	size_t n;
	char *label = str_escape(FMT_TEXT, mapping_label(m), &n);

	(void)arg;
	warnx("not tracking 0x%llx-0x%llx %s: %s", (unsigned long long)m->start,
	      (unsigned long long)m->end, label ? label : "?", why);
	free(label);
}

static int arm_failed(const struct options *o, struct pmscan_target *t, const char *what, int e)
{
	char hint[256];

	if ((e == EPERM || e == EACCES) && strstr(pmscan_target_error(t), "seccomp")) {
		warnx("cannot %s process %d: %s", what, (int)o->pid, pmscan_target_error(t));
	} else if (e == EPERM || e == EACCES) {
		privilege_hint(o->pid, e, hint, sizeof(hint));
		warnx("cannot %s process %d: %s", what, (int)o->pid, hint);
	} else if (e == ESRCH) {
		warnx("process %d exited while being %sed", (int)o->pid, what);
	} else if (e == ETIMEDOUT || e == EAGAIN || e == EBUSY || e == ENOTSUP) {
		warnx("cannot %s process %d: %s", what, (int)o->pid, pmscan_target_error(t));
	} else if (pmscan_target_error(t)[0]) {
		warnx("cannot %s process %d: %s: %s", what, (int)o->pid, pmscan_target_error(t),
		      strerror(e));
	} else {
		warnx("cannot %s process %d: %s", what, (int)o->pid, strerror(e));
	}
	return EXIT_SCAN_FAILED;
}

static int arm(const struct options *o, struct pmscan_target *t)
{
	struct pmscan_arm_stats st = { .size = sizeof(st) };
	char size[16];
	int r;

	r = pmscan_arm(t, o->ranges, o->nranges, print_skip, NULL, &st);
	if (r < 0)
		return arm_failed(o, t, "arm", errno);
	if (pmscan_target_get_tracker(t) == PMSCAN_TRACKER_SOFT_DIRTY) {
		format_size(st.bytes, size, sizeof(size));
		printf("reset the soft-dirty bits of process %d: %llu mappings (%s)\n", (int)o->pid,
		       (unsigned long long)st.mappings, size);
		warnx("note: soft-dirty tracking covers the whole process; mappings created, grown, "
		      "merged or moved from now on read written in full");
		return EXIT_OK;
	}
	if (r == 0) {
		printf("process %d is already armed (userfaultfd fd %d): nothing done\n",
		       (int)o->pid, st.fd);
		return EXIT_OK;
	}
	format_size(st.bytes, size, sizeof(size));
	printf("armed process %d: %llu mappings tracked (%s), %llu not tracked; userfaultfd fd %d\n",
	       (int)o->pid, (unsigned long long)st.mappings, size,
	       (unsigned long long)st.skipped, st.fd);
	return EXIT_OK;
}

static int disarm(const struct options *o, struct pmscan_target *t)
{
	int r = pmscan_disarm(t);

	if (r < 0)
		return arm_failed(o, t, "disarm", errno);
	if (pmscan_target_get_tracker(t) == PMSCAN_TRACKER_SOFT_DIRTY) {
		printf("process %d: the soft-dirty tracker leaves nothing in the process: nothing "
		       "to undo\n", (int)o->pid);
		return EXIT_OK;
	}
	if (r == 0)
		printf("process %d is not armed: nothing done\n", (int)o->pid);
	else
		printf("disarmed process %d\n", (int)o->pid);
	return EXIT_OK;
}

/* Register mappings an armed process created since it was armed. A scan
   after a failed one would silently cover less than it says: an error. */
static int rearm(const struct options *o, struct pmscan_target *t, char *msg, size_t len)
{
	if (pmscan_rearm(t, o->ranges, o->nranges, 0, NULL, NULL, NULL) < 0) {
		if (errno == ESRCH)
			snprintf(msg, len, "process %d exited", (int)o->pid);
		else
			snprintf(msg, len, "cannot register the new mappings of process %d: %s%s%s",
				 (int)o->pid, pmscan_target_error(t), pmscan_target_error(t)[0] ? ": " : "",
				 strerror(errno));
		return EXIT_SCAN_FAILED;
	}
	return EXIT_OK;
}

static int configure_scan(const struct options *o, struct pmscan_scan *s)
{
	unsigned flags = 0;

	if (o->wp)
		flags |= PMSCAN_SCAN_WP;
	if (o->check_wpasync)
		flags |= PMSCAN_SCAN_CHECK_WPASYNC;
	if (scan_out_needs_tracking(o))
		flags |= PMSCAN_SCAN_TRACKING_INFO;
	bool uffd_wp = o->wp && resolved_tracker(o) != PMSCAN_TRACKER_SOFT_DIRTY;

	if (pmscan_scan_set_engine(s, uffd_wp ? PMSCAN_ENGINE_IOCTL : o->engine) < 0 ||
	    pmscan_scan_set_masks(s, o->require, o->anyof, o->exclude, o->ret) < 0 ||
	    pmscan_scan_set_max_pages(s, o->max_pages) < 0 ||
	    pmscan_scan_set_flags(s, flags) < 0)
		return -1;
	for (size_t i = 0; i < o->nranges; i++)
		if (pmscan_scan_add_range(s, o->ranges[i].start, o->ranges[i].end) < 0)
			return -1;
	return 0;
}

/* Every category the scan's engine reports (soft-dirty: 'written' too). */
static uint64_t default_ret(const struct options *o)
{
	return scan_known(o);
}

/* soft-dirty: the one-line notes on its limits, when they apply to this
   answer (mappings the kernel marks soft-dirty whole: smaps VmFlags 'sd'). */
static void soft_dirty_notes(const struct options *o, char *note, size_t len)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	uint64_t maps = 0, whole = 0, bytes = 0, start = 0, end = 0, clean = 0;
	bool special = false, stack = false;
	FILE *f;

	if (resolved_tracker(o) != PMSCAN_TRACKER_SOFT_DIRTY ||
	    !((o->require | o->anyof | o->exclude | o->ret) & PMSCAN_WRITTEN))
		return;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)o->pid);
	if (!(f = fopen(path, "re")))
		return;
	while (getline(&line, &cap, f) > 0) {
		unsigned long long a, b;
		if (sscanf(line, "%llx-%llx ", &a, &b) == 2 && strchr(line, ' ')) {
			start = a;
			end = b;
			special = strstr(line, "[vvar") || strstr(line, "[vsyscall]");
			stack = strstr(line, "[stack]");
			continue;
		}
		if (strncmp(line, "VmFlags:", 8) || special)
			continue;
		maps++;
		if (strstr(line, " sd")) {
			whole++;
			bytes += end - start;
		} else if (!stack) {
			clean++;
		}
	}
	free(line);
	fclose(f);
	if (!maps || !whole)
		return;
	char size[16];
	format_size(bytes, size, sizeof(size));
	/* Never reset: every mapping marked but the main stack, whose mark
	   exec's stack setup drops (measured on 6.1). */
	if (!clean)
		snprintf(note, len, "note: process %d has not been reset since it started "
			 "(soft-dirty): every page written since then reads written; reset with "
			 "--arm or --wp", (int)o->pid);
	else
		snprintf(note, len, "note: %llu of %llu mappings (%s) were created, grown, merged or "
			 "moved since the last soft-dirty reset: all their pages read written",
			 (unsigned long long)whole, (unsigned long long)maps, size);
}

/* One process's scan into the document; returns its exit status. */
static int scan(const struct options *o, struct pmscan_target *t)
{
	struct pmscan_scan *s = pmscan_scan_new(t);
	struct pmscan_scan_stats st = { .size = sizeof(st) };
	pmscan_mapping_fn on_mapping;
	pmscan_region_fn on_region;
	void *arg;
	char msg[1024], note[256] = "";
	int status = EXIT_OK;
	bool checked = (o->require | o->anyof | o->exclude | o->ret) & PMSCAN_WRITTEN;

	if (!s || configure_scan(o, s) < 0) {
		snprintf(msg, sizeof(msg), "cannot set up the scan: %s", strerror(errno));
		warnx("%s", msg);
		scan_out_process_end(o->pid, NULL, NULL, NULL, false, msg);
		pmscan_scan_free(s);
		return EXIT_SCAN_FAILED;
	}
	scan_out_callbacks(&on_mapping, &on_region, &arg);
	pmscan_scan_set_callbacks(s, on_mapping, on_region, arg);

	/* Before the run: --wp resets what the note is about. */
	soft_dirty_notes(o, note, sizeof(note));
	int r = pmscan_scan_run(s) < 0 ? -errno : 0;
	pmscan_scan_get_stats(s, &st);
	if (r < 0) {
		status = scan_failed(o, t, s, -r, msg, sizeof(msg));
		scan_out_process_end(o->pid, NULL, &st, tracker_name(pmscan_target_get_tracker(t)),
				     checked, msg);
		/* a write error is said once, when stdout is closed */
		if (!ferror(stdout))
			warnx("%s", msg);
	} else {
		scan_out_process_end(o->pid, NULL, &st, tracker_name(pmscan_target_get_tracker(t)),
				     checked, NULL);
		warn_untracked(o, &st, t);
		if (note[0])
			warnx("%s", note);
	}
	pmscan_scan_free(s);
	return status;
}

/* Open the process for any mode, set as the options say; NULL with the
   message in msg. */
static struct pmscan_target *open_target(const struct options *o, char *msg, size_t len)
{
	struct pmscan_target *t = pmscan_target_open(o->pid);

	if (!t) {
		open_failed(o->pid, errno, msg, len);
		return NULL;
	}
	/* Checked by check_kernel: AUTO, or a tracker that works here. */
	pmscan_target_set_tracker(t, o->tracker);
	if (o->timeout_ms)
		pmscan_target_set_timeout(t, o->timeout_ms);
	if (o->pt_budget_set)
		pmscan_target_set_page_table_budget(t, o->pt_budget);
	return t;
}

/* Every process of the run into one document: a process that cannot be
   read is reported in its place and the others go on. */
static int scan_all(struct options *o)
{
	uint64_t ret = o->ret ? o->ret : default_ret(o);
	int status = EXIT_OK, r;
	char msg[1024];

	if (scan_out_begin(o, ret, o->npids > 1) < 0)
		return EXIT_SCAN_FAILED;
	for (size_t i = 0; i < o->npids && !ferror(stdout); i++) {
		struct pmscan_target *t;
		o->pid = o->pids[i];
		scan_out_process_begin(o->pid);
		t = open_target(o, msg, sizeof(msg));
		if (!t) {
			warnx("%s", msg);
			scan_out_process_end(o->pid, NULL, NULL, NULL, false, msg);
			status = EXIT_SCAN_FAILED;
			continue;
		}
		r = o->no_rearm ? EXIT_OK : rearm(o, t, msg, sizeof(msg));
		if (r != EXIT_OK) {
			warnx("%s", msg);
			scan_out_process_end(o->pid, NULL, NULL, tracker_name(pmscan_target_get_tracker(t)),
					     false, msg);
		} else {
			r = scan(o, t);
		}
		pmscan_target_close(t);
		/* The worst status wins: 3 (the kernel cannot) over 1. */
		if (r > status || (r == EXIT_KERNEL && status != EXIT_USAGE))
			status = r;
	}
	if (scan_out_end() < 0 && status == EXIT_OK)
		status = EXIT_SCAN_FAILED;
	return status;
}

/*
 * Flush and close stdout once: 0, the errno of a failed flush or close, or -1
 * when an earlier write failed for a reason the stream no longer knows.
 * Output that never reached its destination is a failure.
 */
static int finish_stdout(void)
{
	static bool done;
	bool failed_before = ferror(stdout);
	int e = 0;

	if (done)
		return 0;
	done = true;
	if (fflush(stdout) != 0)
		e = errno;
	if (fclose(stdout) != 0 && !e)
		e = errno;
	return e ? e : failed_before ? -1 : 0;
}

static void write_error(int e)
{
	if (e > 0)
		warnx("write error: %s", strerror(e));
	else
		warnx("write error");
}

/* atexit: catches the exits main() does not see (--help, --version, usage). */
static void close_stdout(void)
{
	int e = finish_stdout();

	if (e) {
		write_error(e);
		_exit(EXIT_SCAN_FAILED);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	struct pmscan_target *t;
	int status = EXIT_OK, e;

	/* Privileges pmscan did not get from its caller (set-user-ID, file
	   capabilities) would let any user read any process and run commands
	   with them: refuse before anything else. */
	if (getauxval(AT_SECURE)) {
		fprintf(stderr, "%s: refusing to run with privileges its caller does not have "
			"(set-user-ID, set-group-ID or file capabilities); install it without them\n",
			program_invocation_short_name);
		return EXIT_SCAN_FAILED;
	}
	atexit(close_stdout);
	parse_options(argc, argv, &o);
	if (o.list_categories) {
		status = list_categories(&o);
		goto flush;
	}
	if (o.list_columns) {
		status = list_columns(&o);
		goto flush;
	}
	check_columns(&o);
	status = check_kernel(&o);
	if (status)
		goto out;
	if (o.watch) {
		status = watch_main(&o);
		goto flush;
	}
	if (!o.arm && !o.disarm) {
		status = scan_all(&o);
		goto flush;
	}
	/* --arm, --disarm: each process in turn. */
	for (size_t i = 0; i < o.npids; i++) {
		char msg[1024];
		int r;
		o.pid = o.pids[i];
		t = open_target(&o, msg, sizeof(msg));
		if (!t) {
			warnx("%s", msg);
			r = EXIT_SCAN_FAILED;
		} else {
			r = o.arm ? arm(&o, t) : disarm(&o, t);
			pmscan_target_close(t);
		}
		if (r > status)
			status = r;
	}
flush:
	e = finish_stdout();
	if (e) {
		write_error(e);
		if (status == EXIT_OK)
			status = EXIT_SCAN_FAILED;
	}
out:
	free_options(&o);
	return status;
}

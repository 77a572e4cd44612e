/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command's output modes on top of the table writer (table.h).
 */
#ifndef PMSCAN_OUT_H
#define PMSCAN_OUT_H

#include "cli.h"
#include "table.h"

/* out-scan.c: the columns of the scan's table (regions or --summary; shown:
   the categories --summary gives a column by default). */
const struct column *scan_columns(enum out_mode mode, uint64_t shown, size_t *n);

/* A scan document: begin, then for each process process_begin, the scan
   with scan_out_callbacks, process_end; then end. several: more than one
   process (text gains a PID column). Return 0 or a negative errno. */
int scan_out_begin(const struct options *o, uint64_t ret_mask, bool several);
bool scan_out_needs_tracking(const struct options *o);
void scan_out_callbacks(pmscan_mapping_fn *on_mapping, pmscan_region_fn *on_region, void **arg);
void scan_out_process_begin(pid_t pid);
/* st may be NULL (nothing scanned); error NULL on success; comm NULL: read it. */
void scan_out_process_end(pid_t pid, const char *comm, const struct pmscan_scan_stats *st,
			  const char *tracker, bool untracked_checked, const char *error);
int scan_out_end(void);
/* The process's name from /proc/PID/comm (its own newlines kept) into buf;
   false when it cannot be read. */
bool proc_comm(pid_t pid, char *buf, size_t len);

/* watch.c: the columns of --watch's interval rows */
const struct column *watch_columns(size_t *n);

#endif

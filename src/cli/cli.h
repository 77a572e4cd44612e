/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Declarations shared by the pmscan command's files.
 */
#ifndef PMSCAN_CLI_H
#define PMSCAN_CLI_H

#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "pmscan.h"

/* Exit codes (documented in --help and pmscan(1)). */
enum {
	EXIT_OK = 0,
	EXIT_SCAN_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_KERNEL = 3,
};

enum out_mode { MODE_REGIONS, MODE_ADDRESSES, MODE_SUMMARY };

/* Every option in one place; filled by options.c. */
struct options {
	pid_t pid;		/* the process being worked on (one of pids) */
	pid_t *pids;		/* -p PID[,PID...] and --cgroup, in order, no repeats */
	size_t npids;
	const char *cgroup;	/* --cgroup=DIR */
	uint64_t require, anyof, exclude, ret;
	bool ret_set;
	struct pmscan_range *ranges;
	size_t nranges;
	uint64_t max_pages;
	bool wp;
	bool check_wpasync;
	bool noheadings;
	bool list_categories;
	int engine;		/* PMSCAN_ENGINE_* (--engine) */
	bool engine_set;
	bool arm, disarm, no_rearm;
	int tracker;		/* PMSCAN_TRACKER_* (--tracker) */
	unsigned timeout_ms;	/* --timeout (0: the library's default) */
	uint64_t pt_budget;	/* --max-page-tables */
	bool pt_budget_set;
	bool watch;
	double interval;	/* seconds between --watch samples */
	uint64_t count;		/* --watch stops after this many (0: never) */
	char **command;		/* -- COMMAND [ARG...] for --watch, NULL-terminated */
	enum out_mode mode;
	bool json;
	bool raw;		/* -r: single spaces, \xHH escapes */
	bool openmetrics;	/* --format=openmetrics: --watch as OpenMetrics expositions */
	bool bytes;		/* -b: sizes in bytes */
	const char *columns;	/* -o LIST, or NULL */
	bool list_columns;
};

/* watch.c: the whole --watch run; returns the exit status */
int watch_main(const struct options *o);

/* pmscan.c: why ptrace-level access to pid was refused (e: the errno) */
void privilege_hint(pid_t pid, int e, char *buf, size_t len);

/* options.c */
void parse_options(int argc, char **argv, struct options *o);
void free_options(struct options *o);
/* The tracker in use: PMSCAN_TRACKER_UFFD or _SOFT_DIRTY, -1 none works. */
int resolved_tracker(const struct options *o);

/* parse.c: pure parsers, unit-tested. Each returns 0 or -1 (bad input). */
int parse_u64(const char *s, uint64_t *out);
int parse_size(const char *s, uint64_t *out);
/* *rounded is set when the bounds had to be widened to whole pages. */
int parse_range(const char *s, uint64_t page_size, struct pmscan_range *r, bool *rounded);
int parse_pid(const char *s, pid_t *out);
/* Seconds, decimal with an optional fraction; no exponent, sign or hex. */
int parse_seconds(const char *s, double *out);
/* "4K", "1.5M", ... into buf (at least 16 bytes). */
void format_size(uint64_t bytes, char *buf, size_t len);
/* A size as -b asks: the number of bytes when exact, else format_size's. */
void format_size_as(uint64_t bytes, bool exact, char *buf, size_t len);

/* out-scan.c: the label of a mapping ("[anon]" for an unnamed one) */
const char *mapping_label(const struct pmscan_mapping *m);

#endif

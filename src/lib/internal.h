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
	pid_t tracer_of;	/* a thread the caller already traces and holds stopped */
	int timeout_ms;		/* bound of every wait on the process */
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
};
void merger_init(struct merger *mg, pmscan_region_fn emit, void *arg);
int merger_add(struct merger *mg, const struct pmscan_region *r);
int merger_flush(struct merger *mg);

/* target.c: record what failed in t->err; returns -err */
int target_fail(struct pmscan_target *t, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define DEFAULT_TIMEOUT_MS 3000

long page_size_cached(void);
int mapping_tracked(struct pmscan_target *t, uint64_t start);
int pagemap_ioctl(int fd, struct pm_scan_arg *arg);

#endif

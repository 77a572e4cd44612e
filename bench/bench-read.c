/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The read engine against the ioctl engine and against a plain pagemap
 * reader, on the same target and the same question, alternating runs:
 *
 *   bench-read PID START END [RUNS]
 *
 * The plain reader reads /proc/PID/pagemap the way page-types does
 * (batches of 64 Ki entries, every page's bits tested), without its
 * kpageflags lookups: the least any pagemap reader pays. Prints median
 * times and ratios; lower is faster.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#include "pmscan.h"

#define BATCH (64 << 10)	/* page-types' PAGEMAP_BATCH */
#define MAX_RUNS 99

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int count_region(const struct pmscan_region *r, void *arg)
{
	(void)r;
	++*(uint64_t *)arg;
	return 0;
}

static double engine_run(struct pmscan_target *t, int engine, uint64_t require, uint64_t ret,
			 uint64_t start, uint64_t end, uint64_t *regions)
{
	struct pmscan_scan *s = pmscan_scan_new(t);
	double t0;

	*regions = 0;
	if (!s || pmscan_scan_set_engine(s, engine) < 0 ||
	    pmscan_scan_set_masks(s, require, 0, 0, ret) < 0 ||
	    pmscan_scan_add_range(s, start, end) < 0) {
		perror("bench-read: scan setup");
		exit(1);
	}
	pmscan_scan_set_callbacks(s, NULL, count_region, regions);
	t0 = now_ms();
	if (pmscan_scan_run(s) < 0) {
		fprintf(stderr, "bench-read: scan: %s %s\n", strerror(errno), pmscan_scan_error(s));
		exit(1);
	}
	t0 = now_ms() - t0;
	pmscan_scan_free(s);
	return t0;
}

/* Regions of pages whose entries, masked, equal want (present and
   written: bit 63 set, uffd-wp bit 57 clear). */
static double plain_run(int fd, uint64_t start, uint64_t end, uint64_t mask, uint64_t want,
			uint64_t *regions)
{
	static uint64_t buf[BATCH];
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE), prev_end = 0;
	double t0 = now_ms();

	*regions = 0;
	for (uint64_t pos = start; pos < end;) {
		size_t n = (end - pos) / ps > BATCH ? BATCH : (size_t)((end - pos) / ps);
		ssize_t r = pread(fd, buf, n * 8, (off_t)(pos / ps * 8));
		if (r <= 0) {
			perror("bench-read: pagemap");
			exit(1);
		}
		n = (size_t)r / 8;
		for (size_t i = 0; i < n; i++)
			if ((buf[i] & mask) == want) {
				uint64_t a = pos + i * ps;
				if (a != prev_end)
					++*regions;
				prev_end = a + ps;
			}
		pos += n * ps;
	}
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bench-read PID START END [RUNS]\n");
		return 2;
	}
	pid_t pid = (pid_t)atoi(argv[1]);
	uint64_t start = strtoull(argv[2], NULL, 0), end = strtoull(argv[3], NULL, 0);
	int runs = argc > 4 ? atoi(argv[4]) : 9;
	char path[64];

	if (runs < 1 || runs > MAX_RUNS)
		runs = 9;
	struct pmscan_target *t = pmscan_target_open(pid);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	int fd = open(path, O_RDONLY);
	if (!t || fd < 0) {
		perror("bench-read: open");
		return 1;
	}
	bool ioctl_ok = pmscan_engine_categories(PMSCAN_ENGINE_IOCTL) != 0;
	const struct {
		const char *name;
		uint64_t require, ret, mask, want;
	} q[] = {
		{ "written pages", PMSCAN_WRITTEN, PMSCAN_WRITTEN,
		  UINT64_C(1) << 63 | UINT64_C(1) << 57, UINT64_C(1) << 63 },
		{ "present pages", PMSCAN_PRESENT, PMSCAN_PRESENT,
		  UINT64_C(1) << 63, UINT64_C(1) << 63 },
	};
	printf("%-14s %10s %10s %10s %12s %12s\n", "question", "read ms", "ioctl ms", "plain ms",
	       "read/plain", "read/ioctl");
	for (size_t k = 0; k < sizeof(q) / sizeof(q[0]); k++) {
		double tr[MAX_RUNS], ti[MAX_RUNS], tp[MAX_RUNS];
		uint64_t nr = 0, ni = 0, np = 0;
		for (int i = 0; i < runs; i++) {
			tr[i] = engine_run(t, PMSCAN_ENGINE_READ, q[k].require, q[k].ret, start, end, &nr);
			ti[i] = ioctl_ok ? engine_run(t, PMSCAN_ENGINE_IOCTL, q[k].require, q[k].ret,
						      start, end, &ni) : 0;
			tp[i] = plain_run(fd, start, end, q[k].mask, q[k].want, &np);
		}
		double r = median(tr, runs), i = median(ti, runs), p = median(tp, runs);
		printf("%-14s %10.2f %10.2f %10.2f %11.2fx %11.2fx   (%llu regions%s)\n", q[k].name,
		       r, i, p, r / p, ioctl_ok ? r / i : 0.0, (unsigned long long)nr,
		       (ioctl_ok && ni != nr) || np != nr ? ", ENGINES DISAGREE" : "");
	}
	pmscan_target_close(t);
	close(fd);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Benchmark helpers: the references pmscan is measured against, and a timer.
 *
 *   bench-scan bare PID START END      bare PAGEMAP_SCAN loop, written pages,
 *                                      one "start end categories" line per region
 *   bench-scan quiet PID START END     the same loop printing only the number of
 *                                      regions: the kernel's part alone
 *   bench-scan pagemap PID START END   the same answer from reading
 *                                      /proc/PID/pagemap (8 bytes per page)
 *   bench-scan time CMD [ARG...]       run CMD with stdout on /dev/null; print
 *                                      "WALL_US MAXRSS_KB EXIT CPU_US" for that
 *                                      run (CPU: user + system, all threads)
 *   bench-scan writer SECONDS MIB      a memory-writing benchmark: write one byte
 *                                      per page over MIB, round after round, for
 *                                      SECONDS; print the pages written per second
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uapi.h"

#define VEC 65536

static int open_pagemap(const char *pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/pagemap", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

/* The loop anyone would write from docs/kernel.md: resume at the later of
   walk_end and the last region's end. */
static int bare(const char *pid, uint64_t start, uint64_t end, int quiet)
{
	uint64_t count = 0;
	static struct page_region vec[VEC];
	int fd = open_pagemap(pid);
	uint64_t pos = start;

	while (pos < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a), .start = pos, .end = end,
			.vec = (uintptr_t)vec, .vec_len = VEC,
			.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
		};
		long n = ioctl(fd, PAGEMAP_SCAN, &a);
		if (n < 0) {
			perror("PAGEMAP_SCAN");
			return 1;
		}
		if (quiet)
			count += (uint64_t)n;
		else
			for (long i = 0; i < n; i++)
				printf("%llx %llx %llx\n", (unsigned long long)vec[i].start,
				       (unsigned long long)vec[i].end,
				       (unsigned long long)vec[i].categories);
		if (n < VEC)
			break;
		uint64_t next = a.walk_end > vec[n - 1].end ? a.walk_end : vec[n - 1].end;
		if (next <= pos)
			break;
		pos = next;
	}
	if (quiet)
		printf("%llu\n", (unsigned long long)count);
	return fflush(stdout) ? 1 : 0;
}

/* Written = present or swapped, and the uffd-wp bit (57) clear. */
static int pagemap_reader(const char *pid, uint64_t start, uint64_t end)
{
	static uint64_t buf[65536];
	int fd = open_pagemap(pid);
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE), run_start = 0;
	int in_run = 0;

	for (uint64_t addr = start; addr < end;) {
		size_t want = (size_t)((end - addr) / ps);
		if (want > 65536)
			want = 65536;
		ssize_t got = pread(fd, buf, want * 8, (off_t)(addr / ps * 8));
		if (got <= 0) {
			perror("pagemap read");
			return 1;
		}
		for (size_t i = 0; i < (size_t)got / 8; i++, addr += ps) {
			uint64_t e = buf[i];
			int w = (e & (3ULL << 62)) && !(e & (1ULL << 57));
			if (w && !in_run) {
				run_start = addr;
				in_run = 1;
			} else if (!w && in_run) {
				printf("%llx %llx 2\n", (unsigned long long)run_start, (unsigned long long)addr);
				in_run = 0;
			}
		}
	}
	if (in_run)
		printf("%llx %llx 2\n", (unsigned long long)run_start, (unsigned long long)end);
	return fflush(stdout) ? 1 : 0;
}

static int timed(char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t p = fork();
	if (p == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (p < 0 || wait4(p, &status, 0, &ru) < 0) {
		perror("fork/wait");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%lld %ld %d %lld\n",
	       (long long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000),
	       ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
	       (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	return 0;
}

static int writer(double seconds, size_t mib)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), len = mib << 20;
	unsigned char *m = malloc(len);
	struct timespec t0, t;
	uint64_t pages = 0;
	double el = 0;

	if (!m)
		return 1;
	memset(m, 0, len);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (el < seconds) {
		for (size_t i = 0; i < len; i += ps)
			m[i]++;
		pages += len / ps;
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
	}
	fprintf(stderr, "%.0f\n", (double)pages / el);
	free(m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "writer"))
		return writer(atof(argv[2]), strtoull(argv[3], NULL, 0));
	if (argc >= 3 && !strcmp(argv[1], "time"))
		return timed(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "quiet"))
		return bare(argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0), 1);
	if (argc == 5 && !strcmp(argv[1], "bare"))
		return bare(argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0), 0);
	if (argc == 5 && !strcmp(argv[1], "pagemap"))
		return pagemap_reader(argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0));
	fprintf(stderr, "usage: bench-scan bare|pagemap PID START END | time CMD... | writer SECONDS MIB\n");
	return 2;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A target process for the tests. It reads commands on stdin, one per line,
 * and answers each with one line on stdout: "ok [values]" or "err reason".
 * Tests compare pmscan's answers with what they told this program to do.
 *
 *   map NAME PAGES KIND     KIND: anon nothp thp shared file:PATH memfd hugetlb
 *                           -> ok ADDR
 *   track NAME              register NAME for userfaultfd async write-protect
 *                           and protect it (the "written" state starts clean)
 *   write NAME FIRST STRIDE COUNT   write one byte to pages FIRST, FIRST+STRIDE...
 *   read NAME FIRST STRIDE COUNT    read those pages (zero-page faults)
 *   fill NAME               write every page
 *   dontneed NAME FIRST COUNT       MADV_DONTNEED those pages
 *   unmap NAME
 *   threads NAME N          N threads loop over NAME, each writing its slice and
 *                           reading it back; a mismatch is counted as corruption
 *   stopthreads             -> ok CORRUPTIONS ROUNDS
 *   sum NAME                -> ok CHECKSUM of every byte of NAME
 *   ticker NAME PAGES MS    a thread writes the next PAGES distinct pages of NAME
 *                           every MS milliseconds (on a fixed clock), wrapping
 *   manymaps N              N one-page mappings that cannot merge
 *   pid                     -> ok PID
 *   features                -> ok pagemap_scan=0|1 wp_async=0|1 soft_dirty=0|1
 *                           hugetlb=0|1 (probed here; clears soft-dirty bits)
 *   sleep SECONDS           sleep, then answer
 *   exec                    become sleep(1) for a minute (no answer)
 *   exit CODE
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "uapi.h"
#include "kfeatures.h"

#define MAX_AREAS 64
#define FAIL(...) do { reply(__VA_ARGS__); return; } while (0)

struct area {
	char name[32];
	char *addr;
	size_t pages;
};

static struct area areas[MAX_AREAS];
static long page_size;
static int uffd = -1;

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static struct area *find(const char *name)
{
	for (int i = 0; i < MAX_AREAS; i++)
		if (areas[i].addr && !strcmp(areas[i].name, name))
			return &areas[i];
	return NULL;
}

static void *map_kind(size_t len, const char *kind)
{
	int prot = PROT_READ | PROT_WRITE;
	void *p;

	if (!strcmp(kind, "anon") || !strcmp(kind, "nothp")) {
		p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		/* The tests count 4 KiB pages: keep THP away unless asked. */
		if (p != MAP_FAILED)
			madvise(p, len, MADV_NOHUGEPAGE);
		return p;
	}
	if (!strcmp(kind, "thp")) {
		size_t huge = 2UL << 20;
		char *raw = mmap(NULL, len + huge, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (raw == MAP_FAILED)
			return raw;
		char *al = (char *)(((uintptr_t)raw + huge - 1) & ~(huge - 1));
		if (al > raw)
			munmap(raw, (size_t)(al - raw));
		munmap(al + len, (size_t)(raw + len + huge - (al + len)));
		madvise(al, len, MADV_HUGEPAGE);
		return al;
	}
	if (!strcmp(kind, "shared"))
		return mmap(NULL, len, prot, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!strcmp(kind, "hugetlb"))
		return mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (!strcmp(kind, "memfd")) {
		int fd = memfd_create("pmscan-test", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)len) < 0)
			return MAP_FAILED;
		p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
		close(fd);
		return p;
	}
	if (!strncmp(kind, "file:", 5)) {
		int fd = open(kind + 5, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return MAP_FAILED;
		p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
		close(fd);
		return p;
	}
	errno = EINVAL;
	return MAP_FAILED;
}

static int track(struct area *a)
{
	if (uffd < 0) {
		uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
		if (uffd < 0)
			return -1;
		struct uffdio_api api = {
			.api = UFFD_API,
			.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
				    UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
		};
		if (ioctl(uffd, UFFDIO_API, &api) < 0)
			return -1;
	}
	struct uffdio_register reg = {
		.range = { (uintptr_t)a->addr, a->pages * (size_t)page_size },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return -1;
	struct uffdio_writeprotect wp = {
		.range = reg.range,
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
}

/* ---- threads that write and verify their own memory ------------------ */

struct worker {
	pthread_t th;
	unsigned char *base;
	size_t pages;
	unsigned seed;
};

static struct worker workers[16];
static int nworkers;
static atomic_bool stop_workers;
static atomic_ulong corruptions, rounds;

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned char v = (unsigned char)w->seed;

	while (!atomic_load(&stop_workers)) {
		v++;
		for (size_t p = 0; p < w->pages; p++)
			memset(w->base + p * (size_t)page_size, v ^ (unsigned char)p, 64);
		for (size_t p = 0; p < w->pages; p++)
			for (size_t i = 0; i < 64; i++)
				if (w->base[p * (size_t)page_size + i] != (unsigned char)(v ^ (unsigned char)p))
					atomic_fetch_add(&corruptions, 1);
		atomic_fetch_add(&rounds, 1);
	}
	return NULL;
}

static int start_workers(struct area *a, int n)
{
	if (n < 1 || n > 16 || nworkers)
		return -1;
	atomic_store(&stop_workers, false);
	for (int i = 0; i < n; i++) {
		workers[i].base = (unsigned char *)a->addr + (size_t)i * (a->pages / (size_t)n) * (size_t)page_size;
		workers[i].pages = a->pages / (size_t)n;
		workers[i].seed = (unsigned)i * 40;
		if (pthread_create(&workers[i].th, NULL, work, &workers[i]))
			return -1;
		nworkers++;
	}
	return 0;
}

static void stop_all_workers(void)
{
	atomic_store(&stop_workers, true);
	for (int i = 0; i < nworkers; i++)
		pthread_join(workers[i].th, NULL);
	nworkers = 0;
}

/* ---- a steady writer -------------------------------------------------- */

struct ticker {
	pthread_t th;
	struct area *a;
	unsigned long pages, ms;
};

static struct ticker ticker;

static void *tick(void *arg)
{
	struct ticker *t = arg;
	struct timespec next;
	size_t p = 0;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		for (unsigned long i = 0; i < t->pages; i++, p = (p + 1) % t->a->pages)
			t->a->addr[p * (size_t)page_size] ^= 1;
		next.tv_nsec += (long)t->ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	return NULL;
}

static void command(char *line)
{
	char cmd[32] = "", name[32] = "", kind[4096] = "";
	unsigned long a1 = 0, a2 = 0, a3 = 0;
	int n = sscanf(line, "%31s %31s %lu %lu %lu", cmd, name, &a1, &a2, &a3);
	struct area *a = n >= 2 ? find(name) : NULL;

	if (!strcmp(cmd, "pid")) {
		reply("ok %d", (int)getpid());
	} else if (!strcmp(cmd, "features")) {
		reply("ok pagemap_scan=%d wp_async=%d soft_dirty=%d hugetlb=%d", kf_pagemap_scan(),
		      kf_wp_async(), kf_soft_dirty(), kf_hugetlb());
	} else if (!strcmp(cmd, "map")) {
		if (sscanf(line, "%*s %31s %lu %4095s", name, &a1, kind) != 3 || find(name))
			FAIL("err usage");
		for (int i = 0; i < MAX_AREAS; i++) {
			if (areas[i].addr)
				continue;
			void *p = map_kind(a1 * (size_t)page_size, kind);
			if (p == MAP_FAILED)
				FAIL("err mmap: %s", strerror(errno));
			snprintf(areas[i].name, sizeof(areas[i].name), "%s", name);
			areas[i].addr = p;
			areas[i].pages = a1;
			FAIL("ok %p", p);
		}
		reply("err too many areas");
	} else if (!strcmp(cmd, "stopthreads")) {
		stop_all_workers();
		reply("ok %lu %lu", atomic_load(&corruptions), atomic_load(&rounds));
	} else if (!strcmp(cmd, "fork")) {
		/* A child that keeps a copy of everything (the tracker fd too)
		   and writes page 0 of area NAME if given, then waits. */
		pid_t c = fork();
		if (c < 0)
			FAIL("err fork: %s", strerror(errno));
		if (c == 0) {
			if (a)
				a->addr[0] = 7;
			for (;;)
				pause();
		}
		reply("ok %d", (int)c);
	} else if (!strcmp(cmd, "manymaps")) {
		unsigned long count = strtoul(name, NULL, 10);
		for (unsigned long i = 0; i < count; i++)
			if (mmap(NULL, (size_t)page_size, (i & 1) ? PROT_READ : PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
				FAIL("err mmap: %s", strerror(errno));
		reply("ok %lu", count);
	} else if (!a && strcmp(cmd, "exit") && strcmp(cmd, "sleep") && strcmp(cmd, "fork") &&
		   strcmp(cmd, "exec")) {
		reply("err no area '%s'", name);
	} else if (!strcmp(cmd, "track")) {
		if (track(a) < 0)
			FAIL("err track: %s", strerror(errno));
		reply("ok");
	} else if (!strcmp(cmd, "write") || !strcmp(cmd, "read")) {
		bool w = cmd[0] == 'w';
		unsigned long count = 0;
		if (n != 5 || a2 == 0)
			FAIL("err usage");
		for (unsigned long p = a1; count < a3 && p < a->pages; p += a2, count++) {
			volatile char *c = a->addr + p * (size_t)page_size;
			if (w)
				*c = (char)(p | 1);
			else
				(void)*c;
		}
		reply("ok %lu", count);
	} else if (!strcmp(cmd, "threads")) {
		if (start_workers(a, (int)a1) < 0)
			FAIL("err cannot start threads");
		reply("ok");
	} else if (!strcmp(cmd, "ticker")) {
		if (ticker.a || n != 4 || a1 == 0 || a2 == 0)
			FAIL("err usage");
		ticker = (struct ticker){ .a = a, .pages = a1, .ms = a2 };
		if (pthread_create(&ticker.th, NULL, tick, &ticker))
			FAIL("err pthread_create");
		reply("ok");
	} else if (!strcmp(cmd, "sum")) {
		uint64_t h = 1469598103934665603ULL;
		for (size_t i = 0; i < a->pages * (size_t)page_size; i++)
			h = (h ^ (unsigned char)a->addr[i]) * 1099511628211ULL;
		reply("ok %016llx", (unsigned long long)h);
	} else if (!strcmp(cmd, "fill")) {
		for (size_t p = 0; p < a->pages; p++)
			a->addr[p * (size_t)page_size] = 1;
		reply("ok %zu", a->pages);
	} else if (!strcmp(cmd, "dontneed")) {
		if (madvise(a->addr + a1 * (size_t)page_size, a2 * (size_t)page_size,
			    MADV_DONTNEED) < 0)
			FAIL("err madvise: %s", strerror(errno));
		reply("ok");
	} else if (!strcmp(cmd, "unmap")) {
		munmap(a->addr, a->pages * (size_t)page_size);
		a->addr = NULL;
		reply("ok");
	} else if (!strcmp(cmd, "sleep")) {
		sleep((unsigned)atoi(name));
		reply("ok");
	} else if (!strcmp(cmd, "exit")) {
		exit(atoi(name));
	} else if (!strcmp(cmd, "exec")) {
		execlp("sleep", "sleep", "60", (char *)NULL);
		reply("err exec: %s", strerror(errno));
	} else {
		reply("err unknown command '%s'", cmd);
	}
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	page_size = sysconf(_SC_PAGESIZE);
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		command(line);
	}
	free(line);
	return 0;
}

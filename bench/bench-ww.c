/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The write-watch API against the classic emulation of GetWriteWatch
 * (mprotect the region read-only, catch SIGSEGV, unprotect the page and
 * record it), in the same run: the cost of a first write after a reset,
 * and of get+reset, on 1 GiB with 1% of the pages written.
 *
 *   bench-ww [GIB] [ROUNDS]
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#include "pmscan.h"

static size_t ps, pages, stride = 100;
static char *mem;
static void **found;
static volatile size_t nfound;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	char *page = (char *)((uintptr_t)si->si_addr & ~(uintptr_t)(ps - 1));
	if (page < mem || page >= mem + pages * ps)
		abort();
	found[nfound++] = page;
	mprotect(page, ps, PROT_READ | PROT_WRITE);
}

static double write_round(int round)
{
	double t0 = now();
	for (size_t p = (size_t)round % stride; p < pages; p += stride)
		mem[p * ps] = (char)round;
	return (now() - t0) * 1e9 / (double)(pages / stride);
}

int main(int argc, char **argv)
{
	double gib = argc > 1 ? atof(argv[1]) : 1.0;
	int rounds = argc > 2 ? atoi(argv[2]) : 9;
	double ww_write[64], ww_get[64], cl_write[64], cl_get[64];
	size_t expect;

	if (rounds < 1 || rounds > 64)
		rounds = 9;
	ps = (size_t)sysconf(_SC_PAGESIZE);
	pages = (size_t)(gib * (1 << 30)) / ps;
	expect = (pages + stride - 1) / stride;
	found = malloc(pages * sizeof(*found));
	mem = mmap(NULL, pages * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || !found)
		return 1;
	madvise(mem, pages * ps, MADV_NOHUGEPAGE);
	memset(mem, 1, pages * ps);

	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	sigaction(SIGSEGV, &sa, NULL);
	struct pmscan_ww *ww = pmscan_ww_open();
	if (!ww) {
		perror("pmscan_ww_open");
		return 1;
	}

	/* Alternate the two, round by round. */
	for (int r = 0; r < rounds; r++) {
		size_t n = pages, g;

		if (pmscan_ww_watch(ww, mem, pages * ps) < 0) {
			perror("watch");
			return 1;
		}
		ww_write[r] = write_round(r);
		double t0 = now();
		if (pmscan_ww_get(ww, PMSCAN_WW_RESET, mem, pages * ps, found, &n, &g) < 0 || n < expect - 1) {
			fprintf(stderr, "bench-ww: get returned %zu pages, expected %zu\n", n, expect);
			return 1;
		}
		ww_get[r] = now() - t0;
		pmscan_ww_unwatch(ww, mem, pages * ps);

		nfound = 0;
		mprotect(mem, pages * ps, PROT_READ);
		cl_write[r] = write_round(r);
		t0 = now();
		/* "get+reset" in the classic scheme: hand over the list, protect again. */
		n = nfound;
		mprotect(mem, pages * ps, PROT_READ);
		nfound = 0;
		cl_get[r] = now() - t0;
		mprotect(mem, pages * ps, PROT_READ | PROT_WRITE);
		if (n < expect - 1) {
			fprintf(stderr, "bench-ww: the classic scheme saw %zu pages\n", n);
			return 1;
		}
	}
	double w1 = median(ww_write, rounds), w2 = median(cl_write, rounds);
	double g1 = median(ww_get, rounds), g2 = median(cl_get, rounds);
	printf("write watch on %.1f GiB, %zu pages written per round (1%%), median of %d rounds:\n",
	       gib, expect, rounds);
	printf("                               pmscan_ww      mprotect+SIGSEGV   ratio\n");
	printf("  first write after a reset  %9.0f ns/page %9.0f ns/page   %.1fx faster\n", w1, w2, w2 / w1);
	printf("  get+reset                  %9.2f ms      %9.2f ms        %.2fx\n", g1 * 1e3, g2 * 1e3, g2 / g1);
	printf("  round total                %9.2f ms      %9.2f ms        %.1fx faster\n",
	       (w1 * (double)expect / 1e6) + g1 * 1e3, (w2 * (double)expect / 1e6) + g2 * 1e3,
	       ((w2 * (double)expect / 1e6) + g2 * 1e3) / ((w1 * (double)expect / 1e6) + g1 * 1e3));
	pmscan_ww_close(ww);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What write tracking costs the tracked process: the time of a first write
 * to a page after a reset (one write-protect fault) against a write to an
 * untracked page, and how long pmscan takes to arm, reset and disarm, per
 * GiB. The target is a child of this program; pmscan arms it from outside.
 * Then the same for the soft-dirty tracker (--tracker=soft-dirty: a reset
 * by clear_refs, one soft-dirty fault per first write), where the kernel
 * has it; where not, one line says why.
 *
 *   bench-arm PMSCAN [GIB]
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The child: waits for a byte on in, writes every page once, reports the
   pass's duration in ns per page on out. */
static void child(int in, int out, size_t bytes)
{
	long ps = sysconf(_SC_PAGESIZE);
	unsigned char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char c;

	if (m == MAP_FAILED)
		_exit(1);
	madvise(m, bytes, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < bytes; i += (size_t)ps)
		m[i] = 1;
	while (read(in, &c, 1) == 1) {
		double t0 = now();
		for (size_t i = 0; i < bytes; i += (size_t)ps)
			m[i]++;
		double ns = (now() - t0) * 1e9 / (double)(bytes / (size_t)ps);
		if (write(out, &ns, sizeof(ns)) != sizeof(ns))
			_exit(1);
	}
	_exit(0);
}

static double pass(int to, int from)
{
	double ns = 0;
	if (write(to, "x", 1) != 1 || read(from, &ns, sizeof(ns)) != sizeof(ns)) {
		fprintf(stderr, "bench-arm: the child died\n");
		exit(1);
	}
	return ns;
}

/* Run pmscan; its first line of standard error into why (may be NULL)
   when it fails. The exit status. */
static int try_run(const char *pmscan, const char *args, pid_t pid, char *why, size_t len)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s %s -p %d 2>&1 >/dev/null", pmscan, args, (int)pid);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	if (why && len) {
		why[0] = '\0';
		if (fgets(why, (int)len, f))
			why[strcspn(why, "\n")] = '\0';
	}
	while (fgetc(f) != EOF)
		;
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double run(const char *pmscan, const char *args, pid_t pid)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s %s -p %d >/dev/null", pmscan, args, (int)pid);
	double t0 = now();
	if (system(cmd) != 0) {
		fprintf(stderr, "bench-arm: '%s' failed\n", cmd);
		exit(1);
	}
	return now() - t0;
}

int main(int argc, char **argv)
{
	int to[2], from[2];
	double gib = argc > 2 ? atof(argv[2]) : 1.0;
	size_t bytes = (size_t)(gib * (1 << 30));

	if (argc < 2) {
		fprintf(stderr, "usage: bench-arm PMSCAN [GIB]\n");
		return 2;
	}
	if (pipe(to) || pipe(from))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		child(to[0], from[1], bytes);
	}
	close(to[0]);
	close(from[1]);

	double base = pass(to[1], from[0]);
	double base2 = pass(to[1], from[0]);
	char why[512];
	double first = 0, again = 0;

	printf("tracking cost on %.1f GiB of populated anonymous memory (4 KiB pages):\n", gib);
	printf("  write to a page, untracked            %7.0f ns/page (again: %.0f)\n", base, base2);
	/* Each tracker named: auto would measure soft-dirty twice where
	   the kernel has no async write-protect. */
	double t0 = now();
	if (try_run(argv[1], "--tracker=uffd --arm", pid, why, sizeof(why)) != 0) {
		printf("uffd tracker: not measured here: %s\n", why);
	} else {
		double arm = now() - t0;
		first = pass(to[1], from[0]);
		double reset = run(argv[1], "--tracker=uffd --written --wp --summary", pid);
		again = pass(to[1], from[0]);
		double untouched_reset = run(argv[1], "--tracker=uffd --written --wp --summary", pid);
		double disarm = run(argv[1], "--tracker=uffd --disarm", pid);
		double after = pass(to[1], from[0]);

		printf("uffd tracker (--tracker=uffd):\n");
		printf("  first write after --arm               %7.0f ns/page (%.1fx)\n", first, first / base);
		printf("  first write after a reset (--wp)      %7.0f ns/page (%.1fx)\n", again, again / base);
		printf("  write after --disarm                  %7.0f ns/page\n", after);
		printf("  pmscan --arm                          %7.1f ms per GiB\n", arm * 1e3 / gib);
		printf("  pmscan --written --wp, all written    %7.1f ms per GiB\n", reset * 1e3 / gib);
		printf("  pmscan --written --wp, none written   %7.1f ms per GiB\n", untouched_reset * 1e3 / gib);
		printf("  pmscan --disarm                       %7.1f ms\n", disarm * 1e3);
	}

	/* The soft-dirty tracker on the same pages, the uffd one disarmed. */
	if (try_run(argv[1], "--tracker=soft-dirty --arm", pid, why, sizeof(why)) != 0) {
		printf("soft-dirty tracker: not measured here: %s\n", why);
	} else {
		double sd_first = pass(to[1], from[0]);
		double sd_reset = run(argv[1], "--tracker=soft-dirty --written --wp --summary", pid);
		double sd_again = pass(to[1], from[0]);
		double sd_later = pass(to[1], from[0]);
		printf("soft-dirty tracker (--tracker=soft-dirty), same pages:\n");
		printf("  first write after --arm               %7.0f ns/page (%.1fx)\n", sd_first,
		       sd_first / base);
		printf("  first write after a reset (--wp)      %7.0f ns/page (%.1fx)\n", sd_again,
		       sd_again / base);
		if (first > 0)
			printf("  against uffd, first write after --arm, a reset  %.2fx, %.2fx\n",
			       sd_first / first, sd_again / again);
		printf("  later writes to the same pages        %7.0f ns/page\n", sd_later);
		printf("  pmscan --written --wp, all written    %7.1f ms per GiB\n", sd_reset * 1e3 / gib);
	}
	close(to[1]);
	waitpid(pid, NULL, 0);
	return 0;
}

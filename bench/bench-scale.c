/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Cost that should grow only with the work (issue 14): each figure a ratio
 * of two things measured side by side, alternating, in one run.
 *
 *   bench-scale fds PMSCAN [RUNS]
 *       pmscan --written on a target holding 10 fds against the same target
 *       holding as many fds as its hard RLIMIT_NOFILE allows (up to 20000):
 *       unarmed and armed, with and without --no-rearm.
 *   bench-scale rescan PMSCAN [MAPPINGS] [RUNS]
 *       an armed rescan (pmscan --written --wp) of a target with MAPPINGS
 *       (60000) one-page mappings against a bare loop that reads
 *       /proc/PID/maps once and runs PAGEMAP_SCAN with PM_SCAN_WP_MATCHING
 *       over the same address space.
 *   bench-scale stop PMSCAN [RUNS]
 *       the longest pause a target sees while pmscan --arm runs (its only
 *       thread reads CLOCK_MONOTONIC in a loop and keeps the largest gap),
 *       at 100 and at 60000 mappings.
 *   bench-scale armcost PMSCAN [GIB] [RUNS]
 *       pmscan --arm and --disarm at 8 MiB and at GIB (8) of populated
 *       memory, against the kernel's own work on the same memory done by the
 *       target itself (userfaultfd register + UFFDIO_WRITEPROTECT; unregister
 *       + close). GIB shrinks to fit MemAvailable, and says so.
 *   bench-scale watch PMSCAN
 *       pmscan --watch's CPU per interval on a target with 2000 and with
 *       20000 distinct mapping names (one-page memfd mappings, the same 2000
 *       written every 10 ms: writing all would measure the kernel's
 *       write-protect of 10 times the pages), and at 20000 with an interval
 *       shorter than a scan, the
 *       shortest interval it then reports (a slow scan must not squeeze
 *       the next interval).
 *   bench-scale bare-wp PID       (the reference loop of 'rescan')
 *
 * Every wait is bounded; every child is killed when this program ends.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "uapi.h"

#define MAX_RUNS 64
#define CMD_TIMEOUT_MS 120000	/* setting up 8 GiB or 60000 mappings */
#define PMSCAN_TIMEOUT_MS 60000

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The least of a run of timings: what a run disturbed by nothing else on
   the machine takes (the stop window and the arm costs are measured at
   different moments, so other load only adds to one side). */
static double least(const double *v, int n)
{
	double m = v[0];
	for (int i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

/* ---- children: every one killed at exit ------------------------------- */

static pid_t kids[32];
static int nkids;

static void kill_kids(void)
{
	for (int i = 0; i < nkids; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
}

static void on_signal(int sig)
{
	for (int i = 0; i < nkids; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench-scale: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ---- the target -------------------------------------------------------- */

struct spin {			/* shared with a spinning target */
	_Atomic int64_t maxgap_ns;
	_Atomic int reset;
	_Atomic int ready;
};

struct target {
	pid_t pid;
	int to, from;		/* command pipe, reply pipe */
	struct spin *spin;	/* spinning targets only */
	int fds;		/* fds it holds */
	size_t maps;
	char **small;		/* (in the child) its small writable mappings */
};

struct spec {
	int fds;		/* at least this many open fds (0: as it comes) */
	size_t maps;		/* one-page mappings that cannot merge */
	size_t bytes;		/* populated anonymous memory, 4 KiB pages */
	bool spin;		/* spin reading the clock instead of taking commands */
	size_t names;		/* one-page shared mappings of as many memfds, each
				   with a name of its own */
	bool writer;		/* write the first 2000 named mappings every 10 ms,
				   forever */
	bool cpu0;		/* run on CPU 0 only */
};

static char *mem;
static size_t mem_bytes;
static int pin_pmscan = -1;	/* the CPU pmscan runs on, -1 any */

/* Run on CPU cpu only, when the machine has more than one. */
static void pin(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void wr_all(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		_exit(3);
}

static int64_t ns_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The kernel's own arm and release of mem, from inside: register it with a
   userfaultfd of this process and write-protect it (with
   UFFDIO_WRITEPROTECT, or with PAGEMAP_SCAN's PM_SCAN_WP_MATCHING when
   by_scan, pmscan's way where the kernel does that right); unregister and
   close. */
static void kernel_cost(int out, bool by_scan)
{
	double r[2] = { -1, -1 };
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED };
	if (fd >= 0 && pm >= 0 && ioctl(fd, UFFDIO_API, &api) == 0) {
		struct uffdio_register reg = { .range = { (uintptr_t)mem, mem_bytes },
					       .mode = UFFDIO_REGISTER_MODE_WP };
		struct uffdio_writeprotect wp = { .range = { (uintptr_t)mem, mem_bytes },
						  .mode = UFFDIO_WRITEPROTECT_MODE_WP };
		struct uffdio_range range = { (uintptr_t)mem, mem_bytes };
		struct pm_scan_arg a = {
			.size = sizeof(a), .flags = PM_SCAN_WP_MATCHING, .start = (uintptr_t)mem,
			.end = (uintptr_t)mem + mem_bytes,
			.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
		};
		double t0 = now();
		if (ioctl(fd, UFFDIO_REGISTER, &reg) == 0 &&
		    (by_scan ? ioctl(pm, PAGEMAP_SCAN, &a) >= 0 : ioctl(fd, UFFDIO_WRITEPROTECT, &wp) == 0)) {
			double t1 = now();
			ioctl(fd, UFFDIO_UNREGISTER, &range);
			close(fd);
			fd = -1;
			r[0] = t1 - t0;
			r[1] = now() - t1;
		}
	}
	if (fd >= 0)
		close(fd);
	if (pm >= 0)
		close(pm);
	wr_all(out, r, sizeof(r));
}

static void child(const struct spec *sp, struct spin *spin, int in, int out)
{
	long ps = sysconf(_SC_PAGESIZE);
	struct rlimit rl;
	char **small = calloc(sp->maps / 2 + 1, sizeof(*small));
	size_t nsmall = 0;
	int fds = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
	if (sp->spin || sp->cpu0)
		pin(0);
	int want = sp->fds;
	/* As many as the hard limit allows, less a few for arming itself. */
	if (want > 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)want > rl.rlim_cur - 16)
			want = (int)rl.rlim_cur - 16;
	}
	for (int fd = 0; fd < 65536 && fds < want; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			fds++;
	while (fds < want && open("/dev/null", O_RDONLY) >= 0)
		fds++;
	for (size_t i = 0; i < sp->maps; i++) {
		bool w = !(i & 1);
		char *p = mmap(NULL, (size_t)ps, w ? PROT_READ | PROT_WRITE : PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(4);
		if (w) {
			p[0] = 1;
			small[nsmall++] = p;
		}
	}
	if (sp->bytes) {
		mem_bytes = sp->bytes;
		mem = mmap(NULL, mem_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			_exit(5);
		madvise(mem, mem_bytes, MADV_NOHUGEPAGE);
		for (size_t i = 0; i < mem_bytes; i += (size_t)ps)
			mem[i] = 1;
	}
	char **named = calloc(sp->names + 1, sizeof(*named));
	for (size_t i = 0; i < sp->names; i++) {
		char name[64];
		snprintf(name, sizeof(name), "bench-scale-name-%zu", i);
		int fd = memfd_create(name, MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, ps) < 0)
			_exit(6);
		named[i] = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (named[i] == MAP_FAILED)
			_exit(6);
		named[i][0] = 1;
	}
	wr_all(out, &fds, sizeof(fds));
	if (sp->writer) {
		for (;;) {
			for (size_t i = 0; i < sp->names && i < 2000; i++)
				named[i][0]++;
			struct timespec nap = { 0, 10000000 };
			nanosleep(&nap, NULL);
		}
	}
	if (sp->spin) {
		/* Nothing but the clock: no syscall, no fault, in the loop. */
		int64_t last = ns_now(), max = 0;
		atomic_store(&spin->ready, 1);
		for (;;) {
			int64_t t = ns_now();
			if (t - last > max) {
				max = t - last;
				atomic_store_explicit(&spin->maxgap_ns, max, memory_order_relaxed);
			}
			last = t;
			if (atomic_load_explicit(&spin->reset, memory_order_relaxed)) {
				max = 0;
				atomic_store(&spin->maxgap_ns, 0);
				atomic_store(&spin->reset, 0);
				last = ns_now();
			}
		}
	}
	char c;
	while (read(in, &c, 1) == 1) {
		switch (c) {
		case 'w':	/* write the small mappings, and every 16th page of mem */
			for (size_t i = 0; i < nsmall; i++)
				small[i][0]++;
			for (size_t i = 0; i < mem_bytes; i += 16 * (size_t)ps)
				mem[i]++;
			wr_all(out, "k", 1);
			break;
		case 'k':
		case 'K':
			kernel_cost(out, c == 'K');
			break;
		default:
			_exit(0);
		}
	}
	_exit(0);
}

/* Read exactly n bytes within ms, or die. */
static void rd_timed(int fd, void *p, size_t n, int ms, const char *what)
{
	size_t got = 0;
	double limit = now() + ms / 1e3;

	while (got < n) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int left = (int)((limit - now()) * 1e3);
		if (left <= 0 || poll(&pf, 1, left) <= 0)
			die("no answer from the target (%s) within %d ms", what, ms);
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r <= 0)
			die("the target died (%s)", what);
		got += (size_t)r;
	}
}

static void start(struct target *t, const struct spec *sp)
{
	int to[2], from[2];

	memset(t, 0, sizeof(*t));
	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	if (sp->spin) {
		t->spin = mmap(NULL, sizeof(*t->spin), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (t->spin == MAP_FAILED)
			die("mmap: %s", strerror(errno));
	}
	fflush(NULL);
	t->pid = fork();
	if (t->pid < 0)
		die("fork: %s", strerror(errno));
	if (t->pid == 0) {
		close(to[1]);
		close(from[0]);
		child(sp, t->spin, to[0], from[1]);
	}
	kids[nkids++] = t->pid;
	close(to[0]);
	close(from[1]);
	t->to = to[1];
	t->from = from[0];
	t->maps = sp->maps;
	rd_timed(t->from, &t->fds, sizeof(t->fds), CMD_TIMEOUT_MS, "setting up");
}

static void stop(struct target *t)
{
	close(t->to);
	close(t->from);
	kill(t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
	for (int i = 0; i < nkids; i++)
		if (kids[i] == t->pid)
			kids[i] = 0;
	if (t->spin)
		munmap(t->spin, sizeof(*t->spin));
}

static void cmd(struct target *t, char c, void *reply, size_t n)
{
	char k;
	if (write(t->to, &c, 1) != 1)
		die("the target died");
	if (!reply) {
		reply = &k;
		n = 1;
	}
	rd_timed(t->from, reply, n, CMD_TIMEOUT_MS, "command");
}

/* ---- running pmscan ---------------------------------------------------- */

/* Run argv with stdout and stderr on /dev/null; seconds taken, or die when
   it fails or outlives PMSCAN_TIMEOUT_MS. */
static double run_argv(char **argv, bool may_fail)
{
	double t0 = now();
	pid_t p = fork();

	if (p == 0) {
		if (pin_pmscan >= 0)
			pin(pin_pmscan);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (p < 0)
		die("fork: %s", strerror(errno));
	kids[nkids++] = p;
	int status;
	for (;;) {
		pid_t r = waitpid(p, &status, WNOHANG);
		if (r == p)
			break;
		if (now() - t0 > PMSCAN_TIMEOUT_MS / 1e3) {
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
			nkids--;
			die("%s took longer than %d s", argv[0], PMSCAN_TIMEOUT_MS / 1000);
		}
		struct timespec nap = { 0, 50000 };
		nanosleep(&nap, NULL);
	}
	double dt = now() - t0;
	nkids--;
	if (!may_fail && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		char what[512] = "";
		for (char **a = argv; *a; a++)
			snprintf(what + strlen(what), sizeof(what) - strlen(what), " %s", *a);
		die("failed (status 0x%x):%s", status, what);
	}
	return dt;
}

static const char *pmscan_path;

/* pmscan ARGS... -p PID: seconds. */
static double pmscan(const struct target *t, const char *a1, const char *a2, const char *a3)
{
	char pid[16];
	char *argv[8];
	int n = 0;

	snprintf(pid, sizeof(pid), "%d", (int)t->pid);
	argv[n++] = (char *)pmscan_path;
	if (a1)
		argv[n++] = (char *)a1;
	if (a2)
		argv[n++] = (char *)a2;
	if (a3)
		argv[n++] = (char *)a3;
	argv[n++] = "-p";
	argv[n++] = pid;
	argv[n] = NULL;
	return run_argv(argv, false);
}

static int runs_arg(int argc, char **argv, int i, int dflt)
{
	int r = argc > i ? atoi(argv[i]) : dflt;
	return r < 1 ? 1 : r > MAX_RUNS ? MAX_RUNS : r;
}

/* ---- fds --------------------------------------------------------------- */

static void fds_pair(struct target *few, struct target *many, const char *what, const char *a1,
		     const char *a2, int runs)
{
	double f[MAX_RUNS], m[MAX_RUNS];

	for (int i = 0; i < runs; i++) {
		f[i] = pmscan(few, a1, a2, NULL);
		m[i] = pmscan(many, a1, a2, NULL);
	}
	double mf = median(f, runs), mm = median(m, runs);
	printf("  %-34s %8.2f ms %8.2f ms   %5.2fx\n", what, mf * 1e3, mm * 1e3, mm / mf);
}

static int bench_fds(int argc, char **argv)
{
	int runs = runs_arg(argc, argv, 3, 15);
	struct spec sf = { .fds = 10, .bytes = 64 << 20 }, sm = { .fds = 20000, .bytes = 64 << 20 };
	struct target few, many;

	start(&few, &sf);
	start(&many, &sm);
	printf("fds: pmscan --written on 64 MiB, a target with %d fds against one with %d "
	       "(median of %d alternating runs)\n", few.fds, many.fds, runs);
	printf("  %-34s %11s %11s   %s\n", "", "10 fds", "many fds", "ratio");
	fds_pair(&few, &many, "unarmed", "--written", NULL, runs);
	fds_pair(&few, &many, "unarmed, --no-rearm", "--written", "--no-rearm", runs);
	pmscan(&few, "--arm", NULL, NULL);
	pmscan(&many, "--arm", NULL, NULL);
	fds_pair(&few, &many, "armed", "--written", NULL, runs);
	fds_pair(&few, &many, "armed, --no-rearm", "--written", "--no-rearm", runs);
	fds_pair(&few, &many, "armed, --wp", "--written", "--wp", runs);
	stop(&few);
	stop(&many);
	return 0;
}

/* ---- rescan ------------------------------------------------------------ */

struct named { uint64_t start, end; char *name; };

/* The reference: /proc/PID/maps read once (to name the mappings), then
   PAGEMAP_SCAN with WP_MATCHING over the whole address space, each region
   printed with its mapping's name. */
static int bare_wp(const char *pid)
{
	static struct page_region vec[4096];
	char path[64], *line = NULL;
	size_t cap = 0, n = 0, ncap = 0;
	struct named *maps = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	if (!(f = fopen(path, "re")))
		die("%s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		unsigned long long a, b;
		int off = 0;
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &a, &b, &off) < 2)
			continue;
		if (a >= UINT64_C(1) << 56)
			continue;	/* [vsyscall] */
		if (n == ncap) {
			ncap = ncap ? 2 * ncap : 1024;
			maps = realloc(maps, ncap * sizeof(*maps));
		}
		line[strcspn(line, "\n")] = '\0';
		maps[n++] = (struct named){ a, b, strdup(off ? line + off : "") };
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%s/pagemap", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0 || !n)
		die("%s: %s", path, strerror(errno));
	uint64_t pos = maps[0].start, end = maps[n - 1].end;
	size_t mi = 0;
	while (pos < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a), .flags = PM_SCAN_WP_MATCHING, .start = pos, .end = end,
			.vec = (uintptr_t)vec, .vec_len = 4096,
			.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
		};
		long k = ioctl(fd, PAGEMAP_SCAN, &a);
		if (k < 0)
			die("PAGEMAP_SCAN: %s", strerror(errno));
		for (long i = 0; i < k; i++) {
			while (mi + 1 < n && maps[mi].end <= vec[i].start)
				mi++;
			printf("%llx-%llx %s\n", (unsigned long long)vec[i].start,
			       (unsigned long long)vec[i].end, maps[mi].name);
		}
		uint64_t next = k ? (a.walk_end > vec[k - 1].end ? a.walk_end : vec[k - 1].end) : a.walk_end;
		if (next <= pos)
			break;
		pos = next;
	}
	return fflush(stdout) ? 1 : 0;
}

static char self_path[4096];

static int bench_rescan(int argc, char **argv)
{
	size_t maps = argc > 3 ? strtoul(argv[3], NULL, 10) : 60000;
	int runs = runs_arg(argc, argv, 4, 9);
	struct spec sp = { .maps = maps };
	struct target t;
	double p[MAX_RUNS], b[MAX_RUNS];
	char pid[16];

	start(&t, &sp);
	snprintf(pid, sizeof(pid), "%d", (int)t.pid);
	char *bare[] = { self_path, "bare-wp", pid, NULL };
	pmscan(&t, "--arm", NULL, NULL);
	for (int i = 0; i < runs; i++) {
		cmd(&t, 'w', NULL, 0);
		p[i] = pmscan(&t, "--written", "--wp", NULL);
		cmd(&t, 'w', NULL, 0);
		b[i] = run_argv(bare, false);
	}
	double mp = median(p, runs), mb = median(b, runs);
	printf("rescan: an armed target with %zu one-page mappings, half of them written between "
	       "scans (median of %d alternating runs)\n", maps, runs);
	printf("  bare loop (maps once, PAGEMAP_SCAN+WP_MATCHING)  %8.2f ms\n", mb * 1e3);
	printf("  pmscan --written --wp                            %8.2f ms   %.2fx the bare loop\n",
	       mp * 1e3, mp / mb);
	stop(&t);
	return 0;
}

/* ---- stop window ------------------------------------------------------- */

/* The longest gap the target saw during each --arm, median over runs. */
static double stop_window(size_t maps, int runs, double *noise)
{
	struct spec sp = { .maps = maps, .spin = true };
	struct target t;
	double w[MAX_RUNS] = { 0 }, q[MAX_RUNS] = { 0 };

	start(&t, &sp);
	pin_pmscan = 1;		/* the target spins on CPU 0 */
	for (int i = 0; i < runs; i++) {
		atomic_store(&t.spin->reset, 1);
		double t0 = now();
		while (atomic_load(&t.spin->reset) && now() - t0 < 5)
			;
		if (atomic_load(&t.spin->reset))
			die("the spinning target does not answer");
		double took = pmscan(&t, "--arm", NULL, NULL);
		w[i] = (double)atomic_load(&t.spin->maxgap_ns) / 1e9;
		/* As long again with nothing done: what the machine adds. */
		atomic_store(&t.spin->reset, 1);
		t0 = now();
		while (atomic_load(&t.spin->reset) && now() - t0 < 5)
			;
		struct timespec nap = { (time_t)took, (long)((took - (double)(time_t)took) * 1e9) };
		nanosleep(&nap, NULL);
		q[i] = (double)atomic_load(&t.spin->maxgap_ns) / 1e9;
		pmscan(&t, "--disarm", NULL, NULL);
	}
	pin_pmscan = -1;
	stop(&t);
	*noise = least(q, runs);
	return least(w, runs);
}

static int bench_stop(int argc, char **argv)
{
	int runs = runs_arg(argc, argv, 3, 9);
	double n1, n2;
	double small = stop_window(100, runs, &n1);
	double big = stop_window(60000, runs, &n2);

	printf("stop window: the longest pause of the target's only thread (on CPU 0, pmscan on "
	       "CPU 1) while pmscan --arm runs (least of %d runs)\n", runs);
	printf("  100 mappings     %8.3f ms   (as long idle: %.3f ms)\n", small * 1e3, n1 * 1e3);
	printf("  60000 mappings   %8.3f ms   (as long idle: %.3f ms)\n", big * 1e3, n2 * 1e3);
	printf("  ratio            %8.2fx    (limit: 2x + 2 ms = %.3f ms)\n", big / small,
	       (2 * small + 0.002) * 1e3);
	return 0;
}

/* ---- arm and disarm against the kernel's own work ---------------------- */

struct cost {
	double arm, disarm, karm, krel, karm_uffd, karm_scan;	/* least of the runs */
	double own_arm, own_disarm;	/* median of each round's pmscan less kernel */
	double med_arm, med_disarm;	/* median of pmscan's whole times */
};

static struct cost arm_cost(size_t bytes, int runs)
{
	/* The target and pmscan on one CPU: the kernel's work done from
	   pmscan is then done where the target's own was, with no other
	   CPU's TLB to flush. */
	struct spec sp = { .bytes = bytes, .cpu0 = true };
	struct target t;
	double a[MAX_RUNS] = { 0 }, d[MAX_RUNS] = { 0 };
	double ku[MAX_RUNS] = { 0 }, ks[MAX_RUNS] = { 0 }, kr[MAX_RUNS] = { 0 };
	double oa[MAX_RUNS] = { 0 }, od[MAX_RUNS] = { 0 };

	start(&t, &sp);
	for (int i = 0; i < runs; i++) {
		double k[2], k2[2];
		cmd(&t, 'k', k, sizeof(k));
		cmd(&t, 'K', k2, sizeof(k2));
		if (k[0] < 0 || k2[0] < 0)
			die("the target could not write-protect its own memory with userfaultfd");
		ku[i] = k[0];
		ks[i] = k2[0];
		kr[i] = k[1] < k2[1] ? k[1] : k2[1];
		pin_pmscan = 0;
		a[i] = pmscan(&t, "--arm", NULL, NULL);
		d[i] = pmscan(&t, "--disarm", NULL, NULL);
		pin_pmscan = -1;
		/* side by side: this round's kernel work, the quicker way */
		oa[i] = a[i] - (ku[i] < ks[i] ? ku[i] : ks[i]);
		od[i] = d[i] - kr[i];
	}
	stop(&t);
	struct cost c = { least(a, runs), least(d, runs), 0, least(kr, runs), least(ku, runs),
			  least(ks, runs), median(oa, runs), median(od, runs), median(a, runs),
			  median(d, runs) };
	/* The kernel's own write-protect: the quicker of its two ways. */
	c.karm = c.karm_uffd < c.karm_scan ? c.karm_uffd : c.karm_scan;
	return c;
}

static long mem_available_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static int bench_armcost(int argc, char **argv)
{
	double gib = argc > 3 ? atof(argv[3]) : 8;
	int runs = runs_arg(argc, argv, 4, 9);
	long avail = mem_available_kb();
	double fit = avail > 0 ? (double)avail / (1 << 20) - 2 : gib;	/* leave 2 GiB */

	if (gib > fit) {
		printf("armcost: MemAvailable is %.1f GiB: measuring at %.1f GiB instead of %.1f\n",
		       (double)avail / (1 << 20), fit, gib);
		gib = fit;
	}
	if (gib < 0.5)
		die("not enough free memory");
	size_t big = (size_t)(gib * (1 << 30)) & ~(size_t)0xfffff;
	struct cost s = arm_cost(8 << 20, runs), b = arm_cost(big, runs);
	double g = (double)big / (1 << 30);

	printf("arm and disarm: pmscan against the kernel's own work on the same memory, done "
	       "by the target itself (%d rounds)\n", runs);
	printf("  %-31s %10s %10s %12s\n", "", "8 MiB", "8 GiB", "own part");
	if (g < 7.99 || g > 8.01)
		printf("  (the large size is %.2f GiB)\n", g);
	printf("  %-31s %8.2f ms %8.2f ms\n", "kernel: register + WRITEPROTECT", s.karm_uffd * 1e3,
	       b.karm_uffd * 1e3);
	printf("  %-31s %8.2f ms %8.2f ms\n", "kernel: register + WP_MATCHING", s.karm_scan * 1e3,
	       b.karm_scan * 1e3);
	printf("  %-31s %8.2f ms %8.2f ms %10.2f ms   %.2fx the whole 8 MiB time\n", "pmscan --arm",
	       s.arm * 1e3, b.arm * 1e3, b.own_arm * 1e3, b.own_arm / s.med_arm);
	printf("  %-31s %8.2f ms %8.2f ms\n", "kernel: unregister + close", s.krel * 1e3,
	       b.krel * 1e3);
	printf("  %-31s %8.2f ms %8.2f ms %10.2f ms   %.2fx the whole 8 MiB time\n", "pmscan --disarm",
	       s.disarm * 1e3, b.disarm * 1e3, b.own_disarm * 1e3, b.own_disarm / s.med_disarm);
	printf("  kernel per GiB: write-protect %.1f ms (UFFDIO_WRITEPROTECT %.1f, PAGEMAP_SCAN "
	       "WP_MATCHING %.1f), release %.1f ms\n", b.karm * 1e3 / g, b.karm_uffd * 1e3 / g,
	       b.karm_scan * 1e3 / g, b.krel * 1e3 / g);
	printf("  (times: least of the runs; own part: the median over the rounds of pmscan less\n"
	       "   the same round's kernel work, the quicker way; the limit is 3x the median whole\n"
	       "   8 MiB time)\n");
	return 0;
}

/* ---- --watch at scale ---------------------------------------------------- */

struct watched { double cpu; int intervals; double shortest, longest; };

/* pmscan --watch=INTERVAL --count=N --json -p PID: its CPU time, and the
   shortest and longest interval_s it reported after the first. */
static struct watched watch_run(const struct target *t, double interval, int count)
{
	char pid[16], w[32], c[32];
	int p[2];
	struct watched r = { 0, 0, 1e9, 0 };

	snprintf(pid, sizeof(pid), "%d", (int)t->pid);
	snprintf(w, sizeof(w), "--watch=%g", interval);
	snprintf(c, sizeof(c), "--count=%d", count);
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	pid_t k = fork();
	if (k == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(p[1], 1);
		dup2(null, 2);
		execl(pmscan_path, pmscan_path, w, c, "--json", "-p", pid, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	kids[nkids++] = k;
	FILE *f = fdopen(p[0], "r");
	char *line = NULL;
	size_t cap = 0;
	double limit = now() + PMSCAN_TIMEOUT_MS / 1e3;
	struct pollfd pf = { .fd = p[0], .events = POLLIN };
	while (now() < limit && poll(&pf, 1, 1000) >= 0) {
		if (!(pf.revents & (POLLIN | POLLHUP)))
			continue;
		if (getline(&line, &cap, f) <= 0)
			break;
		char *q = strstr(line, "\"interval_s\":");
		if (!q || strstr(line, "\"summary\""))
			continue;
		double v = atof(q + 13);
		if (r.intervals++ == 0)
			continue;	/* the first one starts with the watch */
		if (v < r.shortest)
			r.shortest = v;
		if (v > r.longest)
			r.longest = v;
	}
	free(line);
	fclose(f);
	if (now() >= limit)
		kill(k, SIGKILL);
	struct rusage ru;
	int st;
	if (wait4(k, &st, 0, &ru) < 0)
		die("wait4: %s", strerror(errno));
	nkids--;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("pmscan %s %s -p %s failed (status 0x%x)", w, c, pid, st);
	r.cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return r;
}

/* CPU per interval: the difference between a long and a short watch, so
   that starting up and arming cancel out. */
static double watch_cost(size_t names, double interval, struct watched *last)
{
	struct spec sp = { .names = names, .writer = true };
	struct target t;

	start(&t, &sp);
	pmscan(&t, "--arm", NULL, NULL);
	struct watched a = watch_run(&t, interval, 2), b = watch_run(&t, interval, 8);
	stop(&t);
	*last = b;
	return (b.cpu - a.cpu) / 6;
}

static int bench_watch(int argc, char **argv)
{
	struct watched s, b;
	(void)argc, (void)argv;
	double small = watch_cost(2000, 0.5, &s), big = watch_cost(20000, 0.5, &b);
	struct watched q;
	/* An interval shorter than a scan: the next one must not be squeezed. */
	struct spec sp = { .names = 20000, .writer = true };
	struct target t;
	start(&t, &sp);
	pmscan(&t, "--arm", NULL, NULL);
	q = watch_run(&t, 0.01, 8);
	stop(&t);

	printf("--watch: CPU per interval with N distinct mapping names, 2000 of them written every "
	       "10 ms (pmscan --watch=0.5 --json, 8 intervals less 2)\n");
	printf("  2000 names     %8.2f ms per interval\n", small * 1e3);
	printf("  20000 names    %8.2f ms per interval   %.2fx (limit 15x)\n", big * 1e3, big / small);
	printf("  --watch=0.01 at 20000 names, slower scans than the interval: intervals "
	       "reported %.3f to %.3f s (none shorter than 0.01 s: %s)\n", q.shortest, q.longest,
	       q.shortest >= 0.0095 ? "yes" : "NO");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "bare-wp"))
		return bare_wp(argv[2]);
	if (argc < 3) {
		fprintf(stderr, "usage: bench-scale fds|rescan|stop|armcost|watch PMSCAN [ARGS]\n"
			"       bench-scale bare-wp PID\n");
		return 2;
	}
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n <= 0)
		die("/proc/self/exe: %s", strerror(errno));
	self_path[n] = '\0';
	pmscan_path = argv[2];
	atexit(kill_kids);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (!strcmp(argv[1], "fds"))
		return bench_fds(argc, argv);
	if (!strcmp(argv[1], "rescan"))
		return bench_rescan(argc, argv);
	if (!strcmp(argv[1], "stop"))
		return bench_stop(argc, argv);
	if (!strcmp(argv[1], "armcost"))
		return bench_armcost(argc, argv);
	if (!strcmp(argv[1], "watch"))
		return bench_watch(argc, argv);
	fprintf(stderr, "bench-scale: unknown benchmark '%s'\n", argv[1]);
	return 2;
}

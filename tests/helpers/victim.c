/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A target for the arming-safety tests: threads blocked in the calls an
 * injector could disturb (pause, read, epoll_wait, accept, nanosleep,
 * futex), each counting the EINTRs it sees and checking its signal mask;
 * a thread computing checksums; handlers counting SIGUSR1 and queued
 * real-time signals (which must arrive all, once, in order). Optional: a
 * seccomp filter on userfaultfd(), a main thread in vfork(), a zombie
 * leader. Commands on stdin, one per line: "counts", "tids", "quit".
 *
 *   victim [-r] [-t] [-1] [-s kill|trap|errno] [-v SECONDS] [-z]
 *     -r  handlers with SA_RESTART      -t  the blocked threads
 *     -s  seccomp filter on userfaultfd -v  main thread vforks a child
 *     -z  the main thread exits         -1  no other thread at all
 *   victim send PID N        queue SIGRTMIN to PID N times, values 1..N
 *   victim killer PID SIG TRIALS MAXDELAY_US PMSCAN ARG...
 *                            run PMSCAN ARG... TRIALS times, each time
 *                            sending SIG to it after a random delay, then
 *                            disarming PID; prints what became of PID
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

enum { C_PAUSE, C_READ, C_EPOLL, C_ACCEPT, C_SLEEP, C_FUTEX, NCALLS };
static const char *const call_names[NCALLS] = { "pause", "read", "epoll", "accept", "nanosleep", "futex" };

static atomic_long eintr[NCALLS], woke[NCALLS], usr1, rt, rt_bad, mask_bad, sigsys, sum_bad, rounds;
static atomic_int rt_next = 1;
static pid_t tids[NCALLS + 1];
static int futex_word;

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	/* Queued from one sender in sequence: must come all, once, in order. */
	int want = atomic_fetch_add(&rt_next, 1);
	if (si->si_value.sival_int != want)
		rt_bad++;
	rt++;
}

static void on_sys(int sig)
{
	(void)sig;
	sigsys++;
}

static __thread sigset_t my_mask;
static __thread bool have_mask;

/* Each thread's mask must stay what it was when the thread first looked. */
static void check_mask(void)
{
	sigset_t now;

	pthread_sigmask(SIG_SETMASK, NULL, &now);
	if (!have_mask) {
		my_mask = now;
		have_mask = true;
		return;
	}
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&now, s) != sigismember(&my_mask, s)) {
			mask_bad++;
			return;
		}
}

static void count(int c, long r)
{
	if (r < 0 && errno == EINTR)
		eintr[c]++;
	else
		woke[c]++;
	check_mask();
}

static void *blocked(void *arg)
{
	int c = (int)(long)arg, p[2], ep, ls;
	struct epoll_event ev;

	tids[c] = (pid_t)syscall(SYS_gettid);
	check_mask();
	switch (c) {
	case C_PAUSE:
		for (;;)
			count(c, pause());
	case C_READ:
		if (pipe(p) < 0)
			return NULL;
		for (;;) {
			char b;
			count(c, read(p[0], &b, 1));
		}
	case C_EPOLL:
		ep = epoll_create1(0);
		for (;;)
			count(c, epoll_wait(ep, &ev, 1, -1));
	case C_ACCEPT: {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		ls = socket(AF_UNIX, SOCK_STREAM, 0);
		/* An abstract name, unique per process. */
		snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "pmscan-victim-%d", (int)getpid());
		if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1) < 0)
			return NULL;
		for (;;)
			count(c, accept(ls, NULL, NULL));
	}
	case C_SLEEP:
		for (;;) {
			struct timespec ts = { 100000, 0 };
			count(c, nanosleep(&ts, NULL));
		}
	case C_FUTEX:
		for (;;)
			count(c, syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
	}
	return NULL;
}

static void *compute(void *arg)
{
	static unsigned buf[4096];
	(void)arg;

	tids[NCALLS] = (pid_t)syscall(SYS_gettid);
	for (unsigned n = 1;; n++) {
		unsigned sum = 0, want = 0;
		for (unsigned i = 0; i < 4096; i++) {
			buf[i] = i * n;
			want += i * n;
		}
		for (unsigned i = 0; i < 4096; i++)
			sum += buf[i];
		if (sum != want)
			sum_bad++;
		rounds++;
		check_mask();
		if (n % 64 == 0)
			sched_yield();
	}
	return NULL;
}

static void install_seccomp(const char *mode)
{
	unsigned action = !strcmp(mode, "kill") ? SECCOMP_RET_KILL_PROCESS :
			  !strcmp(mode, "trap") ? SECCOMP_RET_TRAP : SECCOMP_RET_ERRNO | EPERM;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_userfaultfd, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		perror("victim: seccomp");
		exit(99);
	}
}

static void print_counts(void)
{
	printf("counts");
	for (int c = 0; c < NCALLS; c++)
		printf(" %s_eintr=%ld %s_woke=%ld", call_names[c], eintr[c], call_names[c], woke[c]);
	printf(" usr1=%ld rt=%ld rt_bad=%ld mask_bad=%ld sigsys=%ld sum_bad=%ld rounds=%ld\n", usr1, rt,
	       rt_bad, mask_bad, sigsys, sum_bad, rounds);
	fflush(stdout);
}

static void *control(void *arg)
{
	char line[128];
	(void)arg;

	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "counts", 6))
			print_counts();
		else if (!strncmp(line, "tids", 4)) {
			printf("tids");
			for (int c = 0; c < NCALLS; c++)
				printf(" %s=%d", call_names[c], (int)tids[c]);
			printf(" compute=%d\n", (int)tids[NCALLS]);
			fflush(stdout);
		} else if (!strncmp(line, "quit", 4))
			exit(0);
	}
	exit(0);
}

static bool process_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[2] != 'Z' && p[2] != 'X';
}

/* Start argv with its output thrown away. */
static pid_t spawn_quiet(char **argv)
{
	pid_t c = fork();

	if (c == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return c;
}

static int run_quiet(char **argv)
{
	int st;

	waitpid(spawn_quiet(argv), &st, 0);
	return st;
}

static int killer(int argc, char **argv)
{
	pid_t pid = atoi(argv[2]);
	int sig = atoi(argv[3]), trials = atoi(argv[4]), maxus = atoi(argv[5]);
	char **cmd = argv + 6;
	char spid[16];
	char *disarm[] = { cmd[0], "--disarm", "-p", spid, NULL };
	int dead = 0, by_sig = 0, ok = 0, other = 0;

	(void)argc;
	snprintf(spid, sizeof(spid), "%d", (int)pid);
	srand((unsigned)getpid());
	for (int i = 0; i < trials && !dead; i++) {
		int st;
		pid_t c = spawn_quiet(cmd);
		struct timespec ts = { 0, (long)(rand() % (maxus + 1)) * 1000 };
		nanosleep(&ts, NULL);
		kill(c, sig);
		waitpid(c, &st, 0);
		if (WIFSIGNALED(st) && WTERMSIG(st) == sig)
			by_sig++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
		else
			other++;
		if (!process_alive(pid))
			dead++;
		else
			run_quiet(disarm);
	}
	printf("trials=%d dead=%d signalled=%d finished=%d other=%d\n", trials, dead, by_sig, ok, other);
	return 0;
}

static int sender(char **argv)
{
	pid_t pid = atoi(argv[2]);
	int n = atoi(argv[3]);

	for (int i = 1; i <= n; i++) {
		union sigval v = { .sival_int = i };
		while (sigqueue(pid, SIGRTMIN, v) < 0) {
			if (errno != EAGAIN)
				return 1;
			usleep(100);
		}
		if (i % 16 == 0)
			usleep(200);
	}
	return 0;
}

int main(int argc, char **argv)
{
	bool restart = false, threads = false, zombie = false, alone = false;
	const char *sec = NULL;
	volatile int vfork_secs = 0;
	int opt;
	pthread_t th;

	if (argc > 5 && !strcmp(argv[1], "killer"))
		return killer(argc, argv);
	if (argc == 4 && !strcmp(argv[1], "send"))
		return sender(argv);
	while ((opt = getopt(argc, argv, "rt1s:v:z")) != -1)
		switch (opt) {
		case 'r': restart = true; break;
		case 't': threads = true; break;
		case 's': sec = optarg; break;
		case 'v': vfork_secs = atoi(optarg); break;
		case 'z': zombie = true; break;
		case '1': alone = true; break;
		default: return 99;
		}
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = restart ? SA_RESTART : 0 };
	sigaction(SIGUSR1, &sa, NULL);
	struct sigaction sr = { .sa_sigaction = on_rt, .sa_flags = SA_SIGINFO | (restart ? SA_RESTART : 0) };
	sigaction(SIGRTMIN, &sr, NULL);
	struct sigaction ss = { .sa_handler = on_sys };
	sigaction(SIGSYS, &ss, NULL);
	/* Real-time signals are handled by one thread only, so order holds. */
	sigset_t rtset;
	sigemptyset(&rtset);
	sigaddset(&rtset, SIGRTMIN);
	if (threads)
		sigaddset(&rtset, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &rtset, NULL);
	if (sec)
		install_seccomp(sec);

	if (threads)
		for (long c = 0; c < NCALLS; c++) {
			if (c == C_PAUSE) {
				/* The pause thread takes the real-time signals. */
				pthread_sigmask(SIG_UNBLOCK, &rtset, NULL);
				pthread_create(&th, NULL, blocked, (void *)c);
				pthread_sigmask(SIG_BLOCK, &rtset, NULL);
			} else {
				pthread_create(&th, NULL, blocked, (void *)c);
			}
		}
	if (!alone)
		pthread_create(&th, NULL, compute, NULL);
	while (threads && !tids[NCALLS - 1])
		usleep(1000);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	if (!alone)
		pthread_create(&th, NULL, control, NULL);
	if (zombie)
		pthread_exit(NULL);
	if (vfork_secs) {
		for (;;) {
			pid_t c = vfork();
			if (c == 0) {
				/* The parent waits in vfork() until this exits. */
				sleep((unsigned)vfork_secs);
				_exit(0);
			}
		}
	}
	for (;;)
		pause();
}

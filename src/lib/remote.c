/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running one system call inside another process (see remote.h).
 *
 * The sequence, and why each step is the way it is:
 *  - Pick a thread that is blocked in a syscall (or else running): not one
 *    in vfork() or uninterruptible sleep, which would not stop in time.
 *  - Seize it and PTRACE_INTERRUPT it. Signal-delivery stops seen before
 *    the interrupt stop are delivered at once, as they would have been.
 *  - A thread stopped in a syscall is let go on through the kernel's own
 *    signal code (which restarts the call or makes it return EINTR as it
 *    always would) to its next syscall entry. That entry is borrowed: the
 *    thread runs our call instead, then its registers are set back so
 *    that it either executes the borrowed syscall anew (a fresh entry) or
 *    sees the interrupted call's restart code again (the restart of the
 *    call it was blocked in), and the kernel's signal code decides once
 *    more, with any signal that arrived meanwhile. Its signal mask is never
 *    touched on this path: a temporary mask (ppoll, pselect, sigsuspend)
 *    stays the kernel's business.
 *  - A thread stopped in user code runs the call at a syscall instruction
 *    of its vDSO with every signal held, then gets its registers and mask
 *    back; nothing was in progress, so nothing needs restarting.
 *  - Every wait has a deadline. When attaching, all of this runs in a
 *    child process with every catchable signal blocked: if the caller is
 *    killed, the child still finishes; if the deadline passes, the child
 *    exits and the kernel detaches the thread, cancelling the interrupt.
 */
#include "internal.h"
#include "inject.h"
#include "remote.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/pidfd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_EVENT_STOP
# define PTRACE_EVENT_STOP 128
#endif
#ifndef PTRACE_O_SUSPEND_SECCOMP
# define PTRACE_O_SUSPEND_SECCOMP (1 << 21)
#endif

#define SYSCALL_STOP (SIGTRAP | 0x80)
/* How long to wait for a thread let go to its next syscall entry before
   stopping it again and using its vDSO instead. */
#define ENTRY_WAIT_MS 200

#define fail target_fail

/* ---- signals of the caller ------------------------------------------- */

static void held_set(sigset_t *s)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE,
				    SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGALRM };

	sigemptyset(s);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(s, sigs[i]);
}

void remote_hold_signals(sigset_t *saved)
{
	sigset_t s;

	held_set(&s);
	pthread_sigmask(SIG_BLOCK, &s, saved);
}

void remote_release_signals(const sigset_t *saved)
{
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* ---- deadlines and waits --------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct waiter {
	pid_t tid;
	int64_t deadline;	/* ms, CLOCK_MONOTONIC */
	bool sigchld;		/* SIGCHLD is blocked and ours to take */
};

/*
 * The next wait status of w->tid, or -ETIMEDOUT at limit (<= deadline),
 * -ESRCH when it is gone. The injector takes SIGCHLD with sigtimedwait;
 * in the caller's own process (a command it traces) SIGCHLD belongs to
 * the caller, so it polls.
 */
static int wait_until(struct waiter *w, int64_t limit, int *status)
{
	sigset_t chld;
	long nap_us = 20;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		pid_t r;
		if (!w->sigchld) {
			/* The caller's own child: leave an exit for the caller to
			   collect, take only stops. */
			siginfo_t si = { 0 };
			if (waitid(P_PID, (id_t)w->tid, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL) == 0 &&
			    si.si_pid == w->tid && (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED ||
						    si.si_code == CLD_DUMPED))
				return -ESRCH;
		}
		r = waitpid(w->tid, status, __WALL | WNOHANG);
		if (r == w->tid)
			return (WIFEXITED(*status) || WIFSIGNALED(*status)) ? -ESRCH : 0;
		if (r < 0 && errno != EINTR)
			return errno == ECHILD ? -ESRCH : -errno;
		int64_t left = limit - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (w->sigchld) {
			struct timespec ts = { left / 1000, (left % 1000) * 1000000 };
			sigtimedwait(&chld, NULL, &ts);
		} else {
			struct timespec ts = { 0, nap_us * 1000 };
			nanosleep(&ts, NULL);
			if (nap_us < 2000)
				nap_us *= 2;
		}
	}
}

static int wait_stop(struct waiter *w, int *status)
{
	return wait_until(w, w->deadline, status);
}

/* ---- choosing a thread ----------------------------------------------- */

struct thread {
	pid_t tid;
	char state;
	long syscall;		/* blocked in this syscall; -1 none; -2 running */
	uint64_t arg0;
	int score;
};

static bool is_vfork(const struct thread *th)
{
#ifdef __x86_64__
	/* vfork, or clone with CLONE_VFORK */
	return th->syscall == SYS_vfork || (th->syscall == SYS_clone && (th->arg0 & 0x4000));
#else
	return th->syscall == SYS_clone && (th->arg0 & 0x4000);
#endif
}

static void read_thread(pid_t pid, struct thread *th)
{
	char path[80], buf[512], *p;

	th->state = '?';
	th->syscall = -2;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)th->tid);
	if (proc_read(path, buf, sizeof(buf)) > 0 && (p = strrchr(buf, ')')) && p[1] == ' ')
		th->state = p[2];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)th->tid);
	if (proc_read(path, buf, sizeof(buf)) > 0) {
		if (!strncmp(buf, "running", 7))
			th->syscall = -2;
		else {
			char *end;
			th->syscall = strtol(buf, &end, 10);
			th->arg0 = strtoull(end, NULL, 16);
		}
	}
	switch (th->state) {
	case 'S':
		th->score = th->syscall >= 0 ? 4 : 3;
		break;
	case 'R':
		th->score = 3;
		break;
	case 'D':
		th->score = is_vfork(th) ? 0 : 1;
		break;
	default:	/* stopped, traced, zombie, dead */
		th->score = -1;
	}
}

/* The best thread to interrupt, and whether every live one is stopped. */
static int choose_thread(struct pmscan_target *t, struct thread *best, bool *all_stopped)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int live = 0, stopped = 0;

	*all_stopped = false;
	best->tid = 0;
	best->score = -2;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)t->pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((e = readdir(d))) {
		struct thread th = { .tid = atoi(e->d_name) };
		if (th.tid <= 0)
			continue;
		read_thread(t->pid, &th);
		if (th.state == 'Z' || th.state == 'X' || th.state == '?')
			continue;
		live++;
		if (th.state == 'T' || th.state == 't')
			stopped++;
		if (th.score > best->score || (th.score == best->score && th.tid == t->pid))
			*best = th;
	}
	closedir(d);
	*all_stopped = live > 0 && stopped == live;
	return live ? 0 : -ESRCH;
}

static long status_field(pid_t pid, pid_t tid, const char *key)
{
	char path[80], buf[4096];
	size_t klen = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if (proc_read(path, buf, sizeof(buf)) <= 0)
		return -1;
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (!strncmp(line, key, klen) && line[klen] == ':')
			return strtol(line + klen + 1, NULL, 10);
	return -1;
}

static uint64_t status_mask(pid_t pid, pid_t tid, const char *key)
{
	char path[80], buf[4096];
	size_t klen = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if (proc_read(path, buf, sizeof(buf)) <= 0)
		return 0;
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (!strncmp(line, key, klen) && line[klen] == ':')
			return strtoull(line + klen + 1, NULL, 16);
	return 0;
}

static bool have_cap_sys_admin(void)
{
	/* CAP_SYS_ADMIN is bit 21 of the effective set. */
	return (status_mask(getpid(), getpid(), "CapEff") >> 21) & 1;
}

/* ---- where to run a call from user code: the vDSO -------------------- */

static int find_syscall_insn(struct pmscan_target *t, uint64_t *addr)
{
	char path[64];
	uint64_t aux[2], vdso = 0;
	unsigned char buf[16384];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (read(fd, aux, sizeof(aux)) == (ssize_t)sizeof(aux) && aux[0] != AT_NULL)
		if (aux[0] == AT_SYSINFO_EHDR)
			vdso = aux[1];
	close(fd);
	if (!vdso)
		return -ENOEXEC;
	struct iovec local = { buf, sizeof(buf) }, remote = { (void *)(uintptr_t)vdso, sizeof(buf) };
	ssize_t n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
	if (n <= 0) {
		/* The vDSO may be smaller than buf: read one page at least. */
		local.iov_len = remote.iov_len = (size_t)page_size_cached();
		n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
	}
	/* A fixed-width instruction set (arm64's 4 bytes) puts instructions on
	   their own alignment; x86's 2-byte syscall can sit anywhere. */
	ssize_t step = arch_syscall_insn_len >= 4 ? (ssize_t)arch_syscall_insn_len : 1;
	for (ssize_t i = 0; i + (ssize_t)arch_syscall_insn_len <= n; i += step)
		if (!memcmp(buf + i, arch_syscall_insn, arch_syscall_insn_len)) {
			*addr = vdso + (uint64_t)i;
			return 0;
		}
	return -ENOEXEC;
}

/* ---- the sequence ------------------------------------------------------ */

struct seq {
	struct pmscan_target *t;
	struct remote_call *c;
	struct waiter w;
	pid_t tid;
	uint64_t vdso_pc;	/* 0: not found */
	bool attached;		/* we seized tid (else: the caller traces it) */
	bool gone;		/* the thread exited: nothing to put back */
};

static int exited(struct seq *s)
{
	s->gone = true;
	return fail(s->t, ESRCH, "process %d exited while being armed", (int)s->t->pid);
}

static int ptrace_err(struct seq *s, const char *what)
{
	int e = errno;

	if (e == ESRCH)
		return exited(s);
	return fail(s->t, e, "ptrace %s of thread %d", what, (int)s->tid);
}

/* Resume with req and sig. */
static int resume(struct seq *s, int req, int sig)
{
	if (ptrace(req, s->tid, 0, (void *)(long)sig) < 0)
		return ptrace_err(s, "resume");
	return 0;
}

static int syscall_op(pid_t tid)
{
	struct __ptrace_syscall_info info;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info), &info) <= 0)
		return -1;
	return info.op;
}

/* Deliver the signal of a signal-delivery stop, as it would have been. */
static int pass_signal(struct seq *s, int req, int status)
{
	return resume(s, req, WSTOPSIG(status));
}

/*
 * Wait for the stop of a PTRACE_INTERRUPT: a PTRACE_EVENT_STOP (the
 * interrupt, or a group stop, both inside the kernel's signal code).
 */
static int wait_interrupt_stop(struct seq *s)
{
	int status, r;

	for (;;) {
		if ((r = wait_stop(&s->w, &status)) < 0)
			return r == -ESRCH ? exited(s) : r;
		if ((status >> 16) == PTRACE_EVENT_STOP)
			return 0;
		if (WSTOPSIG(status) == SYSCALL_STOP || (status >> 16)) {
			/* A syscall or event stop still queued: go on to ours. */
			if ((r = resume(s, PTRACE_CONT, 0)) < 0)
				return r;
			continue;
		}
		if ((r = pass_signal(s, PTRACE_CONT, status)) < 0)
			return r;
	}
}

/* Resume with PTRACE_SYSCALL until the next syscall stop of kind op
   (entry or exit) before limit. Signals are delivered on the way; a group
   stop is passed over (detaching reinstates it). */
static int run_to_syscall(struct seq *s, int op, int64_t limit, bool *passed)
{
	int status, r;

	if ((r = resume(s, PTRACE_SYSCALL, 0)) < 0)
		return r;
	for (;;) {
		if ((r = wait_until(&s->w, limit, &status)) < 0)
			return r == -ESRCH ? exited(s) : r;
		if (WSTOPSIG(status) == SYSCALL_STOP && !(status >> 16)) {
			if (syscall_op(s->tid) == op)
				return 0;
			r = resume(s, PTRACE_SYSCALL, 0);
		} else if (status >> 16) {
			r = resume(s, PTRACE_SYSCALL, 0);
		} else {
			if (passed)
				*passed = true;
			r = pass_signal(s, PTRACE_SYSCALL, status);
		}
		if (r < 0)
			return r;
	}
}

/* Run the call, and its undo if after() refuses, from a syscall entry stop
   (regs: the registers there). Leaves the thread at the exit stop. */
static int call_at_entry(struct seq *s, const struct arch_regs *entry)
{
	struct arch_regs regs = *entry, ex;
	int r;

	if ((r = arch_set_entry_call(s->tid, &regs, s->c->nr, s->c->args)) < 0)
		return ptrace_err(s, "set registers");
	if ((r = run_to_syscall(s, PTRACE_SYSCALL_INFO_EXIT, s->w.deadline, NULL)) < 0)
		return r;
	if ((r = arch_get_regs(s->tid, &ex)) < 0)
		return ptrace_err(s, "get registers");
	s->c->ret = arch_retval(&ex);
	return 0;
}

/* Same from user code: at pc in the vDSO, registers and mask from saved. */
static int call_at_pc(struct seq *s, const struct arch_regs *saved, long nr, const uint64_t args[6], long *ret)
{
	struct arch_regs regs = *saved;
	int r;

	if ((r = arch_set_call_at(s->tid, &regs, s->vdso_pc, nr, args)) < 0)
		return ptrace_err(s, "set registers");
	if ((r = run_to_syscall(s, PTRACE_SYSCALL_INFO_ENTRY, s->w.deadline, NULL)) < 0 ||
	    (r = run_to_syscall(s, PTRACE_SYSCALL_INFO_EXIT, s->w.deadline, NULL)) < 0)
		return r;
	if ((r = arch_get_regs(s->tid, &regs)) < 0)
		return ptrace_err(s, "get registers");
	*ret = arch_retval(&regs);
	return 0;
}

/* after(), and the undo call when it refuses, through next(). */
static int finish_call(struct seq *s, bool *undo)
{
	*undo = false;
	if (!s->c->after || s->c->ret < 0)
		return 0;
	int r = s->c->after(s->t, s->c);
	if (r < 0 && s->c->undo_nr >= 0)
		*undo = true;
	return r;
}

/* The thread is in user code at an interrupt stop: use the vDSO. */
static int inject_user(struct seq *s, const struct arch_regs *saved)
{
	uint64_t mask = 0, all = ~UINT64_C(0);
	bool undo;
	long ignored;
	int r, r2;

	if (!s->vdso_pc)
		return fail(s->t, ENOEXEC, "no syscall instruction in the vDSO of process %d", (int)s->t->pid);
	if (ptrace(PTRACE_GETSIGMASK, s->tid, (void *)sizeof(mask), &mask) < 0 ||
	    ptrace(PTRACE_SETSIGMASK, s->tid, (void *)sizeof(all), &all) < 0)
		return ptrace_err(s, "signal mask");
	r = call_at_pc(s, saved, s->c->nr, s->c->args, &s->c->ret);
	if (r == 0) {
		r = finish_call(s, &undo);
		if (undo) {
			uint64_t a[6] = { (uint64_t)s->c->ret };
			call_at_pc(s, saved, s->c->undo_nr, a, &ignored);
		}
	}
	/* Put everything back, whatever happened (unless it is gone). */
	if (!s->gone) {
		r2 = arch_set_regs(s->tid, saved);
		if (ptrace(PTRACE_SETSIGMASK, s->tid, (void *)sizeof(mask), &mask) < 0 && !r2)
			r2 = -errno;
		if (r2 < 0 && r == 0)
			r = ptrace_err(s, "restore");
	}
	return r;
}

/*
 * The thread was interrupted in syscall nr0 with code0 in its return
 * register (first: its registers at the interrupt stop). Let it go to its
 * next syscall entry and borrow that.
 */
static int inject_entry(struct seq *s, const struct arch_regs *first, bool *fallback)
{
	struct arch_regs entry;
	bool passed = false, undo;
	long nr0 = arch_syscall_nr(first), code0 = arch_retval(first);
	int64_t limit = now_ms() + ENTRY_WAIT_MS;
	int r;

	*fallback = false;
	if (limit > s->w.deadline)
		limit = s->w.deadline;
	r = run_to_syscall(s, PTRACE_SYSCALL_INFO_ENTRY, limit, &passed);
	if (r == -ETIMEDOUT && now_ms() < s->w.deadline) {
		/* It went on in user code (a handler, say): stop it there. */
		if (ptrace(PTRACE_INTERRUPT, s->tid, 0, 0) < 0)
			return ptrace_err(s, "interrupt");
		if ((r = wait_interrupt_stop(s)) < 0)
			return r;
		*fallback = true;
		return 0;
	}
	if (r < 0)
		return r;
	if ((r = arch_get_regs(s->tid, &entry)) < 0)
		return ptrace_err(s, "get registers");
	long nr = arch_syscall_nr(&entry);
	/* The restart of the call the thread was blocked in: same place, same
	   call (or restart_syscall), no signal handled in between. */
	bool restart = !passed && arch_pc(&entry) == arch_pc(first) &&
		       (code0 == -ERESTARTSYS || code0 == -ERESTARTNOINTR || code0 == -ERESTARTNOHAND ||
			code0 == -ERESTART_RESTARTBLOCK) &&
		       (nr == nr0 || (code0 == -ERESTART_RESTARTBLOCK && nr == arch_nr_restart_syscall));

	r = call_at_entry(s, &entry);
	if (r == 0) {
		r = finish_call(s, &undo);
		if (undo) {
			/* Borrow the same entry once more: back before it, to it. */
			struct arch_regs back = entry, again;
			uint64_t a[6] = { (uint64_t)s->c->ret };
			long saved_ret = s->c->ret;
			if (arch_set_before_syscall(s->tid, &back, nr) == 0 &&
			    run_to_syscall(s, PTRACE_SYSCALL_INFO_ENTRY, s->w.deadline, NULL) == 0 &&
			    arch_get_regs(s->tid, &again) == 0) {
				struct remote_call u = { .nr = s->c->undo_nr, .args = { a[0] } };
				struct remote_call *keep = s->c;
				s->c = &u;
				call_at_entry(s, &again);
				s->c = keep;
				entry = again;
				nr = arch_syscall_nr(&again);
			}
			s->c->ret = saved_ret;
		}
	}
	if (s->gone)
		return r;
	/* Back as it was: about to run the borrowed syscall anew, or (for the
	   restart of an interrupted call) having been interrupted in it. */
	struct arch_regs back = entry;
	int r2 = restart ? arch_set_interrupted(s->tid, &back, nr, code0)
			 : arch_set_before_syscall(s->tid, &back, nr);
	if (r2 < 0 && r == 0)
		r = ptrace_err(s, "restore");
	if (restart && r2 == 0) {
		/* Through the signal code once more, where the restart code is
		   acted on: interrupt, go on, stop inside it, detach there. */
		if (ptrace(PTRACE_INTERRUPT, s->tid, 0, 0) < 0 || resume(s, PTRACE_CONT, 0) < 0)
			return r ? r : ptrace_err(s, "interrupt");
		int r3 = wait_interrupt_stop(s);
		if (r3 == 0 && arch_finish_interrupted(s->tid, &back) < 0)
			r3 = ptrace_err(s, "restore");
		if (r3 < 0 && r == 0)
			r = r3;
	}
	return r;
}

/* No handled signal waits for the thread: an EINTR there was our doing. */
static bool no_handled_signal_pending(pid_t pid, pid_t tid)
{
	uint64_t pend = status_mask(pid, tid, "SigPnd") | status_mask(pid, tid, "ShdPnd");

	return !(pend & ~status_mask(pid, tid, "SigBlk") & status_mask(pid, tid, "SigCgt"));
}

/* From an interrupt stop: run the call by whichever way fits. */
static int inject_from_stop(struct seq *s)
{
	struct arch_regs first;
	int r;

	for (;;) {
		if ((r = arch_get_regs(s->tid, &first)) < 0)
			return ptrace_err(s, "get registers");
		if (!arch_regs_native(&first))
			return fail(s->t, ENOEXEC, "process %d is not a native %s process", (int)s->t->pid,
				    arch_name);
		if (arch_syscall_nr(&first) < 0)
			return inject_user(s, &first);
		/* Calls that return EINTR on any wakeup (epoll_wait, a socket
		   with a timeout) would see our interrupt as a signal: make the
		   kernel restart them unless a handler is really due. */
		if (arch_retval(&first) == -EINTR && no_handled_signal_pending(s->t->pid, s->tid)) {
			arch_set_retval(&first, -ERESTARTNOHAND);
			if (arch_set_regs(s->tid, &first) < 0)
				return ptrace_err(s, "set registers");
		}
		bool fallback;
		r = inject_entry(s, &first, &fallback);
		if (r < 0 || !fallback)
			return r;
	}
}

static int attach(struct seq *s, const struct thread *th, bool suspend_seccomp)
{
	long opts = PTRACE_O_TRACESYSGOOD | (suspend_seccomp ? PTRACE_O_SUSPEND_SECCOMP : 0);
	int r;

	if (ptrace(PTRACE_SEIZE, th->tid, 0, (void *)opts) < 0) {
		int e = errno;
		long tracer = status_field(s->t->pid, th->tid, "TracerPid");
		if (tracer > 0)
			return fail(s->t, EBUSY, "process %d is already traced by process %ld (a debugger?)",
				    (int)s->t->pid, tracer);
		if (e == ESRCH)
			return exited(s);
		if (suspend_seccomp && (e == EINVAL || e == EPERM))
			return fail(s->t, EPERM, "process %d runs under a seccomp filter and the kernel "
				    "refused to suspend it for pmscan (%s)", (int)s->t->pid, strerror(e));
		return fail(s->t, e, "cannot attach to process %d with ptrace", (int)s->t->pid);
	}
	s->attached = true;
	/* A seized thread cannot be reused: check it is still one of the
	   process the pidfd names, and that process still lives. */
	char path[80];
	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)s->t->pid, (int)th->tid);
	if (pmscan_target_alive(s->t) != 1 || access(path, F_OK) < 0)
		return exited(s);
	arch_note_blocked(s->t->pid, th->tid);
	if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) < 0)
		return ptrace_err(s, "interrupt");
	r = wait_interrupt_stop(s);
	if (r == -ETIMEDOUT) {
		double secs = (double)s->t->timeout_ms / 1000.0;
		struct thread now = { .tid = th->tid };
		read_thread(s->t->pid, &now);
		if (is_vfork(&now))
			return fail(s->t, ETIMEDOUT, "process %d did not stop within %.3g s: thread %d is "
				    "in vfork(), waiting for its child to exec or exit", (int)s->t->pid, secs,
				    (int)th->tid);
		if (now.state == 'D')
			return fail(s->t, ETIMEDOUT, "process %d did not stop within %.3g s: thread %d is "
				    "in uninterruptible sleep", (int)s->t->pid, secs, (int)th->tid);
		return fail(s->t, ETIMEDOUT, "process %d did not stop within %.3g s", (int)s->t->pid, secs);
	}
	return r;
}

/* Checks made while the target runs, before anything is done to it. */
static int prepare(struct seq *s, struct thread *th, bool *suspend_seccomp)
{
	bool all_stopped;
	int r;

	*suspend_seccomp = false;
	if ((r = choose_thread(s->t, th, &all_stopped)) < 0)
		return r == -ESRCH ? exited(s) : fail(s->t, -r, "listing the threads of process %d",
						     (int)s->t->pid);
	if (all_stopped)
		return fail(s->t, EAGAIN, "process %d is stopped (SIGSTOP or job control): continue it "
			    "first (kill -CONT %d)", (int)s->t->pid, (int)s->t->pid);
	long tracer = status_field(s->t->pid, th->tid, "TracerPid");
	if (tracer > 0)
		return fail(s->t, EBUSY, "process %d is already traced by process %ld (a debugger?)",
			    (int)s->t->pid, tracer);
	long mode = status_field(s->t->pid, th->tid, "Seccomp");
	if (mode == SECCOMP_MODE_STRICT)
		return fail(s->t, EPERM, "process %d is in seccomp strict mode: it may make no "
			    "userfaultfd() call, so it cannot be armed", (int)s->t->pid);
	if (mode == SECCOMP_MODE_FILTER) {
		if (!have_cap_sys_admin())
			return fail(s->t, EPERM, "process %d runs under a seccomp filter, which could kill "
				    "it, trap or refuse the userfaultfd() call arming injects; arming it "
				    "needs CAP_SYS_ADMIN (to suspend the filter for that call)",
				    (int)s->t->pid);
		*suspend_seccomp = true;
	}
	if (find_syscall_insn(s->t, &s->vdso_pc) < 0)
		s->vdso_pc = 0;
	return 0;
}

/* The whole sequence in the injector: 0 or -errno, t->err set. */
static int inject_attached(struct pmscan_target *t, struct remote_call *c)
{
	struct seq s = { .t = t, .c = c };
	struct thread th;
	bool suspend;
	int r;

	s.w.deadline = now_ms() + t->timeout_ms;
	s.w.sigchld = true;
	if ((r = prepare(&s, &th, &suspend)) < 0)
		return r;
	s.tid = s.w.tid = th.tid;
	if ((r = attach(&s, &th, suspend)) < 0)
		return r;	/* the injector's exit detaches */
	r = inject_from_stop(&s);
	if (s.gone)
		return r;
	if (ptrace(PTRACE_DETACH, s.tid, 0, 0) < 0 && errno != ESRCH && r == 0)
		r = ptrace_err(&s, "detach");
	return r;
}

/* ---- the injector process -------------------------------------------- */

struct report {
	int r;
	long ret;
	char err[sizeof(((struct pmscan_target *)0)->err)];
};

static void injector(struct pmscan_target *t, struct remote_call *c, int out)
{
	struct report rep = { 0 };
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Ptrace stops reach a tracer as SIGCHLD unless it is ignored. */
	signal(SIGCHLD, SIG_DFL);
	t->err[0] = '\0';
	rep.r = inject_attached(t, c);
	rep.ret = c->ret;
	memcpy(rep.err, t->err, sizeof(rep.err));
	if (write(out, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(2);
	_exit(0);
}

static int run_injector(struct pmscan_target *t, struct remote_call *c)
{
	struct report rep;
	int p[2], status;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return fail(t, errno, "creating a pipe");
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return fail(t, e, "starting the injector");
	}
	if (pid == 0) {
		close(p[0]);
		injector(t, c, p[1]);
	}
	close(p[1]);
	/* The injector bounds its own waits; this is a last resort. */
	struct pollfd pfd = { .fd = p[0], .events = POLLIN };
	int64_t limit = now_ms() + t->timeout_ms + 5000;
	do {
		int64_t left = limit - now_ms();
		n = poll(&pfd, 1, left > 0 ? (int)left : 0);
	} while (n < 0 && errno == EINTR);
	if (n > 0)
		n = read(p[0], &rep, sizeof(rep));
	if (n != (ssize_t)sizeof(rep))
		kill(pid, SIGKILL);
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(rep))
		return fail(t, EIO, "the injector for process %d failed", (int)t->pid);
	memcpy(t->err, rep.err, sizeof(t->err));
	c->ret = rep.ret;
	return rep.r;
}

/* Through a thread the caller traces (stopped at an exec): borrow the
   first syscall entry of the new image. */
static int inject_traced(struct pmscan_target *t, struct remote_call *c)
{
	struct seq s = { .t = t, .c = c, .tid = t->pid };
	struct arch_regs entry;
	bool undo;
	int r;

	s.w.tid = s.tid;
	s.w.deadline = now_ms() + t->timeout_ms;
	if ((r = run_to_syscall(&s, PTRACE_SYSCALL_INFO_ENTRY, s.w.deadline, NULL)) < 0)
		return r;
	if ((r = arch_get_regs(s.tid, &entry)) < 0)
		return ptrace_err(&s, "get registers");
	if (!arch_regs_native(&entry))
		return fail(t, ENOEXEC, "process %d is not a native %s process", (int)t->pid, arch_name);
	long nr = arch_syscall_nr(&entry);
	r = call_at_entry(&s, &entry);
	if (r == 0) {
		r = finish_call(&s, &undo);
		if (undo) {
			struct arch_regs back = entry, again;
			struct remote_call u = { .nr = c->undo_nr, .args = { (uint64_t)c->ret } };
			if (arch_set_before_syscall(s.tid, &back, nr) == 0 &&
			    run_to_syscall(&s, PTRACE_SYSCALL_INFO_ENTRY, s.w.deadline, NULL) == 0 &&
			    arch_get_regs(s.tid, &again) == 0) {
				s.c = &u;
				call_at_entry(&s, &again);
				s.c = c;
				entry = again;
			}
		}
	}
	if (!s.gone) {
		struct arch_regs back = entry;
		if (arch_set_before_syscall(s.tid, &back, arch_syscall_nr(&entry)) < 0 && r == 0)
			r = ptrace_err(&s, "restore");
	}
	return r;
}

int remote_run(struct pmscan_target *t, struct remote_call *c)
{
	t->err[0] = '\0';
	if (!arch_can_inject)
		return fail(t, ENOTSUP, "arming is not supported on %s yet (x86_64 and aarch64 only)", arch_name);
	/* A caller that traces the process already (a command it started
	   traced) holds it in a ptrace-stop: go through that. */
	if (!t->self && status_field(t->pid, t->pid, "TracerPid") == (long)getpid())
		return inject_traced(t, c);
	return run_injector(t, c);
}

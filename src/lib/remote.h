/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running a system call inside another process: the only code in pmscan
 * that calls ptrace. Seize one thread, stop it, borrow one of its syscall
 * entries (or, for a thread in user code, a syscall instruction of its
 * vDSO with its signals held), run the call, put everything back, detach;
 * on every path, within a time bound. Attaching is done by a short-lived
 * child process (the injector) with every catchable signal blocked, so
 * that neither a signal nor SIGKILL to the caller can leave the target
 * half-way through the sequence.
 */
#ifndef PMSCAN_REMOTE_H
#define PMSCAN_REMOTE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct pmscan_target;

struct remote_call {
	long nr;
	uint64_t args[6];
	long ret;		/* out: what the syscall returned */
	/*
	 * Optional. Runs in the injector right after the call, the target
	 * still stopped: 0 keeps the result; -errno makes the injector run
	 * undo_nr(ret) in the same stop and fail with that errno.
	 */
	int (*after)(struct pmscan_target *t, struct remote_call *c);
	long undo_nr;
};

/*
 * Run c in the target. 0 with c->ret filled, or -errno with
 * pmscan_target_error() saying why: ESRCH the process exited; ETIMEDOUT it
 * did not stop in time (vfork, uninterruptible sleep); EBUSY traced by
 * someone else; EAGAIN stopped by job control; EPERM or EACCES not allowed,
 * or a seccomp filter that cannot be suspended; ENOTSUP not on this
 * architecture; ENOEXEC not a native process.
 */
int remote_run(struct pmscan_target *t, struct remote_call *c);

/* Hold (block) the catchable signals that would end or stop the caller,
   and put the mask back; a held signal then takes effect. */
void remote_hold_signals(sigset_t *saved);
void remote_release_signals(const sigset_t *saved);

/* ---- a command run traced from its start (pmscan --watch -- COMMAND) -- */
/* remote-cmd.c, built into the tool, not the library. */

/* Start argv traced, stopped at its first instruction after exec. The pid,
   or -errno (a failed exec: -ENOENT, -EACCES ... from the child). */
pid_t remote_spawn(char *const argv[]);

enum remote_event {
	REMOTE_RUNNING,		/* nothing to report (yet) */
	REMOTE_EXEC,		/* stopped after an exec: a new image to arm */
	REMOTE_EXITING,		/* stopped before exiting: memory still there */
	REMOTE_ENDED,		/* gone; *status is its wait status */
};

/*
 * Handle the traced command's stops without blocking: signals it receives
 * are delivered as usual, job control stops and continues it as usual.
 * Returns an event; at REMOTE_EXEC and REMOTE_EXITING the command stays
 * stopped until remote_resume(). -errno on error.
 */
int remote_poll(pid_t pid, int *status);
int remote_resume(pid_t pid);
/* Let the command go on untraced, as if pmscan had never been there. */
int remote_release(pid_t pid);

#endif

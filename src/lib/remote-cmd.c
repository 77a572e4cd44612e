/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The remote module's other half: a command run traced from its start, for
 * pmscan --watch -- COMMAND. It is seized (not PTRACE_TRACEME), so job
 * control works as without a tracer: a group stop is listened to, and
 * every signal the command gets, SIGTRAP included, is delivered to it.
 * Built into the command-line tool, not the library.
 */
#include "config.h"
#include "remote.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_EVENT_STOP
# define PTRACE_EVENT_STOP 128
#endif
#define SYSCALL_STOP (SIGTRAP | 0x80)

static bool is_group_stop_sig(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

pid_t remote_spawn(char *const argv[])
{
	int p[2], status, e = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		close(p[0]);
		/* Stopped until the parent has seized it, so that the exec
		   is the first thing it reports. */
		raise(SIGSTOP);
		execvp(argv[0], argv);
		e = errno;
		if (write(p[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(p[1]);
	while (waitpid(pid, &status, WUNTRACED) < 0 && errno == EINTR)
		;
	if (!WIFSTOPPED(status) ||
	    ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC |
							 PTRACE_O_TRACEEXIT)) < 0) {
		e = errno ? errno : ECHILD;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(p[0]);
		return -e;
	}
	kill(pid, SIGCONT);
	for (;;) {
		if (waitpid(pid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			break;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			e = ECHILD;
			if (read(p[0], &e, sizeof(e)) != (ssize_t)sizeof(e))
				e = ECHILD;
			break;
		}
		int event = status >> 16;
		if (event == PTRACE_EVENT_EXEC) {
			close(p[0]);
			return pid;
		}
		if (event == PTRACE_EVENT_EXIT) {
			ptrace(PTRACE_CONT, pid, 0, 0);
			continue;
		}
		if (event == PTRACE_EVENT_STOP) {
			ptrace(is_group_stop_sig(WSTOPSIG(status)) ? PTRACE_LISTEN : PTRACE_CONT, pid, 0, 0);
			continue;
		}
		/* SIGCONT, or anything else sent to it: delivered. */
		ptrace(PTRACE_CONT, pid, 0, (void *)(long)WSTOPSIG(status));
	}
	close(p[0]);
	return -e;
}

int remote_poll(pid_t pid, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, __WALL | WNOHANG);
		if (r == 0)
			return REMOTE_RUNNING;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (WIFEXITED(*status) || WIFSIGNALED(*status))
			return REMOTE_ENDED;
		int event = *status >> 16, sig = WSTOPSIG(*status);
		if (event == PTRACE_EVENT_EXEC)
			return REMOTE_EXEC;
		if (event == PTRACE_EVENT_EXIT)
			return REMOTE_EXITING;
		if (event == PTRACE_EVENT_STOP) {
			/* A group stop stays a stop (LISTEN wakes us at SIGCONT);
			   the wake-up of a listening tracee goes on. */
			ptrace(is_group_stop_sig(sig) ? PTRACE_LISTEN : PTRACE_CONT, pid, 0, 0);
			continue;
		}
		if (sig == SYSCALL_STOP) {
			ptrace(PTRACE_CONT, pid, 0, 0);
			continue;
		}
		/* Its own signal, SIGTRAP included: delivered as usual. */
		ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig);
	}
}

int remote_resume(pid_t pid)
{
	return ptrace(PTRACE_CONT, pid, 0, 0) < 0 ? -errno : 0;
}

int remote_release(pid_t pid)
{
	struct timespec nap = { 0, 100000 };
	int r;

	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0)
		return -errno;
	for (int tries = 0;; tries++) {
		int status;
		pid_t w = waitpid(pid, &status, __WALL | WNOHANG);
		if (w < 0 && errno != EINTR)
			return -errno;
		if (w <= 0) {
			/* Bounded: 5 s of 0.1 ms naps. */
			if (tries > 50000)
				return -ETIMEDOUT;
			nanosleep(&nap, NULL);
			continue;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
		int event = status >> 16;
		if (event == PTRACE_EVENT_STOP)
			break;
		if (event || WSTOPSIG(status) == SYSCALL_STOP)
			r = ptrace(PTRACE_CONT, pid, 0, 0);
		else
			r = ptrace(PTRACE_CONT, pid, 0, (void *)(long)WSTOPSIG(status));
		if (r < 0)
			return -errno;
	}
	return ptrace(PTRACE_DETACH, pid, 0, 0) < 0 ? -errno : 0;
}

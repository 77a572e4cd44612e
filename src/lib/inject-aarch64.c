/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arm64 part of syscall injection (see inject.h). What differs from x86_64,
 * and how this file presents it to remote.c in the same terms:
 *
 *  - The number of the syscall in progress is not in a register: the kernel
 *    keeps it in pt_regs.syscallno (NO_SYSCALL, -1, for none), read and
 *    written through the NT_ARM_SYSTEM_CALL regset. At an entry stop that is
 *    what the kernel runs; x8 no longer matters there.
 *  - x0 is the first argument and the return value; the kernel keeps a
 *    copy, orig_x0, that ptrace cannot read, and puts it back in x0 for a
 *    restart. Measured on 6.12: a register write at an entry stop updates
 *    orig_x0 too, so after a borrowed entry it holds the injected call's
 *    argument. This file never relies on it once it has written anything:
 *    entry-stop registers still hold the first argument in x0 and are
 *    written back whole, and after a restart the argument is put back in x0
 *    (arch_finish_interrupted).
 *  - arch/arm64/kernel/signal.c acts on a -ERESTART* code BEFORE any stop a
 *    tracer sees: at an interrupt stop of a thread that was in a syscall,
 *    syscallno is already -1, and for a restart code x0 = orig_x0 and pc is
 *    back on the svc; the code itself survives only in locals of the
 *    kernel's signal function, which act on it when the thread leaves the
 *    stop with that pc. So an interrupt stop is read from the instructions
 *    around pc and from what /proc said the thread was blocked in just
 *    before (arch_note_blocked): on the svc of that call, rewound for a
 *    restart (remote.c lets the kernel finish it and borrows the entry that
 *    follows); just after an svc, the syscall returned (its first argument,
 *    for an -EINTR remote.c turns into a restart, from the note);
 *    elsewhere, user code.
 *  - At syscall stops the kernel lends x7 to tell entry from exit: reads see
 *    0 or 1, writes are dropped. remote.c writes registers read at a syscall
 *    stop back only at syscall stops, where the kernel restores x7 itself.
 */
#include "internal.h"
#include "inject.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef __aarch64__
# error "inject-aarch64.c built for another architecture"
#endif

#ifndef NT_ARM_SYSTEM_CALL
# define NT_ARM_SYSTEM_CALL 0x404
#endif
#define NO_SYSCALL (-1)
#define PSR_MODE32 0x10		/* pstate: an AArch32 (compat) thread */
#define SVC_MASK 0xffe0001fu	/* svc #imm16, any imm16 */
#define SVC_INSN 0xd4000001u

/* Where the registers were read (struct arch_regs.stop). */
enum {
	STOP_SYSCALL,		/* a syscall entry or exit stop (or a syscall known) */
	STOP_USER,		/* another stop, in user code */
	STOP_RESTARTING,	/* another stop, pc rewound onto the svc for a restart */
	STOP_RETURNED,		/* another stop, just after a syscall returned */
};

/* remote.c's "some restart code" for a thread rewound by the kernel: the
   kernel keeps the real one, arch_set_interrupted() finds it again. */
#define CODE_UNKNOWN (-ERESTART_RESTARTBLOCK)

const char arch_name[] = "aarch64";
const bool arch_can_inject = true;
const unsigned char arch_syscall_insn[] = { 0x01, 0x00, 0x00, 0xd4 };	/* svc #0 */
const size_t arch_syscall_insn_len = sizeof(arch_syscall_insn);
const long arch_nr_restart_syscall = SYS_restart_syscall;

static bool is_restart_code(long v)
{
	return v == -ERESTARTSYS || v == -ERESTARTNOINTR || v == -ERESTARTNOHAND || v == -ERESTART_RESTARTBLOCK;
}

static int get_syscallno(pid_t tid, int *nr)
{
	struct iovec iov = { nr, sizeof(*nr) };

	return ptrace(PTRACE_GETREGSET, tid, (void *)NT_ARM_SYSTEM_CALL, &iov) < 0 ? -errno : 0;
}

static int set_syscallno(pid_t tid, int nr)
{
	struct iovec iov = { &nr, sizeof(nr) };

	return ptrace(PTRACE_SETREGSET, tid, (void *)NT_ARM_SYSTEM_CALL, &iov) < 0 ? -errno : 0;
}

static int write_regs(pid_t tid, const struct user_regs_struct *r, int syscallno)
{
	struct iovec iov = { (void *)r, sizeof(*r) };

	if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
		return -errno;
	return set_syscallno(tid, syscallno);
}

/* The instruction word at addr (4-aligned), through the tracer's access,
   which also reads execute-only code. */
static bool read_insn(pid_t tid, uint64_t addr, uint32_t *w)
{
	long v;

	errno = 0;
	v = ptrace(PTRACE_PEEKTEXT, tid, (void *)(uintptr_t)addr, 0);
	if (!(v == -1 && errno)) {
		*w = (uint32_t)(unsigned long)v;
		return true;
	}
	/* The word after it may be unmapped: read the one before too. */
	errno = 0;
	v = ptrace(PTRACE_PEEKTEXT, tid, (void *)(uintptr_t)(addr - 4), 0);
	if (v == -1 && errno)
		return false;
	*w = (uint32_t)((unsigned long)v >> 32);
	return true;
}

static bool svc_at(pid_t tid, uint64_t addr)
{
	uint32_t w;

	return read_insn(tid, addr, &w) && (w & SVC_MASK) == SVC_INSN;
}

/*
 * What the thread was blocked in just before it was interrupted, from
 * /proc (nr, the six arguments, the pc after its svc): the kernel forgets
 * the syscall before the stop, and with it the first argument when the
 * call returned -EINTR. One thread per injector process.
 */
static struct {
	pid_t tid;
	long nr;
	uint64_t args[6], pc;
} blocked = { .tid = 0 };

void arch_note_blocked(pid_t pid, pid_t tid)
{
	char path[64], buf[512], *p;

	blocked.tid = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	if (proc_read(path, buf, sizeof(buf)) <= 0)
		return;
	/* "NR 0xA0 ... 0xA5 0xSP 0xPC", or "-1 0xSP 0xPC", or "running" */
	blocked.tid = tid;
	blocked.nr = strtol(buf, &p, 10);
	if (p == buf || blocked.nr < 0) {
		blocked.nr = -1;
		return;
	}
	for (int i = 0; i < 6; i++)
		blocked.args[i] = strtoull(p, &p, 16);
	strtoull(p, &p, 16);
	blocked.pc = strtoull(p, &p, 16);
	if (*p != '\n' && *p != '\0')
		blocked.tid = 0;
}

/* Do these interrupt-stop registers continue the call noted above? */
static bool continues_blocked(pid_t tid, const struct user_regs_struct *r, uint64_t pc_after_svc)
{
	if (blocked.tid != tid || blocked.nr < 0 || (long)r->regs[8] != blocked.nr || pc_after_svc != blocked.pc)
		return false;
	for (int i = 1; i < 6; i++)
		if (r->regs[i] != blocked.args[i])
			return false;
	return true;
}

static int stop_op(pid_t tid)
{
	struct __ptrace_syscall_info info;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info), &info) <= 0)
		return -1;
	return info.op;
}

int arch_get_regs(pid_t tid, struct arch_regs *regs)
{
	struct iovec iov = { &regs->r, sizeof(regs->r) };
	int r, op;

	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
		return -errno;
	if ((r = get_syscallno(tid, &regs->syscallno)) < 0)
		return r;
	op = stop_op(tid);
	if (op == PTRACE_SYSCALL_INFO_ENTRY || op == PTRACE_SYSCALL_INFO_EXIT || regs->syscallno != NO_SYSCALL) {
		regs->stop = STOP_SYSCALL;
		return 0;
	}
	if (regs->r.pstate & PSR_MODE32) {
		regs->stop = STOP_USER;
		return 0;
	}
	/* An interrupt, signal or group stop: the kernel's signal code has
	   already dealt with any syscall (see the top of this file). On an
	   svc, with the first argument back in x0, the call noted as blocked
	   was rewound for a restart; a thread that was in user code sits
	   there only if about to make a call of its own. */
	uint64_t pc = regs->r.pc;
	regs->arg0 = regs->r.regs[0];
	if (svc_at(tid, pc) && (blocked.tid != tid || (continues_blocked(tid, &regs->r, pc + 4) &&
						       regs->r.regs[0] == blocked.args[0]))) {
		regs->stop = STOP_RESTARTING;
		return 0;
	}
	regs->stop = svc_at(tid, pc - 4) ? STOP_RETURNED : STOP_USER;
	return 0;
}

int arch_set_regs(pid_t tid, const struct arch_regs *regs)
{
	struct user_regs_struct r = regs->r;

	if (regs->stop == STOP_RETURNED && is_restart_code((long)r.regs[0])) {
		/* Made "interrupted" after the kernel's signal code decided:
		   restart it here as that code would have (pc onto the svc,
		   the first argument back, which only the note still has). If
		   the note does not match, the thread keeps what it returned. */
		if (continues_blocked(tid, &r, r.pc)) {
			if ((long)r.regs[0] == -ERESTART_RESTARTBLOCK)
				r.regs[8] = SYS_restart_syscall;
			r.regs[0] = blocked.args[0];
			r.pc -= 4;
		} else {
			r.regs[0] = regs->arg0;
		}
	}
	return write_regs(tid, &r, regs->syscallno);
}

bool arch_regs_native(const struct arch_regs *regs)
{
	return !(regs->r.pstate & PSR_MODE32);
}

uint64_t arch_pc(const struct arch_regs *regs)
{
	/* A rewound thread is where the entry of its restart will show it. */
	return regs->stop == STOP_RESTARTING ? regs->r.pc + 4 : regs->r.pc;
}

long arch_syscall_nr(const struct arch_regs *regs)
{
	switch (regs->stop) {
	case STOP_SYSCALL:
		return regs->syscallno;
	case STOP_RESTARTING:
	case STOP_RETURNED:
		return (long)regs->r.regs[8] >= 0 ? (long)regs->r.regs[8] : -1;
	default:
		return -1;
	}
}

long arch_retval(const struct arch_regs *regs)
{
	return regs->stop == STOP_RESTARTING ? CODE_UNKNOWN : (long)regs->r.regs[0];
}

void arch_set_retval(struct arch_regs *regs, long v)
{
	if (regs->stop == STOP_RESTARTING) {
		if (v == CODE_UNKNOWN)
			return;
		/* Returning v instead of restarting: after the svc, like any
		   return; the kernel then leaves that pc alone. */
		regs->stop = STOP_RETURNED;
		regs->r.pc += 4;
	}
	regs->r.regs[0] = (unsigned long long)v;
}

static void set_args(struct arch_regs *regs, const uint64_t args[6])
{
	for (int i = 0; i < 6; i++)
		regs->r.regs[i] = args[i];
}

int arch_set_entry_call(pid_t tid, struct arch_regs *regs, long nr, const uint64_t args[6])
{
	regs->syscallno = (int)nr;
	set_args(regs, args);
	return write_regs(tid, &regs->r, regs->syscallno);
}

int arch_set_call_at(pid_t tid, struct arch_regs *regs, uint64_t pc, long nr, const uint64_t args[6])
{
	regs->r.pc = pc;
	regs->r.regs[8] = (unsigned long long)nr;
	regs->syscallno = NO_SYSCALL;
	set_args(regs, args);
	return write_regs(tid, &regs->r, regs->syscallno);
}

int arch_set_before_syscall(pid_t tid, struct arch_regs *regs, long nr)
{
	/* Entry-stop registers: x0 is still the first argument. */
	regs->r.pc -= 4;
	regs->r.regs[8] = (unsigned long long)nr;
	regs->syscallno = NO_SYSCALL;
	regs->stop = STOP_SYSCALL;
	return write_regs(tid, &regs->r, regs->syscallno);
}

/*
 * The code syscall nr leaves when a signal interrupts it, where the kernel
 * rewound the thread before pmscan could see which (CODE_UNKNOWN): the
 * calls that do not use -ERESTARTSYS (kernel/signal.c, fs/select.c,
 * kernel/time/hrtimer.c, ipc/msg.c); a relative sleep shows up as
 * restart_syscall. Only a signal arriving while the thread is stopped for
 * the call can tell one code from another.
 */
static long restart_code_of(long nr)
{
	switch (nr) {
	case SYS_restart_syscall:
		return -ERESTART_RESTARTBLOCK;
	case SYS_rt_sigsuspend:
	case SYS_ppoll:
	case SYS_pselect6:
	case SYS_nanosleep:
	case SYS_clock_nanosleep:
	case SYS_msgsnd:
	case SYS_msgrcv:
		return -ERESTARTNOHAND;
	default:
		return -ERESTARTSYS;
	}
}

int arch_set_interrupted(pid_t tid, struct arch_regs *regs, long nr, long code)
{
	/* pc stays after the svc: the kernel's signal code moves it back
	   and puts orig_x0 in x0, which arch_finish_interrupted() corrects. */
	if (nr == SYS_restart_syscall || code == CODE_UNKNOWN)
		code = restart_code_of(nr);
	regs->arg0 = regs->r.regs[0];
	regs->r.regs[0] = (unsigned long long)code;
	regs->syscallno = (int)nr;
	regs->stop = STOP_SYSCALL;
	return write_regs(tid, &regs->r, regs->syscallno);
}

/*
 * orig_x0 is not the borrowed call's first argument any more: a register
 * write at a syscall-entry stop sets it to the new x0 as well (measured on
 * 6.12), and the call was run with its own. At this stop the kernel's
 * signal code has rewound the thread with that value in x0 and has not
 * yet handled any signal; put the argument back, and a handler's frame or
 * the restart gets it.
 */
int arch_finish_interrupted(pid_t tid, const struct arch_regs *regs)
{
	struct user_regs_struct now;
	struct iovec iov = { &now, sizeof(now) };

	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
		return -errno;
	if (now.pc != regs->r.pc - 4 || now.regs[0] == regs->arg0)
		return 0;
	now.regs[0] = regs->arg0;
	return ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0 ? -errno : 0;
}

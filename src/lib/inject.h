/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The architecture-specific part of running a system call inside another
 * process: registers, the syscall instruction, the kernel's restart codes.
 * remote.c does the ptrace sequence around it. One implementation per
 * architecture; inject-none.c for the ones pmscan cannot arm yet.
 */
#ifndef PMSCAN_INJECT_H
#define PMSCAN_INJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* Kernel-internal codes a syscall interrupted by a signal leaves in the
   return register; the signal code turns them into a restart or EINTR. */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

struct arch_regs {
#if defined(__x86_64__)
	struct user_regs_struct r;
#elif defined(__aarch64__)
	struct user_regs_struct r;	/* NT_PRSTATUS */
	int syscallno;			/* NT_ARM_SYSTEM_CALL: -1 none in progress */
	int stop;			/* the kind of stop they were read at */
	uint64_t arg0;			/* x0 as read; a borrowed call's first argument */
#else
	unsigned long long r[64];
#endif
};

/* The architecture name for messages, and whether injection works here. */
extern const char arch_name[];
extern const bool arch_can_inject;

/* The bytes of the syscall instruction to look for in the target's code. */
extern const unsigned char arch_syscall_insn[];
extern const size_t arch_syscall_insn_len;
extern const long arch_nr_restart_syscall;

int arch_get_regs(pid_t tid, struct arch_regs *regs);
int arch_set_regs(pid_t tid, const struct arch_regs *regs);
/* Is this thread running the native ABI (the only one pmscan injects into)? */
bool arch_regs_native(const struct arch_regs *regs);
uint64_t arch_pc(const struct arch_regs *regs);
/* The syscall the thread is in (or stopped at the entry of), -1 for none. */
long arch_syscall_nr(const struct arch_regs *regs);
/* The value in the return register: a result, -errno or -ERESTART*. */
long arch_retval(const struct arch_regs *regs);
void arch_set_retval(struct arch_regs *regs, long v);

/* At a syscall-entry stop: make the thread run nr(args) instead. May write
   more than the registers (arm64 keeps the number apart), hence the tid. */
int arch_set_entry_call(pid_t tid, struct arch_regs *regs, long nr, const uint64_t args[6]);
/* Registers that make the thread execute syscall nr(args) at pc, with no
   syscall in progress (nothing for the kernel to restart). */
int arch_set_call_at(pid_t tid, struct arch_regs *regs, uint64_t pc, long nr, const uint64_t args[6]);
/* From the registers at a syscall entry: the thread back before that
   syscall instruction, about to execute it again, no syscall in progress. */
int arch_set_before_syscall(pid_t tid, struct arch_regs *regs, long nr);
/* From the registers at a syscall entry or exit: syscall nr returned code
   (a -ERESTART* value), for the kernel's signal code to act on. */
int arch_set_interrupted(pid_t tid, struct arch_regs *regs, long nr, long code);
/* Before interrupting thread tid of process pid: note what it is blocked
   in, which arm64's kernel forgets before the stop a tracer sees. */
#if defined(__aarch64__)
void arch_note_blocked(pid_t pid, pid_t tid);
#else
static inline void arch_note_blocked(pid_t pid, pid_t tid)
{
	(void)pid, (void)tid;
}
#endif
/* At the interrupt stop that follows arch_set_interrupted() and a pass
   through the kernel's signal code (no signal handled yet): finish what
   that code could not restore by itself. Nothing to do on x86_64. */
#if defined(__aarch64__)
int arch_finish_interrupted(pid_t tid, const struct arch_regs *regs);
#else
static inline int arch_finish_interrupted(pid_t tid, const struct arch_regs *regs)
{
	(void)tid, (void)regs;
	return 0;
}
#endif

#endif

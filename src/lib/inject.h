/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The architecture-specific part of running one system call inside another
 * process: registers, the syscall instruction, syscall restart. arm.c does
 * the ptrace sequence around it. One implementation per architecture.
 */
#ifndef PMSCAN_INJECT_H
#define PMSCAN_INJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct arch_regs {
	struct user_regs_struct r;
};

/* The bytes of the syscall instruction to look for in the target's code. */
extern const unsigned char arch_syscall_insn[];
extern const size_t arch_syscall_insn_len;

int arch_get_regs(pid_t tid, struct arch_regs *regs);
int arch_set_regs(pid_t tid, const struct arch_regs *regs);
/* Is this thread running the native ABI (the only one pmscan injects into)? */
bool arch_regs_native(const struct arch_regs *regs);
/* The thread was stopped in an interrupted syscall: rewrite the saved
   registers so that, restored, it re-executes that syscall. */
void arch_fixup_restart(struct arch_regs *regs);
/* Registers that make the thread execute syscall nr(args) at pc, with the
   "no syscall to restart" marker set. */
void arch_setup_syscall(struct arch_regs *regs, uint64_t pc, long nr, const uint64_t args[6]);
long arch_syscall_result(const struct arch_regs *regs);

#endif

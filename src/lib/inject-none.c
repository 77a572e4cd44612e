/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Syscall injection for architectures pmscan does not support yet: arming
 * fails with ENOTSUP, everything else works.
 */
#include "internal.h"
#include "inject.h"

#include <errno.h>

const unsigned char arch_syscall_insn[] = { 0 };
const size_t arch_syscall_insn_len = 0;

int arch_get_regs(pid_t tid, struct arch_regs *regs)
{
	(void)tid, (void)regs;
	return -ENOTSUP;
}

int arch_set_regs(pid_t tid, const struct arch_regs *regs)
{
	(void)tid, (void)regs;
	return -ENOTSUP;
}

bool arch_regs_native(const struct arch_regs *regs)
{
	(void)regs;
	return false;
}

void arch_fixup_restart(struct arch_regs *regs)
{
	(void)regs;
}

void arch_setup_syscall(struct arch_regs *regs, uint64_t pc, long nr, const uint64_t args[6])
{
	(void)regs, (void)pc, (void)nr, (void)args;
}

long arch_syscall_result(const struct arch_regs *regs)
{
	(void)regs;
	return -ENOTSUP;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Architectures pmscan cannot inject into yet: remote.c refuses before any
 * of these is called (arch_can_inject), so arming fails with ENOTSUP and a
 * message naming the architecture; scanning works everywhere.
 */
#include "internal.h"
#include "inject.h"

#include <errno.h>

#if defined(__aarch64__)
const char arch_name[] = "aarch64";
#elif defined(__i386__)
const char arch_name[] = "i386";
#elif defined(__arm__)
const char arch_name[] = "arm";
#elif defined(__riscv)
const char arch_name[] = "riscv";
#elif defined(__powerpc64__)
const char arch_name[] = "ppc64";
#elif defined(__s390x__)
const char arch_name[] = "s390x";
#else
const char arch_name[] = "this architecture";
#endif
const bool arch_can_inject = false;
const unsigned char arch_syscall_insn[] = { 0 };
const size_t arch_syscall_insn_len = 0;
const long arch_nr_restart_syscall = -1;

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

uint64_t arch_pc(const struct arch_regs *regs)
{
	(void)regs;
	return 0;
}

long arch_syscall_nr(const struct arch_regs *regs)
{
	(void)regs;
	return -1;
}

long arch_retval(const struct arch_regs *regs)
{
	(void)regs;
	return -ENOTSUP;
}

void arch_set_retval(struct arch_regs *regs, long v)
{
	(void)regs, (void)v;
}

int arch_set_entry_call(pid_t tid, struct arch_regs *regs, long nr, const uint64_t args[6])
{
	(void)tid, (void)regs, (void)nr, (void)args;
	return -ENOTSUP;
}

int arch_set_call_at(pid_t tid, struct arch_regs *regs, uint64_t pc, long nr, const uint64_t args[6])
{
	(void)tid, (void)regs, (void)pc, (void)nr, (void)args;
	return -ENOTSUP;
}

int arch_set_before_syscall(pid_t tid, struct arch_regs *regs, long nr)
{
	(void)tid, (void)regs, (void)nr;
	return -ENOTSUP;
}

int arch_set_interrupted(pid_t tid, struct arch_regs *regs, long nr, long code)
{
	(void)tid, (void)regs, (void)nr, (void)code;
	return -ENOTSUP;
}

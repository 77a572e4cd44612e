/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * x86_64 part of syscall injection (see inject.h). orig_rax holds the
 * number of the syscall in progress (-1: none), which is what the kernel's
 * signal code looks at before restarting anything.
 */
#include "internal.h"
#include "inject.h"

#include <errno.h>
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#ifndef __x86_64__
# error "inject-x86_64.c built for another architecture"
#endif

#define USER_CS_64 0x33

const char arch_name[] = "x86_64";
const bool arch_can_inject = true;
const unsigned char arch_syscall_insn[] = { 0x0f, 0x05 };
const size_t arch_syscall_insn_len = sizeof(arch_syscall_insn);
const long arch_nr_restart_syscall = 219;

int arch_get_regs(pid_t tid, struct arch_regs *regs)
{
	struct iovec iov = { &regs->r, sizeof(regs->r) };

	return ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0 ? -errno : 0;
}

int arch_set_regs(pid_t tid, const struct arch_regs *regs)
{
	struct iovec iov = { (void *)&regs->r, sizeof(regs->r) };

	return ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0 ? -errno : 0;
}

bool arch_regs_native(const struct arch_regs *regs)
{
	return regs->r.cs == USER_CS_64;
}

uint64_t arch_pc(const struct arch_regs *regs)
{
	return regs->r.rip;
}

long arch_syscall_nr(const struct arch_regs *regs)
{
	return (long)regs->r.orig_rax;
}

long arch_retval(const struct arch_regs *regs)
{
	return (long)regs->r.rax;
}

void arch_set_retval(struct arch_regs *regs, long v)
{
	regs->r.rax = (unsigned long long)v;
}

static void set_args(struct arch_regs *regs, const uint64_t args[6])
{
	regs->r.rdi = args[0];
	regs->r.rsi = args[1];
	regs->r.rdx = args[2];
	regs->r.r10 = args[3];
	regs->r.r8 = args[4];
	regs->r.r9 = args[5];
}

int arch_set_entry_call(pid_t tid, struct arch_regs *regs, long nr, const uint64_t args[6])
{
	regs->r.orig_rax = (unsigned long long)nr;
	set_args(regs, args);
	return arch_set_regs(tid, regs);
}

int arch_set_call_at(pid_t tid, struct arch_regs *regs, uint64_t pc, long nr, const uint64_t args[6])
{
	regs->r.rip = pc;
	regs->r.rax = (unsigned long long)nr;
	regs->r.orig_rax = (unsigned long long)-1;
	set_args(regs, args);
	return arch_set_regs(tid, regs);
}

int arch_set_before_syscall(pid_t tid, struct arch_regs *regs, long nr)
{
	regs->r.rip -= arch_syscall_insn_len;
	regs->r.rax = (unsigned long long)nr;
	regs->r.orig_rax = (unsigned long long)-1;
	return arch_set_regs(tid, regs);
}

int arch_set_interrupted(pid_t tid, struct arch_regs *regs, long nr, long code)
{
	regs->r.rax = (unsigned long long)code;
	regs->r.orig_rax = (unsigned long long)nr;
	return arch_set_regs(tid, regs);
}

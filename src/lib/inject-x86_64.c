/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * x86_64 part of syscall injection (see inject.h).
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

/* Kernel-internal restart codes a stopped syscall may leave in rax. */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516
#define NR_RESTART_SYSCALL 219
#define USER_CS_64 0x33

const unsigned char arch_syscall_insn[] = { 0x0f, 0x05 };
const size_t arch_syscall_insn_len = sizeof(arch_syscall_insn);

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

void arch_fixup_restart(struct arch_regs *regs)
{
	if ((long long)regs->r.orig_rax < 0)
		return;
	switch (-(long long)regs->r.rax) {
	case ERESTARTSYS:
	case ERESTARTNOINTR:
	case ERESTARTNOHAND:
		regs->r.rax = regs->r.orig_rax;
		regs->r.rip -= 2;
		break;
	case ERESTART_RESTARTBLOCK:
		regs->r.rax = NR_RESTART_SYSCALL;
		regs->r.rip -= 2;
		break;
	default:
		return;
	}
	regs->r.orig_rax = (unsigned long long)-1;
}

void arch_setup_syscall(struct arch_regs *regs, uint64_t pc, long nr, const uint64_t args[6])
{
	regs->r.rip = pc;
	regs->r.rax = (unsigned long long)nr;
	regs->r.orig_rax = (unsigned long long)-1;
	regs->r.rdi = args[0];
	regs->r.rsi = args[1];
	regs->r.rdx = args[2];
	regs->r.r10 = args[3];
	regs->r.r8 = args[4];
	regs->r.r9 = args[5];
}

long arch_syscall_result(const struct arch_regs *regs)
{
	return (long)regs->r.rax;
}

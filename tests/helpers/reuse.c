/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A recycled pid is never attached: open process A, let it exit, make a
 * new process B take A's pid (through /proc/sys/kernel/ns_last_pid, root
 * only), then arm and disarm through the handle opened for A. Both must
 * fail with ESRCH, and B must hold no userfaultfd afterwards.
 * Prints "reused PID: arm=ERRNO disarm=ERRNO uffds=N", or "skip: why".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmscan.h"

static pid_t sleeper(void)
{
	pid_t p = fork();

	if (p == 0) {
		for (;;)
			pause();
	}
	return p;
}

static int uffds(pid_t pid)
{
	char path[64], link[128];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char fp[400];
		snprintf(fp, sizeof(fp), "%s/%s", path, e->d_name);
		ssize_t l = readlink(fp, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = '\0';
			n += strstr(link, "userfaultfd") != NULL;
		}
	}
	closedir(d);
	return n;
}

int main(void)
{
	for (int tries = 0; tries < 200; tries++) {
		pid_t a = sleeper();
		struct pmscan_target *t = pmscan_target_open(a);
		if (!t) {
			printf("skip: cannot open a child: %s\n", strerror(errno));
			return 0;
		}
		kill(a, SIGKILL);
		waitpid(a, NULL, 0);
		int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
		if (fd < 0) {
			printf("skip: cannot set the next pid (%s)\n", strerror(errno));
			return 0;
		}
		dprintf(fd, "%d", (int)a - 1);
		close(fd);
		pid_t b = sleeper();
		if (b != a) {
			/* Another process took the pid first: try again. */
			kill(b, SIGKILL);
			waitpid(b, NULL, 0);
			pmscan_target_close(t);
			continue;
		}
		int ra = pmscan_arm(t, NULL, 0, NULL, NULL, NULL) < 0 ? errno : 0;
		int rd = pmscan_disarm(t) < 0 ? errno : 0;
		int n = uffds(b);
		printf("reused %d: arm=%d disarm=%d uffds=%d\n", (int)a, ra, rd, n);
		kill(b, SIGKILL);
		waitpid(b, NULL, 0);
		pmscan_target_close(t);
		return 0;
	}
	printf("skip: the pid was never reused in 200 tries (a busy machine)\n");
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GetWriteWatch/ResetWriteWatch emulation with libpmscan: watch a buffer,
 * write some pages, ask which ones were written, resetting them.
 *
 *   cc getwritewatch.c $(pkg-config --cflags --libs libpmscan)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pmscan.h>

int main(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = 64;
	char *buf = mmap(NULL, pages * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pmscan_ww *ww = pmscan_ww_open();
	void *written[64];
	size_t count = 64, granularity;

	if (buf == MAP_FAILED || !ww) {
		fprintf(stderr, "getwritewatch: %s\n", strerror(errno));
		return 1;
	}
	if (pmscan_ww_watch(ww, buf, pages * page) < 0) {
		fprintf(stderr, "getwritewatch: watch: %s\n", strerror(errno));
		return 1;
	}
	buf[5 * page] = 1;		/* three pages written */
	buf[6 * page + 10] = 1;
	buf[40 * page] = 1;

	if (pmscan_ww_get(ww, PMSCAN_WW_RESET, buf, pages * page, written, &count, &granularity) < 0) {
		fprintf(stderr, "getwritewatch: get: %s\n", strerror(errno));
		return 1;
	}
	printf("%zu pages written (granularity %zu):", count, granularity);
	for (size_t i = 0; i < count; i++)
		printf(" %zu", (size_t)((char *)written[i] - buf) / page);
	printf("\n");

	count = 64;			/* reset: nothing since */
	pmscan_ww_get(ww, 0, buf, pages * page, written, &count, &granularity);
	printf("%zu pages written since the reset\n", count);
	pmscan_ww_close(ww);
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The library's own version, so a program can tell which libpmscan it runs
 * with (the one it was built against may differ).
 */
#include "internal.h"

PMSCAN_EXPORT const char *pmscan_version(void)
{
	return PACKAGE_VERSION;
}

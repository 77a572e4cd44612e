/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The relay: a scan's callbacks run on a second thread, so that formatting
 * the rows overlaps the kernel's walk instead of following it. The scan's
 * thread copies each mapping and region into a chunk and goes on; a chunk
 * full hands over to the writer thread, which calls the real callbacks in
 * the same order with the same values. A scan whose events fit one chunk,
 * or a machine with one CPU, never starts the thread: the chunk is replayed
 * on the scan's thread at the end.
 */
#ifndef PMSCAN_RELAY_H
#define PMSCAN_RELAY_H

#include <stdbool.h>

#include "pmscan.h"

/* Relay one scan's events to these callbacks; the relay's own, to give the
   library, come back in *on_mapping, *on_region, *arg. */
void relay_begin(pmscan_mapping_fn *on_mapping, pmscan_region_fn *on_region, void **arg);
/* After the scan: every event delivered, the thread gone. 0, or the first
   error a callback returned (a negative errno value). */
int relay_end(void);
/* Tests: never start the thread (replay every chunk on the scan's thread). */
extern bool relay_inline;

#endif

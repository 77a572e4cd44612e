/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pmscan.h - libpmscan, page-state scanning and write tracking of Linux
 * processes through the kernel's PAGEMAP_SCAN ioctl (Linux 6.7+).
 *
 * Conventions, for every function below unless its comment says otherwise:
 *  - functions returning int return 0 (or a count) on success and -1 with
 *    errno set on failure; functions returning a pointer return NULL with
 *    errno set;
 *  - the library never prints and never exits;
 *  - handles are independent: separate handles may be used from separate
 *    threads at once; one handle must not be used by two threads at once;
 *  - addresses are virtual addresses in the target process, page sizes are
 *    the system page size (sysconf(_SC_PAGESIZE)).
 */
#ifndef PMSCAN_H
#define PMSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Page categories, the kernel's PAGE_IS_* bits. A page has a category when
 * the statement holds for it:
 *   WPALLOWED   its mapping is registered for userfaultfd async write-protect
 *   WRITTEN     written since it was last write-protected (meaningful only in
 *               mappings with WPALLOWED; elsewhere every present or swapped
 *               page reads as written; with the soft-dirty tracker, see
 *               pmscan_target_set_tracker, every mapping is tracked and
 *               WRITTEN is SOFT_DIRTY: written since the last reset)
 *   FILE        backed by a file (or shared anonymous memory)
 *   PRESENT     in RAM
 *   SWAPPED     in swap (the kernel reports the markers that protect
 *               never-populated pages of a tracked mapping as swap entries;
 *               the library reports no page swapped where nothing is: no
 *               swap configured, or, when SWAPPED is in the require, anyof
 *               or exclude mask, nothing of the process in swap)
 *   PFNZERO     mapped to the shared zero page
 *   HUGE        part of a transparent or hugetlb huge page
 *   SOFT_DIRTY  soft-dirty bit set (kernel 6.8+, CONFIG_MEM_SOFT_DIRTY)
 *   GUARD       a guard region installed by MADV_GUARD_INSTALL (6.16+)
 *   ACCESSED    accessed since read-protected (newer kernels, read-protect mode)
 */
#define PMSCAN_WPALLOWED  (UINT64_C(1) << 0)
#define PMSCAN_WRITTEN    (UINT64_C(1) << 1)
#define PMSCAN_FILE       (UINT64_C(1) << 2)
#define PMSCAN_PRESENT    (UINT64_C(1) << 3)
#define PMSCAN_SWAPPED    (UINT64_C(1) << 4)
#define PMSCAN_PFNZERO    (UINT64_C(1) << 5)
#define PMSCAN_HUGE       (UINT64_C(1) << 6)
#define PMSCAN_SOFT_DIRTY (UINT64_C(1) << 7)
#define PMSCAN_GUARD      (UINT64_C(1) << 8)
#define PMSCAN_ACCESSED   (UINT64_C(1) << 9)
/* Number of category bits this library knows; bit i is (UINT64_C(1) << i). */
#define PMSCAN_NCATEGORIES 10
#define PMSCAN_ALL_CATEGORIES ((UINT64_C(1) << PMSCAN_NCATEGORIES) - 1)

/*
 * Name of category bit number 'bit' ("wpallowed", "written", "file",
 * "present", "swapped", "pfnzero", "huge", "soft-dirty", "guard",
 * "accessed"), or NULL when bit >= PMSCAN_NCATEGORIES. Never fails otherwise.
 */
const char *pmscan_category_name(unsigned bit);

/*
 * Parse a comma-separated list of category names and numeric masks ("0x12",
 * "18") into *mask. Names are matched exactly; "soft_dirty" is accepted for
 * "soft-dirty". On failure returns -1 with errno EINVAL and, when bad and
 * badlen are not NULL, points *bad at the offending item inside list and sets
 * *badlen to its length. An empty list or an empty item is an error.
 */
int pmscan_categories_parse(const char *list, uint64_t *mask,
			    const char **bad, size_t *badlen);

/*
 * Write the names of the bits in mask, comma-separated and in bit order, into
 * buf (always NUL-terminated when len > 0). Bits beyond the known categories
 * are written as one hex number. Returns the length the full string needs,
 * not counting the NUL, like snprintf.
 */
size_t pmscan_categories_format(uint64_t mask, char *buf, size_t len);

/*
 * The categories the running kernel's PAGEMAP_SCAN knows and really
 * computes, probed once per process (the kernel rejects an unknown bit with
 * EINVAL; soft-dirty is tested on a page of a short-lived child, since a
 * kernel built without CONFIG_MEM_SOFT_DIRTY accepts the bit and never sets
 * it) and cached. Returns the mask, or 0 with errno ENOTSUP when the kernel
 * has no PAGEMAP_SCAN at all. Thread-safe.
 */
uint64_t pmscan_kernel_categories(void);

/*
 * Scan engines (see pmscan_scan_set_engine):
 *   IOCTL  the kernel's PAGEMAP_SCAN ioctl (Linux 6.7+): fast on sparse
 *          answers, and the only engine that can write-protect (--wp);
 *   READ   reads /proc/PID/pagemap (and /proc/PID/smaps, /proc/kpageflags
 *          for huge pages): every kernel, same regions, masks and merging;
 *   AUTO   IOCTL where the kernel has PAGEMAP_SCAN, else READ.
 */
#define PMSCAN_ENGINE_AUTO  0
#define PMSCAN_ENGINE_IOCTL 1
#define PMSCAN_ENGINE_READ  2

/*
 * The categories engine can compute on the running kernel with the
 * caller's privileges (probed once, cached). 0 with errno ENOTSUP when the
 * engine cannot run here (IOCTL without PAGEMAP_SCAN), EINVAL for an
 * unknown engine. Thread-safe.
 */
uint64_t pmscan_engine_categories(int engine);

/*
 * Why engine cannot compute category bit here (a static English sentence
 * fragment, e.g. "telling the zero page needs page frame numbers, which
 * /proc/PID/pagemap shows only to CAP_SYS_ADMIN"), or NULL when it can.
 * Thread-safe.
 */
const char *pmscan_category_unavailable(int engine, unsigned bit);

/* The version of the libpmscan the program runs with ("0.1.0"), which may
   be newer than the one it was built against. Never fails. */
const char *pmscan_version(void);

/* ---- targets ---------------------------------------------------------- */

/* A process whose memory is scanned. */
struct pmscan_target;
/* A write-watch handle (see the write-watch API below). */
struct pmscan_ww;

/*
 * Open process pid for scanning (pid 0 means the calling process). Takes a
 * pidfd first, then opens /proc/PID/pagemap and /proc/PID/maps, then checks
 * through the pidfd that the process is still the one it found, so a recycled
 * pid is never scanned. Errors: ESRCH no such process, or it exited or is a
 * zombie; EACCES or EPERM not allowed to read its memory map (ptrace read
 * access is needed: same user, or CAP_SYS_PTRACE); ENOMEM.
 */
struct pmscan_target *pmscan_target_open(pid_t pid);

/* Close a target; NULL is accepted. Does not change the process. */
void pmscan_target_close(struct pmscan_target *t);

/* The pid the target was opened with (the real pid for pid 0). */
pid_t pmscan_target_pid(const struct pmscan_target *t);

/*
 * 1 when the process is still running, 0 when it has exited (zombie or
 * reaped), -1 with errno on error.
 */
int pmscan_target_alive(const struct pmscan_target *t);

/* ---- scanning --------------------------------------------------------- */

/* One mapping (VMA) of the target, as /proc/PID/maps shows it. */
struct pmscan_mapping {
	uint64_t start, end;	/* [start, end) */
	uint64_t offset;	/* file offset */
	uint64_t inode;
	unsigned dev_major, dev_minor;
	char perms[5];		/* "rw-p" */
	const char *name;	/* pathname, "[heap]", "[stack]", ... or "" */
	int tracked;		/* 1 registered for async write-protect, 0 not,
				   -1 not checked by this scan */
};

/* One merged region: adjacent pages with the same reported categories. */
struct pmscan_region {
	uint64_t start, end;		/* [start, end), page aligned */
	uint64_t categories;		/* PMSCAN_* bits, limited to the return mask */
	const struct pmscan_mapping *mapping;	/* the mapping it lies in */
};

/*
 * Callbacks. Return 0 to go on, or a negative errno value to stop the scan:
 * pmscan_scan_run then returns -1 with errno set to that value. The pointers
 * they receive are valid only during the call.
 */
typedef int (*pmscan_mapping_fn)(const struct pmscan_mapping *m, void *arg);
typedef int (*pmscan_region_fn)(const struct pmscan_region *r, void *arg);

/* A scan request over one target; reusable for several runs. */
struct pmscan_scan;

/* Flags for pmscan_scan_set_flags. */
/* Write-protect the written pages reported (a reset of the written state).
   With the soft-dirty tracker: clear_refs after the run, for the whole
   process (any engine; no ranges, no page limit). */
#define PMSCAN_SCAN_WP            (1u << 0)
/* Fail with EPERM, before touching anything, if a scanned mapping is not
   registered for async write-protect. */
#define PMSCAN_SCAN_CHECK_WPASYNC (1u << 1)
/* Fill pmscan_mapping.tracked for every scanned mapping (automatic when
   the request involves PMSCAN_WRITTEN). */
#define PMSCAN_SCAN_TRACKING_INFO (1u << 2)
#define PMSCAN_SCAN_FLAGS_ALL     ((1u << 3) - 1)

/* A new request for target t: whole process, no masks, every category the
   kernel knows returned, no page limit. The target must outlive it. */
struct pmscan_scan *pmscan_scan_new(struct pmscan_target *t);

/* Free a request; NULL is accepted. */
void pmscan_scan_free(struct pmscan_scan *s);

/*
 * Selection. A page matches when it has every category in require, at least
 * one in anyof (when anyof is not 0), and none in exclude. Reported regions
 * carry the page's categories limited to ret; ret 0 means every category the
 * engine can compute. Errors: ENOTSUP a bit the engine cannot compute here
 * (see pmscan_engine_categories); EINVAL a bit in both require and exclude,
 * or in both anyof and exclude (the kernel has one inversion vector for both).
 * WRITTEN exists only in mappings tracked for writes (registered for async
 * write-protect): in any other mapping no page is written, whatever the
 * kernel would say, so a request requiring it matches nothing there.
 */
int pmscan_scan_set_masks(struct pmscan_scan *s, uint64_t require,
			  uint64_t anyof, uint64_t exclude, uint64_t ret);

/* At most max_pages pages in total over the whole run (0: no limit). With
   PMSCAN_SCAN_WP exactly the pages returned are write-protected. */
int pmscan_scan_set_max_pages(struct pmscan_scan *s, uint64_t max_pages);

/*
 * Choose the engine of the next runs (PMSCAN_ENGINE_*; AUTO by default).
 * Both give the same answer; categories one cannot compute here make
 * pmscan_scan_run fail with ENOTSUP (see pmscan_category_unavailable).
 * Errors: EINVAL an unknown engine; ENOTSUP IOCTL on a kernel without
 * PAGEMAP_SCAN.
 */
int pmscan_scan_set_engine(struct pmscan_scan *s, int engine);

/* The engine the runs use: PMSCAN_ENGINE_IOCTL or PMSCAN_ENGINE_READ. */
int pmscan_scan_get_engine(const struct pmscan_scan *s);

/* PMSCAN_SCAN_* flags; EINVAL for an unknown flag. */
int pmscan_scan_set_flags(struct pmscan_scan *s, unsigned flags);

/*
 * Limit the scan to [start, end), page aligned (EINVAL otherwise, or when
 * end <= start). May be called several times; overlapping ranges are scanned
 * once. Without ranges the whole process is scanned.
 */
int pmscan_scan_add_range(struct pmscan_scan *s, uint64_t start, uint64_t end);

/* Callbacks for the next runs; either may be NULL. */
void pmscan_scan_set_callbacks(struct pmscan_scan *s, pmscan_mapping_fn on_mapping,
			       pmscan_region_fn on_region, void *arg);

/*
 * Run the scan: for each mapping in address order that meets the ranges,
 * call on_mapping, then on_region for each merged region in it, ascending.
 * Memory use does not depend on the number of regions. Errors: ESRCH the
 * process exited (before or during the scan); EPERM with
 * PMSCAN_SCAN_CHECK_WPASYNC, a mapping is not tracked (see
 * pmscan_scan_failed_mapping); ENOTSUP the kernel lacks PAGEMAP_SCAN or a
 * requested category; any errno a callback returned; other errnos from the
 * kernel.
 */
int pmscan_scan_run(struct pmscan_scan *s);

/*
 * Statistics structs (struct pmscan_scan_stats, struct pmscan_arm_stats)
 * can grow without breaking programs built against an older pmscan.h: new
 * fields are only ever appended. The caller sets the first member, size, to
 * the size of its struct before the call:
 *
 *	struct pmscan_scan_stats st = { .size = sizeof(st) };
 *
 * The library writes exactly the fields it knows that fit whole in size
 * bytes (offsetof(field) + sizeof(field) <= size), never size or reserved,
 * and no byte at or past size: a field newer than the library (a program
 * built against a later pmscan.h, run with an older libpmscan) keeps the
 * value the caller put in it, so a caller that needs to tell "not filled"
 * apart presets such a field to a value it can recognise. A size
 * smaller than the first version of the struct (the fields below, through
 * reserved) fails with EINVAL, and nothing is written or done.
 */

/* Totals of the last run (also after a failed one: what was done so far). */
struct pmscan_scan_stats {
	size_t size;		/* set by the caller: sizeof(struct pmscan_scan_stats) */
	uint64_t pages;		/* pages in the regions reported */
	uint64_t regions;	/* merged regions reported */
	uint64_t mappings;	/* mappings scanned */
	uint64_t untracked;	/* of those, not tracked (when checked) */
	uint64_t untracked_pages; /* size of those mappings, in pages */
	uint64_t ioctls;	/* PAGEMAP_SCAN calls made */
	int budget_reached;	/* stopped because max_pages was reached */
	uint32_t reserved;	/* explicit padding (no hidden bytes at the end, so
				   each field appended later makes the struct
				   larger); never written by the library */
};
/* Copy the totals of the last run into *st (see the size rule above).
   Returns 0, or -1 with errno EINVAL when st is NULL or st->size is too
   small. */
int pmscan_scan_get_stats(const struct pmscan_scan *s, struct pmscan_scan_stats *st);

/* After pmscan_scan_run failed: the mapping it was working on, or NULL.
   Valid until the next run or pmscan_scan_free. */
const struct pmscan_mapping *pmscan_scan_failed_mapping(const struct pmscan_scan *s);

/* After pmscan_scan_run failed: why, when the library knows more than the
   errno says (a category the engine cannot compute, and why), else "".
   Valid until the next run or pmscan_scan_free. */
const char *pmscan_scan_error(const struct pmscan_scan *s);

/* ---- arming: write tracking in another process ---------------------- */

/*
 * A process is "armed" when it holds pmscan's tracker: a userfaultfd in
 * async write-protect mode that its own thread created (pmscan injects that
 * one syscall with ptrace) and with which its mappings are registered. The
 * fd stays open in the process, so tracking outlives pmscan. Arming needs
 * ptrace attach rights: the same user with ptrace allowed, or CAP_SYS_PTRACE.
 * Native 64-bit processes on x86_64 and aarch64 (arm64).
 */

/* An address range [start, end). */
struct pmscan_range {
	uint64_t start, end;
};

/* Why a mapping was not tracked, for each one arming leaves out. */
typedef void (*pmscan_skip_fn)(const struct pmscan_mapping *m, const char *why, void *arg);

/* What pmscan_arm and pmscan_rearm did; extensible like struct
   pmscan_scan_stats: set size = sizeof(struct pmscan_arm_stats) first. */
struct pmscan_arm_stats {
	size_t size;		/* set by the caller: sizeof(struct pmscan_arm_stats) */
	uint64_t mappings;	/* mappings registered by this call */
	uint64_t bytes;		/* their size */
	uint64_t skipped;	/* mappings that cannot be tracked */
	int fd;			/* the tracker's fd number in the process */
	uint32_t reserved;	/* explicit padding (no hidden bytes at the end, so
				   each field appended later makes the struct
				   larger); never written by the library */
};

/* The fd number of the tracker in the process, or -1 with errno ENOENT
   (not armed) or another errno. Found without reading the process's fd
   table where possible: the number last found or created is remembered
   (for root in /run/pmscan, else in $XDG_RUNTIME_DIR/pmscan, one small file
   per process, removed by pmscan_disarm) and checked before it is used. */
int pmscan_tracker_fd(const struct pmscan_target *t);

/*
 * Arm the process: create the tracker in it, register every mapping that
 * can be tracked (only those meeting ranges[i] when nranges
 * > 0) and write-protect them, so that right after, nothing reads as
 * written. Mappings that cannot be tracked are passed to on_skip (may be
 * NULL). Returns 1 when armed now, 0 when it already was (nothing done), -1
 * with errno on error, leaving the process as it was: EBUSY already traced
 * (a debugger); EPERM or EACCES ptrace not allowed; ESRCH the process
 * exited; ENOTSUP the kernel lacks async write-protect; ENOEXEC not a
 * native 64-bit process. pmscan_target_error() then says which step failed.
 * st (may be NULL) receives counts, also on failure (what was done so far);
 * an st whose size is too small (see the rule above struct
 * pmscan_scan_stats) fails with EINVAL before the process is touched. With
 * the soft-dirty tracker (see pmscan_target_set_tracker) arming is a reset
 * of the whole process: it returns 1 every time, st->fd is -1, ranges are
 * refused (EINVAL), and EACCES or EPERM mean /proc/PID/clear_refs could not
 * be written.
 */
int pmscan_arm(struct pmscan_target *t, const struct pmscan_range *ranges, size_t nranges,
	       pmscan_skip_fn on_skip, void *arg, struct pmscan_arm_stats *st);

/* Flag for pmscan_rearm: write-protect the new mappings at once. */
#define PMSCAN_REARM_PROTECT 1u

/*
 * Register the mappings of an armed process that are not tracked yet
 * (mappings it created since it was armed). Only mappings meeting the
 * ranges when nranges > 0. The pages of a new mapping that hold data
 * written since it appeared (anonymous pages, not the zero page, present or
 * swapped) are passed to on_written (may be NULL); without flags they stay
 * unprotected, so they read as written until the next reset, and every
 * other page is write-protected; with PMSCAN_REARM_PROTECT all of them are
 * protected at once. Returns 1 done, 0 not armed, -1 on error (errno;
 * pmscan_target_error says which step). st (may be NULL) receives counts as
 * with pmscan_arm (EINVAL, nothing done, when its size is too small). With the soft-dirty tracker there
 * is nothing to register (new mappings read written in full until the next
 * reset): returns 1, nothing done.
 */
int pmscan_rearm(struct pmscan_target *t, const struct pmscan_range *ranges, size_t nranges,
		 unsigned flags, pmscan_region_fn on_written, void *arg,
		 struct pmscan_arm_stats *st);

/*
 * Disarm: unregister every mapping and close the tracker in the process (a
 * second injected syscall). Returns 1 done, 0 not armed, -1 on error.
 * With the soft-dirty tracker there is nothing to undo: returns 0.
 */
int pmscan_disarm(struct pmscan_target *t);

/*
 * Bound every wait on the process (for it to stop, for a system call
 * injected into it to complete) to ms milliseconds; 3000 by default. A
 * process that does not stop in time (a thread in vfork() or in
 * uninterruptible sleep) makes arming fail with ETIMEDOUT, the process
 * untouched. EINVAL for 0.
 */
int pmscan_target_set_timeout(struct pmscan_target *t, unsigned ms);

/*
 * The page tables arming and re-arming may add to the process, in bytes
 * (64 MiB by default). Write-protecting a mapping marks its empty entries
 * too, so that a page only read later never reads as written; an empty
 * 2 MiB stretch with no page table then gets one (4 KiB on x86_64): a
 * sparse 60 GiB mapping can cost 120 MiB. A mapping that would take the
 * total over the budget is left untracked (pmscan_arm tells on_skip why);
 * pmscan_rearm counts the page tables that tracked mappings of 512 MiB or
 * more already hold, so the bound holds across calls. Page tables are
 * not given back at disarm: the kernel frees them only when the memory is
 * unmapped (MADV_DONTNEED would also drop the data).
 */
int pmscan_target_set_page_table_budget(struct pmscan_target *t, uint64_t bytes);

/*
 * Trackers: what "written" means for a target and how it is reset.
 *   UFFD        userfaultfd async write-protect (Linux 6.7+): exact per
 *               page and per mapping; arming injects one syscall (ptrace).
 *   SOFT_DIRTY  the kernel's soft-dirty bit (CONFIG_MEM_SOFT_DIRTY: every
 *               Debian amd64 kernel; no arm64 kernel): arming and every
 *               reset write "4" to /proc/PID/clear_refs (owner or
 *               CAP_SYS_PTRACE; no ptrace, nothing injected, nothing to
 *               undo). WRITTEN is then the SOFT_DIRTY category, read by
 *               either engine (the ioctl one from Linux 6.8). Its limits: a
 *               reset covers the whole process, so PMSCAN_SCAN_WP with
 *               ranges or a page limit is refused (EINVAL) and pmscan_arm
 *               with ranges too; a mapping created, grown, merged or moved
 *               (mremap) since the last reset reads written in full; until
 *               the first reset every page written since the process
 *               started reads written; with PMSCAN_SCAN_WP, a write that
 *               lands between the read and the reset is lost.
 *   AUTO        (the default) UFFD where the kernel has async write-protect,
 *               else SOFT_DIRTY where it works. The choice leaves no trace
 *               in the process: a program that reset a process with
 *               SOFT_DIRTY on a kernel that has both must choose SOFT_DIRTY
 *               again for its later scans.
 */
#define PMSCAN_TRACKER_AUTO       0
#define PMSCAN_TRACKER_UFFD       1
#define PMSCAN_TRACKER_SOFT_DIRTY 2

/*
 * Choose the tracker for t's arming, re-arming, disarming and for the
 * scans made on it afterwards (set it before pmscan_scan_set_masks). Errors:
 * EINVAL an unknown tracker; ENOTSUP SOFT_DIRTY where it does not work
 * (pmscan_tracker_unavailable says why). UFFD is accepted everywhere: where
 * the kernel lacks it, no mapping is tracked and pmscan_arm fails ENOTSUP.
 */
int pmscan_target_set_tracker(struct pmscan_target *t, int tracker);

/*
 * The tracker t uses: PMSCAN_TRACKER_UFFD or PMSCAN_TRACKER_SOFT_DIRTY (AUTO
 * resolved), or -1 with errno ENOTSUP when AUTO finds neither working.
 */
int pmscan_target_get_tracker(const struct pmscan_target *t);

/*
 * Why tracker cannot work on the running kernel (a static English sentence;
 * for AUTO, both reasons), or NULL when it can. Probed once. Thread-safe.
 */
const char *pmscan_tracker_unavailable(int tracker);

/* A description of the step the last failed arm, rearm or disarm was at
   ("" when none). Valid until the next call on t. */
const char *pmscan_target_error(const struct pmscan_target *t);

/* ---- the write-watch API: GetWriteWatch/ResetWriteWatch, in-process -- */

/*
 * Which pages of the calling process's own memory were written, with the
 * semantics of Win32's GetWriteWatch and ResetWriteWatch. A handle owns a
 * userfaultfd in async write-protect mode (no thread reads it: the kernel
 * resolves every write fault itself). Addresses and sizes are rounded out
 * to whole pages. Writes made by the kernel into watched memory (read(2)
 * into a buffer) count as writes; changing the protection (mprotect) does
 * not change what is watched or written; MADV_DONTNEED counts as a write.
 * Watching sets MADV_NOHUGEPAGE on the range; a transparent huge page
 * already there is split at its first write, so a write reports the one
 * 4 KiB page written, not 2 MiB. A watch ends at munmap(): a get, reset or
 * unwatch on memory unmapped since it was watched fails with EINVAL, and a
 * new mapping made at the same address is not watched. Writes through
 * another mapping of the same memory (a second mmap of a file or memfd, a
 * shared mapping written by another process) are not seen. In hugetlb
 * memory a reset must cover whole huge pages (EINVAL otherwise, nothing
 * reset).
 * Handles are independent; use one handle from one thread at a time.
 */

/* Flag for pmscan_ww_get: reset the returned pages in the same call. */
#define PMSCAN_WW_RESET 1u

/* A new handle, or NULL with errno (ENOTSUP where the kernel cannot: no
   userfaultfd async write-protect or PAGEMAP_SCAN, Linux < 6.7). */
struct pmscan_ww *pmscan_ww_open(void);

/* Close a handle: everything it watched stops being watched. NULL is
   accepted. */
void pmscan_ww_close(struct pmscan_ww *ww);

/*
 * Start watching [addr, addr+len), which must be mapped. It starts clean:
 * nothing in it reads as written until written. Watching a watched range
 * again resets it. Errors: EINVAL len 0 or the range not wholly mapped,
 * EBUSY part of it is watched by another handle (or another userfaultfd of
 * the process).
 */
int pmscan_ww_watch(struct pmscan_ww *ww, void *addr, size_t len);

/* Stop watching [addr, addr+len), which must lie wholly inside watched
   memory (EINVAL otherwise). */
int pmscan_ww_unwatch(struct pmscan_ww *ww, void *addr, size_t len);

/*
 * The pages in [base, base+size) written since the watch began or since
 * their last reset: their addresses, ascending, at most *count of them, in
 * addresses[]; *count becomes the number returned, *granularity the page
 * size. With PMSCAN_WW_RESET, exactly the returned pages are reset, in the
 * same kernel operation as the read: with a short buffer the pages not
 * returned stay written, and a write racing with the call is reported by
 * this call or a later one, never lost. Errors (nothing changes), checked in
 * Wine's order: EFAULT count or granularity NULL; EINVAL *count 0, size 0
 * or unknown flags; EFAULT addresses NULL; EINVAL the range not wholly
 * inside watched memory (or unmapped since), or a reset that would cut a
 * hugetlb page.
 */
int pmscan_ww_get(struct pmscan_ww *ww, unsigned flags, void *base, size_t size,
		  void **addresses, size_t *count, size_t *granularity);

/* Reset the written pages of [base, base+size) (ResetWriteWatch). Errors:
   EINVAL size 0 or the range not wholly inside watched memory. */
int pmscan_ww_reset(struct pmscan_ww *ww, void *base, size_t size);

#ifdef __cplusplus
}
#endif

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The relay (relay.h). Events are 8-byte words in fixed-size chunks:
 *   region:  REGION, start, end, categories
 *   mapping: MAPPING | name length << 8, start, end, offset, inode,
 *            dev_major << 32 | dev_minor, perms (8 bytes), tracked,
 *            then the name, padded to a word
 * Chunks go round a small fixed set: the memory used does not grow with the
 * scan. The writer thread blocks every signal but SIGPIPE, so a signal
 * meant for pmscan reaches the scan's thread (which holds its own while a
 * target is altered), and a write to a closed pipe ends pmscan as it would
 * without the thread.
 */
#include "config.h"
#include "relay.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_WORDS 8192	/* 64 KiB: about 2000 regions */
#define NCHUNKS 4
#define MAPPING_WORDS 9

enum { EV_REGION = 1, EV_MAPPING = 2 };

struct chunk {
	size_t len;		/* words used */
	uint64_t w[CHUNK_WORDS];
};

bool relay_inline;

static struct {
	pmscan_mapping_fn on_mapping;
	pmscan_region_fn on_region;
	void *arg;
	struct chunk *cur;	/* the scan's thread fills it */
	/* the writer's side: the current mapping, its name kept */
	struct pmscan_mapping m;
	char *name;
	size_t name_cap;
	/* the hand-over, under mu */
	pthread_mutex_t mu;
	pthread_cond_t ready, done;
	struct chunk *full[NCHUNKS], *spare[NCHUNKS];
	size_t full_head, nfull, nspare;
	bool finish, running, threads_pay;
	pthread_t th;
	atomic_int err;
} R = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.ready = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

static struct chunk pool[NCHUNKS];

static void fail(int e)
{
	int none = 0;

	atomic_compare_exchange_strong(&R.err, &none, e);
}

/* The writer's copy of a mapping event (its name kept past the chunk). */
static int take_mapping(const uint64_t *w, size_t n)
{
	if (n + 1 > R.name_cap) {
		char *p = realloc(R.name, n + 1);
		if (!p)
			return -ENOMEM;
		R.name = p;
		R.name_cap = n + 1;
	}
	memcpy(R.name, w + MAPPING_WORDS, n);
	R.name[n] = '\0';
	R.m = (struct pmscan_mapping){
		.start = w[1], .end = w[2], .offset = w[3], .inode = w[4],
		.dev_major = (unsigned)(w[5] >> 32), .dev_minor = (unsigned)w[5],
		.name = R.name, .tracked = (int)(int64_t)w[7],
	};
	memcpy(R.m.perms, &w[6], sizeof(R.m.perms));
	R.m.perms[sizeof(R.m.perms) - 1] = '\0';
	return R.on_mapping ? R.on_mapping(&R.m, R.arg) : 0;
}

/* The real callbacks for one chunk's events, in order; after an error,
   none (the scan stops at its next event). */
static void replay(struct chunk *c)
{
	const uint64_t *w = c->w, *end = c->w + c->len;
	int e = atomic_load_explicit(&R.err, memory_order_relaxed);

	while (w < end && !e) {
		if ((w[0] & 0xff) == EV_REGION) {
			struct pmscan_region r = { w[1], w[2], w[3], &R.m };
			e = R.on_region ? R.on_region(&r, R.arg) : 0;
			w += 4;
		} else {
			size_t n = (size_t)(w[0] >> 8);
			e = take_mapping(w, n);
			w += MAPPING_WORDS + (n + 7) / 8;
		}
	}
	if (e)
		fail(e);
	c->len = 0;
}

static void *writer(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&R.mu);
	for (;;) {
		while (!R.nfull && !R.finish)
			pthread_cond_wait(&R.ready, &R.mu);
		if (!R.nfull)
			break;
		struct chunk *c = R.full[R.full_head];
		R.full_head = (R.full_head + 1) % NCHUNKS;
		R.nfull--;
		pthread_mutex_unlock(&R.mu);
		replay(c);
		pthread_mutex_lock(&R.mu);
		R.spare[R.nspare++] = c;
		pthread_cond_signal(&R.done);
	}
	pthread_mutex_unlock(&R.mu);
	return NULL;
}

/* Two CPUs or more to run on: only then does a second thread pay. */
static bool several_cpus(void)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 1;
}

static bool start_writer(void)
{
	sigset_t all, old;
	pthread_attr_t at;
	int e;

	sigfillset(&all);
	sigdelset(&all, SIGPIPE);
	if (pthread_attr_init(&at))
		return false;
	pthread_attr_setstacksize(&at, 256 * 1024);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&R.th, &at, writer, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	return e == 0;
}

/* The current chunk is full (or the scan ended): hand it on, take the next. */
static void hand_over(void)
{
	if (!R.running && R.threads_pay && !relay_inline)
		R.running = start_writer();
	if (!R.running) {
		replay(R.cur);
		return;
	}
	pthread_mutex_lock(&R.mu);
	R.full[(R.full_head + R.nfull) % NCHUNKS] = R.cur;
	R.nfull++;
	pthread_cond_signal(&R.ready);
	while (!R.nspare)
		pthread_cond_wait(&R.done, &R.mu);
	R.cur = R.spare[--R.nspare];
	pthread_mutex_unlock(&R.mu);
}

/* Room for n words in the current chunk (n at most CHUNK_WORDS). */
static inline uint64_t *room(size_t n)
{
	if (R.cur->len + n > CHUNK_WORDS)
		hand_over();
	uint64_t *w = R.cur->w + R.cur->len;
	R.cur->len += n;
	return w;
}

static int relay_region(const struct pmscan_region *r, void *arg)
{
	(void)arg;
	int e = atomic_load_explicit(&R.err, memory_order_relaxed);
	if (e)
		return e;
	uint64_t *w = room(4);
	w[0] = EV_REGION;
	w[1] = r->start;
	w[2] = r->end;
	w[3] = r->categories;
	return 0;
}

static int relay_mapping(const struct pmscan_mapping *m, void *arg)
{
	size_t n = strlen(m->name), words = MAPPING_WORDS + (n + 7) / 8;
	int e = atomic_load_explicit(&R.err, memory_order_relaxed);

	(void)arg;
	if (e)
		return e;
	if (words > CHUNK_WORDS) {
		/* a name longer than a chunk: everything before it
		   delivered, then this one directly */
		if ((e = relay_end()) != 0)
			return e;
		return R.on_mapping ? R.on_mapping(m, R.arg) : 0;
	}
	uint64_t *w = room(words);
	w[0] = EV_MAPPING | (uint64_t)n << 8;
	w[1] = m->start;
	w[2] = m->end;
	w[3] = m->offset;
	w[4] = m->inode;
	w[5] = (uint64_t)m->dev_major << 32 | m->dev_minor;
	w[6] = 0;
	memcpy(&w[6], m->perms, sizeof(m->perms));
	w[7] = (uint64_t)(int64_t)m->tracked;
	w[8] = 0;
	w[words - 1] = 0;	/* the padding after the name */
	memcpy(&w[MAPPING_WORDS], m->name, n);
	return 0;
}

/* No thread holds a chunk: the first is the scan's, the others spare. */
static void reset_chunks(void)
{
	R.nfull = R.full_head = R.nspare = 0;
	for (size_t i = 1; i < NCHUNKS; i++)
		R.spare[R.nspare++] = &pool[i];
	R.cur = &pool[0];
	R.cur->len = 0;
}

void relay_begin(pmscan_mapping_fn *on_mapping, pmscan_region_fn *on_region, void **arg)
{
	static int cpus = -1;

	if (cpus < 0)
		cpus = several_cpus();
	R.on_mapping = *on_mapping;
	R.on_region = *on_region;
	R.arg = *arg;
	R.threads_pay = cpus;
	R.running = R.finish = false;
	reset_chunks();
	atomic_store(&R.err, 0);
	*on_mapping = relay_mapping;
	*on_region = relay_region;
	*arg = NULL;
}

int relay_end(void)
{
	if (R.running) {
		pthread_mutex_lock(&R.mu);
		if (R.cur->len) {
			R.full[(R.full_head + R.nfull) % NCHUNKS] = R.cur;
			R.nfull++;
		}
		R.finish = true;
		pthread_cond_signal(&R.ready);
		pthread_mutex_unlock(&R.mu);
		pthread_join(R.th, NULL);
		R.running = R.finish = false;
	} else {
		replay(R.cur);
	}
	reset_chunks();
	return atomic_load(&R.err);
}

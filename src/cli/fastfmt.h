/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The writer's inner helpers, inline for the row paths of table.c and the
 * region rows of out-scan.c: constant-size moves, padding written ahead,
 * digits without division loops. Several write a few bytes past what they
 * return (the callers reserve room for that slack with cell_room).
 */
#ifndef PMSCAN_FASTFMT_H
#define PMSCAN_FASTFMT_H

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
# include <emmintrin.h>
#endif

#include "table.h"

/* Eight hex digits of a 32-bit value, most significant first, as the bytes
   of a little-endian 64-bit word. */
static inline uint64_t hex8(uint32_t v)
{
	uint64_t x = v;

	/* one nibble per byte, the most significant nibble in the lowest byte */
	x = ((x & 0xffff) << 32) | (x >> 16);
	x = ((x & UINT64_C(0x000000ff000000ff)) << 16) | ((x >> 8) & UINT64_C(0x000000ff000000ff));
	x = ((x & UINT64_C(0x000f000f000f000f)) << 8) | ((x >> 4) & UINT64_C(0x000f000f000f000f));
	/* 0-9 to '0'-'9', 10-15 to 'a'-'f' */
	uint64_t letters = ((x + UINT64_C(0x0606060606060606)) >> 4) & UINT64_C(0x0101010101010101);
	return x + UINT64_C(0x3030303030303030) + letters * ('a' - '0' - 10);
}

/* The eight hex digits of a and of b, at pa and pb (8 bytes each). */
static inline void hex8x2(uint32_t a, uint32_t b, char *pa, char *pb)
{
#ifdef __SSE2__
	/* both at once: the bytes most significant first, a's then b's, split
	   into nibbles, interleaved high then low, each to its digit */
	uint64_t ab = (uint64_t)__builtin_bswap32(a) | (uint64_t)__builtin_bswap32(b) << 32;
	__m128i x = _mm_cvtsi64_si128((long long)ab);
	const __m128i low4 = _mm_set1_epi8(0x0f);
	__m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), low4);
	__m128i lo = _mm_and_si128(x, low4);
	__m128i n = _mm_unpacklo_epi8(hi, lo);
	__m128i letter = _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10));
	n = _mm_add_epi8(n, _mm_add_epi8(letter, _mm_set1_epi8('0')));
	_mm_storel_epi64((__m128i *)(void *)pa, n);
	_mm_storel_epi64((__m128i *)(void *)pb, _mm_unpackhi_epi64(n, n));
#else
	uint64_t x = hex8(a), y = hex8(b);

	memcpy(pa, &x, 8);
	memcpy(pb, &y, 8);
#endif
}

/* n bytes, n small, with overlapping constant-size moves (no call). */
static inline void copy_small(char *d, const char *src, size_t n)
{
	if (n >= 16) {
		memcpy(d, src, 16);
		memcpy(d + n - 16, src + n - 16, 16);
	} else if (n >= 8) {
		memcpy(d, src, 8);
		memcpy(d + n - 8, src + n - 8, 8);
	} else if (n >= 4) {
		memcpy(d, src, 4);
		memcpy(d + n - 4, src + n - 4, 4);
	} else {
		for (size_t k = 0; k < n; k++)
			d[k] = src[k];
	}
}

static inline char *put_bytes(char *d, const char *src, size_t n)
{
	if (n <= 32) {
		copy_small(d, src, n);
	} else if (n <= 64) {
		memcpy(d, src, 32);
		memcpy(d + n - 32, src + n - 32, 32);
	} else if (n <= 128) {
		memcpy(d, src, 64);
		memcpy(d + n - 64, src + n - 64, 64);
	} else {
		memcpy(d, src, n);
	}
	return d + n;
}

/* n spaces; may write up to 31 bytes past them (the row's slack). */
static inline char *put_spaces(char *d, size_t n)
{
	static const char sp[32] = "                                ";
	char *end = d + n;

	while (d < end) {
		memcpy(d, sp, 32);
		d += 32;
	}
	return end;
}

/* Digits of v: its decimal length. */
static inline size_t u64_len(uint64_t v)
{
	static const uint64_t pow10[20] = {
		UINT64_C(1), UINT64_C(10), UINT64_C(100), UINT64_C(1000), UINT64_C(10000),
		UINT64_C(100000), UINT64_C(1000000), UINT64_C(10000000), UINT64_C(100000000),
		UINT64_C(1000000000), UINT64_C(10000000000), UINT64_C(100000000000),
		UINT64_C(1000000000000), UINT64_C(10000000000000), UINT64_C(100000000000000),
		UINT64_C(1000000000000000), UINT64_C(10000000000000000),
		UINT64_C(100000000000000000), UINT64_C(1000000000000000000),
		UINT64_C(10000000000000000000),
	};
	unsigned t = ((unsigned)(64 - __builtin_clzll(v | 1)) * 1233) >> 12;
	size_t n = t + 1 - (v < pow10[t]);

	return n ? n : 1;
}

/* An address in hex; the digits above the low 32 bits change rarely from
   row to row, so they are formatted once and kept. Writes up to 18 bytes. */
static inline size_t hex_cached(struct table *t, char *p, uint64_t v)
{
	uint32_t hi = (uint32_t)(v >> 32);
	uint64_t lo;

	if (!hi)
		return fmt_hex(p, v);
	if (hi != t->hex_hi || !t->hex_hi_len) {
		t->hex_hi_len = fmt_hex(t->hex_hi_text, hi);
		t->hex_hi = hi;
	}
	memcpy(p, t->hex_hi_text, 16);	/* "0x" and up to 8 digits (and slack) */
	p += t->hex_hi_len;
	lo = hex8((uint32_t)v);
	memcpy(p, &lo, 8);
	return t->hex_hi_len + 8;
}

/* Room for a cell of the fast path: flushes when the buffer is short. */
static inline char *cell_room(struct obuf *o, char *p, size_t need)
{
	if ((size_t)(p - o->p) + need > o->cap) {
		o->len = (size_t)(p - o->p);
		ob_flush(o);
		p = o->p + o->len;
	}
	return p;
}

#endif

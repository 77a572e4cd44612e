/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The writer's inner helpers, inline for the row paths of table.c:
 * constant-size moves, padding written ahead, digits without division
 * loops. Several write a few bytes past what they return (the callers
 * reserve room for that slack with cell_room).
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

/* 16 bytes as one unaligned load and one store (a fixed-size memcpy of
   more may become a "rep movs", slow to start). */
static inline void copy16(char *d, const char *src)
{
#ifdef __SSE2__
	_mm_storeu_si128((__m128i *)(void *)d, _mm_loadu_si128((const __m128i *)(const void *)src));
#else
	uint64_t a, b;

	memcpy(&a, src, 8);
	memcpy(&b, src + 8, 8);
	memcpy(d, &a, 8);
	memcpy(d + 8, &b, 8);
#endif
}

static inline char *put_bytes(char *d, const char *src, size_t n)
{
	if (n <= 32) {
		copy_small(d, src, n);
	} else if (n <= 64) {
		/* the first 32 and the last 32, overlapping */
		copy16(d, src);
		copy16(d + 16, src + 16);
		copy16(d + n - 32, src + n - 32);
		copy16(d + n - 16, src + n - 16);
	} else if (n <= 128) {
		/* the first 64 and the last 64 */
		copy16(d, src);
		copy16(d + 16, src + 16);
		copy16(d + 32, src + 32);
		copy16(d + 48, src + 48);
		copy16(d + n - 64, src + n - 64);
		copy16(d + n - 48, src + n - 48);
		copy16(d + n - 32, src + n - 32);
		copy16(d + n - 16, src + n - 16);
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

/* The template written out as the next row (JSON: after its separator);
   where the row begins, for the digits to be put over. */
static inline char *template_out(struct table *t)
{
	struct obuf *o = t->ob;
	char *p = cell_room(o, o->p + o->len, t->tpl_len + 2);

	if (t->fmt == FMT_JSON && !t->lines) {
		if (t->rows)
			*p++ = ',';
		*p++ = '\n';
	}
	put_bytes(p, t->tpl, t->tpl_len);
	o->len = (size_t)(p + t->tpl_len - o->p);
	t->rows += t->fmt == FMT_JSON;
	return p;
}

/* table_row_delta (table.h): most rows of a scan are the last one with
   its two addresses changed in their low halves only: the template's bytes
   with 8 + 8 digits put over, inline. */
static inline void table_row_delta(struct table *t, const struct cell *cells, uint64_t changed)
{
	if (t->tpl_pair && ((changed & t->sel_mask) | t->tpl_stale) == t->tpl_pair) {
		uint64_t a = cells[t->pair_col[0]].u, b = cells[t->pair_col[1]].u;
		if (a >> 32 == t->pair_hi[0] && b >> 32 == t->pair_hi[1]) {
			char *p = template_out(t);
			hex8x2((uint32_t)a, (uint32_t)b, p + t->pair_off[0], p + t->pair_off[1]);
			/* the template keeps its old digits (and tval its old
			   values, the high halves the same): put on every row */
			t->tpl_stale = t->tpl_pair;
			return;
		}
	}
	table_row_delta_general(t, cells, changed);
}

#endif

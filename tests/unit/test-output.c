/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A deterministic fuzz test of the output layer (src/cli/table.c and the
 * region rows of src/cli/out-scan.c): random columns and cells (every kind,
 * strings up to 20000 bytes of any byte value, invalid and truncated UTF-8,
 * widths up to beyond the buffer), in text, raw and JSON, with and without
 * the cut to a terminal's width, written into buffers of several sizes
 * filled to near their end. Each row is checked against a reference built
 * here from the cells: the row's fast path and its general path must both
 * give it byte for byte; text holds no control but the final newline, raw
 * has one field per column, JSON parses with json-c and gives back every
 * valid UTF-8 string, all of it is valid UTF-8. The escapes are checked
 * on their own (text and OpenMetrics decode back to the input); rows in
 * sequence through table_row_delta (the last row as a template, digits put
 * over) against the reference, and whole scan documents with templates
 * against the same without.
 * Seed fixed; PMSCAN_FUZZ_ITERS and PMSCAN_FUZZ_SECONDS bound the run,
 * PMSCAN_FUZZ_FILTER picks tests by name (cmocka's pattern).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "out.h"
#include "table.h"
#include "fastfmt.h"

/* ---- random ------------------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t rn(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* ---- growable byte strings ----------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static void b_add(struct buf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void b_str(struct buf *b, const char *s)
{
	b_add(b, s, strlen(s));
}

static void b_chr(struct buf *b, char c)
{
	b_add(b, &c, 1);
}

static void b_spaces(struct buf *b, size_t n)
{
	b_add(b, "", 0);
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memset(b->p + b->len, ' ', n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void b_fmt(struct buf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	b_add(b, tmp, (size_t)n);
}

/* ---- UTF-8, decoded here independently of table.c ------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0; *cp set. */
static size_t dec(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		c = s[0] & 0x1fu;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0fu;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		c = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3fu);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static bool valid_utf8(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t cp;

	for (size_t i = 0; i < n;) {
		size_t l = dec(s + i, n - i, &cp);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

static void put_cp(struct buf *b, uint32_t c)
{
	char e[4];

	if (c < 0x80) {
		e[0] = (char)c;
		b_add(b, e, 1);
	} else if (c < 0x800) {
		e[0] = (char)(0xc0 | (c >> 6));
		e[1] = (char)(0x80 | (c & 0x3f));
		b_add(b, e, 2);
	} else if (c < 0x10000) {
		e[0] = (char)(0xe0 | (c >> 12));
		e[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		e[2] = (char)(0x80 | (c & 0x3f));
		b_add(b, e, 3);
	} else {
		e[0] = (char)(0xf0 | (c >> 18));
		e[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		e[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		e[3] = (char)(0x80 | (c & 0x3f));
		b_add(b, e, 4);
	}
}

/* ---- random strings --------------------------------------------------------- */

static const uint32_t cps[] = {
	0x80, 0x85, 0x9b, 0x9f, 0xa0, 0xe9, 0x7ff, 0x800, 0x300, 0x36f, 0x200b, 0x200f, 0x2028,
	0x202e, 0x4e2d, 0x3000, 0xac00, 0xd7a3, 0xfe0f, 0xff01, 0xfffd, 0xfffe, 0xffff, 0x10000,
	0x1f600, 0x1f9ff, 0x20000, 0x3fffd, 0x10ffff,
};

static const char *const bad_seqs[] = {
	"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xc2", "\xe0\x80\x80", "\xe0\xa0", "\xed\xa0\x80",
	"\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xfe",
	"\xe4\xb8", "\xf0\x9f\x98",
};

/* A NUL-terminated string with no NUL inside, up to max bytes. */
static char *rand_str(size_t max)
{
	struct buf b = { 0 };
	size_t r = rn(100), len;
	unsigned mode = (unsigned)rn(4);

	len = r < 55 ? rn(21) : r < 85 ? rn(200) : r < 95 ? rn(4300) : rn(20001);
	if (len > max)
		len = max;
	b_add(&b, "", 0);
	while (b.len < len) {
		switch (mode) {
		case 0:		/* printable ASCII with spaces and backslashes */
			b_chr(&b, (char)(' ' + rn(95)));
			break;
		case 1:		/* any byte */
			b_chr(&b, (char)(1 + rn(255)));
			break;
		default:	/* pieces */
			switch (rn(6)) {
			case 0:
				b_chr(&b, (char)(1 + rn(0x7f)));
				break;
			case 1:
			case 2:
				put_cp(&b, cps[rn(sizeof(cps) / sizeof(cps[0]))]);
				break;
			case 3:
				b_str(&b, bad_seqs[rn(sizeof(bad_seqs) / sizeof(bad_seqs[0]))]);
				break;
			case 4:
				put_cp(&b, (uint32_t)(0x80 + rn(0x2000)));
				break;
			default:
				b_chr(&b, "a \\\"\n\t\x7f"[rn(7)]);
			}
		}
	}
	/* often a multi-byte character cut at the end */
	if (b.len && rn(4) == 0) {
		b.len = b.len > len ? len : b.len;
		b.p[b.len] = '\0';
		if (rn(2))
			b_str(&b, bad_seqs[14 + rn(2)]);
	}
	return b.p;
}

/* ---- the escapes ---------------------------------------------------------- */

static struct obuf scratch(size_t cap)
{
	struct obuf o = { .cap = cap, .f = NULL };

	o.p = malloc(cap);
	assert_non_null(o.p);
	return o;
}

/* esc_text: only printable valid UTF-8 and \xHH (raw: no space), and it
   decodes back to the input. */
static void check_esc_text(const char *s, bool raw)
{
	size_t n = strlen(s);
	struct obuf o = scratch(n * 4 + 1);
	struct buf back = { 0 };

	esc_text(&o, s, n, raw);
	assert_true(o.len <= n * 4);
	assert_true(valid_utf8(o.p, o.len));
	b_add(&back, "", 0);
	for (size_t i = 0; i < o.len;) {
		unsigned char c = (unsigned char)o.p[i];
		uint32_t cp;
		assert_true(c >= 0x20 && c != 0x7f);
		assert_false(raw && c == ' ');
		if (c == '\\') {
			unsigned v;
			assert_true(i + 4 <= o.len && o.p[i + 1] == 'x');
			assert_int_equal(sscanf(o.p + i + 2, "%2x", &v), 1);
			b_chr(&back, (char)v);
			i += 4;
			continue;
		}
		size_t l = dec((const unsigned char *)o.p + i, o.len - i, &cp);
		assert_true(l > 0);
		assert_false(cp >= 0x80 && cp < 0xa0);	/* C1 passed unescaped */
		assert_false((cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069));
		b_add(&back, o.p + i, l);
		i += l;
	}
	assert_int_equal(back.len, n);
	assert_memory_equal(back.p, s, n);
	free(back.p);
	free(o.p);
}

/* What esc_om should give back once its escapes are undone: each invalid
   byte and each control but the newline as U+FFFD. */
static void om_expected(const char *str, struct buf *e)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);
	uint32_t cp;

	b_add(e, "", 0);
	for (size_t i = 0; i < n;) {
		size_t l = dec(s + i, n - i, &cp);
		if (!l) {
			put_cp(e, 0xfffd);
			i++;
		} else {
			if ((cp < 0x20 && cp != '\n') || (cp >= 0x7f && cp < 0xa0))
				put_cp(e, 0xfffd);
			else
				b_add(e, s + i, l);
			i += l;
		}
	}
}

static void check_esc_om(const char *s)
{
	size_t n = strlen(s);
	struct obuf o = scratch(n * 3 + 2);
	struct buf back = { 0 }, want = { 0 };

	esc_om(&o, s, n);
	assert_true(o.len >= 2 && o.p[0] == '"' && o.p[o.len - 1] == '"');
	assert_true(valid_utf8(o.p, o.len));
	b_add(&back, "", 0);
	for (size_t i = 1; i + 1 < o.len; i++) {
		unsigned char c = (unsigned char)o.p[i];
		assert_true(c >= 0x20 && c != 0x7f && c != '"');
		if (c == '\\') {
			i++;
			assert_true(i + 1 < o.len);
			assert_non_null(strchr("\\\"n", o.p[i]));
			b_chr(&back, o.p[i] == 'n' ? '\n' : o.p[i]);
		} else {
			b_chr(&back, (char)c);
		}
	}
	om_expected(s, &want);
	assert_int_equal(back.len, want.len);
	assert_memory_equal(back.p, want.p, want.len);
	free(back.p);
	free(want.p);
	free(o.p);
}

/* esc_json: json-c reads back the input when it is valid UTF-8, else a
   valid string. */
static void check_esc_json(const char *s)
{
	size_t n = strlen(s);
	struct obuf o = scratch(n * 6 + 3);
	json_object *j;

	esc_json(&o, s, n);
	assert_true(valid_utf8(o.p, o.len));
	for (size_t i = 0; i < o.len; i++)
		assert_true((unsigned char)o.p[i] >= 0x20 && o.p[i] != 0x7f);
	o.p[o.len] = '\0';
	j = json_tokener_parse(o.p);
	assert_non_null(j);
	assert_true(json_object_is_type(j, json_type_string));
	if (valid_utf8(s, n)) {
		assert_int_equal((size_t)json_object_get_string_len(j), n);
		assert_memory_equal(json_object_get_string(j), s, n);
	}
	json_object_put(j);
	free(o.p);
}

static void escapes(void **state)
{
	char one[2] = { 0 }, two[3] = { 0 };

	(void)state;
	/* every byte value alone and every pair */
	for (int c = 1; c < 256; c++) {
		one[0] = (char)c;
		check_esc_text(one, false);
		check_esc_text(one, true);
		check_esc_json(one);
		check_esc_om(one);
		for (int d = 1; d < 256; d++) {
			two[0] = (char)c;
			two[1] = (char)d;
			check_esc_text(two, d & 1);
			check_esc_json(two);
			check_esc_om(two);
		}
	}
	for (int i = 0; i < 3000; i++) {
		char *s = rand_str(20000);
		check_esc_text(s, i & 1);
		check_esc_json(s);
		check_esc_om(s);
		free(s);
	}
}

/* ---- tables ----------------------------------------------------------------- */

#define MAXC 10

struct world {
	struct column cols[MAXC];
	char names[MAXC][64], keys[MAXC][32];
	size_t ncols;
	struct cell cells[MAXC];
	char *owned[MAXC * 64];
	size_t nowned;
};

static char *own(struct world *w, char *p)
{
	assert_true(w->nowned < sizeof(w->owned) / sizeof(w->owned[0]));
	w->owned[w->nowned++] = p;
	return p;
}

static void world_free(struct world *w)
{
	for (size_t i = 0; i < w->nowned; i++)
		free(w->owned[i]);
	w->nowned = 0;
}

static void rand_columns(struct world *w)
{
	w->ncols = 1 + rn(MAXC);
	for (size_t i = 0; i < w->ncols; i++) {
		size_t extra = rn(4) ? 0 : rn(30);
		snprintf(w->names[i], sizeof(w->names[i]), "C%u%.*s", (unsigned)i, (int)extra,
			 "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX");
		snprintf(w->keys[i], sizeof(w->keys[i]), "k%u", (unsigned)i);
		size_t r = rn(100);
		w->cols[i] = (struct column){
			.name = w->names[i], .key = w->keys[i], .type = "string",
			.width = (int)(r < 70 ? rn(20) : r < 95 ? rn(300) : r < 98 ? rn(5000) : rn(300000)),
			.flags = COL_DEFAULT | (rn(3) ? 0 : COL_RIGHT) | (rn(4) ? 0 : COL_TRUNC),
			.help = "h",
		};
	}
}

static double rand_double(void)
{
	switch (rn(8)) {
	case 0: return NAN;
	case 1: return rn(2) ? INFINITY : -INFINITY;
	case 2: return (double)rnd() * (rn(2) ? 1 : -1);
	case 3: return 1e15 * (double)(1 + rn(1000));
	case 4: return (double)rn(1000000) / 1000.0 + 0.0005;
	default: return (double)(int64_t)rnd() / (double)(1 + rn(1u << 30));
	}
}

static uint64_t rand_u64(void)
{
	unsigned bits = (unsigned)rn(65);

	return bits ? rnd() >> (64 - bits) : 0;
}

/* Random cells for every column, for format fmt. */
static void rand_cells(struct world *w, enum out_format fmt)
{
	for (size_t i = 0; i < w->ncols; i++) {
		struct cell *c = &w->cells[i];
		*c = (struct cell){ .kind = (enum cell_kind)rn(CELL_RAWJSON + 1) };
		switch (c->kind) {
		case CELL_U64:
		case CELL_HEX:
		case CELL_SIZE:
		case CELL_BOOL:
			c->u = c->kind == CELL_BOOL ? rn(2) : rand_u64();
			break;
		case CELL_FIXED:
			c->d = rand_double();
			c->prec = (int)rn(9) - 1;
			break;
		case CELL_STR:
			c->s = own(w, rand_str(20000));
			break;
		case CELL_ESC: {
			char *s = rand_str(20000);
			if (!s[0]) {
				free(s);
				s = strdup("e");
			}
			c->s = own(w, str_escape(fmt, s, &c->len));
			c->w = fmt != FMT_JSON && rn(2) ? text_width(c->s, c->len) : 0;
			free(s);
			break;
		}
		case CELL_RAWJSON: {
			/* an array of strings, its text form "a,b" */
			size_t k = rn(4);
			struct obuf j = scratch(64), tx = scratch(64);
			struct buf js = { 0 }, ts = { 0 };
			b_chr(&js, '[');
			b_add(&ts, "", 0);
			for (size_t e = 0; e < k; e++) {
				char *s = rand_str(6000);
				size_t n = strlen(s);
				free(j.p);
				free(tx.p);
				j = scratch(n * 6 + 3);
				tx = scratch(n * 4 + 1);
				esc_json(&j, s, n);
				esc_text(&tx, s, n, fmt == FMT_RAW);
				if (e) {
					b_chr(&js, ',');
					b_chr(&ts, ',');
				}
				b_add(&js, j.p, j.len);
				b_add(&ts, tx.p, tx.len);
				free(s);
			}
			b_chr(&js, ']');
			if (!ts.len)
				b_chr(&ts, '-');
			free(j.p);
			free(tx.p);
			c->s = own(w, js.p);
			c->len = js.len;
			c->text = own(w, ts.p);
			c->text_len = ts.len;
			break;
		}
		default:
			break;
		}
	}
}

/* ---- the reference ------------------------------------------------------------ */

static void ref_text_form(const struct table *t, const struct cell *c, struct buf *b)
{
	char tmp[64];
	size_t n;

	switch (c->kind) {
	case CELL_NONE: b_chr(b, '-'); break;
	case CELL_U64: b_fmt(b, "%llu", (unsigned long long)c->u); break;
	case CELL_HEX: b_fmt(b, "0x%llx", (unsigned long long)c->u); break;
	case CELL_SIZE:
		if (t->bytes) {
			b_fmt(b, "%llu", (unsigned long long)c->u);
		} else {
			format_size(c->u, tmp, sizeof(tmp));
			b_str(b, tmp);
		}
		break;
	case CELL_STR:
		if (!c->s[0]) {
			b_chr(b, '-');
		} else {
			char *e = str_escape(t->fmt, c->s, &n);
			b_add(b, e, n);
			free(e);
		}
		break;
	case CELL_ESC: b_add(b, c->s, c->len); break;
	case CELL_BOOL: b_str(b, c->u ? "yes" : "no"); break;
	case CELL_FIXED:
		n = fmt_fixed(tmp, c->d, c->prec);
		b_add(b, tmp, n);
		break;
	case CELL_RAWJSON: b_add(b, c->text, c->text_len); break;
	}
}

/* The cut: whole characters and whole escapes in width - 1 columns, "…". */
static size_t ref_cut(struct buf *b, size_t width)
{
	size_t i = 0, cols = 0;
	uint32_t cp;

	while (i < b->len) {
		size_t l = b->p[i] == '\\' ? 4 : dec((unsigned char *)b->p + i, b->len - i, &cp);
		assert_true(l > 0 && i + l <= b->len);
		size_t w = text_width(b->p + i, l);
		if (cols + w > width - 1)
			break;
		cols += w;
		i += l;
	}
	b->len = i;
	b_str(b, "\xe2\x80\xa6");
	return cols + 1;
}

static void ref_row(const struct table *t, const struct cell *cells, struct buf *out)
{
	if (t->fmt == FMT_JSON) {
		if (!t->lines)
			b_str(out, t->rows ? ",\n" : "\n");
		b_chr(out, '{');
		for (size_t i = 0; i < t->nsel; i++) {
			const struct cell *c = &cells[t->sel[i]];
			char tmp[64];
			size_t n;
			b_fmt(out, "%s\"%s\":", i ? "," : "", t->cols[t->sel[i]].key);
			switch (c->kind) {
			case CELL_NONE: b_str(out, "null"); break;
			case CELL_U64:
			case CELL_SIZE: b_fmt(out, "%llu", (unsigned long long)c->u); break;
			case CELL_HEX: b_fmt(out, "\"0x%llx\"", (unsigned long long)c->u); break;
			case CELL_STR: {
				char *e = str_escape(FMT_JSON, c->s, &n);
				b_add(out, e, n);
				free(e);
				break;
			}
			case CELL_ESC:
			case CELL_RAWJSON: b_add(out, c->s, c->len); break;
			case CELL_BOOL: b_str(out, c->u ? "true" : "false"); break;
			case CELL_FIXED:
				n = fmt_fixed(tmp, c->d, c->prec);
				b_add(out, tmp, n);
				break;
			}
		}
		b_chr(out, '}');
		if (t->lines)
			b_chr(out, '\n');
		return;
	}
	for (size_t i = 0; i < t->nsel; i++) {
		const struct column *col = &t->cols[t->sel[i]];
		const struct cell *c = &cells[t->sel[i]];
		bool last = i + 1 == t->nsel;
		struct buf v = { 0 };
		size_t w;

		ref_text_form(t, c, &v);
		b_add(&v, "", 0);
		w = text_width(v.p, v.len);
		if (t->fmt == FMT_TEXT && (col->flags & COL_TRUNC) && t->trunc_width &&
		    (c->kind == CELL_STR || c->kind == CELL_ESC || c->kind == CELL_RAWJSON) &&
		    w > (size_t)t->trunc_width)
			w = ref_cut(&v, (size_t)t->trunc_width);
		size_t gap = t->fmt == FMT_TEXT && !last && w < (size_t)t->width[i] ?
			     (size_t)t->width[i] - w : 0;
		if (col->flags & COL_RIGHT)
			b_spaces(out, gap);
		b_add(out, v.p, v.len);
		if (!(col->flags & COL_RIGHT))
			b_spaces(out, gap);
		b_chr(out, last ? '\n' : ' ');
		free(v.p);
	}
}

/* ---- checks on a row -------------------------------------------------------- */

static void check_text(const struct table *t, const char *s, size_t n)
{
	assert_true(n > 0 && s[n - 1] == '\n');
	assert_true(valid_utf8(s, n));
	for (size_t i = 0; i + 1 < n; i++)
		assert_true((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
	if (t->fmt == FMT_RAW) {
		size_t fields = 1;
		assert_true(s[0] != ' ' && (n < 2 || s[n - 2] != ' '));
		for (size_t i = 0; i + 1 < n; i++)
			if (s[i] == ' ') {
				assert_true(s[i + 1] != ' ');	/* no empty field */
				fields++;
			}
		assert_int_equal(fields, t->nsel);
	}
}

static void check_json(const struct table *t, const struct cell *cells, const char *s, size_t n)
{
	struct buf doc = { 0 };
	json_object *j, *row;
	size_t skip = 0;

	assert_true(valid_utf8(s, n));
	while (skip < n && (s[skip] == ',' || s[skip] == '\n'))
		skip++;
	b_chr(&doc, '[');
	b_add(&doc, s + skip, n - skip);
	b_chr(&doc, ']');
	j = json_tokener_parse(doc.p);
	assert_non_null(j);
	assert_int_equal(json_object_array_length(j), 1);
	row = json_object_array_get_idx(j, 0);
	assert_int_equal(json_object_object_length(row), t->nsel);
	for (size_t i = 0; i < t->nsel; i++) {
		const struct cell *c = &cells[t->sel[i]];
		json_object *v;
		assert_true(json_object_object_get_ex(row, t->cols[t->sel[i]].key, &v));
		if (c->kind == CELL_STR && valid_utf8(c->s, strlen(c->s))) {
			assert_true(json_object_is_type(v, json_type_string));
			assert_string_equal(json_object_get_string(v), c->s);
		}
		if (c->kind == CELL_U64 || c->kind == CELL_SIZE)
			assert_true(json_object_get_uint64(v) == c->u);
		if (c->kind == CELL_FIXED)
			assert_true(json_object_is_type(v, json_type_double) ||
				    json_object_is_type(v, json_type_int));
	}
	json_object_put(j);
	free(doc.p);
}

/* The stream a row is flushed into: the fill bytes dropped, the rest kept. */
struct sink {
	size_t skip;
	struct buf *got;
};

static ssize_t sink_write(void *cookie, const char *p, size_t n)
{
	struct sink *k = cookie;
	size_t drop = n < k->skip ? n : k->skip;

	k->skip -= drop;
	b_add(k->got, p + drop, n - drop);
	return (ssize_t)n;
}

/* One row into a buffer of cap bytes already holding fill bytes: what the
   row wrote. The buffers are kept from row to row (their sizes exact, for
   the sanitizer). */
/* render: through table_row_delta with this mask when delta is set. */
static bool render_delta;
static uint64_t render_changed;

static void render(struct table *t, const struct cell *cells, size_t cap, size_t fill,
		   struct buf *got)
{
	static struct {
		size_t cap;
		char *p;
	} kept[8];
	struct sink k = { .skip = fill, .got = got };
	struct obuf o = { .cap = cap };
	size_t i;

	for (i = 0; kept[i].p && kept[i].cap != cap; i++)
		;
	if (!kept[i].p) {
		kept[i].cap = cap;
		kept[i].p = malloc(cap);
		assert_non_null(kept[i].p);
		memset(kept[i].p, 'F', cap);
	}
	o.p = kept[i].p;
	o.f = fopencookie(&k, "w", (cookie_io_functions_t){ .write = sink_write });
	assert_non_null(o.f);
	setvbuf(o.f, NULL, _IONBF, 0);
	o.len = fill;
	b_add(got, "", 0);
	t->ob = &o;
	if (render_delta)
		table_row_delta(t, cells, render_changed);
	else
		table_row(t, cells);
	ob_flush(&o);
	assert_int_equal(o.err, 0);
	fclose(o.f);
	assert_int_equal(k.skip, 0);
	t->ob = NULL;
}

static size_t first_diff(const struct buf *a, const struct buf *b)
{
	size_t i = 0;

	while (i < a->len && i < b->len && a->p[i] == b->p[i])
		i++;
	return i;
}

static unsigned long iterations(void)
{
	const char *e = getenv("PMSCAN_FUZZ_ITERS");

	return e ? strtoul(e, NULL, 10) : 200000;
}

static double seconds_allowed(void)
{
	const char *e = getenv("PMSCAN_FUZZ_SECONDS");

	return e ? strtod(e, NULL) : 10.0;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rows(void **state)
{
	static const size_t caps[] = { 256 * 1024, 256 * 1024, 256 * 1024, 65536, 4096, 1024, 512 };
	unsigned long iters = iterations(), done = 0;
	double until = mono() + seconds_allowed();
	struct world w = { 0 };

	(void)state;
	rng = 0x2545f4914f6cdd1dULL;
	for (; done < iters && (done % 64 || mono() < until); done++) {
		enum out_format fmt = (enum out_format)rn(3);
		bool tty = fmt == FMT_TEXT && rn(3) == 0;
		struct table t = { 0 };
		const char *bad;
		size_t badlen;
		struct buf want = { 0 }, fast = { 0 }, slow = { 0 };

		rand_columns(&w);
		assert_int_equal(table_select(&t, w.cols, w.ncols, NULL, &bad, &badlen), 0);
		if (tty) {
			char cols[16];
			snprintf(cols, sizeof(cols), "%zu", 20 + rn(200));
			setenv("COLUMNS", cols, 1);
		}
		table_start(&t, NULL, fmt, tty, rn(2), false);
		t.lines = rn(2);
		t.rows = rn(3);
		rand_cells(&w, fmt);
		if (rn(4) == 0) {
			/* a table held whole: measured first */
			table_measure(&t, w.cells);
		}
		size_t cap = caps[rn(sizeof(caps) / sizeof(caps[0]))];
		size_t fill = rn(3) ? cap - 1 - rn(cap < 600 ? cap - 1 : 600) : rn(cap);

		ref_row(&t, w.cells, &want);
		if (t.trunc_width) {
			/* the cut: the general path only */
			render(&t, w.cells, cap, fill, &slow);
			b_add(&fast, slow.p, slow.len);
		} else {
			struct table g = t;
			g.trunc_width = INT_MAX / 2;	/* the general path, nothing cut */
			render(&t, w.cells, cap, fill, &fast);
			render(&g, w.cells, cap, fill, &slow);
		}
		if (fast.len != want.len || memcmp(fast.p, want.p, want.len) ||
		    slow.len != want.len || memcmp(slow.p, want.p, want.len)) {
			size_t df = first_diff(&want, &fast), ds = first_diff(&want, &slow);
			size_t at = df < ds ? df : ds, from = at > 60 ? at - 60 : 0;
			print_error("iteration %lu: fmt %d tty %d trunc %d cap %zu fill %zu: lengths "
				    "want %zu fast %zu slow %zu, first difference fast %zu slow %zu\n"
				    "want: %.120s\nfast: %.120s\nslow: %.120s\n",
				    done, fmt, tty, t.trunc_width, cap, fill, want.len, fast.len, slow.len,
				    df, ds, want.p + from, fast.p + (from < fast.len ? from : 0),
				    slow.p + (from < slow.len ? from : 0));
			for (size_t i = 0; i < t.nsel; i++)
				print_error("col %zu: kind %d width %d flags %u len %zu\n", i,
					    w.cells[t.sel[i]].kind, t.width[i], w.cols[t.sel[i]].flags,
					    w.cells[t.sel[i]].kind == CELL_STR ? strlen(w.cells[t.sel[i]].s) :
					    w.cells[t.sel[i]].len);
			fail();
		}
		if (fmt == FMT_JSON)
			check_json(&t, w.cells, fast.p, fast.len);
		else
			check_text(&t, fast.p, fast.len);
		free(want.p);
		free(fast.p);
		free(slow.p);
		world_free(&w);
		unsetenv("COLUMNS");
	}
	print_message("# %lu rows\n", done);
	assert_true(done >= 1000);
}

/* The header, with widths beyond the buffer. */
static void header(void **state)
{
	struct world w = { 0 };

	(void)state;
	for (int k = 0; k < 200; k++) {
		struct table t = { 0 };
		const char *bad;
		size_t badlen;
		struct buf got = { 0 };
		struct obuf o = { .cap = k & 1 ? 512 : 256 * 1024 };
		char *mem = NULL;
		size_t memlen = 0, expect = 0;

		rand_columns(&w);
		table_select(&t, w.cols, w.ncols, NULL, &bad, &badlen);
		o.p = malloc(o.cap);
		o.f = open_memstream(&mem, &memlen);
		o.len = rn(o.cap);
		memset(o.p, 'F', o.len);
		size_t fill = o.len;
		table_start(&t, &o, FMT_TEXT, false, false, false);
		table_header(&t);
		ob_flush(&o);
		fclose(o.f);
		for (size_t i = 0; i < t.nsel; i++)
			expect += (i + 1 < t.nsel ? (size_t)t.width[i] : strlen(w.names[t.sel[i]])) + 1;
		assert_int_equal(memlen - fill, expect);
		b_add(&got, mem + fill, memlen - fill);
		check_text(&t, got.p, got.len);
		free(got.p);
		free(mem);
		free(o.p);
	}
}

/* fmt_fixed: the value to its decimals, whatever its size (v * 10^6 went
   beyond 64 bits from 1.8e13 up: 1e15 with 6 decimals printed garbage). */
static void fixed(void **state)
{
	char buf[64];

	(void)state;
	rng = 42;
	for (int k = 0; k < 200000; k++) {
		double v = k < 7 ? 1e15 : rand_double();
		int prec = k < 7 ? k : (int)rn(7);
		size_t n = fmt_fixed(buf, v, prec);
		buf[n] = '\0';
		double want = isfinite(v) ? v : 0, got = strtod(buf, NULL);
		if (want > 1e15)
			want = 1e15;
		if (want < -1e15)
			want = -1e15;
		const char *dot = strchr(buf, '.');
		assert_int_equal(dot ? (int)strlen(dot + 1) : 0, prec);
		if (fabs(got - want) > 0.5 * pow(10, -prec) + fabs(want) * 1e-15) {
			print_error("fmt_fixed(%.17g, %d) = %s\n", v, prec, buf);
			fail();
		}
	}
}

/* ---- the region rows ------------------------------------------------------------ */

/* Everything written to stdout while f runs. */
static char *capture(void (*f)(void *), void *arg, size_t *len)
{
	int fd = memfd_create("out", 0), saved = dup(STDOUT_FILENO);
	char *p;
	off_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stdout);
	dup2(fd, STDOUT_FILENO);
	f(arg);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = lseek(fd, 0, SEEK_END);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(pread(fd, p, (size_t)n, 0), n);
	p[n] = '\0';
	close(fd);
	*len = (size_t)n;
	return p;
}

struct doc {
	struct options o;
	uint64_t seed;
	bool uniform;		/* one-page regions, one set of categories */
};

static void scan_doc(void *arg)
{
	struct doc *d = arg;
	pmscan_mapping_fn on_mapping;
	pmscan_region_fn on_region;
	void *cb;
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);

	rng = d->seed;
	if (scan_out_begin(&d->o, PMSCAN_ALL_CATEGORIES, false) < 0)
		return;
	scan_out_callbacks(&on_mapping, &on_region, &cb);
	scan_out_process_begin(4242);
	uint64_t base = rn(2) ? 0x1000 * (1 + rn(100)) : UINT64_C(0x7f0000000000) + rnd() % (UINT64_C(1) << 40) * ps;
	for (int m = 0, nm = 1 + (int)rn(20); m < nm; m++) {
		size_t r = rn(100);
		char *name = r < 3 ? NULL : rand_str(20000);
		if (r < 3) {
			/* a name longer than the row's room */
			size_t n = 40000 + rn(60000);
			name = malloc(n + 1);
			for (size_t i = 0; i < n; i++)
				name[i] = (char)(rn(2) ? 'a' + rn(26) : 1 + rn(31));
			name[n] = '\0';
		}
		if (d->uniform && rn(3) == 0)	/* just below a 4 GiB boundary */
			base = (((base >> 32) + 1) << 32) - ps * (1 + rn(500));
		struct pmscan_mapping mp = { .start = base, .end = base + ps * (1 + rn(1000)),
					     .perms = "rw-p", .name = name, .tracked = -1 };
		assert_int_equal(on_mapping(&mp, cb), 0);
		for (uint64_t a = mp.start; a < mp.end;) {
			uint64_t e = a + ps * (1 + rn(64));
			if (e > mp.end || rn(8) == 0)
				e = mp.end;
			struct pmscan_region rg = { .start = a, .end = e, .mapping = &mp,
						    .categories = rn(8) ? rnd() & PMSCAN_ALL_CATEGORIES :
							 rnd() };
			if (d->uniform) {
				/* the rows that differ only in their addresses,
				   across 4 GiB boundaries too */
				e = a + ps < mp.end ? a + ps : mp.end;
				rg = (struct pmscan_region){ .start = a, .end = e, .mapping = &mp,
							     .categories = PMSCAN_WRITTEN };
				if (rn(4) == 0)
					e += ps * rn(3);
			}
			on_region(&rg, cb);
			a = e;
		}
		base = mp.end + ps * rn(3) + (rn(10) ? 0 : UINT64_C(1) << (32 + rn(14)));
		free(name);
	}
	scan_out_process_end(4242, "comm", NULL, "uffd", false, NULL);
	scan_out_end();
}

/* The digit writers of the row paths against printf. */
static void hex_digits(void **state)
{
	(void)state;
	rng = 99;
	for (int i = 0; i < 200000; i++) {
		uint32_t a = (uint32_t)rnd(), b = (uint32_t)rnd();
		char want[32], pa[8], pb[8];
		uint64_t one;
		if (i < 4) {
			a = i & 1 ? UINT32_MAX : 0;
			b = i & 2 ? UINT32_MAX : 0;
		}
		hex8x2(a, b, pa, pb);
		snprintf(want, sizeof(want), "%08x%08x", a, b);
		assert_memory_equal(pa, want, 8);
		assert_memory_equal(pb, want + 8, 8);
		one = hex8(a);
		assert_memory_equal(&one, want, 8);
	}
}

/* A short string cell for the template rows: of kind k (ESC, STR or
   RAWJSON), or of any of them when k is CELL_NONE. */
static void short_string_cell(struct world *w, struct cell *c, enum out_format fmt, enum cell_kind k)
{
	static const char *const names[] = { "a", "bb", "[anon]", "/lib/x.so", "caf\xc3\xa9",
					     "e\x1bscape", "\xff", "s p" };
	const char *n = names[rn(sizeof(names) / sizeof(names[0]))];

	switch (k == CELL_STR ? 0 : k == CELL_ESC ? 1 : k == CELL_RAWJSON ? 2 : rn(3)) {
	case 0:
		*c = (struct cell){ .kind = CELL_STR, .s = n };
		break;
	case 1:
		*c = (struct cell){ .kind = CELL_ESC };
		c->s = own(w, str_escape(fmt, n, &c->len));
		c->w = fmt != FMT_JSON && rn(2) ? text_width(c->s, c->len) : 0;
		break;
	default: {
		/* ["n"], its text form n */
		size_t len;
		char *j = str_escape(FMT_JSON, n, &len), *t = str_escape(fmt, n, &c->text_len);
		char *a = malloc(len + 3);
		assert_non_null(a);
		a[0] = '[';
		memcpy(a + 1, j, len);
		memcpy(a + 1 + len, "]", 2);
		free(j);
		*c = (struct cell){ .kind = CELL_RAWJSON, .s = own(w, a), .len = len + 2,
				    .text = own(w, t), .text_len = c->text_len };
		break;
	}
	}
}

/* The next value of a number cell: mostly one of the same length, as rows
   of a scan are (the next address with the same high half, a page count
   of as many digits), sometimes any. */
static uint64_t next_value(const struct cell *c)
{
	switch (rn(4)) {
	case 0:
		return rand_u64();
	case 1:
		return c->u;
	default:
		if (c->kind == CELL_HEX)
			return (c->u & ~UINT64_C(0xffffffff)) | (uint32_t)rnd();
		if (c->kind == CELL_SIZE)
			return (c->u & ~UINT64_C(0xfff)) + 4096 * rn(3);
		return c->u ^ rn(8);
	}
}

/* Rows in sequence through table_row_delta, each a few cells changed from
   the last, kinds kept (and the mask naming some that did not): each must
   be what table_row writes, byte for byte (the reference), whatever the
   template did. */
static void delta_rows(void **state)
{
	static const size_t caps[] = { 256 * 1024, 65536, 4096, 1024, 512 };
	unsigned long iters = iterations() / 20, done = 0, templated = 0, rows_all = 0;
	double until = mono() + seconds_allowed() / 2;
	struct world w = { 0 };

	(void)state;
	rng = 0x9e3779b97f4a7c15ULL;
	render_delta = true;
	for (; done < iters && (done % 16 || mono() < until); done++) {
		enum out_format fmt = (enum out_format)rn(3);
		bool tty = fmt == FMT_TEXT && rn(8) == 0;
		struct table t = { 0 };
		const char *bad;
		size_t badlen;

		rand_columns(&w);
		for (size_t i = 0; i < w.ncols; i++)
			if (w.cols[i].width > 40)
				w.cols[i].width = (int)rn(40);
		assert_int_equal(table_select(&t, w.cols, w.ncols, NULL, &bad, &badlen), 0);
		if (tty)
			setenv("COLUMNS", "100", 1);
		table_start(&t, NULL, fmt, tty, rn(2), false);
		t.lines = rn(2);
		rand_cells(&w, fmt);
		for (size_t i = 0; i < w.ncols; i++) {
			enum cell_kind k = w.cells[i].kind;
			if (k == CELL_STR || k == CELL_ESC || k == CELL_RAWJSON)
				short_string_cell(&w, &w.cells[i], fmt, CELL_NONE);
			if (k == CELL_HEX && rn(2))
				w.cells[i].u |= UINT64_C(0x7f00000000);
		}
		render_changed = ~UINT64_C(0);
		for (int r = 0; r < 24; r++, rows_all++) {
			struct buf want = { 0 }, got = { 0 };
			size_t cap = caps[rn(sizeof(caps) / sizeof(caps[0]))];
			size_t fill = rn(3) ? rn(cap / 2) : cap - 1 - rn(cap < 300 ? cap - 1 : 300);
			bool could = t.tpl_ok;

			ref_row(&t, w.cells, &want);
			render(&t, w.cells, cap, fill, &got);
			if (got.len != want.len || memcmp(got.p, want.p, want.len)) {
				size_t at = first_diff(&want, &got), from = at > 60 ? at - 60 : 0;
				print_error("iteration %lu row %d: fmt %d lines %d changed %#llx, template %d: "
					    "lengths want %zu got %zu, first difference %zu\n"
					    "want: %.160s\ngot:  %.160s\n", done, r, fmt, t.lines,
					    (unsigned long long)render_changed, could, want.len, got.len, at,
					    want.p + from, got.p + (from < got.len ? from : 0));
				fail();
			}
			templated += could;
			free(want.p);
			free(got.p);
			/* the next row: some cells changed, the mask naming them
			   and perhaps others */
			render_changed = 0;
			for (size_t i = 0; i < w.ncols; i++) {
				struct cell *c = &w.cells[i];
				if (rn(3))
					continue;
				render_changed |= UINT64_C(1) << i;
				if (rn(4) == 0)
					continue;	/* named, unchanged */
				switch (c->kind) {
				case CELL_U64:
				case CELL_HEX:
				case CELL_SIZE:
					c->u = next_value(c);
					break;
				case CELL_BOOL:
					c->u = !c->u;
					break;
				case CELL_FIXED:
					c->d = rand_double();
					break;
				case CELL_STR:
				case CELL_ESC:
				case CELL_RAWJSON:
					/* cells keep their kinds (table.h) */
					short_string_cell(&w, c, fmt, c->kind);
					break;
				default:
					break;
				}
			}
		}
		world_free(&w);
	}
	render_delta = false;
	/* the template path must have been taken, or this tested nothing */
	print_message("delta rows: %lu rows, %lu from a template\n", rows_all, templated);
	assert_true(templated > rows_all / 10);
}

static void region_rows(void **state)
{
	(void)state;
	for (int k = 0; k < 120; k++) {
		struct doc d = { .seed = 0x1234567ULL + (uint64_t)k * 7919 };
		size_t la, lb;

		d.o.mode = MODE_REGIONS;
		d.uniform = k >= 60;
		d.o.json = k % 3 == 2;
		d.o.raw = k % 3 == 1;
		d.o.bytes = (k / 3) & 1;
		d.o.noheadings = (k / 6) & 1;
		table_templates = true;
		char *a = capture(scan_doc, &d, &la);
		table_templates = false;
		char *b = capture(scan_doc, &d, &lb);
		table_templates = true;
		if (la != lb || memcmp(a, b, la)) {
			size_t i = 0;
			while (i < la && i < lb && a[i] == b[i])
				i++;
			print_error("document %d differs at byte %zu:\ntemplates: %.200s\nwithout: %.200s\n", k,
				    i, a + (i > 40 ? i - 40 : 0), b + (i > 40 ? i - 40 : 0));
			fail();
		}
		assert_true(valid_utf8(a, la));
		if (d.o.json) {
			json_object *j = json_tokener_parse(a);
			assert_non_null(j);
			json_object_put(j);
		} else {
			for (size_t i = 0; i < la; i++)
				assert_true(((unsigned char)a[i] >= 0x20 && a[i] != 0x7f) || a[i] == '\n');
		}
		free(a);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escapes),
		cmocka_unit_test(header),
		cmocka_unit_test(rows),
		cmocka_unit_test(fixed),
		cmocka_unit_test(hex_digits),
		cmocka_unit_test(delta_rows),
		cmocka_unit_test(region_rows),
	};

	if (getenv("PMSCAN_FUZZ_FILTER"))
		cmocka_set_test_filter(getenv("PMSCAN_FUZZ_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}

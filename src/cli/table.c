/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The output layer's writer: rows go straight into one large buffer, each
 * field formatted by hand (no printf per field, no allocation per row), and
 * every string escaped for its format on the way.
 */
#include "table.h"
#include "cli.h"
#include "fastfmt.h"

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define OB_CAP (256 * 1024)

/* ---- the output buffer ------------------------------------------------ */

/* One buffer serves the run (the modes never nest); another is allocated
   only if a second is open at once. */
static char pool[OB_CAP];
static bool pool_used;

void ob_init(struct obuf *o, FILE *f)
{
	if (!pool_used) {
		pool_used = true;
		o->p = pool;
	} else {
		o->p = malloc(OB_CAP);
	}
	o->cap = o->p ? OB_CAP : 0;
	o->len = 0;
	o->err = 0;
	o->f = f;
	if (!o->p)
		err(EXIT_SCAN_FAILED, "out of memory");
}

void ob_flush(struct obuf *o)
{
	if (o->len) {
		if (fwrite_unlocked(o->p, 1, o->len, o->f) != o->len && !o->err)
			o->err = errno ? errno : EIO;
		o->len = 0;
		o->flushes++;
	}
}

void ob_free(struct obuf *o)
{
	ob_flush(o);
	if (o->p == pool)
		pool_used = false;
	else
		free(o->p);
	o->p = NULL;
	o->cap = 0;
}

void ob_write_slow(struct obuf *o, const char *s, size_t n)
{
	ob_flush(o);
	if (n > o->cap) {
		if (fwrite_unlocked(s, 1, n, o->f) != n && !o->err)
			o->err = errno ? errno : EIO;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

void ob_spaces(struct obuf *o, int n)
{
	/* in pieces: a column can be wider than the buffer */
	size_t most = o->cap > 1 ? o->cap / 2 : 1;

	while (n > 0) {
		size_t k = (size_t)n < most ? (size_t)n : most;
		ob_room(o, k);
		memset(o->p + o->len, ' ', k);
		o->len += k;
		n -= (int)k;
	}
}

size_t fmt_u64(char *buf, uint64_t v)
{
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	size_t n = u64_len(v);
	char *p;

	p = buf + n;
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		p -= 2;
		memcpy(p, pairs + 2 * r, 2);
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
	return n;
}

size_t fmt_hex(char *buf, uint64_t v)
{
	size_t n = v ? (size_t)(67 - __builtin_clzll(v)) / 4 : 1;
	/* the digits moved to the top, so they come out first; the 16 - n
	   bytes after them are written too (the caller's room absorbs them) */
	uint64_t top = v << (64 - 4 * n);
	uint64_t hi = hex8((uint32_t)(top >> 32)), lo = hex8((uint32_t)top);

	buf[0] = '0';
	buf[1] = 'x';
	memcpy(buf + 2, &hi, 8);
	memcpy(buf + 10, &lo, 8);
	return n + 2;
}

size_t fmt_fixed(char *buf, double v, int decimals)
{
	static const double pow10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000 };
	size_t n = 0;
	uint64_t scaled, scale, whole, frac;

	if (decimals < 0)
		decimals = 0;
	if (decimals > 6)
		decimals = 6;
	if (!isfinite(v))
		v = 0;
	if (v < 0) {
		buf[n++] = '-';
		v = -v;
	}
	if (v >= 1e15)		/* beyond any count pmscan prints */
		v = 1e15;
	scale = (uint64_t)pow10[decimals];
	if (v * (double)scale < 1e18) {
		scaled = (uint64_t)(v * (double)scale + 0.5);
		whole = scaled / scale;
		frac = scaled % scale;
	} else {
		/* v * scale would not fit 64 bits: the whole part apart */
		whole = (uint64_t)v;
		frac = (uint64_t)((v - (double)whole) * (double)scale + 0.5);
		if (frac >= scale) {
			whole++;
			frac -= scale;
		}
	}
	n += fmt_u64(buf + n, whole);
	if (decimals) {
		buf[n++] = '.';
		for (int i = decimals - 1; i >= 0; i--) {
			buf[n + (size_t)i] = (char)('0' + frac % 10);
			frac /= 10;
		}
		n += (size_t)decimals;
	}
	return n;
}

void ob_u64(struct obuf *o, uint64_t v)
{
	ob_room(o, 24);
	o->len += fmt_u64(o->p + o->len, v);
}

void ob_hex(struct obuf *o, uint64_t v)
{
	ob_room(o, 24);
	o->len += fmt_hex(o->p + o->len, v);
}

void ob_fixed(struct obuf *o, double v, int decimals)
{
	ob_room(o, 32);
	o->len += fmt_fixed(o->p + o->len, v, decimals);
}

/* ---- escaping --------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;	/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* A C1 control (U+0080-U+009F), encoded as C2 80..C2 9F. */
static bool is_c1(const unsigned char *s, size_t len)
{
	return len == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

/* The invisible controls that reorder or break text on a terminal: the bidi
   embeddings, overrides and isolates (U+202A-202E, U+2066-2069) and the line
   and paragraph separators (U+2028, U+2029), all E2 80 xx or E2 81 xx. */
static bool is_format_ctl(const unsigned char *s, size_t len)
{
	return len == 3 && s[0] == 0xe2 &&
	       ((s[1] == 0x80 && s[2] >= 0xa8 && s[2] <= 0xae) ||
		(s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9));
}

static void put_xhh(struct obuf *o, unsigned char c)
{
	static const char digits[] = "0123456789abcdef";
	char e[4] = { '\\', 'x', digits[c >> 4], digits[c & 15] };

	ob_write(o, e, 4);
}

void esc_text(struct obuf *o, const char *str, size_t n, bool raw)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		size_t run = i;
		/* the common case: printable ASCII, copied in one go */
		while (run < n && s[run] > ' ' && s[run] < 0x7f && s[run] != '\\')
			run++;
		if (run < n && s[run] == ' ' && !raw) {
			run++;
			while (run < n && s[run] >= ' ' && s[run] < 0x7f && s[run] != '\\')
				run++;
		}
		if (run > i) {
			ob_write(o, str + i, run - i);
			i = run;
			continue;
		}
		if (s[i] >= 0x80) {
			size_t len = utf8_len(s + i, n - i);
			if (len && !is_c1(s + i, len) && !is_format_ctl(s + i, len)) {
				ob_write(o, str + i, len);
				i += len;
				continue;
			}
			if (len) {	/* C1 or a format control: every byte escaped */
				for (size_t k = 0; k < len; k++)
					put_xhh(o, s[i + k]);
				i += len;
				continue;
			}
		}
		put_xhh(o, s[i]);
		i++;
	}
}

/* A quoted string with the escapes JSON and OpenMetrics share (\" \\ \n);
   om: OpenMetrics, which has no other escape, so the other controls become
   U+FFFD; else JSON, which writes them as \t \r or \u00XX. Invalid UTF-8
   is U+FFFD in both. */
static void esc_quoted(struct obuf *o, const char *str, size_t n, bool om)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	ob_putc(o, '"');
	while (i < n) {
		size_t run = i;
		while (run < n && s[run] >= ' ' && s[run] < 0x7f && s[run] != '"' && s[run] != '\\')
			run++;
		if (run > i) {
			ob_write(o, str + i, run - i);
			i = run;
			continue;
		}
		unsigned c = s[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			ob_write(o, e, 2);
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t len = utf8_len(s + i, n - i);
			if (len && !is_c1(s + i, len) && (om || !is_format_ctl(s + i, len))) {
				ob_write(o, str + i, len);
				i += len;
				continue;
			}
			if (len == 3) {	/* JSON: a format control as \u20XX */
				char e[6] = { '\\', 'u', '2', '0', digits[((s[i + 1] & 3) << 2) | (s[i + 2] >> 4 & 3)],
					      digits[s[i + 2] & 15] };
				ob_write(o, e, 6);
				i += 3;
				continue;
			}
			if (!len || om) {
				ob_write(o, "\xef\xbf\xbd", 3);	/* U+FFFD */
				i += len ? len : 1;
				continue;
			}
			c = s[i + 1];	/* C1: U+0080-U+009F */
			i += 2;
		} else {
			i++;
		}
		if (c == '\n')
			ob_write(o, "\\n", 2);
		else if (om)
			ob_write(o, "\xef\xbf\xbd", 3);	/* no escape for it exists */
		else if (c == '\t')
			ob_write(o, "\\t", 2);
		else if (c == '\r')
			ob_write(o, "\\r", 2);
		else {
			char e[6] = { '\\', 'u', '0', '0', digits[c >> 4], digits[c & 15] };
			ob_write(o, e, 6);
		}
	}
	ob_putc(o, '"');
}

void esc_json(struct obuf *o, const char *str, size_t n)
{
	esc_quoted(o, str, n, false);
}

void esc_om(struct obuf *o, const char *str, size_t n)
{
	esc_quoted(o, str, n, true);
}

/* Terminal columns of a code point: 0 for combining marks, 2 for the wide
   East Asian ranges and emoji, else 1 (escaped text holds no controls). */
static unsigned cp_width(uint32_t c)
{
	if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f) || (c >= 0xfe00 && c <= 0xfe0f))
		return 0;
	if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0x303e) ||
	    (c >= 0x3041 && c <= 0x33ff) || (c >= 0x3400 && c <= 0x4dbf) ||
	    (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xa000 && c <= 0xa4cf) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
	    (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd))
		return 2;
	return 1;
}

/* The code point of the valid UTF-8 sequence at s, of length len. */
static uint32_t utf8_cp(const unsigned char *s, size_t len)
{
	uint32_t c = len == 1 ? s[0] : len == 2 ? s[0] & 0x1fu : len == 3 ? s[0] & 0x0fu : s[0] & 0x07u;

	for (size_t i = 1; i < len; i++)
		c = (c << 6) | (s[i] & 0x3fu);
	return c;
}

void json_str_or_null(struct obuf *o, const char *s)
{
	if (s)
		esc_json(o, s, strlen(s));
	else
		ob_write(o, "null", 4);
}

size_t text_width(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t w = 0;

	for (size_t i = 0; i < n;) {
		if (s[i] < 0x80) {
			w++;
			i++;
			continue;
		}
		size_t len = utf8_len(s + i, n - i);
		if (!len) {
			w++;
			i++;
			continue;
		}
		w += cp_width(utf8_cp(s + i, len));
		i += len;
	}
	return w;
}

char *str_escape(enum out_format fmt, const char *s, size_t *len)
{
	struct obuf o = { .f = NULL };
	size_t n = strlen(s);

	/* Big enough for any escape: \xHH or \u00XX per byte. */
	o.cap = n * 6 + 3;
	o.p = malloc(o.cap + 1);
	if (!o.p)
		return NULL;
	if (fmt == FMT_JSON)
		esc_json(&o, s, n);
	else
		esc_text(&o, s, n, fmt == FMT_RAW);
	o.p[o.len] = '\0';
	*len = o.len;
	return o.p;
}

/* ---- columns and rows --------------------------------------------------- */

static int find_column(const struct column *cols, size_t ncols, const char *name, size_t len)
{
	for (size_t i = 0; i < ncols; i++)
		if (strlen(cols[i].name) == len && !strncasecmp(cols[i].name, name, len))
			return (int)i;
	return -1;
}

bool table_has(const struct table *t, int col)
{
	for (size_t i = 0; i < t->nsel; i++)
		if (t->sel[i] == col)
			return true;
	return false;
}

void table_add(struct table *t, int col)
{
	if (!table_has(t, col) && t->nsel < TABLE_MAX_COLS)
		t->sel[t->nsel++] = col;
}

int table_select(struct table *t, const struct column *cols, size_t ncols, const char *spec,
		 const char **bad, size_t *badlen)
{
	bool append = spec && spec[0] == '+';

	t->cols = cols;
	t->ncols = ncols;
	t->nsel = 0;
	if (!spec || !spec[0] || append)
		for (size_t i = 0; i < ncols; i++)
			if (cols[i].flags & COL_DEFAULT)
				table_add(t, (int)i);
	if (!spec || !spec[0])
		return 0;
	for (const char *p = spec + append;;) {
		size_t len = strcspn(p, ",");
		int c = find_column(cols, ncols, p, len);
		if (c < 0) {
			*bad = p;
			*badlen = len;
			return -1;
		}
		table_add(t, c);
		if (!p[len])
			break;
		p += len + 1;
	}
	return 0;
}

int terminal_width(void)
{
	const char *env = getenv("COLUMNS");
	struct winsize ws;
	uint64_t v;

	if (env && !parse_u64(env, &v) && v > 0 && v < 100000)
		return (int)v;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 0;
}

void table_start(struct table *t, struct obuf *ob, enum out_format fmt, bool tty, bool bytes,
		 bool noheadings)
{
	int used = 0, trunc = -1;

	t->ob = ob;
	t->fmt = fmt;
	t->tty = tty;
	t->bytes = bytes;
	t->noheadings = noheadings;
	t->rows = 0;
	t->size_len = 0;
	t->hex_hi_len = 0;
	t->trunc_width = 0;
	t->tpl_ok = false;
	t->tpl_pair = 0;
	t->tpl_wanted = false;
	t->tpl_able = true;
	t->sel_mask = 0;
	for (size_t i = 0; i < t->nsel; i++) {
		if (t->sel[i] < 0 || t->sel[i] >= TABLE_MAX_COLS) {
			t->tpl_able = false;
		} else {
			t->sel_mask |= UINT64_C(1) << t->sel[i];
			t->pos[t->sel[i]] = (unsigned char)i;
		}
	}
	for (size_t i = 0; i < t->nsel; i++) {
		const struct column *c = &t->cols[t->sel[i]];
		int w = (int)strlen(c->name);
		t->width[i] = fmt == FMT_TEXT && c->width > w ? c->width : w;
		if ((c->flags & COL_TRUNC) && trunc < 0)
			trunc = (int)i;
		else
			used += t->width[i] + 1;
		/* the first key follows '{', the others a comma */
		t->keylen[i] = (size_t)snprintf(t->key[i], sizeof(t->key[i]), "%s\"%s\":", i ? "," : "",
						c->key);
		if (t->keylen[i] >= sizeof(t->key[i]))
			t->keylen[i] = sizeof(t->key[i]) - 1;
	}
	t->termwidth = fmt == FMT_TEXT && tty ? terminal_width() : 0;
	if (t->termwidth && trunc >= 0) {
		int room = t->termwidth - used;
		int min = t->width[trunc] > 8 ? t->width[trunc] : 8;
		t->trunc_width = room >= min ? room : min;
	}
}

void table_header(struct table *t)
{
	struct obuf *o = t->ob;

	if (t->fmt == FMT_JSON || t->noheadings)
		return;
	for (size_t i = 0; i < t->nsel; i++) {
		const struct column *c = &t->cols[t->sel[i]];
		bool last = i + 1 == t->nsel;
		int pad = t->fmt == FMT_TEXT && !last ? t->width[i] - (int)strlen(c->name) : 0;
		if (c->flags & COL_RIGHT)
			ob_spaces(o, pad);
		ob_puts(o, c->name);
		if (!(c->flags & COL_RIGHT))
			ob_spaces(o, pad);
		if (!last)
			ob_putc(o, ' ');
	}
	ob_putc(o, '\n');
}

static void size_text(struct table *t, uint64_t bytes, const char **s, size_t *n)
{
	if (!t->size_len || bytes != t->size_bytes) {
		format_size(bytes, t->size_text, sizeof(t->size_text));
		t->size_len = strlen(t->size_text);
		t->size_bytes = bytes;
	}
	*s = t->size_text;
	*n = t->size_len;
}

static size_t short_cell(struct table *t, const struct cell *c, char *buf);

/* One cell in text form, appended to the buffer. */
static void text_cell(struct table *t, const struct cell *c)
{
	struct obuf *o = t->ob;
	char buf[48];
	size_t n = short_cell(t, c, buf);

	if (n) {
		ob_write(o, buf, n);
		return;
	}
	switch (c->kind) {
	case CELL_STR:
		if (c->s[0])
			esc_text(o, c->s, strlen(c->s), t->fmt == FMT_RAW);
		else
			ob_putc(o, '-');
		break;
	case CELL_ESC:
		ob_write(o, c->s, c->len);
		break;
	case CELL_RAWJSON:
		ob_write(o, c->text, c->text_len);
		break;
	default:
		break;
	}
}

static void json_cell(struct table *t, const struct cell *c)
{
	struct obuf *o = t->ob;

	switch (c->kind) {
	case CELL_NONE:
		ob_write(o, "null", 4);
		break;
	case CELL_U64:
	case CELL_SIZE:
		ob_u64(o, c->u);
		break;
	case CELL_HEX:
		ob_putc(o, '"');
		ob_hex(o, c->u);
		ob_putc(o, '"');
		break;
	case CELL_STR:
		esc_json(o, c->s, strlen(c->s));
		break;
	case CELL_ESC:
	case CELL_RAWJSON:
		ob_write(o, c->s, c->len);
		break;
	case CELL_BOOL:
		if (c->u)
			ob_write(o, "true", 4);
		else
			ob_write(o, "false", 5);
		break;
	case CELL_FIXED:
		ob_fixed(o, c->d, c->prec);
		break;
	}
}

/* Cut the text written since mark to width display columns, ending "…";
   returns the columns left (fewer than width when a wide character or an
   escape did not fit whole). */
static size_t cut(struct obuf *o, size_t mark, int width)
{
	const unsigned char *p = (const unsigned char *)o->p;
	size_t cols = 0, i = mark;

	/* keep the characters that fit in width - 1 columns, then "…" */
	while (i < o->len) {
		size_t len = p[i] < 0x80 ? 1 : utf8_len(p + i, o->len - i);
		unsigned w = len > 1 ? cp_width(utf8_cp(p + i, len)) : 1;
		if (!len)
			len = 1;
		if (cols + w > (size_t)width - 1)
			break;
		cols += w;
		i += len;
	}
	/* i: the start of the last column's character: replace from there,
	   or from the start of an escape (\xHH) it would split */
	for (size_t j = i > mark + 3 ? i - 3 : mark; j < i; j++)
		if (o->p[j] == '\\' && j + 4 > i) {
			cols -= i - j;	/* the escape's characters are ASCII */
			i = j;
			break;
		}
	o->len = i;
	ob_write(o, "\xe2\x80\xa6", 3);
	return cols + 1;
}

void ob_fit(struct obuf *o, size_t mark, int width)
{
	if (width > 1 && o->len >= mark && text_width(o->p + mark, o->len - mark) > (size_t)width)
		cut(o, mark, width);
}

/* The most bytes text_cell writes for c, with the room its ob_* calls
   ask for. */
static size_t cell_bound(const struct cell *c)
{
	size_t n = c->kind == CELL_STR ? strlen(c->s) * 4 : c->kind == CELL_ESC ? c->len :
		   c->kind == CELL_RAWJSON ? c->text_len : 0;

	return n + 40;
}

/* The text form of one cell in a buffer of its own (tmp->p malloc'd). */
static void cell_alone(struct table *t, const struct cell *c, struct obuf *tmp)
{
	struct obuf *real = t->ob;

	*tmp = (struct obuf){ .cap = cell_bound(c) + 8, .f = NULL };	/* + "…" */
	tmp->p = malloc(tmp->cap);
	if (!tmp->p)
		err(EXIT_SCAN_FAILED, "out of memory");
	t->ob = tmp;
	text_cell(t, c);
	t->ob = real;
}

/* A cell too large for the row paths' room in the buffer (a long name, a
   column wider than the buffer): formatted apart, cut to cutw columns if
   cutw, padded to width, and written in pieces. */
static void big_cell(struct table *t, const struct cell *c, size_t width, bool right, int cutw)
{
	struct obuf tmp, *o = t->ob;
	size_t w;

	cell_alone(t, c, &tmp);
	w = text_width(tmp.p, tmp.len);
	if (cutw > 0 && w > (size_t)cutw)
		w = cut(&tmp, 0, cutw);
	if (right && w < width)
		ob_spaces(o, (int)(width - w));
	ob_write(o, tmp.p, tmp.len);
	if (!right && w < width)
		ob_spaces(o, (int)(width - w));
	free(tmp.p);
}

void table_measure(struct table *t, const struct cell *cells)
{
	if (t->fmt != FMT_TEXT)
		return;
	t->tpl_ok = false;	/* the widths may change */
	t->tpl_pair = 0;
	for (size_t i = 0; i < t->nsel; i++) {
		const struct cell *v = &cells[t->sel[i]];
		size_t w;
		if (v->kind == CELL_ESC) {
			w = v->w ? v->w : text_width(v->s, v->len);
		} else if (v->kind == CELL_RAWJSON) {
			w = text_width(v->text, v->text_len);
		} else {
			struct obuf tmp;
			cell_alone(t, v, &tmp);
			w = text_width(tmp.p, tmp.len);
			free(tmp.p);
		}
		/* the sum of the widths stays an int */
		if (w > INT_MAX / (TABLE_MAX_COLS + 1))
			w = INT_MAX / (TABLE_MAX_COLS + 1);
		if ((int)w > t->width[i])
			t->width[i] = (int)w;
	}
	/* the cut column gets what the others leave */
	if (t->termwidth) {
		int used = 0, trunc = -1;
		for (size_t i = 0; i < t->nsel; i++) {
			if ((t->cols[t->sel[i]].flags & COL_TRUNC) && trunc < 0)
				trunc = (int)i;
			else
				used += t->width[i] + 1;
		}
		if (trunc >= 0) {
			int room = t->termwidth - used;
			int min = (int)strlen(t->cols[t->sel[trunc]].name);
			t->trunc_width = room >= (min > 8 ? min : 8) ? room : (min > 8 ? min : 8);
			if (t->width[trunc] > t->trunc_width)
				t->width[trunc] = t->trunc_width;
		}
	}
}

/* A cell whose text form is short and ASCII, formatted into buf; its length,
   or 0 for the other kinds. */
static size_t short_cell(struct table *t, const struct cell *c, char *buf)
{
	switch (c->kind) {
	case CELL_NONE:
		buf[0] = '-';
		return 1;
	case CELL_U64:
		return fmt_u64(buf, c->u);
	case CELL_HEX:
		return fmt_hex(buf, c->u);
	case CELL_SIZE: {
		const char *txt;
		size_t n;
		if (t->bytes)
			return fmt_u64(buf, c->u);
		size_text(t, c->u, &txt, &n);
		memcpy(buf, txt, n);
		return n;
	}
	case CELL_BOOL:
		memcpy(buf, c->u ? "yes" : "no", 3);
		return c->u ? 3 : 2;
	case CELL_FIXED:
		return fmt_fixed(buf, c->d, c->prec);
	default:
		return 0;
	}
}

/* ---- the row fast path: one reservation per row, constant-size moves --- */

/* The row just written (at row, n bytes, begun when o had flushed
   flushes times) becomes the template of the next, if it is still whole in
   the buffer and small enough. */
static void keep_template(struct table *t, const char *row, size_t n, unsigned long flushes)
{
	t->tpl_ok = t->tpl_wanted && t->tpl_able && table_templates && t->ob->flushes == flushes &&
		    n <= sizeof(t->tpl);
	t->tpl_pair = 0;
	if (!t->tpl_ok)
		return;
	memcpy(t->tpl, row, n);
	t->tpl_len = n;
	t->tpl_stale = 0;
	/* two addresses, both with high halves (a length that holds while
	   those do): the rows of a scan, for table_row_delta's inline case */
	size_t k = 0;
	for (size_t i = 0; i < t->nsel; i++) {
		if (t->tkind[i] != CELL_HEX)
			continue;
		if (k == 2 || !(t->tval[i] >> 32)) {
			k = 3;
			break;
		}
		t->pair_col[k] = (unsigned)t->sel[i];
		t->pair_hi[k] = t->tval[i] >> 32;
		t->pair_off[k++] = t->voff[i] + t->vlen[i] - 8u;
	}
	if (k == 2)
		t->tpl_pair = UINT64_C(1) << t->pair_col[0] | UINT64_C(1) << t->pair_col[1];
}

/* Where cell i's value went: its kind, value and text (from row). */
static inline void note_cell(struct table *t, size_t i, const struct cell *v, const char *row,
			     const char *at, size_t n)
{
	t->tkind[i] = (unsigned char)v->kind;
	t->tval[i] = v->u;
	t->voff[i] = (uint16_t)(at - row);
	t->vlen[i] = (uint16_t)n;
}

static void row_text_fast(struct table *t, const struct cell *cells)
{
	struct obuf *o = t->ob;
	char *p = o->p + o->len;
	size_t row0 = o->len;
	unsigned long flushes = o->flushes;

	for (size_t i = 0; i < t->nsel; i++) {
		const struct column *c = &t->cols[t->sel[i]];
		const struct cell *v = &cells[t->sel[i]];
		bool last = i + 1 == t->nsel;
		size_t width = t->fmt == FMT_TEXT && !last ? (size_t)t->width[i] : 0, n;
		bool right = c->flags & COL_RIGHT;
		size_t slen = v->kind == CELL_STR ? strlen(v->s) : 0;
		size_t need = width + (v->kind == CELL_ESC ? v->len + 40 : v->kind == CELL_STR ? slen * 4 + 64 :
				       v->kind == CELL_RAWJSON ? v->text_len + 64 : 64);

		if (need > o->cap / 2) {
			/* larger than the room a row may take at once */
			o->len = (size_t)(p - o->p);
			big_cell(t, v, width, right, 0);
			p = o->p + o->len;
			p = cell_room(o, p, 1);
			*p++ = last ? '\n' : ' ';
			t->tkind[i] = CELL_NONE;
			flushes = ~o->flushes;	/* no template from this row */
			continue;
		}
		switch (v->kind) {
		case CELL_ESC:
			p = cell_room(o, p, need);
			n = width ? (v->w ? v->w : text_width(v->s, v->len)) : 0;
			if (right && n < width)
				p = put_spaces(p, width - n);
			p = put_bytes(p, v->s, v->len);
			if (!right && n < width)
				p = put_spaces(p, width - n);
			break;
		case CELL_U64:
		case CELL_HEX:
		case CELL_SIZE:
		case CELL_NONE:
		case CELL_BOOL:
			/* Short and ASCII: spaces first, the value over them. */
			p = cell_room(o, p, need);
			if (width)
				put_spaces(p, width);
			if (v->kind == CELL_HEX && !right) {
				/* its slack lands on the padding: spaces again */
				n = hex_cached(t, p, v->u);
				if (n < width)
					put_spaces(p + n, width - n);
				note_cell(t, i, v, o->p + row0, p, n);
			} else if (v->kind == CELL_U64 && right) {
				n = u64_len(v->u);
				fmt_u64(p + (n < width ? width - n : 0), v->u);
				note_cell(t, i, v, o->p + row0, p + (n < width ? width - n : 0), n);
			} else if (v->kind == CELL_SIZE && right && !t->bytes) {
				const char *txt;
				size_text(t, v->u, &txt, &n);
				copy_small(p + (n < width ? width - n : 0), txt, n);
				note_cell(t, i, v, o->p + row0, p + (n < width ? width - n : 0), n);
			} else {
				char buf[48];
				n = short_cell(t, v, buf);
				copy_small(p + (right && n < width ? width - n : 0), buf, n);
				note_cell(t, i, v, o->p + row0, p + (right && n < width ? width - n : 0), n);
			}
			p += n > width ? n : width;
			break;
		default: {
			/* strings to escape, decimals, JSON arrays: the general way */
			size_t mark;
			p = cell_room(o, p, need);
			o->len = (size_t)(p - o->p);
			mark = o->len;
			text_cell(t, v);
			p = o->p + o->len;
			if (width) {
				n = text_width(o->p + mark, o->len - mark);
				if (n < width) {
					if (right) {
						/* n counts columns: move the bytes */
						memmove(o->p + mark + (width - n), o->p + mark, o->len - mark);
						memset(o->p + mark, ' ', width - n);
						p += width - n;
					} else {
						p = put_spaces(p, width - n);
					}
				}
			}
		}
		}
		if (v->kind != CELL_U64 && v->kind != CELL_HEX && v->kind != CELL_SIZE &&
		    v->kind != CELL_NONE && v->kind != CELL_BOOL)
			t->tkind[i] = (unsigned char)v->kind;	/* never patched */
		p = cell_room(o, p, 1);
		*p++ = last ? '\n' : ' ';
	}
	o->len = (size_t)(p - o->p);
	keep_template(t, o->p + row0, o->len - row0, flushes);
}

static void row_json_fast(struct table *t, const struct cell *cells)
{
	struct obuf *o = t->ob;
	char *p = cell_room(o, o->p + o->len, 8);
	size_t row0;
	unsigned long flushes = o->flushes;
	size_t n;

	if (t->lines) {
		*p++ = '{';
	} else {
		if (t->rows)
			*p++ = ',';
		*p++ = '\n';
		*p++ = '{';
	}
	row0 = (size_t)(p - o->p) - 1;	/* the template begins at the '{' */
	for (size_t i = 0; i < t->nsel; i++) {
		const struct cell *v = &cells[t->sel[i]];
		size_t need = t->keylen[i] + 64 + (v->kind == CELL_ESC || v->kind == CELL_RAWJSON ? v->len :
						 v->kind == CELL_STR ? strlen(v->s) * 6 : 0);
		t->tkind[i] = (unsigned char)v->kind;
		if (need > o->cap / 2) {
			/* a cell too large for the buffer: written through */
			o->len = (size_t)(p - o->p);
			ob_write(o, t->key[i], t->keylen[i]);
			json_cell(t, v);
			p = o->p + o->len;
			t->tkind[i] = CELL_NONE;
			flushes = ~o->flushes;	/* no template from this row */
			continue;
		}
		p = cell_room(o, p, need);
		p = put_bytes(p, t->key[i], t->keylen[i]);
		switch (v->kind) {
		case CELL_U64:
		case CELL_SIZE:
			n = fmt_u64(p, v->u);
			note_cell(t, i, v, o->p + row0, p, n);
			p += n;
			break;
		case CELL_HEX:
			*p++ = '"';
			n = hex_cached(t, p, v->u);
			note_cell(t, i, v, o->p + row0, p, n);
			p += n;
			*p++ = '"';
			break;
		case CELL_ESC:
		case CELL_RAWJSON:
			p = put_bytes(p, v->s, v->len);
			break;
		default:
			o->len = (size_t)(p - o->p);
			json_cell(t, v);
			p = o->p + o->len;
			if (v->kind == CELL_NONE || v->kind == CELL_BOOL)
				t->tkind[i] = CELL_STR;	/* written, never patched */
		}
	}
	p = cell_room(o, p, 2);
	*p++ = '}';
	if (t->lines)
		*p++ = '\n';
	o->len = (size_t)(p - o->p);
	t->rows++;
	keep_template(t, o->p + row0, o->len - row0, flushes);
}

bool table_templates = true;

/* The row as the template with the changed cells' digits put over; false
   (nothing written) when a changed cell cannot be put so. The template is
   copied out first and patched after (a copy read just after small writes
   into it would wait for them): numbers in both copies, addresses in the
   row only, the template's marked stale and put again on every row. */
static bool row_from_template(struct table *t, const struct cell *cells, uint64_t changed)
{
	size_t hex_off[2], size_off = 0, size_n = 0, nnum = 0, nhex = 0;
	uint32_t hex_lo[2];
	struct { size_t off, n; uint64_t v; } num[8];
	char size_buf[24];

	/* the addresses put over the copy only: put again on every row */
	for (changed = (changed & t->sel_mask) | t->tpl_stale; changed; changed &= changed - 1) {
		unsigned col = (unsigned)__builtin_ctzll(changed), i = t->pos[col];
		const struct cell *v = &cells[col];
		if (v->kind != t->tkind[i])
			return false;
		if ((v->kind == CELL_NONE || v->u == t->tval[i]) && v->kind != CELL_HEX) {
			if (v->kind <= CELL_SIZE)	/* NONE, U64, SIZE: the same text */
				continue;
			return false;
		}
		switch (v->kind) {
		case CELL_HEX:
			/* the same high half (not none): the same length */
			if (v->u == t->tval[i] && !(t->tpl_stale >> col & 1))
				continue;
			if ((v->u ^ t->tval[i]) >> 32 || !(v->u >> 32) || nhex == 2)
				return false;
			hex_off[nhex] = t->voff[i] + t->vlen[i] - 8u;
			hex_lo[nhex++] = (uint32_t)v->u;
			t->tpl_stale |= UINT64_C(1) << col;
			break;
		case CELL_SIZE:
			if (t->fmt != FMT_JSON && !t->bytes) {
				const char *txt;
				size_t n;
				if (size_n)
					return false;
				size_text(t, v->u, &txt, &n);
				if (n != t->vlen[i])
					return false;
				memcpy(size_buf, txt, n);
				size_off = t->voff[i];
				size_n = n;
				break;
			}
			/* bytes: a number like any other */
			__attribute__((fallthrough));
		case CELL_U64:
			if (u64_len(v->u) != t->vlen[i] || nnum == sizeof(num) / sizeof(num[0]))
				return false;
			num[nnum++] = (typeof(num[0])){ t->voff[i], t->vlen[i], v->u };
			break;
		default:
			return false;	/* strings, yes/no, decimals: written anew */
		}
		t->tval[i] = v->u;
	}

	char *row = template_out(t);
	if (nhex == 2) {
		hex8x2(hex_lo[0], hex_lo[1], row + hex_off[0], row + hex_off[1]);
	} else if (nhex == 1) {
		uint64_t x = hex8(hex_lo[0]);
		memcpy(row + hex_off[0], &x, 8);
	}
	for (size_t k = 0; k < nnum; k++) {
		char buf[24];
		fmt_u64(buf, num[k].v);
		memcpy(row + num[k].off, buf, num[k].n);
		memcpy(t->tpl + num[k].off, buf, num[k].n);
	}
	if (size_n) {
		memcpy(row + size_off, size_buf, size_n);
		memcpy(t->tpl + size_off, size_buf, size_n);
	}
	return true;
}

void table_row_delta_general(struct table *t, const struct cell *cells, uint64_t changed)
{
	/* from the first such row on, the rows written are kept */
	t->tpl_wanted = true;
	if (!t->tpl_ok || !row_from_template(t, cells, changed))
		table_row(t, cells);
}

void table_row(struct table *t, const struct cell *cells)
{
	struct obuf *o = t->ob;

	/* Every row but one cut to a terminal's width takes the fast path. */
	if (!t->trunc_width) {
		if (t->fmt == FMT_JSON)
			row_json_fast(t, cells);
		else
			row_text_fast(t, cells);
		return;
	}
	t->tpl_ok = false;
	t->tpl_pair = 0;
	if (t->fmt == FMT_JSON) {
		ob_room(o, 4);
		if (t->lines)
			o->p[o->len++] = '{';
		else
			ob_write(o, t->rows ? ",\n{" : "\n{", t->rows ? 3 : 2);
		for (size_t i = 0; i < t->nsel; i++) {
			ob_write(o, t->key[i], t->keylen[i]);
			json_cell(t, &cells[t->sel[i]]);
		}
		ob_room(o, 2);
		o->p[o->len++] = '}';
		if (t->lines)
			o->p[o->len++] = '\n';
		t->rows++;
		return;
	}
	for (size_t i = 0; i < t->nsel; i++) {
		const struct column *c = &t->cols[t->sel[i]];
		const struct cell *v = &cells[t->sel[i]];
		bool last = i + 1 == t->nsel;
		bool pad = t->fmt == FMT_TEXT && !last;
		char buf[48];
		size_t n = short_cell(t, v, buf);
		size_t width = pad ? (size_t)t->width[i] : 0;
		bool right = c->flags & COL_RIGHT;

		if (n) {
			/* short ASCII: its width is its length */
			size_t gap = n < width ? width - n : 0;
			if (n + gap + 1 > o->cap / 2) {
				big_cell(t, v, width, right, 0);
				ob_putc(o, last ? '\n' : ' ');
				continue;
			}
			ob_room(o, n + gap + 1);
			if (gap && (c->flags & COL_RIGHT)) {
				memset(o->p + o->len, ' ', gap);
				o->len += gap;
				gap = 0;
			}
			memcpy(o->p + o->len, buf, n);
			o->len += n;
			if (gap) {
				memset(o->p + o->len, ' ', gap);
				o->len += gap;
			}
			o->p[o->len++] = last ? '\n' : ' ';
			continue;
		}
		size_t need = v->kind == CELL_STR ? strlen(v->s) * 4 + 8 :
			      v->kind == CELL_ESC ? v->len + 8 : v->text_len + 8;
		size_t mark;
		bool cut_it = (c->flags & COL_TRUNC) && t->trunc_width && t->fmt == FMT_TEXT;

		if (need + width + 4 > o->cap / 2) {
			big_cell(t, v, width, right, cut_it ? t->trunc_width : 0);
			ob_putc(o, last ? '\n' : ' ');
			continue;
		}
		/* The whole cell and its padding fit in the buffer: aligned in place. */
		ob_room(o, need + width + 4);
		mark = o->len;
		text_cell(t, v);
		if (o->len >= mark && t->fmt == FMT_TEXT && (pad || cut_it)) {
			size_t w = text_width(o->p + mark, o->len - mark);
			if (cut_it && w > (size_t)t->trunc_width)
				w = cut(o, mark, t->trunc_width);
			if (pad && w < (size_t)t->width[i]) {
				size_t gap = (size_t)t->width[i] - w;
				if (c->flags & COL_RIGHT) {
					memmove(o->p + mark + gap, o->p + mark, o->len - mark);
					memset(o->p + mark, ' ', gap);
				} else {
					memset(o->p + o->len, ' ', gap);
				}
				o->len += gap;
			}
		}
		ob_putc(o, last ? '\n' : ' ');
	}
}

void table_json_open(struct table *t, const char *key)
{
	ob_putc(t->ob, '"');
	ob_puts(t->ob, key);
	ob_write(t->ob, "\":[", 3);
	t->rows = 0;
}

void table_json_close(struct table *t)
{
	if (t->rows)
		ob_putc(t->ob, '\n');
	ob_putc(t->ob, ']');
}

static const struct column list_cols[] = {
	{ "NAME", "name", "string", 10, COL_DEFAULT, "the column's name, for -o" },
	{ "KEY", "key", "string", 0, 0, "its key in JSON output" },
	{ "TYPE", "type", "string", 0, 0, "its JSON type" },
	{ "DEFAULT", "default", "boolean", 0, 0, "shown without -o" },
	{ "DESCRIPTION", "description", "string", 0, COL_DEFAULT | COL_TRUNC, "what it holds" },
};

void table_list_columns(const struct column *cols, size_t ncols, struct obuf *ob, bool json,
			bool raw, bool noheadings)
{
	struct table t = { 0 };
	struct cell cells[5] = { { .kind = CELL_STR }, { .kind = CELL_STR }, { .kind = CELL_STR },
				 { .kind = CELL_BOOL }, { .kind = CELL_STR } };
	const char *bad;
	size_t badlen;

	table_select(&t, list_cols, 5, json ? "name,key,type,default,description" : NULL, &bad,
		     &badlen);
	table_start(&t, ob, json ? FMT_JSON : raw ? FMT_RAW : FMT_TEXT, isatty(STDOUT_FILENO),
		    false, noheadings);
	if (json) {
		ob_putc(ob, '{');
		table_json_open(&t, "columns");
	}
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			table_header(&t);
		for (size_t i = 0; i < ncols; i++) {
			cells[0].s = cols[i].name;
			cells[1].s = cols[i].key;
			cells[2].s = cols[i].type;
			cells[3].u = !!(cols[i].flags & COL_DEFAULT);
			cells[4].s = cols[i].help;
			if (pass)
				table_row(&t, cells);
			else
				table_measure(&t, cells);
		}
	}
	if (json) {
		table_json_close(&t);
		ob_write(ob, "}\n", 2);
	}
}

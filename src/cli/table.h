/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The output layer: one table of columns per kind of row, and one writer
 * per format (aligned text, raw text, JSON), streamed row by row into a
 * large buffer. Every mode (scan, --summary, --watch, --list-categories,
 * --list-columns) prints through it, so escaping, sizes, headers and JSON
 * keys follow one set of rules.
 */
#ifndef PMSCAN_TABLE_H
#define PMSCAN_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- the output buffer ------------------------------------------------ */

/* Rows are written into one large buffer, handed to stdio in big blocks. */
struct obuf {
	char *p;
	size_t len, cap;
	FILE *f;
	int err;		/* errno of the first failed write, or 0 */
	unsigned long flushes;	/* how many times its bytes went out */
};

void ob_init(struct obuf *o, FILE *f);
void ob_flush(struct obuf *o);
void ob_free(struct obuf *o);

static inline void ob_room(struct obuf *o, size_t n)
{
	if (o->len + n > o->cap)
		ob_flush(o);
}

void ob_write_slow(struct obuf *o, const char *s, size_t n);

static inline void ob_write(struct obuf *o, const char *s, size_t n)
{
	if (__builtin_expect(o->len + n > o->cap, 0)) {
		ob_write_slow(o, s, n);
		return;
	}
	__builtin_memcpy(o->p + o->len, s, n);
	o->len += n;
}

static inline void ob_putc(struct obuf *o, char c)
{
	ob_room(o, 1);
	o->p[o->len++] = c;
}

static inline void ob_puts(struct obuf *o, const char *s)
{
	ob_write(o, s, __builtin_strlen(s));
}

void ob_spaces(struct obuf *o, int n);
void ob_u64(struct obuf *o, uint64_t v);
void ob_hex(struct obuf *o, uint64_t v);		/* "0x1f000" */
void ob_fixed(struct obuf *o, double v, int decimals);	/* "1.250"; no locale */

/* Number formatting into a buffer; return the length. */
size_t fmt_u64(char *buf, uint64_t v);			/* at least 21 bytes */
size_t fmt_hex(char *buf, uint64_t v);			/* writes 18 bytes, returns the length */
size_t fmt_fixed(char *buf, double v, int decimals);	/* at least 32 bytes */

/* ---- escaping --------------------------------------------------------- */

/*
 * Text: bytes that are not printable are written as \xHH: C0 controls, DEL,
 * the C1 controls (U+0080-U+009F, which some terminals obey), the bidi
 * embeddings, overrides and isolates and the line and paragraph separators
 * (U+202A-202E, U+2066-2069, U+2028-2029: they reorder what follows), bytes
 * that are not valid UTF-8, and the backslash itself; raw text escapes the
 * space too, so a field never holds one. Valid printable UTF-8 passes
 * unchanged.
 */
void esc_text(struct obuf *o, const char *s, size_t n, bool raw);
/*
 * JSON: a quoted string literal; controls (C0, DEL, C1) as \u00XX, the bidi
 * and separator controls above as \u20XX, and every
 * byte that is not part of valid UTF-8 as U+FFFD, so the document is always
 * valid UTF-8.
 */
void esc_json(struct obuf *o, const char *s, size_t n);
/* A JSON string for s, or null when s is NULL. */
void json_str_or_null(struct obuf *o, const char *s);
/*
 * OpenMetrics: a quoted label value; backslash, double quote and newline as
 * \\, \" and \n, the format's only escapes. Every byte that is not part of
 * valid UTF-8, and every other control (C0, DEL, C1: a terminal showing the
 * exposition would obey them, and the format cannot escape them), becomes
 * U+FFFD, so the exposition is always valid UTF-8 and safe to show. Distinct
 * names can thus give one value: callers merge such series.
 */
void esc_om(struct obuf *o, const char *s, size_t n);
/* Cut the escaped text written since mark to width display columns (ending
   "…") when it is wider; the whole of it must still be in the buffer. */
void ob_fit(struct obuf *o, size_t mark, int width);
/* Display columns of already escaped text (one per UTF-8 character). */
size_t text_width(const char *s, size_t n);

/* ---- columns ------------------------------------------------------------ */

enum cell_kind {
	CELL_NONE,	/* no value: "-" in text, null in JSON (the four numeric kinds first: table.c) */
	CELL_U64,
	CELL_HEX,	/* an address: "0x..." in text and JSON (a string) */
	CELL_SIZE,	/* bytes: human ("4K", or bytes with -b) in text, a number in JSON */
	CELL_STR,	/* a string to escape */
	CELL_ESC,	/* a string already escaped for the writer's format (str_escape) */
	CELL_BOOL,	/* "yes"/"no" in text, true/false in JSON */
	CELL_FIXED,	/* a decimal with prec digits after the point */
	CELL_RAWJSON,	/* JSON: written as is (an array); text: s as is */
};

struct cell {
	enum cell_kind kind;
	int prec;
	uint64_t u;
	double d;
	const char *s;
	size_t len;		/* CELL_ESC, CELL_RAWJSON: length of s */
	const char *text;	/* CELL_RAWJSON: the text form */
	size_t text_len;
	size_t w;		/* CELL_ESC: display width if known, else 0 */
};

enum {
	COL_RIGHT = 1,		/* right-aligned (numbers) */
	COL_TRUNC = 2,		/* may be cut to fit a terminal's width */
	COL_DEFAULT = 4,	/* in the default column list */
};

struct column {
	const char *name;	/* upper case: header and -o name */
	const char *key;	/* JSON key */
	const char *type;	/* JSON type, for --list-columns and the docs */
	int width;		/* minimum text width */
	unsigned flags;
	const char *help;
};

#define TABLE_MAX_COLS 48

enum out_format { FMT_TEXT, FMT_RAW, FMT_JSON };

struct table {
	const struct column *cols;
	size_t ncols;
	int sel[TABLE_MAX_COLS];	/* selected column indexes, in output order */
	size_t nsel;
	/* the writer */
	struct obuf *ob;
	enum out_format fmt;
	bool bytes;		/* sizes in bytes */
	bool noheadings;
	bool tty;		/* cut the COL_TRUNC column to the terminal's width */
	int termwidth;
	int width[TABLE_MAX_COLS];
	char key[TABLE_MAX_COLS][40];	/* JSON: ,"key": for each selected column */
	size_t keylen[TABLE_MAX_COLS];
	int trunc_width;	/* for the COL_TRUNC column on a terminal, or 0 */
	size_t rows;		/* JSON: rows written so far in this array */
	bool lines;		/* JSON: each row a document on its own line */
	/* the high digits of the last address */
	uint32_t hex_hi;
	size_t hex_hi_len;
	char hex_hi_text[40];
	/* cache of the last human size */
	uint64_t size_bytes;
	char size_text[24];
	size_t size_len;
	/* the last row written by the fast paths, the template of the next
	   (table_row_delta): its bytes (JSON: from the '{'), and per selected
	   column its cell's kind and value and where the value's text is */
	bool tpl_able;			/* every selected column below 64 */
	bool tpl_wanted;		/* rows come through table_row_delta */
	bool tpl_ok;
	size_t tpl_len;
	char tpl[1024] __attribute__((aligned(64)));
	uint64_t sel_mask;		/* bit c: column c is selected */
	uint64_t tpl_stale;		/* addresses the template holds old digits of */
	uint64_t tpl_pair;		/* the two address columns, when there are two
					   (0 whenever tpl_ok is false) */
	unsigned pair_col[2];
	uint64_t pair_hi[2];		/* their high halves in the template */
	size_t pair_off[2];		/* where their low 8 digits are */
	unsigned char pos[TABLE_MAX_COLS];	/* column index -> place in sel */
	unsigned char tkind[TABLE_MAX_COLS];
	uint64_t tval[TABLE_MAX_COLS];
	uint16_t voff[TABLE_MAX_COLS], vlen[TABLE_MAX_COLS];
};

/*
 * Select the columns: spec NULL or "" for the defaults, "A,B" for exactly
 * those, "+A,B" for the defaults and those (names case-insensitive). extra
 * (may be NULL) names columns added after the selection when absent (JSON
 * keys a shape always carries). Returns 0, or -1 with *bad pointing to the
 * unknown name and *badlen its length.
 */
int table_select(struct table *t, const struct column *cols, size_t ncols, const char *spec,
		 const char **bad, size_t *badlen);
bool table_has(const struct table *t, int col);
void table_add(struct table *t, int col);

/* Set the writer; computes widths (terminal width when tty). */
void table_start(struct table *t, struct obuf *ob, enum out_format fmt, bool tty, bool bytes,
		 bool noheadings);
/* Text: widen the columns to fit this row (tables held whole: call for
   every row before the header). */
void table_measure(struct table *t, const struct cell *cells);
/* Text: the header line (unless noheadings). JSON: nothing. */
void table_header(struct table *t);
/* One row; cells indexed by column index (all columns of the table). */
void table_row(struct table *t, const struct cell *cells);
/*
 * The same row, for a caller that knows which cells changed since the row
 * it gave last: bit c of changed set for each cell c that may differ, the
 * others the same as then (strings included, byte for byte). A row that
 * differs only in numbers of the same length and in addresses with the same
 * high 32 bits is the last row's bytes with those digits put over; any
 * other is written as table_row writes it. Cells keep their kinds from
 * row to row (a row whose cells change kind goes to table_row).
 * table_row_delta (fastfmt.h) is its inline first case: two addresses
 * changed, nothing else.
 */
void table_row_delta_general(struct table *t, const struct cell *cells, uint64_t changed);
/* Tests: false makes table_row_delta write every row as table_row does. */
extern bool table_templates;
/* JSON: start an array of row objects ("key":[ ) and end it. */
void table_json_open(struct table *t, const char *key);
void table_json_close(struct table *t);

/* A string escaped once for fmt, for a CELL_ESC cell used on many rows.
   Returns a malloc'd string (its length in *len), or NULL. */
char *str_escape(enum out_format fmt, const char *s, size_t *len);

/* Column help lines for --list-columns, or a JSON document. */
void table_list_columns(const struct column *cols, size_t ncols, struct obuf *ob, bool json,
			bool raw, bool noheadings);

/* Terminal width of stdout (COLUMNS, then the tty), or 0. */
int terminal_width(void);

#endif

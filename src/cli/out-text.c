/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Text sinks: the region table (aligned on a terminal, single-spaced
 * otherwise so awk splits it cleanly) and the page address list.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ADDR_W 14
#define PAGES_W 9
#define SIZE_W 6

struct text_state {
	int cat_w;
	uint64_t cached_mask;
	char cats[160];
	uint64_t size_pages;	/* regions often repeat a size: format it once */
	char size[16];
};

static struct text_state tstate;

static const char *cat_string(struct text_state *s, uint64_t mask)
{
	if (mask != s->cached_mask || !s->cats[0]) {
		if (!mask)
			strcpy(s->cats, "-");
		else
			pmscan_categories_format(mask, s->cats, sizeof(s->cats));
		s->cached_mask = mask;
	}
	return s->cats;
}

static void column(struct sink_ctx *c, const char *s, int width, bool right, bool last)
{
	if (c->tty && !last)
		put_padded(c->out, s, width, right);
	else
		put_str(c->out, s);
	if (!last)
		putc_unlocked(' ', c->out);
}

static int text_begin(struct sink_ctx *c)
{
	struct text_state *s = &tstate;
	char all[160];

	memset(s, 0, sizeof(*s));
	c->priv = s;
	s->cat_w = (int)pmscan_categories_format(c->ret_mask, all, sizeof(all));
	if (s->cat_w > 32)
		s->cat_w = 32;
	if (s->cat_w < 10)
		s->cat_w = 10;
	if (c->opt->noheadings)
		return 0;
	column(c, "START", ADDR_W, false, false);
	column(c, "END", ADDR_W, false, false);
	column(c, "PAGES", PAGES_W, true, false);
	column(c, "SIZE", SIZE_W, true, false);
	column(c, "CATEGORIES", s->cat_w, false, false);
	column(c, "MAPPING", 0, false, true);
	putc_unlocked('\n', c->out);
	return 0;
}

static int text_region(const struct pmscan_region *r, void *arg)
{
	struct sink_ctx *c = arg;
	struct text_state *s = c->priv;
	uint64_t pages = (r->end - r->start) / c->page_size;
	char num[24];
	FILE *f = c->out;

	if (c->tty) {
		char a[24];
		snprintf(a, sizeof(a), "0x%llx", (unsigned long long)r->start);
		column(c, a, ADDR_W, false, false);
		snprintf(a, sizeof(a), "0x%llx", (unsigned long long)r->end);
		column(c, a, ADDR_W, false, false);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)pages);
		column(c, num, PAGES_W, true, false);
	} else {
		put_hex(f, r->start);
		putc_unlocked(' ', f);
		put_hex(f, r->end);
		putc_unlocked(' ', f);
		put_u64(f, pages);
		putc_unlocked(' ', f);
	}
	if (pages != s->size_pages) {
		format_size(pages * c->page_size, s->size, sizeof(s->size));
		s->size_pages = pages;
	}
	column(c, s->size, SIZE_W, true, false);
	column(c, cat_string(s, r->categories), s->cat_w, false, false);
	column(c, mapping_label(r->mapping), 0, false, true);
	putc_unlocked('\n', f);
	return out_status(c);
}

static int text_end(struct sink_ctx *c, const struct pmscan_scan_stats *st, const char *msg)
{
	char size[16];

	if (msg || c->opt->noheadings)
		return 0;
	format_size(st->pages * c->page_size, size, sizeof(size));
	fprintf(c->out, "total: %llu region%s, %llu page%s, %s\n",
		(unsigned long long)st->regions, st->regions == 1 ? "" : "s",
		(unsigned long long)st->pages, st->pages == 1 ? "" : "s", size);
	return 0;
}

const struct sink sink_text = {
	.begin = text_begin, .region = text_region, .end = text_end,
};

static int addr_begin(struct sink_ctx *c)
{
	(void)c;
	return 0;
}

static int addr_region(const struct pmscan_region *r, void *arg)
{
	struct sink_ctx *c = arg;

	for (uint64_t a = r->start; a < r->end; a += c->page_size) {
		put_hex(c->out, a);
		putc_unlocked('\n', c->out);
	}
	return out_status(c);
}

static int addr_end(struct sink_ctx *c, const struct pmscan_scan_stats *st, const char *msg)
{
	(void)c, (void)st, (void)msg;
	return 0;
}

const struct sink sink_addresses = {
	.begin = addr_begin, .region = addr_region, .end = addr_end,
};

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Summary sinks: pages per category per mapping, no region list. Regions
 * arrive mapping by mapping, so one mapping's counts are held at a time.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct summary_state {
	bool have;		/* a mapping is being counted */
	bool first;
	struct pmscan_mapping m;
	char *name;
	uint64_t matched;
	uint64_t count[PMSCAN_NCATEGORIES];
	uint64_t total[PMSCAN_NCATEGORIES];
};

static struct summary_state sstate;

#define CAT_EACH(c, i) \
	for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++) \
		if ((c)->ret_mask & (UINT64_C(1) << i))

static int col_width(unsigned bit)
{
	int w = (int)strlen(pmscan_category_name(bit));
	return w < 7 ? 7 : w;
}

static void upper(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
	buf[i] = '\0';
}

static const char *tracked_word(int tracked)
{
	return tracked < 0 ? "-" : tracked ? "yes" : "no";
}

static int summary_begin(struct sink_ctx *c)
{
	memset(&sstate, 0, sizeof(sstate));
	sstate.first = true;
	c->priv = &sstate;
	return 0;
}

static int summary_mapping_common(const struct pmscan_mapping *m, struct sink_ctx *c,
				  void (*flush)(struct sink_ctx *))
{
	struct summary_state *s = c->priv;

	flush(c);
	free(s->name);
	s->name = strdup(m->name);
	if (!s->name)
		return -ENOMEM;
	s->m = *m;
	s->m.name = s->name;
	s->matched = 0;
	memset(s->count, 0, sizeof(s->count));
	s->have = true;
	return out_status(c);
}

static int summary_region(const struct pmscan_region *r, void *arg)
{
	struct sink_ctx *c = arg;
	struct summary_state *s = c->priv;
	uint64_t pages = (r->end - r->start) / c->page_size;

	s->matched += pages;
	for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++)
		if (r->categories & (UINT64_C(1) << i)) {
			s->count[i] += pages;
			s->total[i] += pages;
		}
	return 0;
}

/* ---- text ------------------------------------------------------------- */

static void text_header(struct sink_ctx *c)
{
	char name[32];
	FILE *f = c->out;

	if (c->tty)
		fprintf(f, "%-14s %-14s %6s %9s", "START", "END", "SIZE", "MATCHED");
	else
		fputs("START END SIZE MATCHED", f);
	CAT_EACH(c, i) {
		upper(pmscan_category_name(i), name, sizeof(name));
		if (c->tty)
			fprintf(f, " %*s", col_width(i), name);
		else
			fprintf(f, " %s", name);
	}
	fputs(" TRACKED MAPPING\n", f);
}

static void text_flush(struct sink_ctx *c)
{
	struct summary_state *s = c->priv;
	FILE *f = c->out;
	char size[16];

	if (!s->have)
		return;
	s->have = false;
	format_size(s->m.end - s->m.start, size, sizeof(size));
	if (c->tty)
		fprintf(f, "0x%-12llx 0x%-12llx %6s %9llu", (unsigned long long)s->m.start,
			(unsigned long long)s->m.end, size, (unsigned long long)s->matched);
	else
		fprintf(f, "0x%llx 0x%llx %s %llu", (unsigned long long)s->m.start,
			(unsigned long long)s->m.end, size, (unsigned long long)s->matched);
	CAT_EACH(c, i)
		fprintf(f, " %*llu", c->tty ? col_width(i) : 0, (unsigned long long)s->count[i]);
	fprintf(f, c->tty ? " %-7s %s\n" : " %s %s\n", tracked_word(s->m.tracked),
		mapping_label(&s->m));
}

static int text_begin(struct sink_ctx *c)
{
	summary_begin(c);
	if (!c->opt->noheadings)
		text_header(c);
	return out_status(c);
}

static int text_mapping(const struct pmscan_mapping *m, void *arg)
{
	return summary_mapping_common(m, arg, text_flush);
}

static int text_end(struct sink_ctx *c, const struct pmscan_scan_stats *st, const char *msg)
{
	struct summary_state *s = c->priv;

	if (!msg) {
		text_flush(c);
		if (!c->opt->noheadings) {
			fprintf(c->out, "total: %llu mapping%s, %llu page%s matched",
				(unsigned long long)st->mappings, st->mappings == 1 ? "" : "s",
				(unsigned long long)st->pages, st->pages == 1 ? "" : "s");
			CAT_EACH(c, i)
				fprintf(c->out, ", %s %llu", pmscan_category_name(i),
					(unsigned long long)s->total[i]);
			fputc('\n', c->out);
		}
	}
	free(s->name);
	s->name = NULL;
	return out_status(c);
}

const struct sink sink_summary_text = {
	.begin = text_begin, .mapping = text_mapping, .region = summary_region, .end = text_end,
};

/* ---- JSON ------------------------------------------------------------- */

static void json_counts(struct sink_ctx *c, const uint64_t *count)
{
	bool first = true;

	fputc('{', c->out);
	CAT_EACH(c, i) {
		fprintf(c->out, "%s\"%s\":%llu", first ? "" : ",", pmscan_category_name(i),
			(unsigned long long)count[i]);
		first = false;
	}
	fputc('}', c->out);
}

static void json_flush(struct sink_ctx *c)
{
	struct summary_state *s = c->priv;
	FILE *f = c->out;
	char *q;

	if (!s->have)
		return;
	s->have = false;
	q = json_quote(mapping_label(&s->m));
	fprintf(f, "%s\n{\"start\":\"0x%llx\",\"end\":\"0x%llx\",\"mapping\":%s,\"pages\":%llu,"
		"\"matched_pages\":%llu,\"tracked\":%s,\"categories\":",
		s->first ? "" : ",", (unsigned long long)s->m.start, (unsigned long long)s->m.end,
		q ? q : "\"\"", (unsigned long long)((s->m.end - s->m.start) / c->page_size),
		(unsigned long long)s->matched,
		s->m.tracked < 0 ? "null" : s->m.tracked ? "true" : "false");
	free(q);
	json_counts(c, s->count);
	fputc('}', f);
	s->first = false;
}

static int json_begin(struct sink_ctx *c)
{
	summary_begin(c);
	fprintf(c->out, "{\"pid\":%d,\"page_size\":%llu,\"mappings\":[", (int)c->pid,
		(unsigned long long)c->page_size);
	return out_status(c);
}

static int json_mapping(const struct pmscan_mapping *m, void *arg)
{
	return summary_mapping_common(m, arg, json_flush);
}

static int json_end(struct sink_ctx *c, const struct pmscan_scan_stats *st, const char *msg)
{
	struct summary_state *s = c->priv;

	if (msg) {
		char *q = json_quote(msg);
		fprintf(c->out, "],\"error\":%s}\n", q ? q : "\"error\"");
		free(q);
	} else {
		json_flush(c);
		fprintf(c->out, "%s],\"total_mappings\":%llu,\"total_pages\":%llu,\"totals\":",
			s->first ? "" : "\n", (unsigned long long)st->mappings,
			(unsigned long long)st->pages);
		json_counts(c, s->total);
		fputs("}\n", c->out);
	}
	free(s->name);
	s->name = NULL;
	return out_status(c);
}

const struct sink sink_summary_json = {
	.begin = json_begin, .mapping = json_mapping, .region = summary_region, .end = json_end,
};

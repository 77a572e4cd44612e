/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * JSON sinks, streamed: the document is written as the regions arrive, so
 * memory stays flat however many there are. Keys are fixed; addresses are
 * hex strings, counts numbers. A failed scan closes the document with an
 * "error" key, so a reader never takes a cut-off list for a whole one.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct json_state {
	bool first;
	char *mapping_q;	/* quoted label of the current mapping */
	uint64_t cached_mask;
	bool cache_valid;
	char cats[256];
};

static struct json_state jstate;

static const char *json_categories(struct json_state *s, uint64_t mask)
{
	if (!s->cache_valid || mask != s->cached_mask) {
		size_t n = 0;
		s->cats[n++] = '[';
		for (unsigned i = 0; i < PMSCAN_NCATEGORIES; i++) {
			if (!(mask & (UINT64_C(1) << i)))
				continue;
			n += (size_t)snprintf(s->cats + n, sizeof(s->cats) - n, "%s\"%s\"",
					      n > 1 ? "," : "", pmscan_category_name(i));
		}
		snprintf(s->cats + n, sizeof(s->cats) - n, "]");
		s->cached_mask = mask;
		s->cache_valid = true;
	}
	return s->cats;
}

static void json_head(struct sink_ctx *c, const char *array)
{
	fprintf(c->out, "{\"pid\":%d,\"page_size\":%llu,\"%s\":[", (int)c->pid,
		(unsigned long long)c->page_size, array);
}

static int set_mapping(struct json_state *s, const struct pmscan_mapping *m)
{
	free(s->mapping_q);
	s->mapping_q = json_quote(mapping_label(m));
	return s->mapping_q ? 0 : -ENOMEM;
}

static int json_begin(struct sink_ctx *c)
{
	memset(&jstate, 0, sizeof(jstate));
	jstate.first = true;
	c->priv = &jstate;
	json_head(c, "regions");
	return out_status(c);
}

static int json_mapping(const struct pmscan_mapping *m, void *arg)
{
	struct sink_ctx *c = arg;

	return set_mapping(c->priv, m);
}

static int json_region(const struct pmscan_region *r, void *arg)
{
	struct sink_ctx *c = arg;
	struct json_state *s = c->priv;
	FILE *f = c->out;

	put_str(f, s->first ? "\n{\"start\":\"" : ",\n{\"start\":\"");
	s->first = false;
	put_hex(f, r->start);
	put_str(f, "\",\"end\":\"");
	put_hex(f, r->end);
	put_str(f, "\",\"pages\":");
	put_u64(f, (r->end - r->start) / c->page_size);
	put_str(f, ",\"categories\":");
	put_str(f, json_categories(s, r->categories));
	put_str(f, ",\"mapping\":");
	put_str(f, s->mapping_q);
	putc_unlocked('}', f);
	return out_status(c);
}

static void json_error_tail(struct sink_ctx *c, const char *msg)
{
	char *q = json_quote(msg);

	fprintf(c->out, "],\"error\":%s}\n", q ? q : "\"error\"");
	free(q);
}

static int json_end(struct sink_ctx *c, const struct pmscan_scan_stats *st, const char *msg)
{
	struct json_state *s = c->priv;

	if (msg)
		json_error_tail(c, msg);
	else
		fprintf(c->out, "%s],\"total_regions\":%llu,\"total_pages\":%llu}\n",
			s->first ? "" : "\n", (unsigned long long)st->regions,
			(unsigned long long)st->pages);
	free(s->mapping_q);
	s->mapping_q = NULL;
	return out_status(c);
}

const struct sink sink_json = {
	.begin = json_begin, .mapping = json_mapping, .region = json_region, .end = json_end,
};

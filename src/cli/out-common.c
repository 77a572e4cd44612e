/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Formatting helpers every sink uses. The region path runs once per region
 * or page, so numbers are formatted by hand rather than through printf.
 */
#include "cli.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

void put_hex(FILE *f, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char buf[20];
	int i = sizeof(buf);

	do {
		buf[--i] = digits[v & 15];
		v >>= 4;
	} while (v);
	buf[--i] = 'x';
	buf[--i] = '0';
	fwrite_unlocked(buf + i, 1, sizeof(buf) - (size_t)i, f);
}

void put_u64(FILE *f, uint64_t v)
{
	char buf[24];
	int i = sizeof(buf);

	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	fwrite_unlocked(buf + i, 1, sizeof(buf) - (size_t)i, f);
}

void put_str(FILE *f, const char *s)
{
	fputs_unlocked(s, f);
}

void put_padded(FILE *f, const char *s, int width, bool right)
{
	int pad = width - (int)strlen(s);

	if (right)
		for (; pad > 0; pad--)
			putc_unlocked(' ', f);
	fputs_unlocked(s, f);
	if (!right)
		for (; pad > 0; pad--)
			putc_unlocked(' ', f);
}

char *json_quote(const char *s)
{
	struct json_object *o = json_object_new_string(s);
	char *q;

	if (!o)
		return NULL;
	q = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return q;
}

const char *mapping_label(const struct pmscan_mapping *m)
{
	return m->name[0] ? m->name : "[anon]";
}

int out_status(const struct sink_ctx *c)
{
	if (!ferror(c->out))
		return 0;
	return errno ? -errno : -EIO;
}

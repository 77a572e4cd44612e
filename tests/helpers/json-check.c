/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * json-check [--lines] FILE: parse FILE with json-c, strictly (and checking
 * UTF-8 where json-c can), as one document, or with --lines as one document
 * per line (JSON Lines). Prints the number of documents and the top-level
 * keys of the first; exit 0 when everything parsed, 1 (with where and why)
 * when not, 2 on usage or I/O errors. The tests parse every JSON output of
 * pmscan with it, beside the schema validator.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* json_tokener_get_parse_end() came with json-c 0.15. */
#if JSON_C_VERSION_NUM < ((0 << 16) | (15 << 8))
#define json_tokener_get_parse_end(tok) ((size_t)(tok)->char_offset)
#endif

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n + 65536 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 65536);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* One document from s (len bytes, nothing else but white space around it);
   NULL with a message on failure. */
static json_object *parse_one(const char *s, size_t len, const char *where)
{
	json_tokener *tok = json_tokener_new();
	json_object *obj;
	int flags = JSON_TOKENER_STRICT;
	size_t used;

#ifdef JSON_TOKENER_VALIDATE_UTF8
	flags |= JSON_TOKENER_VALIDATE_UTF8;
#endif
	if (!tok) {
		fprintf(stderr, "json-check: out of memory\n");
		exit(2);
	}
	json_tokener_set_flags(tok, flags);
	while (len && strchr(" \t\r\n", s[len - 1]))
		len--;
	obj = json_tokener_parse_ex(tok, s, (int)len);
	if (!obj) {
		enum json_tokener_error e = json_tokener_get_error(tok);
		if (e == json_tokener_continue)
			fprintf(stderr, "json-check: %s: the document is cut short\n", where);
		else
			fprintf(stderr, "json-check: %s: byte %zu: %s\n", where,
				(size_t)json_tokener_get_parse_end(tok), json_tokener_error_desc(e));
		json_tokener_free(tok);
		return NULL;
	}
	used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (used < len) {
		fprintf(stderr, "json-check: %s: something after the document at byte %zu\n", where, used);
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static void print_keys(json_object *obj)
{
	bool first = true;

	if (!json_object_is_type(obj, json_type_object)) {
		printf(" (%s)\n", json_type_to_name(json_object_get_type(obj)));
		return;
	}
	json_object_object_foreach(obj, key, val) {
		(void)val;
		printf("%s%s", first ? " " : ",", key);
		first = false;
	}
	putchar('\n');
}

int main(int argc, char **argv)
{
	bool lines = argc == 3 && !strcmp(argv[1], "--lines");
	const char *path = argv[argc - 1];
	size_t len, n = 0;
	char *buf, where[64];
	json_object *first = NULL;
	int status = 0;

	if (argc != 2 + lines) {
		fprintf(stderr, "usage: json-check [--lines] FILE\n");
		return 2;
	}
	buf = read_all(path, &len);
	if (!buf) {
		fprintf(stderr, "json-check: %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (strlen(buf) != len) {
		fprintf(stderr, "json-check: %s: a NUL byte in the text\n", path);
		free(buf);
		return 1;
	}
	if (!lines) {
		first = parse_one(buf, len, path);
		n = first != NULL;
		status = !first;
	} else {
		char *p = buf;
		for (size_t line = 1; *p; line++) {
			char *nl = strchr(p, '\n');
			size_t l = nl ? (size_t)(nl - p) : strlen(p);
			json_object *obj;
			snprintf(where, sizeof(where), "line %zu", line);
			obj = parse_one(p, l, where);
			if (!obj) {
				status = 1;
				break;
			}
			n++;
			if (!first)
				first = obj;
			else
				json_object_put(obj);
			p += l + (nl != NULL);
		}
		if (!status && !n) {
			fprintf(stderr, "json-check: %s: no document\n", path);
			status = 1;
		}
	}
	if (!status) {
		printf("%zu", n);
		print_keys(first);
	}
	json_object_put(first);
	free(buf);
	return status;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Parsers for command-line values: pids, counts, sizes, address ranges.
 * Pure functions, so tests/unit can check them without a process.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Decimal digits only: leading zeros are allowed and mean nothing (no octal,
   no hex, no sign, no spaces). Stops at the first non-digit; *end gets it. */
static int decimal(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;

	if (!s || *s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	*end = s;
	return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;

	if (decimal(s, &v, &end) || *end)
		return -1;
	*out = v;
	return 0;
}

int parse_pid(const char *s, pid_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || v == 0 || v > INT_MAX)
		return -1;
	*out = (pid_t)v;
	return 0;
}

/* A decimal number with an optional K, M, G or T (powers of 1024), and an
   optional B or iB after the unit. */
int parse_size(const char *s, uint64_t *out)
{
	const char *end;
	unsigned shift = 0;
	uint64_t v;

	if (decimal(s, &v, &end))
		return -1;
	if (*end) {
		const char *units = "KMGT";
		const char *u = strchr(units, toupper((unsigned char)*end));
		if (!u || !*u)
			return -1;
		shift = 10 * (unsigned)(u - units + 1);
		end++;
		if (*end == 'i' && end[1] == 'B')
			end += 2;
		else if (*end == 'B')
			end++;
		if (*end)
			return -1;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

/* Seconds: decimal digits with an optional fraction ("2", "0.5", "010.25"),
   nothing else (no sign, exponent, hex, inf or nan). */
int parse_seconds(const char *s, double *out)
{
	const char *end;
	uint64_t whole;
	double v, scale = 0.1;

	if (decimal(s, &whole, &end) || whole > 1000000000)
		return -1;
	v = (double)whole;
	if (*end == '.') {
		end++;
		if (*end < '0' || *end > '9')
			return -1;
		for (; *end >= '0' && *end <= '9'; end++, scale /= 10)
			v += (*end - '0') * scale;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int parse_hex_addr(const char *s, size_t len, uint64_t *out)
{
	char buf[32], *end;

	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 16);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int parse_range(const char *s, uint64_t page_size, struct pmscan_range *r, bool *rounded)
{
	const char *sep = strpbrk(s, "-+");
	uint64_t start, end, len;

	if (!sep || parse_hex_addr(s, (size_t)(sep - s), &start))
		return -1;
	if (*sep == '-') {
		if (parse_hex_addr(sep + 1, strlen(sep + 1), &end))
			return -1;
	} else {
		if (parse_size(sep + 1, &len) || len > UINT64_MAX - start)
			return -1;
		end = start + len;
	}
	if (end <= start)
		return -1;
	r->start = start & ~(page_size - 1);
	if (end > UINT64_MAX - (page_size - 1))
		return -1;
	r->end = (end + page_size - 1) & ~(page_size - 1);
	*rounded = r->start != start || r->end != end;
	return 0;
}

void format_size_as(uint64_t bytes, bool exact, char *buf, size_t len)
{
	if (exact)
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
	else
		format_size(bytes, buf, len);
}

void format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	unsigned u = 0;
	uint64_t whole = bytes, frac = 0;

	while (whole >= 1024 && u < sizeof(units) - 2) {
		frac = whole % 1024;
		whole /= 1024;
		u++;
	}
	/* One decimal below 10 units, as lsblk does; rounded to nearest. */
	if (u && whole < 10) {
		uint64_t tenth = (frac * 10 + 512) / 1024;
		if (tenth == 10) {
			whole++;
			tenth = 0;
		}
		if (tenth) {
			snprintf(buf, len, "%llu.%llu%c", (unsigned long long)whole,
				 (unsigned long long)tenth, units[u]);
			return;
		}
	} else if (u && frac >= 512) {
		whole++;
	}
	/* 1023.5M rounds to 1024M: that is 1G. */
	if (whole == 1024 && u < sizeof(units) - 2) {
		whole = 1;
		u++;
	}
	snprintf(buf, len, "%llu%c", (unsigned long long)whole, units[u]);
}

/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the libFuzzer targets: reading typed values from the
 * fuzz input, and independent checkers for what bccflow writes (UTF-8,
 * JSON, CSV). The checkers are written from the specs (RFC 3629 table 3-7,
 * RFC 8259, RFC 4180), not from src/, so they can disagree with it.
 *
 * A failed check calls fuzz_fail(), which prints the reason and aborts:
 * libFuzzer saves the input as a crash.
 */
#ifndef BCCFLOW_FUZZ_COMMON_H
#define BCCFLOW_FUZZ_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 1, 2), noreturn, unused))
static void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n*** bccflow fuzz check failed: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

#define CHECK(cond, ...)                                   \
	do {                                               \
		if (!(cond))                               \
			fuzz_fail(__VA_ARGS__);            \
	} while (0)

/*
 * Checks switched off by name in BCCFLOW_FUZZ_SKIP (comma-separated), to keep
 * fuzzing past a known, reported bug. ctest never sets it.
 */
static inline bool fuzz_skip(const char *name)
{
	const char *s = getenv("BCCFLOW_FUZZ_SKIP");
	size_t n = strlen(name);

	for (const char *p = s; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !memcmp(p, name, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* ---- typed reads from the input (zeros once it runs out) ---------------- */

struct fdp {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fdp_u8(struct fdp *d)
{
	uint8_t v = 0;

	if (d->n) {
		v = *d->p++;
		d->n--;
	}
	return v;
}

static inline uint64_t fdp_uint(struct fdp *d, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | fdp_u8(d);
	return v;
}

static inline uint16_t fdp_u16(struct fdp *d) { return (uint16_t)fdp_uint(d, 2); }
static inline uint32_t fdp_u32(struct fdp *d) { return (uint32_t)fdp_uint(d, 4); }
static inline uint64_t fdp_u64(struct fdp *d) { return fdp_uint(d, 8); }
static inline bool fdp_bool(struct fdp *d) { return fdp_u8(d) & 1; }

/* A byte count that is usually small but sometimes near the u64 limits. */
static inline uint64_t fdp_count(struct fdp *d)
{
	switch (fdp_u8(d) & 7) {
	case 0:
		return 0;
	case 1:
		return fdp_u8(d);
	case 2:
		return fdp_u16(d);
	case 3:
		return fdp_u32(d);
	case 4:
		return UINT64_MAX - fdp_u8(d);
	default:
		return fdp_u64(d);
	}
}

/* Copies up to n bytes (zero-filled past the end of the input). */
static inline void fdp_bytes(struct fdp *d, void *out, size_t n)
{
	size_t k = n < d->n ? n : d->n;

	memcpy(out, d->p, k);
	memset((char *)out + k, 0, n - k);
	d->p += k;
	d->n -= k;
}

/* ---- UTF-8 (RFC 3629 / Unicode table 3-7) ------------------------------- */

/* Length of the well-formed sequence at s (n bytes left), or 0. */
static inline size_t ref_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (c <= 0x7f)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c == 0xe0)
		len = 3, lo = 0xa0;
	else if (c == 0xed)
		len = 3, hi = 0x9f;
	else if (c >= 0xe1 && c <= 0xef)
		len = 3;
	else if (c == 0xf0)
		len = 4, lo = 0x90;
	else if (c == 0xf4)
		len = 4, hi = 0x8f;
	else if (c >= 0xf1 && c <= 0xf3)
		len = 4;
	else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static inline bool ref_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < n;) {
		size_t len = ref_utf8_len(s + i, n - i);

		if (!len)
			return false;
		i += len;
	}
	return true;
}

/* ---- a growable byte string --------------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static inline void sb_add(struct sbuf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			abort();
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static inline void sb_free(struct sbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/*
 * What a text field should hold for raw bytes s[0..n) cut at the first NUL:
 * every well-formed UTF-8 sequence kept, every other byte U+FFFD.
 */
static inline void ref_utf8_fix(const char *str, size_t n, struct sbuf *out)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < n && s[i];) {
		size_t len = ref_utf8_len(s + i, n - i);

		/* a sequence cut by the NUL that ends the field is not well formed */
		for (size_t k = 1; k < len; k++)
			if (!s[i + k])
				len = 0;
		if (!len) {
			sb_add(out, "\xef\xbf\xbd", 3);
			i++;
		} else {
			sb_add(out, s + i, len);
			i += len;
		}
	}
}

/* ---- JSON (RFC 8259) ---------------------------------------------------- */

struct jp {
	const char *p, *end;
	int depth;
};

static inline void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static inline int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline void put_utf8(struct sbuf *b, unsigned cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	sb_add(b, u, n);
}

/* A string at j->p (at its opening quote); decoded into out when not NULL. */
static inline bool jp_string(struct jp *j, struct sbuf *out)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p;

		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;	/* raw control characters are not allowed */
		if (c == '\\') {
			char e;

			if (j->end - j->p < 2)
				return false;
			e = j->p[1];
			j->p += 2;
			if (e == 'u') {
				unsigned cp = 0;

				if (j->end - j->p < 4)
					return false;
				for (int i = 0; i < 4; i++) {
					int h = hexval(j->p[i]);

					if (h < 0)
						return false;
					cp = cp << 4 | (unsigned)h;
				}
				j->p += 4;
				if (cp >= 0xd800 && cp <= 0xdfff) {
					/* only a high surrogate followed by a low one */
					unsigned lo = 0;

					if (cp > 0xdbff || j->end - j->p < 6 || j->p[0] != '\\' ||
					    j->p[1] != 'u')
						return false;
					for (int i = 2; i < 6; i++) {
						int h = hexval(j->p[i]);

						if (h < 0)
							return false;
						lo = lo << 4 | (unsigned)h;
					}
					if (lo < 0xdc00 || lo > 0xdfff)
						return false;
					j->p += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				if (out)
					put_utf8(out, cp);
				continue;
			}
			{
				static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
				const char *k = e ? strchr(from, e) : NULL;

				if (!k)
					return false;
				if (out)
					sb_add(out, &to[k - from], 1);
			}
			continue;
		}
		{
			size_t len = ref_utf8_len((const unsigned char *)j->p, (size_t)(j->end - j->p));

			if (!len)
				return false;	/* JSON text is UTF-8 */
			if (out)
				sb_add(out, j->p, len);
			j->p += len;
		}
	}
	return false;
}

static inline bool jp_number(struct jp *j)
{
	const char *s = j->p;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end)
		return false;
	if (*j->p == '0') {
		j->p++;
	} else if (*j->p >= '1' && *j->p <= '9') {
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	} else {
		return false;
	}
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return false;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return false;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	return j->p > s;
}

static inline bool jp_lit(struct jp *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
		return false;
	j->p += n;
	return true;
}

static inline bool jp_value(struct jp *j)
{
	bool ok;

	jp_ws(j);
	if (j->p >= j->end || ++j->depth > 64)
		return false;
	switch (*j->p) {
	case '{':
		j->p++;
		jp_ws(j);
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			ok = true;
			break;
		}
		for (;;) {
			jp_ws(j);
			if (!jp_string(j, NULL))
				return false;
			jp_ws(j);
			if (j->p >= j->end || *j->p++ != ':' || !jp_value(j))
				return false;
			jp_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == '}') {
				j->p++;
				break;
			}
			return false;
		}
		ok = true;
		break;
	case '[':
		j->p++;
		jp_ws(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			ok = true;
			break;
		}
		for (;;) {
			if (!jp_value(j))
				return false;
			jp_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == ']') {
				j->p++;
				break;
			}
			return false;
		}
		ok = true;
		break;
	case '"':
		ok = jp_string(j, NULL);
		break;
	case 't':
		ok = jp_lit(j, "true");
		break;
	case 'f':
		ok = jp_lit(j, "false");
		break;
	case 'n':
		ok = jp_lit(j, "null");
		break;
	default:
		ok = jp_number(j);
	}
	j->depth--;
	return ok;
}

/* Is line[0..n) exactly one JSON object (no trailing bytes)? */
static inline bool json_object_line(const char *line, size_t n)
{
	struct jp j = { line, line + n, 0 };

	jp_ws(&j);
	if (j.p >= j.end || *j.p != '{' || !jp_value(&j))
		return false;
	jp_ws(&j);
	return j.p == j.end;
}

/*
 * The raw text of top-level member name of the object in line (the value's
 * bytes as written, string quotes included), or false.
 */
static inline bool json_member(const char *line, size_t n, const char *name, const char **val,
			       size_t *vlen)
{
	struct jp j = { line, line + n, 0 };

	jp_ws(&j);
	if (j.p >= j.end || *j.p++ != '{')
		return false;
	for (;;) {
		struct sbuf key = { 0 };
		const char *v;
		bool match;

		jp_ws(&j);
		if (!jp_string(&j, &key)) {
			sb_free(&key);
			return false;
		}
		match = key.s && !strcmp(key.s, name) && strlen(name) == key.len;
		if (!key.s && !*name)
			match = true;
		sb_free(&key);
		jp_ws(&j);
		if (j.p >= j.end || *j.p++ != ':')
			return false;
		jp_ws(&j);
		v = j.p;
		if (!jp_value(&j))
			return false;
		if (match) {
			*val = v;
			*vlen = (size_t)(j.p - v);
			return true;
		}
		jp_ws(&j);
		if (j.p < j.end && *j.p == ',') {
			j.p++;
			continue;
		}
		return false;
	}
}

/* A member that is a JSON string, decoded into out. */
static inline bool json_member_str(const char *line, size_t n, const char *name,
				   struct sbuf *out)
{
	const char *v;
	size_t vlen;
	struct jp j;

	if (!json_member(line, n, name, &v, &vlen))
		return false;
	j = (struct jp){ v, v + vlen, 0 };
	return jp_string(&j, out) && j.p == j.end;
}

/* A member that is a whole unsigned number. */
static inline bool json_member_u64(const char *line, size_t n, const char *name, uint64_t *out)
{
	const char *v;
	size_t vlen;
	uint64_t x = 0;

	if (!json_member(line, n, name, &v, &vlen) || !vlen)
		return false;
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		if (x > (UINT64_MAX - (uint64_t)(v[i] - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return true;
}

/* ---- CSV (RFC 4180) ----------------------------------------------------- */

/*
 * Splits one record (no line break inside) into fields; returns how many,
 * or -1 if malformed. fields[i] is decoded when fields is not NULL.
 */
static inline int csv_split(const char *line, size_t n, struct sbuf *fields, int max)
{
	size_t i = 0;
	int nf = 0;

	for (;;) {
		struct sbuf tmp = { 0 };
		struct sbuf *f = fields && nf < max ? &fields[nf] : &tmp;

		sb_add(f, "", 0);
		if (i < n && line[i] == '"') {
			i++;
			for (;;) {
				if (i >= n) {
					sb_free(&tmp);
					return -1;
				}
				if (line[i] == '"') {
					if (i + 1 < n && line[i + 1] == '"') {
						sb_add(f, "\"", 1);
						i += 2;
						continue;
					}
					i++;
					break;
				}
				sb_add(f, &line[i++], 1);
			}
			if (i < n && line[i] != ',') {
				sb_free(&tmp);
				return -1;
			}
		} else {
			while (i < n && line[i] != ',') {
				if (line[i] == '"') {
					sb_free(&tmp);
					return -1;	/* a quote in an unquoted field */
				}
				sb_add(f, &line[i++], 1);
			}
		}
		sb_free(&tmp);
		nf++;
		if (i >= n)
			return nf;
		i++;	/* the comma */
	}
}

/* Calls fn on each '\n'-terminated line of text; false if the last lacks it. */
static inline bool for_lines(const char *text, size_t len,
			     void (*fn)(const char *line, size_t n, void *arg), void *arg)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n') {
			fn(text + start, i - start, arg);
			start = i + 1;
		}
	}
	return start == len;
}

#endif

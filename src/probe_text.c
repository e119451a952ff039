/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "probe_text.h"

#define PROBE_FILE_MAX (1u << 20)
#define PLACEHOLDER "FILTER_PID"

/* A growable string; every append checks for allocation failure once. */
struct buf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->s, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n >= 0)
		buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static bool is_ident(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Finds the line '#include "flow.h"' (spaces allowed); returns its start. */
static const char *find_include(const char *src, const char **line_end)
{
	for (const char *p = src; *p;) {
		const char *eol = strchr(p, '\n');
		const char *q = p;

		if (!eol)
			eol = p + strlen(p);
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (*q == '#') {
			q++;
			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			if (!strncmp(q, "include", 7)) {
				q += 7;
				while (q < eol && (*q == ' ' || *q == '\t'))
					q++;
				if (!strncmp(q, "\"flow.h\"", 8)) {
					*line_end = *eol ? eol + 1 : eol;
					return p;
				}
			}
		}
		p = *eol ? eol + 1 : eol;
	}
	return NULL;
}

static void add_pid_filter(struct buf *b, const struct probe_config *cfg)
{
	if (cfg->npids == 0)
		return;
	buf_add(b, "if (", 4);
	for (int i = 0; i < cfg->npids; i++)
		buf_printf(b, "%spid != %d", i ? " && " : "", cfg->pids[i]);
	buf_add(b, ") { return 0; }", 15);
}

/* Copies src[from, to) replacing the FILTER_PID token; counts replacements. */
static int add_with_filter(struct buf *b, const char *from, const char *to,
			   const struct probe_config *cfg)
{
	size_t plen = strlen(PLACEHOLDER);
	int n = 0;

	for (const char *p = from; p < to;) {
		const char *hit = memmem(p, (size_t)(to - p), PLACEHOLDER, plen);

		if (!hit) {
			buf_add(b, p, (size_t)(to - p));
			break;
		}
		buf_add(b, p, (size_t)(hit - p));
		if ((hit > from && is_ident(hit[-1])) || (hit + plen < to && is_ident(hit[plen]))) {
			buf_add(b, hit, plen);	/* part of a longer identifier */
		} else {
			add_pid_filter(b, cfg);
			n++;
		}
		p = hit + plen;
	}
	return n;
}

static const char *backend_define(enum backend b)
{
	switch (b) {
	case BACKEND_FENTRY:
		return "BCCFLOW_BACKEND_FENTRY";
	case BACKEND_KPROBE:
		return "BCCFLOW_BACKEND_KPROBE";
	case BACKEND_TRACEPOINT:
		return "BCCFLOW_BACKEND_TRACEPOINT";
	default:
		return NULL;
	}
}

static void add_defines(struct buf *b, const struct probe_config *cfg)
{
	buf_printf(b, "/* prepared by bccflow " BCCFLOW_VERSION " for --attach %s */\n",
		   backend_name(cfg->backend));
	buf_printf(b, "#define %s 1\n", backend_define(cfg->backend));
	buf_printf(b, "#define MAX_FLOWS %u\n", cfg->max_flows);
	if (cfg->have_tcp_sendpage)
		buf_printf(b, "#define HAVE_TCP_SENDPAGE 1\n");
	if (cfg->nfields > 0) {
		buf_printf(b, "#define BCCFLOW_BTF_OFFSETS 1\n");
		for (int i = 0; i < cfg->nfields; i++)
			buf_printf(b, "#define OFF_%s %ld\n", cfg->field_names[i],
				   cfg->field_offsets[i]);
	}
	if (cfg->recvmsg_has_nonblock)
		buf_printf(b, "#define TCP_RECVMSG_HAS_NONBLOCK 1\n"
			      "#define TCP_RECVMSG_FLAGS(ctx) PT_REGS_PARM5(ctx)\n");
	else
		buf_printf(b, "#define TCP_RECVMSG_FLAGS(ctx) PT_REGS_PARM4(ctx)\n");
}

char *probe_text_prepare(const char *src, const char *header, const struct probe_config *cfg,
			 char *err, size_t errlen)
{
	struct buf b = { 0 };
	const char *inc, *inc_end, *end = src + strlen(src);
	int n;

	if (!backend_define(cfg->backend)) {
		snprintf(err, errlen, "internal error: no backend chosen for the probe text");
		return NULL;
	}
	inc = find_include(src, &inc_end);
	if (!inc) {
		snprintf(err, errlen,
			 "probe text has no '#include \"flow.h\"' line: keep it, bccflow splices "
			 "its shared structs there");
		return NULL;
	}
	add_defines(&b, cfg);
	n = add_with_filter(&b, src, inc, cfg);
	buf_add(&b, header, strlen(header));
	buf_add(&b, "\n", 1);
	n += add_with_filter(&b, inc_end, end, cfg);
	if (b.oom) {
		free(b.s);
		snprintf(err, errlen, "out of memory preparing the probe text");
		return NULL;
	}
	if (n == 0 && cfg->npids > 0) {
		free(b.s);
		snprintf(err, errlen,
			 "probe text has no FILTER_PID placeholder, so -p cannot be applied: "
			 "add one, or drop -p");
		return NULL;
	}
	return b.s;
}

char *probe_text_read_file(const char *path, char *err, size_t errlen)
{
	struct stat st;
	FILE *f = fopen(path, "r");
	char *text;
	size_t n;

	if (!f) {
		snprintf(err, errlen, "cannot open probe file '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > PROBE_FILE_MAX) {
		snprintf(err, errlen, "probe file '%s' is not a regular file of at most 1 MiB",
			 path);
		fclose(f);
		return NULL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		fclose(f);
		snprintf(err, errlen, "out of memory reading '%s'", path);
		return NULL;
	}
	n = fread(text, 1, (size_t)st.st_size, f);
	fclose(f);
	text[n] = '\0';
	if (memchr(text, '\0', n)) {
		free(text);
		snprintf(err, errlen, "probe file '%s' contains NUL bytes: expected C text", path);
		return NULL;
	}
	return text;
}

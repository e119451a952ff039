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
#define PID_PLACEHOLDER "FILTER_PID"
#define KEY_PLACEHOLDER "FILTER_KEY"

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

static void add_comm_filter(struct buf *b, const char *comm);

/*
 * FILTER_PID: what the current task must be (pid, comm, cgroup). It runs on
 * every event, before the socket table is looked up, so a socket's entry
 * never lets through a thread these would stop.
 */
static void add_pid_filter(struct buf *b, const struct probe_config *cfg)
{
	const struct options *f = cfg->filter;

	if (cfg->npids > 0) {
		buf_add(b, "if (", 4);
		for (int i = 0; i < cfg->npids; i++)
			buf_printf(b, "%spid != %d", i ? " && " : "", cfg->pids[i]);
		buf_add(b, ") { return 0; }", 15);
	}
	if (f && f->comm)
		add_comm_filter(b, f->comm);
	if (f && f->cgroup)
		buf_printf(b, "if (cgroup_filter.check_current_task(0) != 1) { return 0; }\n\t");
}

/* Byte tests for key.<field>[off..] against a network under a prefix. */
static void add_prefix_match(struct buf *b, const char *field, int off,
			     const unsigned char *net, int prefix)
{
	int nbytes = 0;

	for (int i = 0; prefix > 0; i++, prefix -= 8) {
		unsigned mask = prefix >= 8 ? 0xff : (0xff00u >> prefix) & 0xff;

		buf_printf(b, "%s(key.%s[%d] & 0x%02x) == 0x%02x", nbytes++ ? " && " : "", field,
			   off + i, mask, net[i] & mask);
	}
	if (!nbytes)
		buf_printf(b, "1");
}

/* An IPv4 network matches IPv4 and IPv4-mapped IPv6 addresses. */
static void add_cidr_match(struct buf *b, const char *field, const struct cidr *c)
{
	if (c->family == 4) {
		buf_printf(b, "((key.family == FLOW_AF_INET && ");
		add_prefix_match(b, field, 0, c->addr, c->prefix);
		buf_printf(b, ") || (key.family == FLOW_AF_INET6 && FLOW_MAPPED(key.%s) && ", field);
		add_prefix_match(b, field, 12, c->addr, c->prefix);
		buf_printf(b, "))");
	} else {
		buf_printf(b, "(key.family == FLOW_AF_INET6 && ");
		add_prefix_match(b, field, 0, c->addr, c->prefix);
		buf_printf(b, ")");
	}
}

static void add_cidr_filter(struct buf *b, const char *field, const struct cidr *list, int n)
{
	if (n == 0)
		return;
	buf_printf(b, "if (!(");
	for (int i = 0; i < n; i++) {
		buf_printf(b, i ? " || " : "");
		add_cidr_match(b, field, &list[i]);
	}
	buf_printf(b, ")) { return 0; }\n\t");
}

/* The comm is compared byte by byte, NUL included: no user text in C. */
static void add_comm_filter(struct buf *b, const char *comm)
{
	size_t n = strlen(comm);

	buf_printf(b, "{ char c_[16] = {}; bpf_get_current_comm(c_, sizeof(c_)); if (");
	for (size_t i = 0; i <= n; i++)
		buf_printf(b, "%sc_[%zu] != (char)0x%02x", i ? " || " : "", i,
			   (unsigned char)comm[i]);
	buf_printf(b, ") { return 0; } }\n\t");
}

static void add_key_filter(struct buf *b, const struct probe_config *cfg)
{
	const struct options *f = cfg->filter;

	if (!f)
		return;
	if (f->family == 4)
		buf_printf(b, "if (!(key.family == FLOW_AF_INET || (key.family == FLOW_AF_INET6 && "
			   "FLOW_MAPPED(key.laddr)))) { return 0; }\n\t");
	else if (f->family == 6)
		buf_printf(b, "if (key.family != FLOW_AF_INET6 || FLOW_MAPPED(key.laddr)) "
			   "{ return 0; }\n\t");
	if (f->nports) {
		buf_printf(b, "if (");
		for (int i = 0; i < f->nports; i++)
			buf_printf(b, "%skey.lport != %u && key.rport != %u", i ? " && " : "",
				   f->ports[i], f->ports[i]);
		buf_printf(b, ") { return 0; }\n\t");
	}
	add_cidr_filter(b, "laddr", f->laddr, f->nladdr);
	add_cidr_filter(b, "raddr", f->raddr, f->nraddr);
}

static bool key_filter_wanted(const struct probe_config *cfg)
{
	const struct options *f = cfg->filter;

	return f && (f->family || f->nports || f->nladdr || f->nraddr);
}

static bool task_filter_wanted(const struct probe_config *cfg)
{
	const struct options *f = cfg->filter;

	return cfg->npids > 0 || (f && (f->comm || f->cgroup));
}

/*
 * Copies src[from, to) replacing the placeholder tokens; counts each.
 * A token inside a longer identifier is left alone.
 */
static void add_with_filters(struct buf *b, const char *from, const char *to,
			     const struct probe_config *cfg, int found[2])
{
	static const char *const names[2] = { PID_PLACEHOLDER, KEY_PLACEHOLDER };

	for (const char *p = from; p < to;) {
		const char *hit = NULL;
		int which = 0;

		for (int i = 0; i < 2; i++) {
			const char *h = memmem(p, (size_t)(to - p), names[i], strlen(names[i]));

			if (h && (!hit || h < hit)) {
				hit = h;
				which = i;
			}
		}
		if (!hit) {
			buf_add(b, p, (size_t)(to - p));
			break;
		}
		size_t plen = strlen(names[which]);

		buf_add(b, p, (size_t)(hit - p));
		if ((hit > from && is_ident(hit[-1])) || (hit + plen < to && is_ident(hit[plen]))) {
			buf_add(b, hit, plen);
		} else {
			if (which == 0)
				add_pid_filter(b, cfg);
			else
				add_key_filter(b, cfg);
			found[which]++;
		}
		p = hit + plen;
	}
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
	case BACKEND_RAW_TRACEPOINT:
		return "BCCFLOW_BACKEND_RAW_TRACEPOINT";
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
	if (cfg->filter && cfg->filter->cgroup)
		buf_printf(b, "#define BCCFLOW_CGROUP_FILTER 1\n");
	if (cfg->have_tcp_sendpage)
		buf_printf(b, "#define HAVE_TCP_SENDPAGE 1\n");
	if (cfg->nfields > 0) {
		buf_printf(b, "#define BCCFLOW_BTF_OFFSETS 1\n");
		for (int i = 0; i < cfg->nfields; i++)
			buf_printf(b, "#define OFF_%s %ld\n", cfg->field_names[i],
				   cfg->field_offsets[i]);
		if (cfg->sk_head_packed)
			buf_printf(b, "#define SK_HEAD_PACKED 1\n");
	}
	if (cfg->backend == BACKEND_RAW_TRACEPOINT && cfg->sk_protocol_off >= 0)
		buf_printf(b, "#define OFF_sk_protocol %ld\n", cfg->sk_protocol_off);
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
	int found[2] = { 0, 0 };

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
	add_with_filters(&b, src, inc, cfg, found);
	buf_add(&b, header, strlen(header));
	buf_add(&b, "\n", 1);
	add_with_filters(&b, inc_end, end, cfg, found);
	if (b.oom) {
		free(b.s);
		snprintf(err, errlen, "out of memory preparing the probe text");
		return NULL;
	}
	if (found[0] == 0 && task_filter_wanted(cfg)) {
		free(b.s);
		snprintf(err, errlen,
			 "probe text has no FILTER_PID placeholder, so -p, --comm and --cgroup "
			 "cannot be applied: add one, or drop them");
		return NULL;
	}
	if (found[1] == 0 && key_filter_wanted(cfg)) {
		free(b.s);
		snprintf(err, errlen,
			 "probe text has no FILTER_KEY placeholder, so the address, port and "
			 "family filters cannot be applied: add one, or drop them");
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

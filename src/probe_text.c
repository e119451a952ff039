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

/*
 * One lookup in the direction's LPM trie (filled by the host, see
 * addr_filter.c): a fixed, small program whatever the number of networks.
 * Compare chains made the verifier's work grow with their paths; with
 * LLVM 19 eight IPv6 networks exceeded its limit.
 */
static void add_cidr_filter(struct buf *b, const char *field, int n)
{
	if (n == 0)
		return;
	buf_printf(b, "{ struct addr_lpm_key k_ = { .prefixlen = ADDR_LPM_TAG_BITS + 128, "
		   ".family = key.family }; __builtin_memcpy(k_.addr, key.%s, 16); "
		   "if (!%s_filter.lookup(&k_)) { return 0; } }\n\t", field, field);
}

/* The sets the key filters look up; after flow.h, for struct addr_lpm_key. */
static void add_filter_maps(struct buf *b, const struct probe_config *cfg)
{
	const struct options *f = cfg->filter;

	if (f && f->nports)
		buf_printf(b, "BPF_HASH(port_filter, u16, u8, %d);\n", MAX_PORT_FILTERS);
	if (f && f->nladdr)
		buf_printf(b, "BPF_LPM_TRIE(laddr_filter, struct addr_lpm_key, u8, "
			      "ADDR_LPM_MAX_ENTRIES);\n");
	if (f && f->nraddr)
		buf_printf(b, "BPF_LPM_TRIE(raddr_filter, struct addr_lpm_key, u8, "
			      "ADDR_LPM_MAX_ENTRIES);\n");
}

/*
 * The comm, NUL-padded to 16 bytes as bpf_get_current_comm() leaves it, is
 * compared as two words (the BPF target has the host's byte order): byte
 * compares made the verifier's work exceed its limit. No user text in C.
 */
static void add_comm_filter(struct buf *b, const char *comm)
{
	unsigned long long w[2] = { 0, 0 };

	memcpy(w, comm, strnlen(comm, sizeof(w) - 1));
	buf_printf(b, "{ u64 c_[2] = {}; bpf_get_current_comm(c_, sizeof(c_)); "
		      "if (c_[0] != 0x%016llxULL || c_[1] != 0x%016llxULL) { return 0; } }\n\t",
		   w[0], w[1]);
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
	if (f->nports)	/* a set: 16 compares made the verifier walk 300k paths */
		buf_printf(b, "if (!port_filter.lookup(&key.lport) && "
			      "!port_filter.lookup(&key.rport)) { return 0; }\n\t");
	add_cidr_filter(b, "laddr", f->nladdr);
	add_cidr_filter(b, "raddr", f->nraddr);
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
	add_filter_maps(&b, cfg);
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

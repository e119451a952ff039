/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#include "../probes/flow.h"
#include "probe_text.h"
#include "smallfile.h"

#define PROBE_FILE_MAX (1u << 20)
#define PID_PLACEHOLDER "FILTER_PID"
#define KEY_PLACEHOLDER "FILTER_KEY"

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

/*
 * The task filter: what the current task must be (pid, comm, cgroup). It is
 * called on every event, before the socket table is looked up, so a socket's
 * entry never lets through a thread these would stop.
 */
static void add_task_filter(FILE *out, const struct probe_config *cfg)
{
	const struct options *f = cfg->filter;

	fprintf(out, "\nstatic __always_inline int bccflow_task_excluded(u32 pid)\n{\n");
	if (cfg->npids > 0) {
		fprintf(out, "\tif (");
		for (int i = 0; i < cfg->npids; i++)
			fprintf(out, "%spid != %d", i ? " && " : "", cfg->pids[i]);
		fprintf(out, ")\n\t\treturn 1;\n");
	}
	if (f && f->comm) {
		/*
		 * The comm, NUL-padded to 16 bytes as bpf_get_current_comm() leaves
		 * it, is compared as two words (the BPF target has the host's byte
		 * order): byte compares made the verifier's work exceed its limit.
		 * No user text in C.
		 */
		unsigned long long w[2] = { 0, 0 };

		memcpy(w, f->comm, strnlen(f->comm, sizeof(w) - 1));
		fprintf(out, "\t{\n\t\tu64 c_[2] = {};\n\n\t\tbpf_get_current_comm(c_, sizeof(c_));\n"
			     "\t\tif (c_[0] != 0x%016llxULL || c_[1] != 0x%016llxULL)\n"
			     "\t\t\treturn 1;\n\t}\n", w[0], w[1]);
	}
	if (f && f->cgroup)
		fprintf(out, "\tif (cgroup_filter.check_current_task(0) != 1)\n\t\treturn 1;\n");
	fprintf(out, "\treturn 0;\n}\n");
}

/*
 * One lookup in the direction's LPM trie (filled by the host, see
 * filter_maps.c): a fixed, small program whatever the number of networks.
 * Compare chains made the verifier's work grow with their paths: the
 * largest filter set went past its limit with LLVM 14 and 19 alike.
 */
static void add_cidr_filter(FILE *out, const char *field, int n)
{
	if (n == 0)
		return;
	fprintf(out, "\t{\n\t\tstruct addr_lpm_key k_ = { .prefixlen = ADDR_LPM_TAG_BITS + 128, "
		     ".family = key->family };\n\n\t\t__builtin_memcpy(k_.addr, key->%s, 16);\n"
		     "\t\tif (!%s_filter.lookup(&k_))\n\t\t\treturn 1;\n\t}\n", field, field);
}

/* The maps the filters look up; after flow.h, for struct addr_lpm_key. */
static void add_filter_maps(FILE *out, const struct probe_config *cfg)
{
	const struct options *f = cfg->filter;

	if (f && f->cgroup)	/* the host puts the --cgroup directory in slot 0 */
		fprintf(out, "BPF_CGROUP_ARRAY(cgroup_filter, 1);\n");
	if (f && f->nports)
		fprintf(out, "BPF_HASH(port_filter, u16, u8, %d);\n", MAX_PORT_FILTERS);
	if (f && f->nladdr)
		fprintf(out, "BPF_LPM_TRIE(laddr_filter, struct addr_lpm_key, u8, "
			     "ADDR_LPM_MAX_ENTRIES);\n");
	if (f && f->nraddr)
		fprintf(out, "BPF_LPM_TRIE(raddr_filter, struct addr_lpm_key, u8, "
			     "ADDR_LPM_MAX_ENTRIES);\n");
}

/* The key filter: what a flow must be (family, ports, addresses, namespace). */
static void add_key_filter(FILE *out, const struct probe_config *cfg)
{
	const struct options *f = cfg->filter;

	fprintf(out, "\nstatic __always_inline int bccflow_key_excluded(const struct flow_key *key)\n"
		     "{\n");
	if (f->family == 4)
		fprintf(out, "\tif (!(key->family == FLOW_AF_INET || (key->family == FLOW_AF_INET6 && "
			     "FLOW_MAPPED(key->laddr))))\n\t\treturn 1;\n");
	else if (f->family == 6)
		fprintf(out, "\tif (key->family != FLOW_AF_INET6 || FLOW_MAPPED(key->laddr))\n"
			     "\t\treturn 1;\n");
	if (f->nports)	/* a set: 16 compares cost the verifier 300k instructions */
		fprintf(out, "\tif (!port_filter.lookup((u16 *)&key->lport) && "
			     "!port_filter.lookup((u16 *)&key->rport))\n\t\treturn 1;\n");
	add_cidr_filter(out, "laddr", f->nladdr);
	add_cidr_filter(out, "raddr", f->nraddr);
	if (f->netns)
		fprintf(out, "\tif (key->netns != %uu)\n\t\treturn 1;\n", f->netns);
	fprintf(out, "\treturn 0;\n}\n");
}

static bool key_filter_wanted(const struct probe_config *cfg)
{
	const struct options *f = cfg->filter;

	return f && (f->family || f->nports || f->nladdr || f->nraddr || f->netns);
}

static bool task_filter_wanted(const struct probe_config *cfg)
{
	const struct options *f = cfg->filter;

	return cfg->npids > 0 || (f && (f->comm || f->cgroup));
}

/* Whether p, somewhere in [from, ...), is on a preprocessor line. */
static bool on_directive(const char *from, const char *p)
{
	const char *q = p;

	while (q > from && q[-1] != '\n')
		q--;
	while (*q == ' ' || *q == '\t')
		q++;
	return *q == '#';
}

/*
 * Copies src[from, to) replacing each placeholder token with a call of its
 * filter function, or nothing when no such filter is asked for; counts
 * them. A token inside a longer identifier or on a preprocessor line (where
 * the probe defines them empty for editors) is left alone.
 */
static void add_with_filters(FILE *out, const char *from, const char *to,
			     const struct probe_config *cfg, int found[2])
{
	static const char *const names[2] = { PID_PLACEHOLDER, KEY_PLACEHOLDER };
	const char *calls[2] = {
		task_filter_wanted(cfg) ? "if (bccflow_task_excluded(pid)) { return 0; }" : "",
		key_filter_wanted(cfg) ? "if (bccflow_key_excluded(&key)) { return 0; }" : "",
	};

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
			fwrite(p, 1, (size_t)(to - p), out);
			break;
		}
		size_t plen = strlen(names[which]);

		fwrite(p, 1, (size_t)(hit - p), out);
		if ((hit > from && is_ident(hit[-1])) || (hit + plen < to && is_ident(hit[plen])) ||
		    on_directive(from, hit)) {
			fwrite(hit, 1, plen, out);
		} else {
			fputs(calls[which], out);
			found[which]++;
		}
		p = hit + plen;
	}
}

/* What follows the spliced header: the filters' maps and functions. */
static void add_filters(FILE *out, const struct probe_config *cfg)
{
	add_filter_maps(out, cfg);
	if (task_filter_wanted(cfg))
		add_task_filter(out, cfg);
	if (key_filter_wanted(cfg))
		add_key_filter(out, cfg);
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
	case BACKEND_TP_BTF:
		return "BCCFLOW_BACKEND_TP_BTF";
	default:
		return NULL;
	}
}

unsigned sock_table_bits(unsigned max_flows)
{
	unsigned bits = SOCK_TABLE_MIN_BITS;

	while (bits < SOCK_TABLE_MAX_BITS && (1u << bits) < max_flows)
		bits++;
	return bits;
}

/* OFF_<struct>_<member> for FLOW_TASK_FIELDS, offsets in the list's order. */
static void add_task_offsets(FILE *out, const long *off)
{
	int i = 0;

#define TASK_FIELD_DEFINE(s, m) fprintf(out, "#define OFF_" #s "_" #m " %ld\n", off[i++]);
	FLOW_TASK_FIELDS(TASK_FIELD_DEFINE)
#undef TASK_FIELD_DEFINE
}

/* OFF_<struct>_<member>, PCPU_<variable> and CURRENT_CAST_ID, in flow.h's order. */
static void add_current_facts(FILE *out, const long *fact)
{
	int i = 0;

#define CURRENT_FIELD_DEFINE(s, m) fprintf(out, "#define OFF_" #s "_" #m " %ld\n", fact[i++]);
#define CURRENT_PERCPU_DEFINE(v) fprintf(out, "#define PCPU_" #v " %ldull\n", fact[i++]);
	FLOW_CURRENT_FIELDS(CURRENT_FIELD_DEFINE)
	FLOW_CURRENT_PERCPU(CURRENT_PERCPU_DEFINE)
#undef CURRENT_FIELD_DEFINE
#undef CURRENT_PERCPU_DEFINE
	fprintf(out, "#define CURRENT_CAST_ID %ld\n", fact[i]);
}

static void add_defines(FILE *out, const struct probe_config *cfg)
{
	fprintf(out, "/* prepared by bccflow " BCCFLOW_VERSION " for --attach %s */\n",
		backend_name(cfg->backend));
	fprintf(out, "#define %s 1\n", backend_define(cfg->backend));
	fprintf(out, "#define MAX_FLOWS %u\n", cfg->max_flows);
	fprintf(out, "#define SOCK_TABLE_BITS %u\n", sock_table_bits(cfg->max_flows));
	if (!cfg->filter || cfg->filter->proto != FLOW_PROTO_UDP)
		fprintf(out, "#define BCCFLOW_COUNT_TCP 1\n");
	if (!cfg->filter || cfg->filter->proto != FLOW_PROTO_TCP)
		fprintf(out, "#define BCCFLOW_COUNT_UDP 1\n");
	if (cfg->have_tcp_sendpage)
		fprintf(out, "#define HAVE_TCP_SENDPAGE 1\n");
	if (cfg->nfields > 0) {
		fprintf(out, "#define BCCFLOW_BTF_OFFSETS 1\n");
		for (int i = 0; i < cfg->nfields; i++)
			fprintf(out, "#define OFF_%s %ld\n", cfg->field_names[i],
				   cfg->field_offsets[i]);
		if (cfg->sk_head_packed)
			fprintf(out, "#define SK_HEAD_PACKED 1\n");
	}
	if (backend_reads_sk_protocol(cfg->backend) && cfg->sk_protocol_off >= 0)
		fprintf(out, "#define OFF_sk_protocol %ld\n", cfg->sk_protocol_off);
	if (cfg->backend == BACKEND_TP_BTF && cfg->task_offsets)
		add_task_offsets(out, cfg->task_offsets);
	if (cfg->backend == BACKEND_TP_BTF && cfg->current_facts)
		add_current_facts(out, cfg->current_facts);
	if (cfg->net_inum_off > 0)	/* never at 0: struct net starts with counters */
		fprintf(out, "#define OFF_net_ns_inum %ld\n", cfg->net_inum_off);
	if (cfg->have_tp_cgroup_dirs)
		fprintf(out, "#define HAVE_TP_CGROUP_DIRS 1\n");
	if (cfg->stamps)
		fprintf(out, "#define FLOW_STAMPS 1\n");
	if (cfg->recvmsg_has_nonblock)
		fprintf(out, "#define TCP_RECVMSG_HAS_NONBLOCK 1\n"
			     "#define TCP_RECVMSG_FLAGS(ctx) PT_REGS_PARM5(ctx)\n");
	else
		fprintf(out, "#define TCP_RECVMSG_FLAGS(ctx) PT_REGS_PARM4(ctx)\n");
	if (task_filter_wanted(cfg))	/* the task filter has code: the probe reads the pid first */
		fprintf(out, "#define FLOW_TASK_FILTER 1\n");
}

/* The prepared text, or NULL with err set; found[] counts the placeholders. */
static char *compose(const char *src, const char *inc, const char *inc_end, const char *header,
		     const struct probe_config *cfg, int found[2], char *err, size_t errlen)
{
	int before[2] = { 0, 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (!out) {
		snprintf(err, errlen, "cannot prepare the probe text: %s", strerror(errno));
		return NULL;
	}
	add_defines(out, cfg);
	add_with_filters(out, src, inc, cfg, before);
	fprintf(out, "%s\n", header);
	add_filters(out, cfg);
	add_with_filters(out, inc_end, src + strlen(src), cfg, found);
	if (ferror(out) | fclose(out)) {
		snprintf(err, errlen, "cannot prepare the probe text: %s", strerror(errno));
		free(text);
		return NULL;
	}
	if (before[0] || before[1]) {
		/* the filter functions are defined after the header */
		snprintf(err, errlen, "probe text uses %s before its '#include \"flow.h\"' line: "
			 "move the include up", before[0] ? PID_PLACEHOLDER : KEY_PLACEHOLDER);
		free(text);
		return NULL;
	}
	return text;
}

char *probe_text_prepare(const char *src, const char *header, const struct probe_config *cfg,
			 char *err, size_t errlen)
{
	const char *inc, *inc_end;
	int found[2] = { 0, 0 };
	char *text;

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
	text = compose(src, inc, inc_end, header, cfg, found, err, errlen);
	if (!text)
		return NULL;
	if (found[0] == 0 && task_filter_wanted(cfg)) {
		free(text);
		snprintf(err, errlen,
			 "probe text has no FILTER_PID placeholder, so -p, --comm and --cgroup "
			 "cannot be applied: add one, or drop them");
		return NULL;
	}
	if (found[1] == 0 && key_filter_wanted(cfg)) {
		free(text);
		snprintf(err, errlen,
			 "probe text has no FILTER_KEY placeholder, so the address, port and "
			 "family filters cannot be applied: add one, or drop them");
		return NULL;
	}
	return text;
}

char *probe_text_read_file(const char *path, char *err, size_t errlen)
{
	enum smallfile_err why;
	size_t n = 0;
	char *text = smallfile_read(path, PROBE_FILE_MAX, true, &n, &why);

	if (!text) {
		if (why == SMALLFILE_OPEN)
			snprintf(err, errlen, "cannot open probe file '%s': %s", path,
				 strerror(errno));
		else if (why == SMALLFILE_NOMEM)
			snprintf(err, errlen, "out of memory reading '%s'", path);
		else if (why == SMALLFILE_READ)
			snprintf(err, errlen, "cannot read probe file '%s'", path);
		else
			snprintf(err, errlen, "probe file '%s' is not a regular file of at most "
				 "1 MiB", path);
		return NULL;
	}
	if (memchr(text, '\0', n)) {
		free(text);
		snprintf(err, errlen, "probe file '%s' contains NUL bytes: expected C text", path);
		return NULL;
	}
	return text;
}

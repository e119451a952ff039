/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: probe_text_prepare() (src/probe_text.c) with arbitrary probe
 * text and header, PID lists and key filters (made directly, or by
 * opts_parse() from an argv in the input, as main() does), and
 * probe_text_read_file() on the input written to a memfd.
 *
 * Checks, against an independent reading of the text: it fails exactly when
 * it must (no '#include "flow.h"' line, -p, --comm or --cgroup without a
 * FILTER_PID token, address, port or family filters without a FILTER_KEY
 * token, no backend); on success no placeholder
 * token is left, the header is spliced in whole, the defines and every PID
 * are there, and the --comm bytes only appear as hex numbers.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "opts.h"
#include "probe_text.h"

static const char *const field_names[] = {
	"skc_daddr", "skc_rcv_saddr", "skc_dport", "skc_num", "skc_family", "skc_v6_daddr",
	"skc_v6_rcv_saddr",
};
#define NFIELDS (int)(sizeof(field_names) / sizeof(field_names[0]))

static bool ident(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Tokens tok in s[from, to) not inside a longer identifier. */
/* Whether p is on a line (starting at or after from) whose first non-blank is '#'. */
static bool directive_line(const char *from, const char *p)
{
	while (p > from && p[-1] != '\n')
		p--;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '#';
}

/* Whole-word tokens, except on preprocessor lines (left alone by design). */
static int count_tokens(const char *from, const char *to, const char *tok)
{
	size_t n = strlen(tok);
	int count = 0;

	for (const char *p = from; p + n <= to; p++)
		if (!memcmp(p, tok, n) && (p == from || !ident(p[-1])) &&
		    (p + n == to || !ident(p[n])) && !directive_line(from, p))
			count++;
	return count;
}

/* The first line that is '#include "flow.h"' give or take blanks. */
static bool find_include_line(const char *s, const char **start, const char **end)
{
	for (const char *line = s; *line;) {
		const char *eol = strchr(line, '\n'), *q = line;

		if (!eol)
			eol = line + strlen(line);
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (q < eol && *q == '#') {
			q++;
			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			if (eol - q >= 7 && !memcmp(q, "include", 7)) {
				q += 7;
				while (q < eol && (*q == ' ' || *q == '\t'))
					q++;
				if (eol - q >= 8 && !memcmp(q, "\"flow.h\"", 8)) {
					*start = line;
					*end = *eol ? eol + 1 : eol;
					return true;
				}
			}
		}
		line = *eol ? eol + 1 : eol;
	}
	return false;
}

/* A filter with every field in its validated range. */
static void make_filter(struct fdp *d, struct options *f, char *comm)
{
	memset(f, 0, sizeof(*f));
	f->family = (int[]){ 0, 4, 6, 0 }[fdp_u8(d) & 3];
	f->nports = fdp_u8(d) % (MAX_PORT_FILTERS + 1);
	for (int i = 0; i < f->nports; i++)
		f->ports[i] = (unsigned short)(fdp_u16(d) | 1);
	f->nladdr = fdp_u8(d) % (MAX_CIDR_FILTERS + 1);
	f->nraddr = fdp_u8(d) % (MAX_CIDR_FILTERS + 1);
	for (int i = 0; i < f->nladdr + f->nraddr; i++) {
		struct cidr *c = i < f->nladdr ? &f->laddr[i] : &f->raddr[i - f->nladdr];

		c->family = fdp_bool(d) ? 6 : 4;
		fdp_bytes(d, c->addr, c->family == 4 ? 4 : 16);
		c->prefix = fdp_u8(d) % (c->family == 4 ? 33 : 129);
	}
	if (fdp_bool(d)) {
		size_t n = 1 + fdp_u8(d) % 15;

		fdp_bytes(d, comm, n);
		comm[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if (!comm[i])
				comm[i] = (char)0xff;
		f->comm = comm;
	}
	if (fdp_bool(d))
		f->cgroup = "/sys/fs/cgroup/x";
}

/* what FILTER_KEY takes; FILTER_PID takes -p, --comm and --cgroup */
static bool filter_wanted(const struct options *f)
{
	return f && (f->family || f->nports || f->nladdr || f->nraddr);
}

static bool task_filter_wanted(const struct probe_config *cfg)
{
	return cfg->npids > 0 || (cfg->filter && (cfg->filter->comm || cfg->filter->cgroup));
}

static void check_prepared(const char *out, const char *src, const char *header,
			   const struct probe_config *cfg)
{
	const char *end = out + strlen(out);
	char want[96];

	CHECK(!strncmp(out, "/* prepared by bccflow", 22), "no preamble");
	snprintf(want, sizeof(want), "#define MAX_FLOWS %u\n", cfg->max_flows);
	CHECK(strstr(out, want), "no '%s'", want);
	CHECK(strstr(out, header), "the header is not spliced in whole");
	CHECK(count_tokens(out, end, "FILTER_PID") == 0, "a FILTER_PID token is left");
	CHECK(count_tokens(out, end, "FILTER_KEY") == 0, "a FILTER_KEY token is left");
	for (int i = 0; i < cfg->npids; i++) {
		snprintf(want, sizeof(want), "pid != %d", cfg->pids[i]);
		CHECK(strstr(out, want), "PID %d missing", cfg->pids[i]);
	}
	/* each filter asked for is a function, called from where its placeholder was */
	if (task_filter_wanted(cfg))
		CHECK(strstr(out, "if (bccflow_task_excluded(pid)) { return 0; }"), "no task filter call");
	if (filter_wanted(cfg->filter))
		CHECK(strstr(out, "if (bccflow_key_excluded(&key)) { return 0; }"), "no key filter call");
	for (int i = 0; i < cfg->nfields; i++) {
		snprintf(want, sizeof(want), "#define OFF_%s %ld\n", cfg->field_names[i],
			 cfg->field_offsets[i]);
		CHECK(strstr(out, want), "no '%s'", want);
	}
	if (cfg->filter && cfg->filter->comm) {
		unsigned long long w[2] = { 0, 0 };

		/* compared as two NUL-padded words, never spliced in as text */
		memcpy(w, cfg->filter->comm, strnlen(cfg->filter->comm, sizeof(w) - 1));
		snprintf(want, sizeof(want), "c_[0] != 0x%016llxULL || c_[1] != 0x%016llxULL",
			 w[0], w[1]);
		CHECK(strstr(out, want), "--comm not compared as '%s'", want);
	}
	/* the key filters look their values up in maps the host fills */
	if (cfg->filter && cfg->filter->nports)
		CHECK(strstr(out, "BPF_HASH(port_filter") && strstr(out, "port_filter.lookup((u16 *)&key->rport)"),
		      "no port set lookup");
	if (cfg->filter && cfg->filter->nladdr)
		CHECK(strstr(out, "BPF_LPM_TRIE(laddr_filter") && strstr(out, "laddr_filter.lookup(&k_)"),
		      "no --laddr trie lookup");
	if (cfg->filter && cfg->filter->nraddr)
		CHECK(strstr(out, "BPF_LPM_TRIE(raddr_filter") && strstr(out, "raddr_filter.lookup(&k_)"),
		      "no --raddr trie lookup");
	(void)src;
}

static void run_prepare(const char *src, const char *header, const struct probe_config *cfg)
{
	const char *inc = NULL, *inc_end = NULL;
	bool has_inc = find_include_line(src, &inc, &inc_end);
	int pid_tokens = 0, key_tokens = 0, before = 0;
	bool must_fail;
	char err[512];
	char *out;

	if (has_inc) {
		/* the filter functions follow the header: no call may come before it */
		before = count_tokens(src, inc, "FILTER_PID") + count_tokens(src, inc, "FILTER_KEY");
		pid_tokens = count_tokens(inc_end, src + strlen(src), "FILTER_PID");
		key_tokens = count_tokens(inc_end, src + strlen(src), "FILTER_KEY");
	}
	must_fail = cfg->backend == BACKEND_AUTO || !has_inc || before ||
		    (task_filter_wanted(cfg) && !pid_tokens) ||
		    (filter_wanted(cfg->filter) && !key_tokens);
	memset(err, 0, sizeof(err));
	out = probe_text_prepare(src, header, cfg, err, sizeof(err));
	if (!out) {
		CHECK(must_fail, "failed though it should not: %s", err);
		CHECK(*err && !strchr(err, '\n'), "error is not one line: '%s'", err);
		return;
	}
	CHECK(!must_fail, "succeeded though it must fail (include %d, FILTER_PID %d, "
	      "FILTER_KEY %d, npids %d)", has_inc, pid_tokens, key_tokens, cfg->npids);
	check_prepared(out, src, header, cfg);
	free(out);
}

static void run_read_file(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	int fd = memfd_create("probe", 0);
	char *text;

	if (fd < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	text = probe_text_read_file(path, err, sizeof(err));
	if (memchr(data, 0, size)) {
		CHECK(!text, "a text with NUL bytes was accepted");
	} else {
		CHECK(text, "a regular file was refused: %s", err);
		CHECK(strlen(text) == size && !memcmp(text, data, size), "read other bytes");
	}
	free(text);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fdp d = { data, size };
	uint8_t mode = fdp_u8(&d);
	int pids[MAX_PID_FILTERS];
	long offsets[NFIELDS];
	char comm[16];
	struct options filter, parsed;
	struct probe_config cfg = { 0 };
	char *src, *header, *split;

	if ((mode & 0xf0) == 0xf0) {
		run_read_file(d.p, d.n);
		return 0;
	}
	cfg.backend = (enum backend)(fdp_u8(&d) % 4);
	cfg.max_flows = fdp_u32(&d);
	cfg.npids = fdp_u8(&d) % (MAX_PID_FILTERS + 1);
	for (int i = 0; i < cfg.npids; i++)
		pids[i] = (int)fdp_u32(&d);
	cfg.pids = pids;
	cfg.have_tcp_sendpage = fdp_bool(&d);
	cfg.recvmsg_has_nonblock = fdp_bool(&d);
	if (fdp_bool(&d)) {
		cfg.nfields = NFIELDS;
		cfg.field_names = field_names;
		for (int i = 0; i < NFIELDS; i++)
			offsets[i] = (long)fdp_u64(&d);
		cfg.field_offsets = offsets;
		cfg.sk_head_packed = fdp_bool(&d);
	}
	switch (mode & 3) {
	case 1:
		make_filter(&d, &filter, comm);
		cfg.filter = &filter;
		break;
	case 2: {
		/* the filters as main() gets them: from an argv, through opts_parse() */
		size_t alen = fdp_u8(&d);
		char *abuf = calloc(1, alen + 1), *argv[34], err[512];
		int argc = 0;

		if (!abuf)
			return 0;
		fdp_bytes(&d, abuf, alen);
		argv[argc++] = "bccflow";
		for (char *p = abuf; p < abuf + alen && argc < 33; p += strlen(p) + 1)
			argv[argc++] = p;
		argv[argc] = NULL;
		if (opts_parse(argc, argv, 4194304, &parsed, err, sizeof(err)) == OPTS_OK) {
			cfg.filter = &parsed;
			cfg.npids = parsed.npids;
			cfg.pids = parsed.pids;
		}
		if (mode & 4) {
			/* the real probe text, as shipped */
			if (cfg.backend == BACKEND_AUTO)
				cfg.backend = BACKEND_TRACEPOINT;
			run_prepare(bccflow_probe_source, bccflow_probe_header, &cfg);
			free(abuf);
			return 0;
		}
		/* the rest is src and header, as below; argv strings stay valid */
		src = calloc(1, d.n + 1);
		if (!src) {
			free(abuf);
			return 0;
		}
		memcpy(src, d.p, d.n);
		split = strchr(src, '\x01');
		header = split ? (*split = '\0', split + 1) : "";
		for (char *p = header; (p = strstr(p, "FILTER_"));)
			*p = 'f';
		run_prepare(src, header, &cfg);
		free(src);
		free(abuf);
		return 0;
	}
	default:
		break;
	}
	if (mode & 4) {
		run_prepare(bccflow_probe_source, bccflow_probe_header, &cfg);
		return 0;
	}
	/* src, then \x01, then the header (kept free of placeholder tokens) */
	src = calloc(1, d.n + 1);
	if (!src)
		return 0;
	memcpy(src, d.p, d.n);
	split = strchr(src, '\x01');
	header = split ? (*split = '\0', split + 1) : "";
	for (char *p = header; (p = strstr(p, "FILTER_"));)
		*p = 'f';
	run_prepare(src, header, &cfg);
	free(src);
	return 0;
}

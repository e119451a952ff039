/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the Prometheus exposition formatter prom_render() and the
 * --listen parser prom_parse_listen() (src/prom_expo.c, src/listen_addr.c).
 *
 * Checks: every line of the exposition is a "# HELP", a "# TYPE" or a
 * sample "name{label="value",...} number" (text format 0.0.4); label values
 * are valid UTF-8 with only \\, \" and \n escapes and decode to the series'
 * bytes (invalid ones as U+FFFD); *len is the text's length. A --listen
 * value that parses gives AF_INET/AF_INET6 with port 1..65535 and reads
 * the same when written back; one that does not gives a one-line message.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "prom.h"

#define MAX_SERIES 6

static const char *const label_names[PROM_MAX_LABELS] = { "pid", "comm", "laddr", "lport", "raddr",
							     "rport", "netns", "cgroup", "container", "proto" };

static bool metric_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

struct prom_check {
	const struct prom_series *s;
	size_t n;
	size_t sample;		/* samples of the per-series families seen */
};

/* Parses a label value at *p (after the opening quote) into out. */
static bool label_value(const char **p, const char *end, struct sbuf *out)
{
	while (*p < end) {
		char c = **p;

		if (c == '"') {
			(*p)++;
			return true;
		}
		if (c == '\n')
			return false;
		if (c == '\\') {
			if (end - *p < 2)
				return false;
			switch ((*p)[1]) {
			case '\\':
				sb_add(out, "\\", 1);
				break;
			case '"':
				sb_add(out, "\"", 1);
				break;
			case 'n':
				sb_add(out, "\n", 1);
				break;
			default:
				return false;
			}
			*p += 2;
			continue;
		}
		{
			size_t len = ref_utf8_len((const unsigned char *)*p, (size_t)(end - *p));

			if (!len)
				return false;
			sb_add(out, *p, len);
			*p += len;
		}
	}
	return false;
}

static void prom_line(const char *line, size_t n, void *arg)
{
	struct prom_check *c = arg;
	const char *p = line, *end = line + n, *name = line;
	struct sbuf vals[PROM_MAX_LABELS + 2];
	int nl = 0;

	CHECK(n > 0, "empty line in the exposition");
	if (line[0] == '#') {
		CHECK((n > 7 && !memcmp(line, "# HELP ", 7)) || (n > 7 && !memcmp(line, "# TYPE ", 7)),
		      "comment line: %.*s", (int)n, line);
		for (size_t i = 0; i < n; i++)
			CHECK((unsigned char)line[i] >= 0x20, "control byte in: %.*s", (int)n, line);
		return;
	}
	CHECK(metric_char(*p, true), "sample line: %.*s", (int)n, line);
	while (p < end && metric_char(*p, false))
		p++;
	memset(vals, 0, sizeof(vals));
	if (p < end && *p == '{') {
		p++;
		while (p < end && *p != '}') {
			CHECK(metric_char(*p, true), "label name in: %.*s", (int)n, line);
			while (p < end && metric_char(*p, false))
				p++;
			CHECK(end - p >= 2 && p[0] == '=' && p[1] == '"', "label in: %.*s", (int)n, line);
			p += 2;
			CHECK(nl < PROM_MAX_LABELS + 2, "too many labels");
			CHECK(label_value(&p, end, &vals[nl]), "label value in: %.*s", (int)n, line);
			nl++;
			if (p < end && *p == ',')
				p++;
		}
		CHECK(p < end && *p == '}', "no '}' in: %.*s", (int)n, line);
		p++;
	}
	CHECK(p < end && *p == ' ', "no value in: %.*s", (int)n, line);
	p++;
	CHECK(p < end, "no value in: %.*s", (int)n, line);
	{
		/* seconds counters have nine decimals; every other value is whole */
		bool secs = p - 1 - line > 14 && !memcmp(p - 1 - 14, "_seconds_total", 14);
		int dots = 0;

		for (const char *q = p; q < end; q++) {
			dots += *q == '.';
			CHECK((*q >= '0' && *q <= '9') || (secs && *q == '.' && dots == 1 && q > p &&
							     end - q == 10),
			      "value not a number of its kind: %.*s", (int)n, line);
		}
	}

	/* the per-series families come first, in series order: rx, then tx */
	if (!strncmp(name, "bccflow_rx_bytes_total", 22) ||
	    !strncmp(name, "bccflow_tx_bytes_total", 22)) {
		size_t i = c->sample % (c->n ? c->n : 1);
		const struct prom_series *s = &c->s[i];
		int want = s->nlabels < 0 ? 0 : s->nlabels > PROM_MAX_LABELS ? PROM_MAX_LABELS :
			   s->nlabels;
		uint64_t v = strtoull(p, NULL, 10);

		CHECK(c->sample < 2 * c->n, "more samples than series");
		CHECK(nl == want, "series %zu: %d labels, want %d", i, nl, want);
		for (int l = 0; l < nl; l++) {
			struct sbuf ref = { 0 };
			const char *val = s->labels[l].value ? s->labels[l].value : "";

			ref_utf8_fix(val, strlen(val), &ref);
			CHECK(vals[l].len == ref.len && (!ref.len || !memcmp(vals[l].s, ref.s, ref.len)),
			      "series %zu label %d decodes to other bytes", i, l);
			sb_free(&ref);
		}
		CHECK(v == (c->sample < c->n ? s->rx_bytes : s->tx_bytes), "series %zu value", i);
		c->sample++;
	}
	for (size_t l = 0; l < sizeof(vals) / sizeof(vals[0]); l++)
		sb_free(&vals[l]);
}

static void check_listen(const char *s)
{
	struct sockaddr_storage ss, ss2;
	socklen_t len = 0, len2 = 0;
	char err[256], back[INET6_ADDRSTRLEN + 16], host[INET6_ADDRSTRLEN];

	memset(err, 0, sizeof(err));
	if (prom_parse_listen(s, &ss, &len, err, sizeof(err))) {
		size_t n = strnlen(err, sizeof(err));

		CHECK(n && n < sizeof(err), "--listen error without a message");
		for (size_t i = 0; i < n; i++)
			CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f,
			      "control byte in the --listen message");
		return;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		CHECK(len == sizeof(*a) && ntohs(a->sin_port) >= 1, "IPv4 --listen");
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(back, sizeof(back), "%s:%u", host, ntohs(a->sin_port));
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		CHECK(ss.ss_family == AF_INET6 && len == sizeof(*a) && ntohs(a->sin6_port) >= 1,
		      "IPv6 --listen");
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(back, sizeof(back), "[%s]:%u", host, ntohs(a->sin6_port));
	}
	CHECK(prom_parse_listen(back, &ss2, &len2, err, sizeof(err)) == 0 && len2 == len &&
	      !memcmp(&ss, &ss2, len), "--listen '%s' written back as '%s' reads otherwise", s, back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fdp d = { data, size };
	uint8_t sel = fdp_u8(&d);
	struct prom_series s[MAX_SERIES];
	struct prom_self self;
	struct prom_check c;
	char *strs, *p, *text;
	size_t n, len = 0;

	if ((sel & 0xc0) == 0xc0) {
		char *arg = calloc(1, d.n + 1);

		if (!arg)
			return 0;
		memcpy(arg, d.p, d.n);
		check_listen(arg);
		free(arg);
		return 0;
	}
	n = sel % (MAX_SERIES + 1);
	memset(s, 0, sizeof(s));
	memset(&self, 0, sizeof(self));
	for (size_t i = 0; i < n; i++) {
		s[i].nlabels = fdp_u8(&d) % (PROM_MAX_LABELS + 1);
		s[i].rx_bytes = fdp_count(&d);
		s[i].tx_bytes = fdp_count(&d);
	}
	self.flows_tracked = fdp_count(&d);
	self.dropped_events = fdp_count(&d);
	self.dropped_bytes = fdp_count(&d);
	self.intervals = fdp_count(&d);
	self.bpf_events = fdp_count(&d);
	self.series_limited = fdp_count(&d);
	/* label values: the rest of the input, NUL-separated */
	strs = calloc(1, d.n + 2);
	if (!strs)
		return 0;
	memcpy(strs, d.p, d.n);
	p = strs;
	for (size_t i = 0; i < n; i++) {
		for (int l = 0; l < s[i].nlabels; l++) {
			s[i].labels[l].name = label_names[l];
			s[i].labels[l].value = (sel & 0x40) && !*p ? NULL : p;
			p += strlen(p) + (p < strs + d.n);
		}
	}
	self.attach = (sel & 0x80) ? p : NULL;
	self.version = "0.1.0";

	text = prom_render(s, n, &self, &len);
	CHECK(text, "prom_render failed");
	CHECK(strlen(text) == len, "*len %zu, text %zu bytes", len, strlen(text));
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.n = n;
	CHECK(for_lines(text, len, prom_line, &c), "exposition does not end with a newline");
	CHECK(c.sample == 2 * n, "%zu samples for %zu series", c.sample, n);
	free(text);
	free(strs);
	return 0;
}

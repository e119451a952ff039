/* SPDX-License-Identifier: MIT */
/*
 * Where metrics are formatted: the Prometheus text exposition (format
 * 0.0.4), one whole text per interval.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"
#include "utf8.h"

/* A label value: \ " and newline escaped, invalid UTF-8 bytes as U+FFFD. */
static void put_label_value(FILE *out, const char *value)
{
	const unsigned char *s = (const unsigned char *)(value ? value : "");
	size_t n = strlen((const char *)s);

	for (size_t i = 0; i < n;) {
		size_t len = utf8_len(s + i, n - i);

		if (len == 0) {
			fputs("\xef\xbf\xbd", out);	/* U+FFFD */
			i++;
		} else if (s[i] == '\\') {
			fputs("\\\\", out);
			i++;
		} else if (s[i] == '"') {
			fputs("\\\"", out);
			i++;
		} else if (s[i] == '\n') {
			fputs("\\n", out);
			i++;
		} else {
			fwrite(s + i, 1, len, out);
			i += len;
		}
	}
}

static void put_labels(FILE *out, const struct prom_label *l, int n)
{
	if (n <= 0)
		return;
	if (n > PROM_MAX_LABELS)
		n = PROM_MAX_LABELS;
	fputc('{', out);
	for (int i = 0; i < n; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "", l[i].name);
		put_label_value(out, l[i].value);
		fputc('"', out);
	}
	fputc('}', out);
}

/* "# HELP" and "# TYPE" of a family (help texts are constants: no escaping). */
static void put_family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_sample(FILE *out, const char *name, const struct prom_label *l, int n, __u64 v)
{
	fputs(name, out);
	put_labels(out, l, n);
	fprintf(out, " %" PRIu64 "\n", (uint64_t)v);
}

static void put_scalar(FILE *out, const char *name, const char *type, const char *help, __u64 v)
{
	put_family(out, name, type, help);
	put_sample(out, name, NULL, 0, v);
}

/* A counter of seconds, kept in nanoseconds. */
static void put_seconds(FILE *out, const char *name, const char *help, __u64 ns)
{
	put_family(out, name, "counter", help);
	fprintf(out, "%s %" PRIu64 ".%09" PRIu64 "\n", name, (uint64_t)ns / 1000000000u,
		(uint64_t)ns % 1000000000u);
}

static void put_self(FILE *out, const struct prom_self *self)
{
	struct prom_label info[2] = {
		{ "version", self->version },
		{ "attach", self->attach },
	};

	put_scalar(out, "bccflow_flows_tracked", "gauge",
		   "Flows currently tracked in the kernel flow table.", self->flows_tracked);
	put_scalar(out, "bccflow_dropped_events_total", "counter",
		   "Send and receive events not counted because the kernel flow table was "
		   "full (see --max-flows).", self->dropped_events);
	put_scalar(out, "bccflow_dropped_bytes_total", "counter",
		   "TCP and UDP payload bytes of the events not counted because the kernel flow "
		   "table was full.", self->dropped_bytes);
	put_scalar(out, "bccflow_intervals_total", "counter",
		   "Intervals collected since bccflow started.", self->intervals);
	put_scalar(out, "bccflow_bpf_events_total", "counter",
		   "Send and receive events counted by the BPF probes.", self->bpf_events);
	if (self->bpf_known) {	/* --bpf-stats: absent rather than a false 0 */
		put_seconds(out, "bccflow_bpf_run_seconds_total",
			    "Run time of bccflow's BPF programs (kernel BPF statistics, on while "
			    "bccflow runs; the hooks' own dispatch is not in it).", self->bpf_run_ns);
		put_scalar(out, "bccflow_bpf_runs_total", "counter",
			   "Runs of bccflow's BPF programs.", self->bpf_runs);
	}
	put_seconds(out, "bccflow_cpu_seconds_total",
		    "CPU time (user and system) of the bccflow process.", self->cpu_ns);
	put_scalar(out, "bccflow_series_limited", "gauge",
		   "Groups folded into the \"other\" series because of --max-series.",
		   self->series_limited);
	put_family(out, "bccflow_info", "gauge",
		   "bccflow's version and the probe attach method in use; always 1.");
	put_sample(out, "bccflow_info", info, 2, 1);
}

char *prom_render(const struct prom_series *s, size_t n, const struct prom_self *self,
		  size_t *len)
{
	static const struct prom_self none;
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	if (!out)
		return NULL;
	put_family(out, "bccflow_rx_bytes_total", "counter",
		   "TCP and UDP payload bytes received: delivered from the socket layer to the "
		   "process, since bccflow started.");
	for (size_t i = 0; i < n; i++)
		put_sample(out, "bccflow_rx_bytes_total", s[i].labels, s[i].nlabels, s[i].rx_bytes);
	put_family(out, "bccflow_tx_bytes_total", "counter",
		   "TCP and UDP payload bytes sent: accepted by the socket layer from the process, "
		   "since bccflow started.");
	for (size_t i = 0; i < n; i++)
		put_sample(out, "bccflow_tx_bytes_total", s[i].labels, s[i].nlabels, s[i].tx_bytes);
	put_self(out, self ? self : &none);
	if (ferror(out) | fclose(out)) {
		free(text);
		return NULL;
	}
	if (len)
		*len = size;
	return text;
}

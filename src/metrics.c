/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup_names.h"
#include "format.h"
#include "metrics.h"

/* Label values of one series; the strings live in the same struct (or in its names). */
struct series_text {
	char pid[16], comm[FLOW_COMM_LEN], laddr[48], lport[8], raddr[48], rport[8], netns[16];
};

static void fill_labels(struct prom_series *s, struct series_text *t, const struct group *g,
			enum group_by by, bool map_v4)
{
	struct shown_addr l, r;
	int n = 0;

	snprintf(t->pid, sizeof(t->pid), "%u", g->key.pid);
	snprintf(t->comm, sizeof(t->comm), "%.*s", FLOW_COMM_LEN - 1, g->comm);
	shown_addr(&g->key, true, map_v4, &l);
	shown_addr(&g->key, false, map_v4, &r);
	snprintf(t->laddr, sizeof(t->laddr), "%s", l.addr);
	snprintf(t->raddr, sizeof(t->raddr), "%s", r.addr);
	snprintf(t->lport, sizeof(t->lport), "%u", g->key.lport);
	snprintf(t->rport, sizeof(t->rport), "%u", g->key.rport);
	snprintf(t->netns, sizeof(t->netns), "%u", g->key.netns);
	if (by == BY_FLOW || by == BY_PID)
		s->labels[n++] = (struct prom_label){ "pid", t->pid };
	if (by == BY_FLOW || by == BY_PID || by == BY_COMM)
		s->labels[n++] = (struct prom_label){ "comm", t->comm };
	if (by == BY_FLOW)
		s->labels[n++] = (struct prom_label){ "laddr", t->laddr };
	if (by == BY_FLOW || by == BY_LPORT)
		s->labels[n++] = (struct prom_label){ "lport", t->lport };
	if (by == BY_FLOW || by == BY_RADDR)
		s->labels[n++] = (struct prom_label){ "raddr", t->raddr };
	if (by == BY_FLOW) {
		s->labels[n++] = (struct prom_label){ "rport", t->rport };
		s->labels[n++] = (struct prom_label){ "netns", t->netns };
	}
	if (by == BY_FLOW || by == BY_CGROUP)
		s->labels[n++] = (struct prom_label){ "cgroup", g->cg ? g->cg->path : "" };
	if (by == BY_FLOW || by == BY_CGROUP || by == BY_CONTAINER)
		s->labels[n++] = (struct prom_label){ "container", g->cg ? g->cg->container : "" };
	/* series are per protocol under every --by (report.c keeps groups so) */
	s->labels[n++] = (struct prom_label){ "proto", proto_name(g->key.proto) };
	s->nlabels = n;
}

/* The "other" series: same label names as the rest, every value "other". */
static void other_labels(struct prom_series *s, const struct prom_series *model)
{
	s->nlabels = model->nlabels;
	for (int i = 0; i < model->nlabels; i++)
		s->labels[i] = (struct prom_label){ model->labels[i].name, "other" };
}

int metrics_publish(struct prom_server *srv, const struct reporter *r,
		    const struct interval *iv, const struct metrics_totals *t,
		    const char *attach, const struct options *o)
{
	struct prom_series *s = calloc(r->groups.count + 1, sizeof(*s));
	struct series_text *txt = calloc(r->groups.count + 1, sizeof(*txt));
	struct series_count c;
	struct prom_self self = {
		.flows_tracked = iv->tracked, .dropped_events = t->dropped,
		.dropped_bytes = t->dropped_bytes, .intervals = t->intervals,
		.bpf_events = t->events, .attach = attach, .version = BCCFLOW_VERSION,
		.bpf_known = t->bpf_known, .bpf_run_ns = t->bpf_run_ns, .bpf_runs = t->bpf_runs,
		.cpu_ns = t->cpu_ns,
	};
	const struct group *g;
	size_t n = 0, pos = 0, len;
	char *text;

	if (!s || !txt) {
		free(s);
		free(txt);
		return -ENOMEM;
	}
	metrics_count_series(r, o->max_series, &c);
	self.series_limited = c.limited;
	while ((g = reporter_next_group(r, &pos))) {
		if (!metrics_own_series(g, o->max_series))
			continue;
		fill_labels(&s[n], &txt[n], g, r->by, o->map_v4);
		s[n].rx_bytes = g->rx_total;
		s[n].tx_bytes = g->tx_total;
		n++;
	}
	if (c.limited) {
		struct series_text model_txt;
		struct prom_series model;
		struct group none = { .used = true };

		fill_labels(&model, &model_txt, &none, r->by, o->map_v4);
		other_labels(&s[n], &model);
		s[n].rx_bytes = c.other_rx;
		s[n].tx_bytes = c.other_tx;
		n++;
	}
	text = prom_render(s, n, &self, &len);
	free(s);
	free(txt);
	if (!text)
		return -ENOMEM;
	prom_publish(srv, text, len);
	return 0;
}

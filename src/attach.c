/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
/*
 * Where the attach method is chosen: the candidates in order, each checked
 * against what the kernel offers, its probe text prepared for this kernel
 * and these options, then compiled, loaded and attached; the first that
 * works is kept.
 */
#include <stdio.h>
#include <stdlib.h>

#include "attach.h"
#include "filter_maps.h"
#include "monitor.h"
#include "probe_text.h"

/*
 * The text for backend b on kernel f (f may know nothing: a check only);
 * direct: tp-btf reads the current task without a helper where f allows.
 */
static char *prepare(const struct options *o, const char *src, const struct kfeatures *f,
		     enum backend b, bool direct)
{
	struct probe_config cfg = {
		.backend = b,
		.max_flows = o->max_flows,
		.npids = o->npids,
		.pids = o->pids,
		.have_tcp_sendpage = f->have_tcp_sendpage,
		.recvmsg_has_nonblock = f->recvmsg_has_nonblock,
		.sk_protocol_off = f->sk_protocol_off,
		.net_inum_off = f->net_inum_off,
		.task_offsets = f->task_offsets_ok ? f->task_offsets : NULL,
		.current_facts = direct && f->current_ok ? f->current_facts : NULL,
		.have_tp_cgroup_dirs = f->tp_cgroup_dirs,
		.stamps = f->stamps_ok,
		.filter = o,
	};
	char err[512];
	char *text;

	if (o->offsets != OFFSETS_HEADERS && f->sk_offsets_ok) {
		cfg.nfields = SK_NFIELDS;
		cfg.field_names = sk_field_names;
		cfg.field_offsets = f->sk_offsets;
		cfg.sk_head_packed = f->sk_head_packed;
	}
	text = probe_text_prepare(src, bccflow_probe_header, &cfg, err, sizeof(err));

	if (!text)
		fprintf(stderr, "bccflow: %s\n", err);
	return text;
}

int attach_check_text(const struct options *o, const char *src)
{
	struct kfeatures none = { .btf = NULL, .sk_protocol_off = -1, .net_inum_off = -1 };
	char *text = prepare(o, src, &none, BACKEND_TRACEPOINT, false);

	free(text);
	return text ? 0 : -1;
}

enum attach_result attach_start(const struct options *o, const char *src,
				const struct kfeatures *f, int cgroup_fd, struct loaded *l)
{
	enum backend order[BACKEND_NMETHODS];
	int n = backend_candidates(o->attach, order);
	struct filter_maps maps;
	char why[512];

	filter_maps_build(&maps, o, cgroup_fd);
	for (int i = 0; i < n; i++) {
		enum loader_status st;
		char *text;

		/* --ebpf --attach X shows X's text even where X cannot run */
		if (!(o->print_ebpf && n == 1) &&
		    !features_backend_usable(f, order[i], why, sizeof(why))) {
			fprintf(stderr, "bccflow: cannot use %s: %s%s\n", backend_name(order[i]), why,
				i + 1 < n ? "; trying the next method" : "");
			continue;
		}
		text = prepare(o, src, f, order[i], true);
		if (!text)
			return ATTACH_BAD_INPUT;
		if (o->print_ebpf) {
			fputs(text, stdout);
			free(text);
			return fflush(stdout) ? ATTACH_FAILED : ATTACH_PRINTED;
		}
		st = loader_open(l, text, order[i], f, maps.init, maps.n, why, sizeof(why));
		free(text);
		if (st == LOADER_OK)
			return ATTACH_LOADED;
		if (st != LOADER_FATAL && !exiting && order[i] == BACKEND_TP_BTF && f->current_ok) {
			/* a verifier that refuses the direct read still takes the helper */
			fprintf(stderr, "bccflow: cannot read the current task directly with %s: %s; "
				"using the helper\n", backend_name(order[i]), why);
			text = prepare(o, src, f, order[i], false);
			if (!text)
				return ATTACH_BAD_INPUT;
			st = loader_open(l, text, order[i], f, maps.init, maps.n, why, sizeof(why));
			free(text);
			if (st == LOADER_OK)
				return ATTACH_LOADED;
		}
		fprintf(stderr, "bccflow: %s with %s: %s%s\n",
			st == LOADER_FATAL ? "cannot start" : "cannot attach", backend_name(order[i]),
			why, st != LOADER_FATAL && i + 1 < n ? "; trying the next method" : "");
		if (st == LOADER_FATAL || exiting)
			return ATTACH_FAILED;
	}
	fprintf(stderr, "bccflow: no attach method works on this kernel%s\n",
		o->attach == BACKEND_AUTO ? "" : ": try --attach auto");
	return ATTACH_FAILED;
}

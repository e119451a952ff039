/* SPDX-License-Identifier: MIT */
/*
 * bccflow: TCP bytes sent and received per process and flow, live, from
 * eBPF probes compiled at run time through libbcc's C API.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>

#include "attach.h"
#include "filter_maps.h"
#include "kfeatures.h"
#include "loader.h"
#include "monitor.h"
#include "opts.h"
#include "privdrop.h"
#include "probe_text.h"
#include "selfcost.h"
#include "prom.h"
#include "webconfig.h"

#define EXIT_USAGE 2

static long read_pid_max(void)
{
	long v = 4194304;	/* PID_MAX_LIMIT on 64-bit */
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 4194304;
		fclose(f);
	}
	return v;
}

/*
 * Everything root was needed for is done: the monitor goes on as pd's user,
 * with no capability unless the kernel needs one to read our own maps.
 * Then the metrics server starts, with that user's thread.
 */
static int leave_root(const struct privdrop *pd, struct kfeatures *f, struct prom_server *prom,
		      const struct web_config *wc)
{
	struct utsname u;
	char err[512];
	int cap = -1;

	features_release_tracefs(f);
	if (pd->keep_root)
		fprintf(stderr, "bccflow: warning: --user %s: staying root with every capability\n",
			pd->name);
	else if (!uname(&u))
		cap = privdrop_needed_cap(u.release, privdrop_read_unpriv_disabled());
	if (privdrop_apply(pd, cap, err, sizeof(err))) {
		fprintf(stderr, "bccflow: %s (--user root keeps root)\n", err);
		return -1;
	}
	if (cap >= 0)
		fprintf(stderr, "bccflow: keeping %s as user %s: before Linux 5.19, "
			"kernel.unprivileged_bpf_disabled refuses reading our own maps without it\n",
			privdrop_cap_name(cap), pd->name);
	if (prom && prom_serve(prom, wc, err, sizeof(err))) {
		fprintf(stderr, "bccflow: %s\n", err);
		return -1;
	}
	return 0;
}

static int run(const struct options *o, const char *src, int cgroup_fd,
	       const struct privdrop *pd, struct prom_server *prom, const struct web_config *wc)
{
	struct kfeatures f;
	struct loaded l;
	char err[512];
	int rc = EXIT_FAILURE;

	if (!o->print_ebpf &&
	    (features_check_versions(err, sizeof(err)) || features_check_privileges(err, sizeof(err)) ||
	     features_check_headers(err, sizeof(err)))) {
		fprintf(stderr, "bccflow: %s\n", err);
		return EXIT_FAILURE;
	}
	features_detect(&f);
	if (o->offsets == OFFSETS_BTF && !f.sk_offsets_ok) {
		fprintf(stderr, "bccflow: --offsets btf: the kernel has no BTF with struct sock "
			"(/sys/kernel/btf/vmlinux): use --offsets headers\n");
		features_cleanup(&f);
		return EXIT_FAILURE;
	}
	switch (attach_start(o, src, &f, cgroup_fd, &l)) {
	case ATTACH_PRINTED:
		rc = EXIT_SUCCESS;
		break;
	case ATTACH_BAD_INPUT:
		rc = EXIT_USAGE;
		break;
	case ATTACH_FAILED:
		rc = EXIT_FAILURE;
		break;
	case ATTACH_LOADED: {
		char hooks[512], why[128];
		struct selfcost cost;

		/* before "counting": every run the monitor reports is timed; and
		 * before leave_root(): enabling them needs CAP_SYS_ADMIN */
		selfcost_start(&cost, &l, o->bpf_stats, why, sizeof(why));
		if (*why)
			fprintf(stderr, "bccflow: warning: --bpf-stats: no BPF run-time statistics "
				"(%s): bpf_run_ns and bpf_runs are unknown (null)\n", why);
		if (leave_root(pd, &f, prom, wc)) {
			selfcost_stop(&cost);
			loader_close(&l);
			break;
		}
		loader_describe(&l, hooks, sizeof(hooks));
		fprintf(stderr, "bccflow: counting %s bytes with %s (%s)%s\n",
			o->proto == FLOW_PROTO_TCP ? "TCP" : o->proto == FLOW_PROTO_UDP ? "UDP" :
			"TCP and UDP", backend_name(l.backend), hooks,
			o->output == OUTPUT_TABLE ? "; Ctrl-C to stop" : "");
		rc = exiting ? EXIT_SUCCESS : monitor_run(o, &l, &f, &cost, prom);
		selfcost_stop(&cost);
		loader_close(&l);
		break;
	}
	}
	features_cleanup(&f);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;
	char err[512];
	char *file_text = NULL;
	struct prom_server *prom = NULL;
	struct web_config wc = { 0 };
	struct privdrop pd;
	struct sockaddr_storage listen_addr;
	socklen_t listen_len = 0;
	int cgroup_fd = -1;
	int rc;

	switch (opts_parse(argc, argv, read_pid_max(), &o, err, sizeof(err))) {
	case OPTS_HELP:
		opts_usage(stdout);
		return EXIT_SUCCESS;
	case OPTS_VERSION:
		printf("bccflow " BCCFLOW_VERSION "\n");
		return EXIT_SUCCESS;
	case OPTS_ERROR:
		fprintf(stderr, "bccflow: %s\n", err);
		return EXIT_USAGE;
	case OPTS_OK:
		break;
	}
	if (o.probe_file) {
		file_text = probe_text_read_file(o.probe_file, err, sizeof(err));
		if (!file_text) {
			fprintf(stderr, "bccflow: %s\n", err);
			return EXIT_USAGE;
		}
	}
	if (attach_check_text(&o, file_text ? file_text : bccflow_probe_source)) {
		free(file_text);
		return EXIT_USAGE;
	}
	if (o.listen && prom_parse_listen(o.listen, &listen_addr, &listen_len, err, sizeof(err))) {
		fprintf(stderr, "bccflow: %s\n", err);
		free(file_text);
		return EXIT_USAGE;
	}
	if (privdrop_resolve(o.user, &pd, err, sizeof(err)) ||
	    (o.web_config && web_config_load(o.web_config, &wc, err, sizeof(err)))) {
		fprintf(stderr, "bccflow: %s\n", err);
		free(file_text);
		return EXIT_USAGE;
	}
	if (o.netns_path) {
		o.netns = filter_netns_resolve(o.netns_path, err, sizeof(err));
		if (!o.netns) {
			fprintf(stderr, "bccflow: %s\n", err);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (o.cgroup) {
		cgroup_fd = filter_cgroup_open(o.cgroup, err, sizeof(err));
		if (cgroup_fd < 0) {
			fprintf(stderr, "bccflow: %s\n", err);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	/* bind before compiling: a busy port should not cost a compile */
	if (o.listen && !o.print_ebpf) {
		prom = prom_open(&listen_addr, listen_len, err, sizeof(err));
		if (!prom) {
			fprintf(stderr, "bccflow: %s\n", err);
			rc = EXIT_FAILURE;
			goto out;
		}
	}
	monitor_setup_signals();
	rc = run(&o, file_text ? file_text : bccflow_probe_source, cgroup_fd, &pd, prom, &wc);
out:
	if (prom)
		prom_stop(prom);
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	web_config_free(&wc);
	free(file_text);
	return rc;
}

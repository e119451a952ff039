/* SPDX-License-Identifier: MIT */
/*
 * bccflow: TCP bytes sent and received per process and flow, live, from
 * eBPF probes compiled at run time through libbcc's C API.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "attach.h"
#include "filter_maps.h"
#include "kfeatures.h"
#include "loader.h"
#include "monitor.h"
#include "opts.h"
#include "probe_text.h"
#include "selfcost.h"
#include "prom.h"

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

static int run(const struct options *o, const char *src, int cgroup_fd,
	       struct prom_server *prom)
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

		/* before "counting": every run the monitor reports is timed */
		selfcost_start(&cost, &l, why, sizeof(why));
		if (*why)
			fprintf(stderr, "bccflow: warning: no BPF run-time statistics (%s): "
				"bpf_run_ns and bpf_runs stay 0\n", why);
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
	if (o.netns_path) {
		o.netns = filter_netns_resolve(o.netns_path, err, sizeof(err));
		if (!o.netns) {
			fprintf(stderr, "bccflow: %s\n", err);
			free(file_text);
			return EXIT_USAGE;
		}
	}
	if (o.cgroup) {
		cgroup_fd = filter_cgroup_open(o.cgroup, err, sizeof(err));
		if (cgroup_fd < 0) {
			fprintf(stderr, "bccflow: %s\n", err);
			free(file_text);
			return EXIT_USAGE;
		}
	}
	/* bind before compiling: a busy port should not cost a compile */
	if (o.listen && !o.print_ebpf) {
		prom = prom_start(&listen_addr, listen_len, err, sizeof(err));
		if (!prom) {
			fprintf(stderr, "bccflow: %s\n", err);
			rc = EXIT_FAILURE;
			goto out;
		}
	}
	monitor_setup_signals();
	rc = run(&o, file_text ? file_text : bccflow_probe_source, cgroup_fd, prom);
out:
	if (prom)
		prom_stop(prom);
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	free(file_text);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * bccflow: TCP bytes sent and received per process and flow, live, from
 * eBPF probes compiled at run time through libbcc's C API.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter_maps.h"
#include "kfeatures.h"
#include "loader.h"
#include "monitor.h"
#include "opts.h"
#include "probe_text.h"
#include "prom.h"

#define EXIT_USAGE 2

static void on_signal(int sig)
{
	int fd;

	if (sig != SIGALRM) {
		if (!exiting)
			exiting = 1;
		/* a reader that stopped reading must not keep us from exiting */
		alarm(3);
		return;
	}
	/* 3 s later still here: drop the rest of the output (async-signal-safe) */
	fd = open("/dev/null", O_WRONLY);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	exiting = EXITING_OUTPUT_DROPPED;
}

static void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* no SA_RESTART: the interval sleep must end at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a gone reader shows up as EPIPE */
}

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

/* Backends to try, in order; returns how many. */
static int candidates(enum backend want, enum backend out[4])
{
	if (want != BACKEND_AUTO) {
		out[0] = want;
		return 1;
	}
	/* kprobes before tracepoints: before 6.5 sendfile() skips sock_sendmsg() */
	out[0] = BACKEND_FENTRY;
	out[1] = BACKEND_KPROBE;
	out[2] = BACKEND_RAW_TRACEPOINT;
	out[3] = BACKEND_TRACEPOINT;
	return 4;
}

static char *prepare(const struct options *o, const char *src, const struct kfeatures *f,
		     enum backend b)
{
	struct probe_config cfg = {
		.backend = b,
		.max_flows = o->max_flows,
		.npids = o->npids,
		.pids = o->pids,
		.have_tcp_sendpage = f->have_tcp_sendpage,
		.recvmsg_has_nonblock = f->recvmsg_has_nonblock,
		.sk_protocol_off = f->sk_protocol_off,
		.filter = o,
	};
	char err[512];
	char *text;

	if (o->offsets != OFFSETS_HEADERS && f->sk_offsets_ok) {
		cfg.nfields = SK_NFIELDS;
		cfg.field_names = sk_field_names;
		cfg.field_offsets = f->sk_offsets;
		cfg.sk_head_packed = f->sk_offsets[SK_DADDR] == 0 && f->sk_offsets[SK_RCV_SADDR] == 4 &&
				     f->sk_offsets[SK_DPORT] == 12 && f->sk_offsets[SK_NUM] == 14;
	}
	text = probe_text_prepare(src, bccflow_probe_header, &cfg, err, sizeof(err));

	if (!text)
		fprintf(stderr, "bccflow: %s\n", err);
	return text;
}

/* --cgroup must name a cgroup v2 directory; returns an open fd, or -1. */
static int open_cgroup(const char *path)
{
	struct statfs sf;
	int fd;

	if (statfs(path, &sf)) {
		fprintf(stderr, "bccflow: invalid --cgroup '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (sf.f_type != CGROUP2_SUPER_MAGIC) {
		fprintf(stderr, "bccflow: invalid --cgroup '%s': not in a cgroup v2 hierarchy "
			"(e.g. /sys/fs/cgroup/system.slice)\n", path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "bccflow: invalid --cgroup '%s': %s\n", path, strerror(errno));
	return fd;
}

/* Rejects an unusable --probe text before anything touches the kernel. */
static int check_text(const struct options *o, const char *src)
{
	struct kfeatures none = { .btf = NULL };
	char *text = prepare(o, src, &none, BACKEND_TRACEPOINT);

	free(text);
	return text ? 0 : -1;
}

/*
 * Picks, prepares and (unless --ebpf) loads the first backend that works.
 * Returns an exit code, or -1 when *l is loaded and counting.
 */
static int start(const struct options *o, const char *src, const struct kfeatures *f,
		 int cgroup_fd, struct loaded *l)
{
	enum backend order[4];
	int n = candidates(o->attach, order);
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
		text = prepare(o, src, f, order[i]);
		if (!text)
			return EXIT_USAGE;
		if (o->print_ebpf) {
			fputs(text, stdout);
			free(text);
			return fflush(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
		}
		st = loader_open(l, text, order[i], f, maps.init, maps.n, why, sizeof(why));
		free(text);
		if (st == LOADER_OK)
			return -1;
		fprintf(stderr, "bccflow: %s with %s: %s%s\n",
			st == LOADER_FATAL ? "cannot start" : "cannot attach", backend_name(order[i]),
			why, st != LOADER_FATAL && i + 1 < n ? "; trying the next method" : "");
		if (st == LOADER_FATAL || exiting)
			return EXIT_FAILURE;
	}
	fprintf(stderr, "bccflow: no attach method works on this kernel%s\n",
		o->attach == BACKEND_AUTO ? "" : ": try --attach auto");
	return EXIT_FAILURE;
}

static int run(const struct options *o, const char *src, int cgroup_fd,
	       struct prom_server *prom)
{
	struct kfeatures f;
	struct loaded l;
	char err[512];
	int rc;

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
	rc = start(o, src, &f, cgroup_fd, &l);
	if (rc < 0) {
		char hooks[512];

		loader_describe(&l, hooks, sizeof(hooks));
		fprintf(stderr, "bccflow: counting TCP bytes with %s (%s)%s\n",
			backend_name(l.backend), hooks,
			o->output == OUTPUT_TABLE ? "; Ctrl-C to stop" : "");
		rc = exiting ? EXIT_SUCCESS : monitor_run(o, &l, prom);
		loader_close(&l);
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
	if (check_text(&o, file_text ? file_text : bccflow_probe_source)) {
		free(file_text);
		return EXIT_USAGE;
	}
	if (o.listen && prom_parse_listen(o.listen, &listen_addr, &listen_len, err, sizeof(err))) {
		fprintf(stderr, "bccflow: %s\n", err);
		free(file_text);
		return EXIT_USAGE;
	}
	if (o.cgroup) {
		cgroup_fd = open_cgroup(o.cgroup);
		if (cgroup_fd < 0) {
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
	setup_signals();
	rc = run(&o, file_text ? file_text : bccflow_probe_source, cgroup_fd, prom);
out:
	if (prom)
		prom_stop(prom);
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	free(file_text);
	return rc;
}

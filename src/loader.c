/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <linux/types.h>
#include <bcc/bcc_common.h>
#include <bcc/libbpf.h>

#include "../probes/flow.h"
#include "btf.h"
#include "hook_name.h"
#include "kfeatures.h"
#include "loader.h"

/* libbcc prints to stdout on some paths; stdout carries only our output. */
static int stdout_to_stderr(void)
{
	int saved;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	if (saved >= 0)
		dup2(STDERR_FILENO, STDOUT_FILENO);
	return saved;
}

static void stdout_restore(int saved)
{
	if (saved < 0)
		return;
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
}

/*
 * With borrowed headers, the probe's witness maps carry the offsets it was
 * compiled with (max_entries = 1 + offset); they must match BTF. A text
 * has a witness for every field it reads, or none (BTF offsets, or a
 * --probe text that does not say): one missing is an error, not a pass.
 */
static int check_layout(void *mod, const struct kfeatures *f, char *err, size_t errlen)
{
	long hdr[SK_NFIELDS];
	int have = 0;

	for (int i = 0; i < SK_NFIELDS; i++) {
		char map[64];

		snprintf(map, sizeof(map), "off_%s", sk_field_names[i]);
		hdr[i] = (long)bpf_table_max_entries(mod, map) - 1;
		have += hdr[i] >= 0;
	}
	for (int i = 0; i < SK_NFIELDS && have; i++) {
		if (hdr[i] < 0) {
			snprintf(err, errlen, "the probe text has layout witness maps but none for "
				 "struct sock field %s: declare off_%s as flow.bpf.c does",
				 sk_field_names[i], sk_field_names[i]);
			return -1;
		}
		if (!f->sk_offsets_ok)
			continue;	/* nothing to compare with */
		if (hdr[i] != f->sk_offsets[i]) {
			snprintf(err, errlen,
				 "kernel headers do not match the running kernel: struct sock field "
				 "%s is at offset %ld in the headers but %ld in the kernel's BTF; "
				 "install headers for this kernel, set BCC_KERNEL_SOURCE, or use "
				 "--offsets btf", sk_field_names[i], hdr[i], f->sk_offsets[i]);
			return -1;
		}
	}
	if (bpf_table_fd(mod, "socks") >= 0 &&
	    (bpf_table_key_size(mod, "socks") != sizeof(__u32) ||
	     bpf_table_leaf_size(mod, "socks") != sizeof(struct sock_flow))) {
		snprintf(err, errlen, "the probe's 'socks' table has key/value sizes %zu/%zu, "
			 "bccflow expects %zu/%zu: keep struct sock_flow from flow.h",
			 bpf_table_key_size(mod, "socks"), bpf_table_leaf_size(mod, "socks"),
			 sizeof(__u32), sizeof(struct sock_flow));
		return -1;
	}
	if (bpf_table_key_size(mod, "flows") != sizeof(struct flow_key) ||
	    bpf_table_leaf_size(mod, "flows") != sizeof(struct flow_val)) {
		snprintf(err, errlen, "the probe's 'flows' table has key/value sizes %zu/%zu, "
			 "bccflow expects %zu/%zu: keep struct flow_key/flow_val from flow.h",
			 bpf_table_key_size(mod, "flows"), bpf_table_leaf_size(mod, "flows"),
			 sizeof(struct flow_key), sizeof(struct flow_val));
		return -1;
	}
	return 0;
}

/*
 * A cgroup hook on the whole cgroup2 tree, as a BPF link: closing it (at
 * exit, even a killed one) detaches it, so nothing can stay attached.
 */
static int cgroup_link(int prog, const struct hook *h, const char *cgroup2)
{
	union bpf_attr attr;
	int cg = open(cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd, e;

	if (cg < 0)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = (__u32)prog;
	attr.link_create.target_fd = (__u32)cg;
	attr.link_create.attach_type = (__u32)hook_attach_type(h);
	fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	e = errno;
	close(cg);
	errno = e;
	return fd;
}

/* A BTF raw tracepoint program's link: the tracepoint is in its BTF type. */
static int tp_btf_link(int prog)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.prog_fd = (__u32)prog;
	return (int)syscall(__NR_bpf, BPF_RAW_TRACEPOINT_OPEN, &attr, sizeof(attr));
}

/* Room for the verifier's reasons: the end of a longer log is kept (Linux 6.4+). */
#define VERIFIER_LOG_SIZE (1u << 20)

/*
 * A BTF raw tracepoint program. When the kernel refuses it, the verifier's
 * log goes to stderr, as BCC prints it for the programs it loads.
 */
static int load_tp_btf(void *mod, const char *func, const struct hook *h,
		       const struct kfeatures *f)
{
	const struct bpf_insn *insns = bpf_function_start(mod, func);
	size_t n = bpf_function_size(mod, func) / sizeof(struct bpf_insn);
	const char *license = bpf_module_license(mod);
	int fd = kbtf_tp_btf_load(f->btf, h->target, h->target, insns, n, license, 0, NULL, 0);
	char *log;

	if (fd >= 0 || fd == -ENOMEM || !(log = calloc(1, VERIFIER_LOG_SIZE)))
		return fd;
	fd = kbtf_tp_btf_load(f->btf, h->target, h->target, insns, n, license, 1, log,
			      VERIFIER_LOG_SIZE);
	if (fd < 0 && log[0])
		fprintf(stderr, "bccflow: verifier log for %s():\n%s", func, log);
	free(log);
	return fd;
}

/* One program as its hook's kind needs: BCC loads all but BTF raw tracepoints. */
static int load_one(void *mod, const char *func, const struct hook *h, const struct kfeatures *f)
{
	if (h->kind == HOOK_TP_BTF)
		return load_tp_btf(mod, func, h, f);
	return bcc_func_load(mod, hook_prog_type(h->kind), func, bpf_function_start(mod, func),
			     (int)bpf_function_size(mod, func), bpf_module_license(mod),
			     bpf_module_kern_version(mod), 0, NULL, 0, NULL, hook_attach_type(h));
}

static int attach_one(const struct hook *h, int prog, const struct kfeatures *f,
		      struct link *lk, char *err, size_t errlen)
{
	char cat[64];
	const char *ev;

	lk->prog_fd = prog;
	lk->hook = *h;
	switch (h->kind) {
	case HOOK_TRACEPOINT:
		ev = strchr(h->target, ':');
		snprintf(cat, sizeof(cat), "%.*s", (int)(ev - h->target), h->target);
		lk->fd = bpf_attach_tracepoint(prog, cat, ev + 1);
		break;
	case HOOK_KPROBE:
	case HOOK_KRETPROBE:
		snprintf(lk->ev_name, sizeof(lk->ev_name), "bccflow_%c_%s",
			 h->kind == HOOK_KPROBE ? 'p' : 'r', h->target);
		lk->fd = bpf_attach_kprobe(prog, h->kind == HOOK_KPROBE ? BPF_PROBE_ENTRY :
					   BPF_PROBE_RETURN, lk->ev_name, h->target, 0, 0);
		break;
	case HOOK_FENTRY:
	case HOOK_FEXIT:
		lk->fd = bpf_attach_kfunc(prog);
		break;
	case HOOK_RAW_TRACEPOINT:
		lk->fd = bpf_attach_raw_tracepoint(prog, h->target);
		break;
	case HOOK_TP_BTF:
		lk->fd = tp_btf_link(prog);
		break;
	case HOOK_CGROUP_SOCK_ADDR:
	case HOOK_CGROUP_SOCK:
		errno = ENOENT;
		lk->fd = *f->cgroup2 ? cgroup_link(prog, h, f->cgroup2) : -1;
		break;
	}
	if (lk->fd < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot attach %s: %s", h->target,
			 strerror(e ? e : EINVAL));
		return -1;
	}
	return 0;
}

static void detach_one(struct link *lk)
{
	/* every kind by name, as attach_one() has them: -Wswitch names a new one */
	if (lk->fd >= 0) {
		switch (lk->hook.kind) {
		case HOOK_TRACEPOINT:
		case HOOK_KPROBE:
		case HOOK_KRETPROBE:
			/* a perf event: disable + close first; a PMU kprobe lives as long as its fd */
			bpf_close_perf_event_fd(lk->fd);
			/* only tracefs-made kprobes need removing; libbcc errs without it */
			if (*lk->ev_name && (access("/sys/kernel/tracing/kprobe_events", W_OK) == 0 ||
					     access("/sys/kernel/debug/tracing/kprobe_events", W_OK) == 0))
				bpf_detach_kprobe(lk->ev_name);
			break;
		case HOOK_FENTRY:
		case HOOK_FEXIT:
		case HOOK_RAW_TRACEPOINT:
		case HOOK_TP_BTF:
		case HOOK_CGROUP_SOCK_ADDR:
		case HOOK_CGROUP_SOCK:
			close(lk->fd);	/* a BPF link or attachment: gone with its fd */
			break;
		}
	}
	if (lk->prog_fd >= 0)
		close(lk->prog_fd);
	lk->fd = lk->prog_fd = -1;
}

static int load_and_attach(struct loaded *l, void *mod, enum backend b,
			   const struct kfeatures *f, char *err, size_t errlen)
{
	int counting = 0;

	for (size_t i = 0; i < bpf_num_functions(mod); i++) {
		const char *func = bpf_function_name(mod, i);
		struct hook h;
		int prog;

		if (!hook_parse(func, &h))
			continue;
		if (l->nlinks == LOADER_MAX_LINKS) {
			snprintf(err, errlen, "probe text has more than %d programs", LOADER_MAX_LINKS);
			return -1;
		}
		prog = load_one(mod, func, &h, f);
		if (prog < 0) {
			snprintf(err, errlen, "the kernel refused program %s(): %s", func,
				 strerror(-prog));
			return -1;
		}
		if (attach_one(&h, prog, f, &l->links[l->nlinks++], err, errlen)) {
			if (hook_counts_bytes(&h))
				return -1;
			/* a cgroup hook adds UDP peers and closes: say what is lost, go on */
			fprintf(stderr, "bccflow: warning: %s%s; %s\n", err,
				*f->cgroup2 ? "" : " (no cgroup2 mount)",
				h.kind == HOOK_CGROUP_SOCK ? "closed UDP sockets are evicted "
				"only when idle" : "the peers of unconnected UDP sockets are not "
				"known (remote 0)");
			detach_one(&l->links[--l->nlinks]);
		}
		counting += hook_counts_bytes(&h);
	}
	if (!counting) {
		snprintf(err, errlen, "probe text has no counting programs for --attach %s",
			 backend_name(b));
		return -1;
	}
	return 0;
}

static int keep_maps(struct loaded *l, void *mod, char *err, size_t errlen)
{
	/* dup(): the module closes its own fds when destroyed */
	l->flows_fd = dup(bpf_table_fd(mod, "flows"));
	l->closed_fd = dup(bpf_table_fd(mod, "closed"));
	l->tuples_fd = bpf_table_fd(mod, "tuples") >= 0 ? dup(bpf_table_fd(mod, "tuples")) : -1;
	l->socks_fd = bpf_table_fd(mod, "socks") >= 0 ? dup(bpf_table_fd(mod, "socks")) : -1;
	l->socks_slots = l->socks_fd >= 0 ? bpf_table_max_entries(mod, "socks") : 0;
	l->sock_claims_fd = bpf_table_fd(mod, "sock_claims") >= 0 ?
			    dup(bpf_table_fd(mod, "sock_claims")) : -1;
	l->stats_fd = dup(bpf_table_fd(mod, "stats"));
	l->cgroup_dirs_fd = bpf_table_fd(mod, "cgroup_dirs") >= 0 ?
			    dup(bpf_table_fd(mod, "cgroup_dirs")) : -1;
	if (l->flows_fd < 0 || l->closed_fd < 0 || l->stats_fd < 0) {
		snprintf(err, errlen, "probe text lacks the flows/closed/stats tables, or dup: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

static int init_maps(void *mod, const struct map_init *in, int n, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
		int fd = bpf_table_fd(mod, in[i].map);

		if (fd < 0 || bpf_table_key_size(mod, in[i].map) != in[i].key_size ||
		    bpf_table_leaf_size(mod, in[i].map) != in[i].value_size) {
			snprintf(err, errlen, "cannot set %s: the probe text has no '%s' table of "
				 "key/value sizes %zu/%zu", in[i].what, in[i].map, in[i].key_size,
				 in[i].value_size);
			return -1;
		}
		for (int k = 0; k < in[i].n; k++) {
			const char *key = (const char *)in[i].keys + k * in[i].key_size;
			const char *val = (const char *)in[i].values + k * in[i].value_size;

			if (bpf_update_elem(fd, (void *)key, (void *)val, BPF_ANY)) {
				snprintf(err, errlen, "cannot set %s: %s", in[i].what,
					 strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

/*
 * The compiler's code (libLLVM, libclang-cpp and libbcc's front end, about
 * 75 MB) stays resident after the only compile. Its pages are clean file
 * pages: dropping them lowers RSS, and anything run again is read back.
 * Only r-xp mappings: writable or relocated pages must not be dropped.
 */
static void drop_compiler_code(void)
{
	char line[4096];
	FILE *fp = fopen("/proc/self/maps", "r");

	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long lo, hi;
		char perms[8];
		int path = 0;

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path) < 3 ||
		    strcmp(perms, "r-xp") || !path)
			continue;
		if (strstr(line + path, "/libLLVM") || strstr(line + path, "/libclang") ||
		    strstr(line + path, "/libbcc.so"))
			madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	fclose(fp);
}

enum loader_status loader_open(struct loaded *l, const char *text, enum backend b,
			       const struct kfeatures *f, const struct map_init *inits, int ninits,
			       char *err, size_t errlen)
{
	enum loader_status st = LOADER_FAILED;
	int saved = stdout_to_stderr();
	void *mod;

	memset(l, 0, sizeof(*l));
	l->backend = b;
	l->flows_fd = l->closed_fd = l->tuples_fd = l->socks_fd = l->stats_fd = -1;
	l->cgroup_dirs_fd = l->sock_claims_fd = -1;
	for (int i = 0; i < LOADER_MAX_LINKS; i++)
		l->links[i].fd = l->links[i].prog_fd = -1;

	mod = bpf_module_create_c_from_string(text, 0, NULL, 0, false, NULL);
	if (!mod) {
		snprintf(err, errlen, "failed to compile the probe text (compiler messages above)");
		stdout_restore(saved);
		return LOADER_FAILED;
	}
	if (check_layout(mod, f, err, errlen) || init_maps(mod, inits, ninits, err, errlen))
		st = LOADER_FATAL;
	else if (!load_and_attach(l, mod, b, f, err, errlen) && !keep_maps(l, mod, err, errlen))
		st = LOADER_OK;
	bpf_module_destroy(mod);
	malloc_trim(0);		/* the compiler's heap is not needed any more */
	drop_compiler_code();
	stdout_restore(saved);
	if (st != LOADER_OK)
		loader_close(l);
	return st;
}

void loader_close(struct loaded *l)
{
	for (int i = l->nlinks - 1; i >= 0; i--)
		detach_one(&l->links[i]);
	l->nlinks = 0;
	if (l->flows_fd >= 0)
		close(l->flows_fd);
	if (l->closed_fd >= 0)
		close(l->closed_fd);
	if (l->tuples_fd >= 0)
		close(l->tuples_fd);
	if (l->socks_fd >= 0)
		close(l->socks_fd);
	if (l->stats_fd >= 0)
		close(l->stats_fd);
	if (l->cgroup_dirs_fd >= 0)
		close(l->cgroup_dirs_fd);
	if (l->sock_claims_fd >= 0)
		close(l->sock_claims_fd);
	l->flows_fd = l->closed_fd = l->tuples_fd = l->socks_fd = l->stats_fd = -1;
	l->cgroup_dirs_fd = l->sock_claims_fd = -1;
}

void loader_describe(const struct loaded *l, char *out, size_t len)
{
	struct hook hooks[LOADER_MAX_LINKS];

	for (int i = 0; i < l->nlinks; i++)
		hooks[i] = l->links[i].hook;
	hook_describe(hooks, l->nlinks, out, len);
}

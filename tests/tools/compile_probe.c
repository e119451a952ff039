/* SPDX-License-Identifier: MIT */
/*
 * Test helper: compiles a prepared probe text (bccflow --ebpf output) with
 * libbcc and lists its programs, without attaching any. Proves the kprobe
 * and fentry variants compile on a host that cannot run them. Needs root
 * (libbcc creates the maps).
 *
 * With --load, also loads each program as the type its name gives, as
 * bccflow does (hook_name.c; never attaches it) and prints "NAME PROCESSED"
 * or "NAME refused ERRNO": PROCESSED is the verifier's count of
 * instructions it walked, the number its complexity limit (1,000,000)
 * applies to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bcc/bcc_common.h>

#include "btf.h"
#include "hook_name.h"

#define LOG_STATS 4	/* BPF_LOG_STATS: only the verifier's totals */

static struct kbtf *btf;	/* the kernel's, for BTF raw tracepoints */

static void load(void *mod, const char *name)
{
	static char log[1 << 16];
	struct hook h;
	const char *p;
	int fd;

	if (!hook_parse(name, &h)) {
		printf("%s not-a-program\n", name);
		return;
	}
	log[0] = '\0';
	if (h.kind == HOOK_TP_BTF)	/* as loader.c does: BCC has no such type */
		fd = kbtf_tp_btf_load(btf, h.target, h.target, bpf_function_start(mod, name),
				      bpf_function_size(mod, name) / 8, bpf_module_license(mod),
				      LOG_STATS, log, sizeof(log));
	else
		fd = bcc_func_load(mod, hook_prog_type(h.kind), name,
				   bpf_function_start(mod, name), (int)bpf_function_size(mod, name),
				   bpf_module_license(mod), bpf_module_kern_version(mod), LOG_STATS,
				   log, sizeof(log), NULL, hook_attach_type(&h));
	p = strstr(log, "processed ");
	if (fd < 0)
		printf("%s refused %d\n", name, -fd);
	else if (p)
		printf("%s %ld\n", name, strtol(p + 10, NULL, 10));
	else
		printf("%s unknown\n", name);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	static char text[1 << 20];
	int do_load = argc == 3 && !strcmp(argv[1], "--load");
	size_t n;
	FILE *f;
	void *mod;

	if (argc != 2 && !do_load) {
		fprintf(stderr, "usage: compile_probe [--load] FILE\n");
		return 2;
	}
	f = fopen(argv[argc - 1], "r");
	if (!f) {
		perror(argv[argc - 1]);
		return 2;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	btf = do_load ? kbtf_load() : NULL;
	mod = bpf_module_create_c_from_string(text, 0, NULL, 0, false, NULL);
	if (!mod)
		return 1;
	for (size_t i = 0; i < bpf_num_functions(mod); i++) {
		if (do_load)
			load(mod, bpf_function_name(mod, i));
		else
			printf("%s\n", bpf_function_name(mod, i));
	}
	bpf_module_destroy(mod);
	return 0;
}

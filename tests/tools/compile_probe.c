/* SPDX-License-Identifier: MIT */
/*
 * Test helper: compiles a prepared probe text (bccflow --ebpf output) with
 * libbcc and lists its programs, without loading any. Proves the kprobe and
 * fentry variants compile on a host that cannot run them. Needs root (libbcc
 * creates the maps).
 */
#include <stdio.h>
#include <stdlib.h>
#include <bcc/bcc_common.h>

int main(int argc, char **argv)
{
	static char text[1 << 20];
	size_t n;
	FILE *f;
	void *mod;

	if (argc != 2) {
		fprintf(stderr, "usage: compile_probe FILE\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	mod = bpf_module_create_c_from_string(text, 0, NULL, 0, false, NULL);
	if (!mod)
		return 1;
	for (size_t i = 0; i < bpf_num_functions(mod); i++)
		printf("%s\n", bpf_function_name(mod, i));
	bpf_module_destroy(mod);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* Unit tests for src/probe_text.c: header splice, PID filter, defines. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../probes/flow.h"
#include "kfeatures.h"
#include "probe_text.h"

static char err[512];

static struct probe_config config(enum backend b, int npids, const int *pids)
{
	return (struct probe_config){
		.backend = b,
		.max_flows = 65536,
		.npids = npids,
		.pids = pids,
	};
}

static char *prepare(const char *src, const char *header, const struct probe_config *cfg)
{
	memset(err, 0, sizeof(err));
	return probe_text_prepare(src, header, cfg, err, sizeof(err));
}

/* Prepares the real embedded probe text. */
static char *prepare_real(const struct probe_config *cfg)
{
	char *text = prepare(bccflow_probe_source, bccflow_probe_header, cfg);

	if (!text)
		fail_msg("probe_text_prepare failed: %s", err);
	return text;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + strlen(needle), needle))
		n++;
	return n;
}

#define assert_contains(hay, needle)                                           \
	do {                                                                   \
		if (!strstr((hay), (needle)))                                  \
			fail_msg("text does not contain '%s'", (needle));      \
	} while (0)
#define assert_not_contains(hay, needle)                                       \
	do {                                                                   \
		if (strstr((hay), (needle)))                                   \
			fail_msg("text unexpectedly contains '%s'", (needle)); \
	} while (0)
#define assert_prefix(s, prefix)                                               \
	do {                                                                   \
		if (strncmp((s), (prefix), strlen(prefix)))                    \
			fail_msg("text does not start with:\n%s\n--- it starts with:\n%.*s", \
				 (prefix), (int)strlen(prefix), (s));          \
	} while (0)

/* The defines prepended for a tracepoint config with default flags. */
#define TP_DEFINES                                                       \
	"/* prepared by bccflow 0.1.0 for --attach tracepoint */\n"      \
	"#define BCCFLOW_BACKEND_TRACEPOINT 1\n"                         \
	"#define MAX_FLOWS 65536\n"                                      \
	"#define SOCK_TABLE_BITS 16\n"                                   \
	"#define BCCFLOW_COUNT_TCP 1\n"                                  \
	"#define BCCFLOW_COUNT_UDP 1\n"                                  \
	"#define TCP_RECVMSG_FLAGS(ctx) PT_REGS_PARM4(ctx)\n"
/* The same with a task filter: the probe reads the pid before it */
#define TP_DEFINES_TASK TP_DEFINES "#define FLOW_TASK_FILTER 1\n"

/* The task filter's call, and its function with one condition. */
#define TASK_CALL "if (bccflow_task_excluded(pid)) { return 0; }"
#define TASK_FN(cond)                                                    \
	"\nstatic __always_inline int bccflow_task_excluded(u32 pid)\n{\n" \
	"\tif (" cond ")\n\t\treturn 1;\n\treturn 0;\n}\n"

/* ---- the real embedded probe text ------------------------------------- */

static void test_real_no_pids_removes_placeholder(void **state)
{
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 0, NULL);
	char *text = prepare_real(&cfg);

	(void)state;
	assert_contains(bccflow_probe_source, "FILTER_PID");
	/* only the empty definition for editors is left: no call, no function */
	assert_int_equal(count_of(text, "FILTER_PID"), 1);
	assert_contains(text, "\n#define FILTER_PID\n");
	assert_not_contains(text, "bccflow_task_excluded");
	assert_not_contains(text, "pid !=");
	assert_not_contains(text, "#define FLOW_TASK_FILTER");	/* the pid off the fast path */
	free(text);
}

static void test_real_one_pid(void **state)
{
	const int pids[] = { 42 };
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 1, pids);
	char *text = prepare_real(&cfg);

	(void)state;
	assert_int_equal(count_of(text, "FILTER_PID"), 1);
	/* the call, on its own line in count_sock(); the test in the function */
	assert_contains(text, "\n\t" TASK_CALL "\n");
	assert_contains(text, "\tif (pid != 42)\n\t\treturn 1;\n");
	assert_not_contains(text, "&& pid");
	/* the probe reads the pid before the filter's call */
	assert_int_equal(count_of(text, "#define FLOW_TASK_FILTER 1\n"), 1);
	assert_true(strstr(text, "#define FLOW_TASK_FILTER 1\n") < strstr(text, "SPDX"));
	free(text);
}

static void test_real_three_pids(void **state)
{
	const int pids[] = { 1, 2, 3 };
	struct probe_config cfg = config(BACKEND_KPROBE, 3, pids);
	char *text = prepare_real(&cfg);

	(void)state;
	assert_contains(text, "\n\t" TASK_CALL "\n");
	assert_contains(text, "\tif (pid != 1 && pid != 2 && pid != 3)\n\t\treturn 1;\n");
	free(text);
}

static void test_real_include_replaced_by_header(void **state)
{
	struct probe_config cfg = config(BACKEND_FENTRY, 0, NULL);
	char *text = prepare_real(&cfg);
	char *spliced;

	(void)state;
	assert_contains(text, "struct flow_key {");
	assert_contains(text, "struct flow_val {");
	assert_contains(text, "enum flow_stat {");
	/* no #include "flow.h" line is left (the file comment may still name it) */
	assert_not_contains(text, "\n#include \"flow.h\"");
	assert_int_equal(count_of(text, "struct flow_key {"), 1);
	/* the header sits exactly where the include line was */
	assert_true(asprintf(&spliced, "#include <uapi/linux/ptrace.h>\n%s\n",
			     bccflow_probe_header) > 0);
	assert_contains(text, spliced);
	free(spliced);
	free(text);
}

static void test_real_rest_of_text_preserved(void **state)
{
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 0, NULL);
	char *text = prepare_real(&cfg);

	(void)state;
	/* what follows the include line is copied verbatim */
	assert_contains(text, "#ifndef MAX_FLOWS\n#define MAX_FLOWS 65536\n#endif\n");
	assert_contains(text, "TRACEPOINT_PROBE(sock, sock_send_length)");
	assert_contains(text, "KRETFUNC_PROBE(tcp_recvmsg");
	assert_true(strlen(text) > strlen(bccflow_probe_source));
	free(text);
}

/* ---- defines ----------------------------------------------------------- */

static void test_defines_tracepoint(void **state)
{
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 0, NULL);
	char *text = prepare_real(&cfg);

	(void)state;
	assert_prefix(text, TP_DEFINES);
	assert_int_equal(count_of(text, "#define BCCFLOW_BACKEND_"), 1);
	assert_not_contains(text, "#define HAVE_TCP_SENDPAGE");
	assert_not_contains(text, "#define TCP_RECVMSG_HAS_NONBLOCK");
	free(text);
}

static void test_defines_kprobe_old_kernel(void **state)
{
	struct probe_config cfg = config(BACKEND_KPROBE, 0, NULL);
	char *text;

	(void)state;
	cfg.max_flows = 1234;
	cfg.have_tcp_sendpage = true;
	cfg.recvmsg_has_nonblock = true;
	text = prepare_real(&cfg);
	assert_prefix(text,
		      "/* prepared by bccflow 0.1.0 for --attach kprobe */\n"
		      "#define BCCFLOW_BACKEND_KPROBE 1\n"
		      "#define MAX_FLOWS 1234\n"
		      "#define SOCK_TABLE_BITS 11\n"
		      "#define BCCFLOW_COUNT_TCP 1\n"
		      "#define BCCFLOW_COUNT_UDP 1\n"
		      "#define HAVE_TCP_SENDPAGE 1\n"
		      "#define TCP_RECVMSG_HAS_NONBLOCK 1\n"
		      "#define TCP_RECVMSG_FLAGS(ctx) PT_REGS_PARM5(ctx)\n"
		      "/* SPDX-License-Identifier: MIT */\n");
	assert_int_equal(count_of(text, "#define BCCFLOW_BACKEND_"), 1);
	assert_not_contains(text, "PT_REGS_PARM4");
	free(text);
}

static void test_defines_fentry_new_kernel(void **state)
{
	struct probe_config cfg = config(BACKEND_FENTRY, 0, NULL);
	char *text;

	(void)state;
	cfg.max_flows = 4194304;
	text = prepare_real(&cfg);
	assert_prefix(text,
		      "/* prepared by bccflow 0.1.0 for --attach fentry */\n"
		      "#define BCCFLOW_BACKEND_FENTRY 1\n"
		      "#define MAX_FLOWS 4194304\n"
		      "#define SOCK_TABLE_BITS 16\n"
		      "#define BCCFLOW_COUNT_TCP 1\n"
		      "#define BCCFLOW_COUNT_UDP 1\n"
		      "#define TCP_RECVMSG_FLAGS(ctx) PT_REGS_PARM4(ctx)\n"
		      "/* SPDX-License-Identifier: MIT */\n");
	assert_int_equal(count_of(text, "#define BCCFLOW_BACKEND_"), 1);
	assert_not_contains(text, "#define HAVE_TCP_SENDPAGE");
	assert_not_contains(text, "#define TCP_RECVMSG_HAS_NONBLOCK");
	assert_not_contains(text, "PT_REGS_PARM5");
	free(text);
}

/* Entry stamps where the host allows them (kfeatures.c, stamps_ok), for every backend. */
static void test_defines_stamps(void **state)
{
	struct probe_config cfg = config(BACKEND_KPROBE, 0, NULL);
	char *text;

	(void)state;
	text = prepare_real(&cfg);
	assert_not_contains(text, "#define FLOW_STAMPS");
	free(text);
	cfg.stamps = true;
	text = prepare_real(&cfg);
	assert_contains(text, "#define TCP_RECVMSG_FLAGS(ctx) PT_REGS_PARM4(ctx)\n");
	assert_int_equal(count_of(text, "#define FLOW_STAMPS 1\n"), 1);
	assert_true(strstr(text, "#define FLOW_STAMPS 1\n") < strstr(text, "SPDX"));
	free(text);
}

/*
 * The probe advances the task epoch on every tracepoint of flow.h's list,
 * which the host checks for and names: BCC's rewriter cannot make
 * TRACEPOINT_PROBEs from the list itself (it puts each struct inside the
 * macro's arguments), so the probe names them again and this keeps both
 * the same.
 */
static void test_epoch_tracepoints_in_probe(void **state)
{
#define EPOCH_TP_PROBE(category, event) "TRACEPOINT_PROBE(" #category ", " #event ")",
	static const char *const probes[] = { FLOW_EPOCH_TRACEPOINTS(EPOCH_TP_PROBE) };
#undef EPOCH_TP_PROBE
	const size_t n = sizeof(probes) / sizeof(probes[0]);
	const char *epoch = strstr(bccflow_probe_source, "#ifdef FLOW_STAMPS");

	(void)state;
	assert_non_null(epoch);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(count_of(bccflow_probe_source, probes[i]), 1);
		assert_true(strstr(bccflow_probe_source, probes[i]) > epoch);
	}
	assert_int_equal(count_of(bccflow_probe_source, "return epoch_advance();"), n);
}

/* What finds the current task without a helper: tp-btf only, in flow.h's order. */
static void test_defines_current_task_facts(void **state)
{
	const long facts[] = { 128, 168, 312, 86040, 195456, 113 };
	struct probe_config cfg = config(BACKEND_TP_BTF, 0, NULL);
	char *text;

	(void)state;
	assert_int_equal(sizeof(facts) / sizeof(facts[0]), CURRENT_NFACTS);
	cfg.current_facts = facts;
	text = prepare_real(&cfg);
	assert_contains(text, "#define OFF_task_struct_se 128\n"
			      "#define OFF_sched_entity_cfs_rq 168\n"
			      "#define OFF_cfs_rq_rq 312\n"
			      "#define PCPU_current_task 86040ull\n"
			      "#define PCPU_runqueues 195456ull\n"
			      "#define CURRENT_CAST_ID 113\n");
	free(text);
	cfg.backend = BACKEND_RAW_TRACEPOINT;
	text = prepare_real(&cfg);
	assert_not_contains(text, "#define CURRENT_CAST_ID");
	assert_not_contains(text, "#define PCPU_");
	free(text);
}

/* The socket table: --max-flows rounded up to a power of two, within bounds. */
static void test_sock_table_bits(void **state)
{
	(void)state;
	assert_int_equal(sock_table_bits(1), SOCK_TABLE_MIN_BITS);
	assert_int_equal(sock_table_bits(16), 4);
	assert_int_equal(sock_table_bits(17), 5);
	assert_int_equal(sock_table_bits(1234), 11);
	assert_int_equal(sock_table_bits(65536), 16);
	assert_int_equal(sock_table_bits(65537), SOCK_TABLE_MAX_BITS);
	assert_int_equal(sock_table_bits(4194304), SOCK_TABLE_MAX_BITS);
}

static void test_defines_sendpage_without_nonblock(void **state)
{
	struct probe_config cfg = config(BACKEND_FENTRY, 0, NULL);
	char *text;

	(void)state;
	cfg.have_tcp_sendpage = true;
	text = prepare(" #include \"flow.h\"\n", "H", &cfg);
	assert_non_null(text);
	assert_string_equal(text,
			    "/* prepared by bccflow 0.1.0 for --attach fentry */\n"
			    "#define BCCFLOW_BACKEND_FENTRY 1\n"
			    "#define MAX_FLOWS 65536\n"
			    "#define SOCK_TABLE_BITS 16\n"
			    "#define BCCFLOW_COUNT_TCP 1\n"
			    "#define BCCFLOW_COUNT_UDP 1\n"
			    "#define HAVE_TCP_SENDPAGE 1\n"
			    "#define TCP_RECVMSG_FLAGS(ctx) PT_REGS_PARM4(ctx)\n"
			    "H\n");
	free(text);
}

static void test_backend_auto_refused(void **state)
{
	struct probe_config cfg = config(BACKEND_AUTO, 0, NULL);

	(void)state;
	assert_null(prepare(bccflow_probe_source, bccflow_probe_header, &cfg));
	assert_contains(err, "no backend");
}

/* ---- splice and placeholder on small texts ------------------------------ */

static void test_exact_small_text(void **state)
{
	const int pids[] = { 5 };
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 1, pids);
	char *text = prepare("a\n#include \"flow.h\"\nb FILTER_PID c\n", "HEADER", &cfg);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, TP_DEFINES_TASK "a\nHEADER\n" TASK_FN("pid != 5") "b " TASK_CALL " c\n");
	free(text);
}

static void test_placeholder_everywhere_replaced(void **state)
{
	const int pids[] = { 7, 8 };
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 2, pids);
	/* twice after the include, the second at the very end */
	char *text = prepare("#include \"flow.h\"\n(FILTER_PID);FILTER_PID", "H", &cfg);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, TP_DEFINES_TASK "H\n" TASK_FN("pid != 7 && pid != 8")
			    "(" TASK_CALL ");" TASK_CALL);
	free(text);
}

static void test_longer_identifiers_left_alone(void **state)
{
	const int pids[] = { 9 };
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 1, pids);
	const char *idents = "MY_FILTER_PID_X FILTER_PID_2 X_FILTER_PID FILTER_PIDS "
			     "aFILTER_PID FILTER_PIDFILTER_PID";
	char *src, *want, *text;

	(void)state;
	assert_true(asprintf(&src, "#include \"flow.h\"\n%s\nFILTER_PID\n", idents) > 0);
	assert_true(asprintf(&want, TP_DEFINES_TASK "H\n" TASK_FN("pid != 9") "%s\n" TASK_CALL "\n",
			     idents) > 0);
	text = prepare(src, "H", &cfg);
	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
	free(want);
	free(src);
}

static void test_placeholder_on_directive_left_alone(void **state)
{
	const int pids[] = { 4 };
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 1, pids);
	char *text = prepare("#include \"flow.h\"\n#define FILTER_PID\n  #  define FILTER_KEY x\n"
			     "FILTER_PID\n", "H", &cfg);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, TP_DEFINES_TASK "H\n" TASK_FN("pid != 4")
			    "#define FILTER_PID\n  #  define FILTER_KEY x\n" TASK_CALL "\n");
	free(text);
	/* a definition alone is no placeholder */
	assert_null(prepare("#include \"flow.h\"\n#define FILTER_PID\n", "H", &cfg));
	assert_contains(err, "no FILTER_PID placeholder");
}

static void test_placeholder_before_include_refused(void **state)
{
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 0, NULL);

	(void)state;
	/* the filter functions follow the header: a call before it has none */
	assert_null(prepare("FILTER_KEY\n#include \"flow.h\"\n", "H", &cfg));
	assert_contains(err, "FILTER_KEY before its '#include \"flow.h\"' line");
	assert_null(strchr(err, '\n'));
}

static void test_only_longer_identifiers_is_no_placeholder(void **state)
{
	const int pids[] = { 9 };
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 1, pids);

	(void)state;
	assert_null(prepare("#include \"flow.h\"\nint MY_FILTER_PID_X;\n", "H", &cfg));
	assert_contains(err, "FILTER_PID");
}

static void test_placeholder_in_header_not_replaced(void **state)
{
	const int pids[] = { 3 };
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 1, pids);
	char *text = prepare("#include \"flow.h\"\nFILTER_PID\n", "/* FILTER_PID */", &cfg);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, TP_DEFINES_TASK "/* FILTER_PID */\n" TASK_FN("pid != 3") TASK_CALL "\n");
	free(text);
}

static void test_no_pids_placeholder_removed(void **state)
{
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 0, NULL);
	char *text = prepare("#include \"flow.h\"\n\tFILTER_PID\nx\n", "H", &cfg);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, TP_DEFINES "H\n\t\nx\n");
	free(text);
}

static void test_no_pids_no_placeholder_ok(void **state)
{
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 0, NULL);
	char *text = prepare("#include \"flow.h\"\nint x;\n", "H", &cfg);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, TP_DEFINES "H\nint x;\n");
	free(text);
}

static void test_pids_without_placeholder_refused(void **state)
{
	const int pids[] = { 1 };
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 1, pids);

	(void)state;
	assert_null(prepare("#include \"flow.h\"\nint x;\n", "H", &cfg));
	assert_contains(err, "FILTER_PID");
	assert_contains(err, "-p");
}

static void test_missing_include_refused(void **state)
{
	static const char *const srcs[] = {
		"int x;\n",
		"",
		"#include <flow.h>\n",
		"#include \"flow.hpp\"\n",
		"// #include \"flow.h\"\n",
		"#include \"other.h\"\n",
		"x #include \"flow.h\"\n",
	};
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 0, NULL);

	(void)state;
	for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		if (prepare(srcs[i], "H", &cfg))
			fail_msg("accepted a text without the include line: '%s'", srcs[i]);
		assert_contains(err, "flow.h");
	}
}

static void test_include_with_spaces_accepted(void **state)
{
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 0, NULL);
	char *text = prepare("a\n  #  include   \"flow.h\"\nb\n", "H", &cfg);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, TP_DEFINES "a\nH\nb\n");
	free(text);

	text = prepare("\t#\tinclude\t\"flow.h\"\nb\n", "H", &cfg);
	assert_non_null(text);
	assert_string_equal(text, TP_DEFINES "H\nb\n");
	free(text);
}

static void test_include_as_last_line_without_newline(void **state)
{
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 0, NULL);
	char *text = prepare("a\n#include \"flow.h\"", "H", &cfg);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, TP_DEFINES "a\nH\n");
	free(text);
}

/* ---- probe_text_read_file ------------------------------------------------ */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/bccflow-test-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes n bytes of data to tmpdir/name; returns the path (static). */
static const char *write_file(const char *name, const void *data, size_t n)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	return path;
}

static char *read_file(const char *path)
{
	memset(err, 0, sizeof(err));
	return probe_text_read_file(path, err, sizeof(err));
}

static void test_read_file_round_trip(void **state)
{
	const char *content = "#include \"flow.h\"\nint x; /* \xc3\xa9 */\n";
	const char *path = write_file("good.bpf.c", content, strlen(content));
	char *text = read_file(path);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, content);
	free(text);
}

static void test_read_file_embedded_source_round_trip(void **state)
{
	const char *path = write_file("flow.bpf.c", bccflow_probe_source,
				      strlen(bccflow_probe_source));
	char *text = read_file(path);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, bccflow_probe_source);
	free(text);
}

static void test_read_file_empty(void **state)
{
	const char *path = write_file("empty.bpf.c", "", 0);
	char *text = read_file(path);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, "");
	free(text);
}

static void test_read_file_missing(void **state)
{
	char path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.bpf.c", tmpdir);
	assert_null(read_file(path));
	assert_contains(err, path);
	assert_contains(err, "cannot open");
	assert_contains(err, "No such file or directory");
}

static void test_read_file_directory(void **state)
{
	(void)state;
	assert_null(read_file(tmpdir));
	assert_contains(err, tmpdir);
	assert_contains(err, "not a regular file");
}

static void test_read_file_nul_byte(void **state)
{
	static const char data[] = "int x;\0int y;\n";
	const char *path = write_file("nul.bpf.c", data, sizeof(data) - 1);

	(void)state;
	assert_null(read_file(path));
	assert_contains(err, path);
	assert_contains(err, "NUL");
}

static void test_read_file_size_limit(void **state)
{
	size_t max = 1u << 20;
	char *big = malloc(max + 1);
	const char *path;
	char *text;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', max + 1);

	path = write_file("max.bpf.c", big, max);	/* exactly 1 MiB: fine */
	text = read_file(path);
	assert_non_null(text);
	assert_int_equal(strlen(text), max);
	free(text);

	path = write_file("big.bpf.c", big, max + 1);	/* one byte more: refused */
	assert_null(read_file(path));
	assert_contains(err, path);
	assert_contains(err, "at most 1 MiB");
	free(big);
}


/* ---- key filters (FILTER_KEY) ---- */

static char *with_filter(struct options *f)
{
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 0, NULL);

	cfg.filter = f;
	return prepare_real(&cfg);
}

static void test_key_filter_absent_without_options(void **state)
{
	struct options f;
	char *text;

	(void)state;
	memset(&f, 0, sizeof(f));
	text = with_filter(&f);
	assert_null(strstr(text, "bccflow_key_excluded"));
	assert_null(strstr(text, "port_filter"));
	assert_null(strstr(text, "addr_filter"));
	assert_null(strstr(text, "BCCFLOW_CGROUP_FILTER 1"));
	free(text);
}

static void test_key_filter_ports_family_comm_cgroup(void **state)
{
	struct options f;
	char *text;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.family = 6;
	f.nports = 2;
	f.ports[0] = 80;
	f.ports[1] = 443;
	f.comm = "a\"b";
	f.cgroup = "/sys/fs/cgroup/x";
	text = with_filter(&f);
	assert_contains(text, "\tif (key->family != FLOW_AF_INET6 || FLOW_MAPPED(key->laddr))\n"
			      "\t\treturn 1;\n");
	/* ports are a set the host fills (filter_maps.c): one lookup per port */
	assert_contains(text, "BPF_HASH(port_filter, u16, u8, 16);\n");
	assert_contains(text, "\tif (!port_filter.lookup((u16 *)&key->lport) && "
			      "!port_filter.lookup((u16 *)&key->rport))\n\t\treturn 1;\n");
	assert_null(strstr(text, "443"));
	/* the name arrives as two NUL-padded words, never as a C string literal */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	assert_contains(text, "if (c_[0] != 0x0000000000622261ULL || "
			      "c_[1] != 0x0000000000000000ULL)\n\t\t\treturn 1;\n");
#else
	assert_contains(text, "if (c_[0] != 0x6122620000000000ULL || "
			      "c_[1] != 0x0000000000000000ULL)\n\t\t\treturn 1;\n");
#endif
	assert_null(strstr(text, "\"a\\\"b\""));
	assert_contains(text, "\nBPF_CGROUP_ARRAY(cgroup_filter, 1);\n");
	assert_contains(text, "\tif (cgroup_filter.check_current_task(0) != 1)\n\t\treturn 1;\n");
	assert_contains(text, "\t" TASK_CALL "\n");
	assert_contains(text, "\tif (bccflow_key_excluded(&key)) { return 0; }\n");
	free(text);
}

static void test_task_filters_run_before_the_socket_lookup(void **state)
{
	struct options f;
	char *text, *comm, *cg, *lookup, *key;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.comm = "nginx";
	f.cgroup = "/sys/fs/cgroup/x";
	f.nports = 1;
	f.ports[0] = 80;
	text = with_filter(&f);
	/* a socket's entry must not let another thread's name or cgroup through */
	comm = strstr(text, "bpf_get_current_comm(c_, sizeof(c_))");
	cg = strstr(text, "\tif (cgroup_filter.check_current_task(0) != 1)");
	lookup = strstr(text, "if (SOCK_STAMPED(sf, skp, stamp))");	/* in count_sock() */
	key = strstr(text, "\tif (bccflow_key_excluded(&key)) { return 0; }");
	assert_non_null(comm);
	assert_non_null(cg);
	assert_non_null(lookup);
	assert_non_null(key);
	assert_int_equal(count_of(text, TASK_CALL), 1);
	assert_true(strstr(text, "\t" TASK_CALL) < lookup);	/* the call, in count_sock() */
	assert_true(comm < lookup && cg < lookup);
	assert_true(key < lookup);	/* count_slow() is defined above count_sock() */
	assert_null(strstr(comm + 1, "bpf_get_current_comm(c_, sizeof(c_))"));
	free(text);
}

static void test_task_filter_needs_pid_placeholder(void **state)
{
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 0, NULL);
	struct options f;
	char err[256];

	(void)state;
	memset(&f, 0, sizeof(f));
	f.comm = "curl";
	cfg.filter = &f;
	assert_null(probe_text_prepare("#include \"flow.h\"\nFILTER_KEY\n", bccflow_probe_header,
				       &cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "FILTER_PID"));
	assert_non_null(strstr(err, "--comm"));
}

static void test_key_filter_cidr_is_one_lookup_per_direction(void **state)
{
	struct options f;
	char *text;

	(void)state;
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < MAX_CIDR_FILTERS; i++)
		assert_int_equal(parse_cidr(i % 2 ? "10.1.2.0/23" : "2001:db8::/17", &f.raddr[i]), 0);
	f.nraddr = MAX_CIDR_FILTERS;
	assert_int_equal(parse_cidr("2001:db8::/17", &f.laddr[0]), 0);
	f.nladdr = 1;
	text = with_filter(&f);
	/* the networks are in the tries (filter_maps.c), not in the text */
	assert_contains(text, "BPF_LPM_TRIE(laddr_filter, struct addr_lpm_key, u8, "
			      "ADDR_LPM_MAX_ENTRIES);\n");
	assert_contains(text, "BPF_LPM_TRIE(raddr_filter, struct addr_lpm_key, u8, "
			      "ADDR_LPM_MAX_ENTRIES);\n");
	assert_contains(text, "__builtin_memcpy(k_.addr, key->raddr, 16);\n"
			      "\t\tif (!raddr_filter.lookup(&k_))\n\t\t\treturn 1;\n");
	assert_contains(text, "__builtin_memcpy(k_.addr, key->laddr, 16);\n"
			      "\t\tif (!laddr_filter.lookup(&k_))\n\t\t\treturn 1;\n");
	assert_null(strstr(strstr(text, "raddr_filter.lookup") + 1, "raddr_filter.lookup"));
	assert_null(strstr(text, "0x0a"));
	/* declared after the spliced header, which defines struct addr_lpm_key */
	assert_true(strstr(text, "struct addr_lpm_key {") < strstr(text, "BPF_LPM_TRIE("));
	free(text);
}

static void test_key_filter_needs_placeholder(void **state)
{
	struct probe_config cfg = config(BACKEND_TRACEPOINT, 0, NULL);
	struct options f;
	char err[256];

	(void)state;
	memset(&f, 0, sizeof(f));
	f.family = 4;
	cfg.filter = &f;
	assert_null(probe_text_prepare("#include \"flow.h\"\nint x;\n", bccflow_probe_header,
				       &cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "FILTER_KEY"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_filter_absent_without_options),
		cmocka_unit_test(test_key_filter_ports_family_comm_cgroup),
		cmocka_unit_test(test_task_filters_run_before_the_socket_lookup),
		cmocka_unit_test(test_placeholder_on_directive_left_alone),
		cmocka_unit_test(test_placeholder_before_include_refused),
		cmocka_unit_test(test_task_filter_needs_pid_placeholder),
		cmocka_unit_test(test_key_filter_cidr_is_one_lookup_per_direction),
		cmocka_unit_test(test_key_filter_needs_placeholder),
		cmocka_unit_test(test_real_no_pids_removes_placeholder),
		cmocka_unit_test(test_real_one_pid),
		cmocka_unit_test(test_defines_stamps),
		cmocka_unit_test(test_epoch_tracepoints_in_probe),
		cmocka_unit_test(test_real_three_pids),
		cmocka_unit_test(test_real_include_replaced_by_header),
		cmocka_unit_test(test_real_rest_of_text_preserved),
		cmocka_unit_test(test_defines_tracepoint),
		cmocka_unit_test(test_defines_kprobe_old_kernel),
		cmocka_unit_test(test_defines_fentry_new_kernel),
		cmocka_unit_test(test_defines_current_task_facts),
		cmocka_unit_test(test_sock_table_bits),
		cmocka_unit_test(test_defines_sendpage_without_nonblock),
		cmocka_unit_test(test_backend_auto_refused),
		cmocka_unit_test(test_exact_small_text),
		cmocka_unit_test(test_placeholder_everywhere_replaced),
		cmocka_unit_test(test_longer_identifiers_left_alone),
		cmocka_unit_test(test_only_longer_identifiers_is_no_placeholder),
		cmocka_unit_test(test_placeholder_in_header_not_replaced),
		cmocka_unit_test(test_no_pids_placeholder_removed),
		cmocka_unit_test(test_no_pids_no_placeholder_ok),
		cmocka_unit_test(test_pids_without_placeholder_refused),
		cmocka_unit_test(test_missing_include_refused),
		cmocka_unit_test(test_include_with_spaces_accepted),
		cmocka_unit_test(test_include_as_last_line_without_newline),
		cmocka_unit_test(test_read_file_round_trip),
		cmocka_unit_test(test_read_file_embedded_source_round_trip),
		cmocka_unit_test(test_read_file_empty),
		cmocka_unit_test(test_read_file_missing),
		cmocka_unit_test(test_read_file_directory),
		cmocka_unit_test(test_read_file_nul_byte),
		cmocka_unit_test(test_read_file_size_limit),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}

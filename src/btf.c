/* SPDX-License-Identifier: MIT */
/* Kept apart from libbcc's headers: libbpf's bpf.h declares clashing names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "btf.h"
#include "kfunc.h"

struct kbtf {
	struct btf *btf;
};

struct kbtf *kbtf_load(void)
{
	struct kbtf *b;
	struct btf *btf;

	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return NULL;
	btf = btf__load_vmlinux_btf();
	if (!btf)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b) {
		btf__free(btf);
		return NULL;
	}
	b->btf = btf;
	return b;
}

void kbtf_free(struct kbtf *b)
{
	if (!b)
		return;
	btf__free(b->btf);
	free(b);
}

int kbtf_func_nparams(const struct kbtf *b, const char *name)
{
	const struct btf_type *fn, *proto;
	int id;

	if (!b)
		return -1;
	id = btf__find_by_name_kind(b->btf, name, BTF_KIND_FUNC);
	if (id < 0)
		return -1;
	fn = btf__type_by_id(b->btf, id);
	proto = fn ? btf__type_by_id(b->btf, fn->type) : NULL;
	if (!proto || !btf_is_func_proto(proto))
		return -1;
	return btf_vlen(proto);
}

/* Depth-first search for member in type id; anonymous members are opened. */
static long member_offset(const struct btf *btf, int id, const char *member, int depth)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_member *m;

	if (!t || depth > 8 || !(btf_is_struct(t) || btf_is_union(t)))
		return -1;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *name = btf__name_by_offset(btf, m->name_off);
		long bits = (long)btf_member_bit_offset(t, i);

		if (name && !strcmp(name, member))	/* a bitfield has no byte offset */
			return btf_member_bitfield_size(t, i) || bits % 8 ? -1 : bits / 8;
		if (!name || !*name) {
			long inner = member_offset(btf, (int)m->type, member, depth + 1);

			if (inner >= 0)
				return bits / 8 + inner;
		}
	}
	return -1;
}

long kbtf_member_offset(const struct kbtf *b, const char *strct, const char *member)
{
	int id;

	if (!b)
		return -1;
	id = btf__find_by_name_kind(b->btf, strct, BTF_KIND_STRUCT);
	if (id < 0)
		return -1;
	return member_offset(b->btf, id, member, 0);
}

static int type_id(const struct kbtf *b, const char *name, __u32 kind)
{
	int id = b ? btf__find_by_name_kind(b->btf, name, kind) : -1;

	return id > 0 ? id : -1;
}

int kbtf_func_id(const struct kbtf *b, const char *name)
{
	return type_id(b, name, BTF_KIND_FUNC);
}

int kbtf_struct_id(const struct kbtf *b, const char *name)
{
	return type_id(b, name, BTF_KIND_STRUCT);
}

long kbtf_percpu_offset(const struct kbtf *b, const char *name)
{
	int sec = type_id(b, ".data..percpu", BTF_KIND_DATASEC), var = type_id(b, name, BTF_KIND_VAR);
	const struct btf_type *t = sec > 0 ? btf__type_by_id(b->btf, sec) : NULL;
	const struct btf_var_secinfo *v;

	if (!t || var < 0)
		return -1;
	v = btf_var_secinfos(t);
	for (int i = 0; i < btf_vlen(t); i++)
		if (v[i].type == (__u32)var)
			return (long)v[i].offset;
	return -1;
}

/*
 * Loads insns as a tracing program on BTF type type (of kind), attach type
 * at: a program fd or -errno. log: the verifier's log, or NULL.
 */
static int tracing_load(const struct kbtf *b, const char *type, __u32 kind,
			enum bpf_attach_type at, const char *name, const struct bpf_insn *insns,
			size_t n, const char *license, unsigned log_level, char *log, size_t len)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = at,
		    .log_level = log ? log_level : 0, .log_buf = log, .log_size = log ? len : 0);
	int id, fd;

	if (!b)
		return -ENOENT;
	id = btf__find_by_name_kind(b->btf, type, kind);
	if (id < 0)
		return -ENOENT;
	opts.attach_btf_id = (__u32)id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, name, license, insns, n, &opts);
	return fd < 0 ? -errno : fd;
}

/* Whether a two-instruction program (return 0) loads there: 0 or -errno. */
static int tracing_probe(const struct kbtf *b, const char *type, __u32 kind,
			 enum bpf_attach_type at)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = tracing_load(b, type, kind, at, "bccflow_probe", insns, 2, "GPL", 0, NULL, 0);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int kbtf_fexit_probe(const struct kbtf *b, const char *func)
{
	return tracing_probe(b, func, BTF_KIND_FUNC, BPF_TRACE_FEXIT);
}

/* A tracepoint's BTF type: the typedef btf_trace_<tp>. */
#define TP_BTF_TYPE(buf, tp) (snprintf(buf, sizeof(buf), "btf_trace_%s", tp), buf)

int kbtf_tp_btf_load(const struct kbtf *b, const char *tp, const char *name,
		     const struct bpf_insn *insns, size_t n, const char *license,
		     unsigned log_level, char *log, size_t len)
{
	struct bpf_insn *copy = malloc(n ? n * sizeof(*insns) : 1);
	int ids[KFUNC_COUNT], fd;
	char type[160];

	if (!copy)
		return -ENOMEM;
	memcpy(copy, insns, n * sizeof(*insns));
	for (int k = 0; k < KFUNC_COUNT; k++)
		ids[k] = kbtf_func_id(b, kfunc_names[k]);
	if (kfunc_patch(copy, n, ids) < 0)
		fd = -ENOENT;	/* a kfunc this kernel lacks */
	else
		fd = tracing_load(b, TP_BTF_TYPE(type, tp), BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP,
				  name, copy, n, license, log_level, log, len);
	free(copy);
	return fd;
}

int kbtf_tp_btf_probe(const struct kbtf *b, const char *tp)
{
	char type[160];

	return tracing_probe(b, TP_BTF_TYPE(type, tp), BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP);
}

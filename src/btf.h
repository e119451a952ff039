/* SPDX-License-Identifier: MIT */
/* The running kernel's BTF: function signatures, struct layout, fentry test. */
#ifndef BCCFLOW_BTF_H
#define BCCFLOW_BTF_H

#include <stdbool.h>
#include <stddef.h>

struct bpf_insn;

struct kbtf;

/* NULL when the kernel has no BTF (/sys/kernel/btf/vmlinux). */
struct kbtf *kbtf_load(void);
void kbtf_free(struct kbtf *b);

/* Number of parameters of kernel function name, or -1 if not in BTF. */
int kbtf_func_nparams(const struct kbtf *b, const char *name);

/* BTF id of kernel function name (a kfunc, say), or -1. */
int kbtf_func_id(const struct kbtf *b, const char *name);

/* BTF id of struct name, or -1. */
int kbtf_struct_id(const struct kbtf *b, const char *name);

/*
 * Offset of per-CPU variable name in the per-CPU section (.data..percpu):
 * the distance between any two of them is that of their copies on one CPU.
 * -1 if not in BTF.
 */
long kbtf_percpu_offset(const struct kbtf *b, const char *name);

/* Byte offset of member (found through anonymous unions/structs), or -1. */
long kbtf_member_offset(const struct kbtf *b, const char *strct, const char *member);

/*
 * Loads (and unloads) a two-instruction fexit program on func: the cheap
 * way to learn whether fentry/fexit is allowed here. 0 or -errno.
 */
int kbtf_fexit_probe(const struct kbtf *b, const char *func);

/*
 * Loads insns (n of them) as a BTF-enabled raw tracepoint program on
 * tracepoint tp (its "btf_trace_<tp>" type): a program fd or -errno. BCC
 * loads no such programs, so the host does (loader.c), and the same two
 * instructions tell whether the kernel allows them (kbtf_tp_btf_probe()).
 * Calls of kfunc markers (kfunc.h) become calls of the kfuncs first.
 * log: the verifier's log at log_level into log (size len), or NULL.
 */
int kbtf_tp_btf_load(const struct kbtf *b, const char *tp, const char *name,
		     const struct bpf_insn *insns, size_t n, const char *license,
		     unsigned log_level, char *log, size_t len);
int kbtf_tp_btf_probe(const struct kbtf *b, const char *tp);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Kernel function (kfunc) calls in BCC-compiled programs. BCC emits only
 * helper calls, so the probe calls a kfunc through a marker helper number
 * (flow.h, FLOW_KFUNCS) and the host turns each such call into a call of
 * the kfunc by its BTF id before loading the program.
 */
#ifndef BCCFLOW_KFUNC_H
#define BCCFLOW_KFUNC_H

#include <stddef.h>

#include "../probes/flow.h"

struct bpf_insn;

#define KFUNC_ENUM(name, marker) KFUNC_##name,
enum kfunc {
	FLOW_KFUNCS(KFUNC_ENUM)
	KFUNC_COUNT,
};
#undef KFUNC_ENUM

extern const char *const kfunc_names[KFUNC_COUNT];

/*
 * Rewrites each call of a marker in insns (n of them) into a call of its
 * kfunc, whose vmlinux BTF id is ids[kfunc] (<= 0: not in this kernel).
 * Returns how many calls it rewrote, or -1 when a marked kfunc has no id.
 */
int kfunc_patch(struct bpf_insn *insns, size_t n, const int ids[KFUNC_COUNT]);

#endif

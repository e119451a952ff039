/* SPDX-License-Identifier: MIT */
#include "backend.h"

const char *const backend_names[BACKEND_NCHOICES] = {
	[BACKEND_AUTO] = "auto",
	[BACKEND_FENTRY] = "fentry",
	[BACKEND_KPROBE] = "kprobe",
	[BACKEND_TRACEPOINT] = "tracepoint",
	[BACKEND_RAW_TRACEPOINT] = "raw-tracepoint",
	[BACKEND_TP_BTF] = "tp-btf",
};

const char *backend_name(enum backend b)
{
	return backend_names[b];
}

bool backend_reads_sk_protocol(enum backend b)
{
	return b == BACKEND_RAW_TRACEPOINT || b == BACKEND_TP_BTF;
}

int backend_candidates(enum backend want, enum backend out[BACKEND_NMETHODS])
{
	/*
	 * fentry and kprobes before tracepoints: before 6.5 sendfile() skips
	 * sock_sendmsg(), so the sock tracepoints miss its bytes; fentry costs
	 * least of those that see everything; raw tracepoints skip the trace
	 * record that plain ones build, and BTF-enabled ones (tp-btf) the
	 * helper calls that read the socket.
	 */
	static const enum backend order[BACKEND_NMETHODS] = {
		BACKEND_FENTRY, BACKEND_KPROBE, BACKEND_TP_BTF, BACKEND_RAW_TRACEPOINT,
		BACKEND_TRACEPOINT,
	};

	if (want != BACKEND_AUTO) {
		out[0] = want;
		return 1;
	}
	for (int i = 0; i < BACKEND_NMETHODS; i++)
		out[i] = order[i];
	return BACKEND_NMETHODS;
}

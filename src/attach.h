/* SPDX-License-Identifier: MIT */
/* Where the attach method is chosen, prepared, loaded and attached. */
#ifndef BCCFLOW_ATTACH_H
#define BCCFLOW_ATTACH_H

#include "kfeatures.h"
#include "loader.h"
#include "opts.h"

enum attach_result {
	ATTACH_LOADED,		/* *l is attached and counting */
	ATTACH_PRINTED,		/* --ebpf: the text was printed, nothing loaded */
	ATTACH_BAD_INPUT,	/* the options or --probe text cannot work (said why) */
	ATTACH_FAILED,		/* no method could start here (said why) */
};

/*
 * Tries the candidates for o->attach in order (backend.c) and keeps the
 * first that loads; each failure is reported on stderr as it happens.
 * cgroup_fd: the --cgroup directory, or -1.
 */
enum attach_result attach_start(const struct options *o, const char *src,
				const struct kfeatures *f, int cgroup_fd, struct loaded *l);

/* Rejects an unusable --probe text before anything touches the kernel: 0 or -1 (said why). */
int attach_check_text(const struct options *o, const char *src);

#endif

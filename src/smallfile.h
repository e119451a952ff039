/* SPDX-License-Identifier: MIT */
/* Where small input files (probe text, web config, PEM files) are read whole. */
#ifndef BCCFLOW_SMALLFILE_H
#define BCCFLOW_SMALLFILE_H

#include <stdbool.h>
#include <stddef.h>

enum smallfile_err {
	SMALLFILE_OPEN = 1,	/* fopen() failed: errno says why */
	SMALLFILE_NOT_REGULAR,	/* a FIFO or a device would hang or flood the start */
	SMALLFILE_TOO_BIG,
	SMALLFILE_READ,
	SMALLFILE_NOMEM,
};

/*
 * The whole of path (at most max bytes), NUL-terminated, malloc'd; *len is
 * its size. regular_only refuses anything but a regular file. NULL with
 * *why set (and errno kept for SMALLFILE_OPEN).
 */
char *smallfile_read(const char *path, size_t max, bool regular_only, size_t *len,
		     enum smallfile_err *why);

#endif

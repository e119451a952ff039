/* SPDX-License-Identifier: MIT */
/*
 * Where the support range is checked: the oldest BCC and kernel bccflow
 * runs on (BCCFLOW_MIN_BCC, BCCFLOW_MIN_KERNEL: set once, in CMakeLists.txt)
 * against what this host has.
 */
#ifndef BCCFLOW_VERSIONS_H
#define BCCFLOW_VERSIONS_H

#include <stdbool.h>
#include <stddef.h>

/* strcmp-like order of dotted numeric versions ("0.26" < "0.26.1" < "0.31.0") */
int version_cmp(const char *a, const char *b);

/* "6.12.117+deb13-amd64" -> "6.12.117"; false when it starts with no number */
bool version_of_release(const char *release, char *out, size_t len);

/* ".../libbcc.so.0.31.0" -> "0.31.0"; false when the name has no version */
bool version_of_library(const char *path, const char *stem, char *out, size_t len);

/*
 * 0, or -1 with a one-line reason and fix in err: kernel release and the
 * path of the libbcc this process runs with (NULL or unversioned: not
 * checked, as for a libbcc built by hand).
 */
int versions_check(const char *kernel_release, const char *libbcc_path, char *err,
		   size_t errlen);

#endif

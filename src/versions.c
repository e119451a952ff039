/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "versions.h"

int version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		char *ea, *eb;
		unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);

		if (x != y)
			return x < y ? -1 : 1;
		a = *ea == '.' ? ea + 1 : ea + strlen(ea);
		b = *eb == '.' ? eb + 1 : eb + strlen(eb);
	}
	return 0;
}

/* The leading "N(.N)*" of s, copied to out. */
static bool leading_version(const char *s, char *out, size_t len)
{
	size_t n = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)s[n]) || (s[n] == '.' && isdigit((unsigned char)s[n + 1])))
		n++;
	if (n >= len)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

bool version_of_release(const char *release, char *out, size_t len)
{
	return leading_version(release, out, len);
}

bool version_of_library(const char *path, const char *stem, char *out, size_t len)
{
	const char *base = strrchr(path, '/');
	size_t n = strlen(stem);

	base = base ? base + 1 : path;
	if (strncmp(base, stem, n) || strncmp(base + n, ".so.", 4))
		return false;
	/* soname major only ("libbcc.so.0") says nothing about the release */
	return strchr(base + n + 4, '.') && leading_version(base + n + 4, out, len);
}

int versions_check(const char *kernel_release, const char *libbcc_path, char *err,
		   size_t errlen)
{
	char v[64];

	if (version_of_release(kernel_release, v, sizeof(v)) &&
	    version_cmp(v, BCCFLOW_MIN_KERNEL) < 0) {
		snprintf(err, errlen, "Linux %s is older than %s, the oldest bccflow supports: "
			 "run it on Linux %s or later", v, BCCFLOW_MIN_KERNEL, BCCFLOW_MIN_KERNEL);
		return -1;
	}
	if (libbcc_path && version_of_library(libbcc_path, "libbcc", v, sizeof(v)) &&
	    version_cmp(v, BCCFLOW_MIN_BCC) < 0) {
		snprintf(err, errlen, "BCC %s (%s) is older than %s, the oldest bccflow supports: "
			 "install libbpfcc %s or later", v, libbcc_path, BCCFLOW_MIN_BCC,
			 BCCFLOW_MIN_BCC);
		return -1;
	}
	return 0;
}

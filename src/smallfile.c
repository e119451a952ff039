/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "smallfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

char *smallfile_read(const char *path, size_t max, bool regular_only, size_t *len,
		     enum smallfile_err *why)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	char *buf;
	size_t n;
	int e;

	if (!f) {
		*why = SMALLFILE_OPEN;
		return NULL;
	}
	if (regular_only && (fstat(fileno(f), &st) || !S_ISREG(st.st_mode))) {
		fclose(f);
		*why = SMALLFILE_NOT_REGULAR;
		return NULL;
	}
	buf = malloc(max + 1);
	n = buf ? fread(buf, 1, max + 1, f) : 0;
	e = ferror(f);
	fclose(f);
	*why = !buf ? SMALLFILE_NOMEM : e ? SMALLFILE_READ : n > max ? SMALLFILE_TOO_BIG : 0;
	if (*why) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

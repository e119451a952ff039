/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "numparse.h"

int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')	/* strtoul would take spaces and signs */
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

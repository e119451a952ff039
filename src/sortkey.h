/* SPDX-License-Identifier: MIT */
/* Sort keys of rows (collect.c, report.c), defined once. */
#ifndef BCCFLOW_SORTKEY_H
#define BCCFLOW_SORTKEY_H

#include <linux/types.h>

/* a + b, saturating: a sort key must not wrap */
static inline __u64 sortkey_sum(__u64 a, __u64 b)
{
	return a + b < a ? ~0ULL : a + b;
}

/* For qsort: larger first. */
static inline int sortkey_cmp_desc(__u64 a, __u64 b)
{
	return (a < b) - (a > b);
}

#endif

/* SPDX-License-Identifier: MIT */
/* UTF-8 validation shared by the JSON, table and Prometheus writers. */
#ifndef BCCFLOW_UTF8_H
#define BCCFLOW_UTF8_H

#include <stddef.h>

/*
 * Length of the valid UTF-8 sequence at s (n > 0 bytes left), or 0; *cp is
 * its code point when valid.
 */
size_t utf8_next(const unsigned char *s, size_t n, unsigned *cp);

/* The same, for callers that need only the length. */
size_t utf8_len(const unsigned char *s, size_t n);

#endif

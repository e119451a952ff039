/* SPDX-License-Identifier: MIT */
/* Where whole numbers in user input are read: one strict parser for all. */
#ifndef BCCFLOW_NUMPARSE_H
#define BCCFLOW_NUMPARSE_H

/*
 * s is decimal digits only (no sign, space or suffix) and at most max:
 * 0 with *out set, else -1.
 */
int parse_ulong(const char *s, unsigned long max, unsigned long *out);

#endif

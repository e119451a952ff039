/* SPDX-License-Identifier: MIT */
/*
 * HTTP basic auth against the bcrypt hashes of --web-config. bcrypt is slow
 * on purpose (tens of ms at cost 10), and a scraper sends the same
 * credentials every few seconds, right or wrong: the answer for a pair is
 * remembered by the pair's SHA-256 (the users do not change while bccflow
 * runs), so only new credentials pay for bcrypt.
 */
#ifndef BCCFLOW_BASIC_AUTH_H
#define BCCFLOW_BASIC_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "webconfig.h"

#define AUTH_CACHE_SLOTS 16

struct auth_cache {
	struct {
		unsigned char digest[32];	/* SHA-256 of user NUL password */
		bool ok;
	} pairs[AUTH_CACHE_SLOTS];
	size_t n, next;
};

/*
 * Whether an Authorization header value ("Basic BASE64(user:password)", or
 * NULL when the request had none) names a user of wc with the right
 * password. Not thread-safe: one cache per serving thread.
 */
bool basic_auth_check(const struct web_config *wc, struct auth_cache *cache,
		      const char *authorization);

#endif

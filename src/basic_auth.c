/* SPDX-License-Identifier: MIT */
/* Basic auth with bcrypt hashes (libxcrypt) and a cache of verified pairs. */
#define _GNU_SOURCE
#include "basic_auth.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

/* A bcrypt hash of no password anyone knows: unknown users cost the same. */
static const char dummy_hash[] = "$2y$10$cCeGb.MNZ/cu5xU/5K0wMOJTP/VcPV6hb.9uwmx0XsqGVSN7l1ROO";

static bool same_secret(const char *a, const char *b)
{
	size_t n = strlen(b);
	unsigned char d = strlen(a) != n;

	for (size_t i = 0; i < n && a[i]; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return !d;
}

static bool bcrypt_matches(const char *password, const char *hash)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *out;
	bool ok;

	if (!cd)
		return false;
	out = crypt_rn(password, hash, cd, sizeof(*cd));
	ok = out && out[0] != '*' && same_secret(out, hash);
	free(cd);
	return ok;
}

/* "Basic dXNlcjpwdw==" -> "user:pw" (gnutls_free'd by the caller), or NULL. */
static char *decode(const char *h)
{
	gnutls_datum_t in, out = { NULL, 0 };
	char *s;

	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Basic", 5) || (h[5] != ' ' && h[5] != '\t'))
		return NULL;
	for (h += 5; *h == ' ' || *h == '\t'; h++)
		;
	in.data = (unsigned char *)h;
	in.size = (unsigned)strcspn(h, " \t");
	if (!in.size || gnutls_base64_decode2(&in, &out) < 0)
		return NULL;
	s = gnutls_realloc(out.data, out.size + 1);
	if (!s) {
		gnutls_free(out.data);
		return NULL;
	}
	s[out.size] = '\0';
	if (strlen(s) != out.size) {	/* a NUL inside: no such password */
		gnutls_free(s);
		return NULL;
	}
	return s;
}

/* The remembered answer for digest d: 1, 0, or -1 when not remembered. */
static int cached(const struct auth_cache *c, const unsigned char *d)
{
	for (size_t i = 0; i < c->n; i++)
		if (!memcmp(c->pairs[i].digest, d, 32))
			return c->pairs[i].ok;
	return -1;
}

static void remember(struct auth_cache *c, const unsigned char *d, bool ok)
{
	memcpy(c->pairs[c->next].digest, d, 32);
	c->pairs[c->next].ok = ok;
	c->next = (c->next + 1) % AUTH_CACHE_SLOTS;
	if (c->n < AUTH_CACHE_SLOTS)
		c->n++;
}

bool basic_auth_check(const struct web_config *wc, struct auth_cache *cache,
		      const char *authorization)
{
	unsigned char digest[32];
	const char *hash = dummy_hash;
	char *pair, *pw;
	bool ok = false;
	int known;

	if (!authorization || !(pair = decode(authorization)))
		return false;
	pw = strchr(pair, ':');
	if (!pw)
		goto out;
	*pw = '\0';	/* user NUL password: the cache's key */
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, pair, strlen(pair) + 1 + strlen(pw + 1),
			     digest) < 0)
		goto out;
	known = cached(cache, digest);
	if (known >= 0) {
		ok = known;
		goto out;
	}
	for (size_t i = 0; i < wc->nusers; i++)
		if (!strcmp(wc->users[i].name, pair))
			hash = wc->users[i].hash;
	ok = bcrypt_matches(pw + 1, hash) && hash != dummy_hash;
	remember(cache, digest, ok);
out:
	gnutls_free(pair);
	return ok;
}

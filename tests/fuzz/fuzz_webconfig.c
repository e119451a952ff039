/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: --web-config files (web_config_parse(): libyaml and our
 * checks) and Authorization headers (basic_auth_check()). The first input
 * byte picks which; the rest is the file or the header.
 *
 * Checks: a file is accepted or refused with one line that starts with its
 * name; an accepted one with TLS has a certificate and a key, every user
 * has a bcrypt-shaped hash and no ':' in the name, every header has one
 * line. A header gets the same answer twice (the second from the cache),
 * whether it was checked with bcrypt or answered from the cache.
 */
#include "basic_auth.h"
#include "fuzz_common.h"
#include "webconfig.h"

/* htpasswd -nbBC 4 prom s3cret: cost 4 keeps a verification near 1 ms */
#define PROM_HASH "$2y$04$LfDajps1aXd6qVA0z51P6.Wf2oUMFhuXxjkbeQ/hW9Xll/pcWMaA."

static void check_file(const char *text, size_t n)
{
	struct web_config wc;
	char err[512] = "";

	if (web_config_parse(text, n, "web.yml", "/nonexistent-dir", &wc, err, sizeof(err))) {
		if (!fuzz_skip("errtext"))	/* one line, naming the file */
			CHECK(!strncmp(err, "web.yml", 7) && !strchr(err, '\n'), "bad error: %s",
			      err);
		CHECK(!wc.users && !wc.cert_pem, "refused, but not freed");
		return;
	}
	CHECK(!wc.tls || (wc.cert_pem && wc.key_pem), "TLS without a certificate and key");
	for (size_t i = 0; i < wc.nusers; i++)
		CHECK(strlen(wc.users[i].hash) == 60 && !strchr(wc.users[i].name, ':'),
		      "user %s accepted with hash %s", wc.users[i].name, wc.users[i].hash);
	for (size_t i = 0; i < wc.nheaders; i++)
		CHECK(!strpbrk(wc.headers[i].value, "\r\n"), "header value with a line break");
	web_config_free(&wc);
}

static void check_header(const char *h)
{
	static struct web_user u[] = { { "prom", PROM_HASH } };
	struct web_config wc = { .users = u, .nusers = 1 };
	struct auth_cache c = { 0 };
	bool ok = basic_auth_check(&wc, &c, h);

	CHECK(ok == basic_auth_check(&wc, &c, h), "a second check of one header disagrees");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	s = malloc(size);
	if (!s)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] & 1)
		check_header(s);
	else
		check_file(s, size - 1);
	free(s);
	return 0;
}

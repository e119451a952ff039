/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: --web-config files (webconfig.c) and basic auth against their
 * bcrypt hashes (basic_auth.c). tests/unit/data holds a throw-away
 * self-signed certificate, its key and an unrelated key, made for these tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "basic_auth.h"
#include "webconfig.h"

#ifndef DATA_DIR
#error "DATA_DIR: the tests' data directory"
#endif

/* htpasswd -nbBC 4 prom s3cret; htpasswd -nbBC 4 u2 'a:b' */
#define PROM_HASH "$2y$04$LfDajps1aXd6qVA0z51P6.Wf2oUMFhuXxjkbeQ/hW9Xll/pcWMaA."
#define U2_HASH "$2y$04$wlyDKLU2SMGBoG0HcgyNiOz3.Io6r7EsyUIFtqnIEqpSvN43shn.i"

static int parse(const char *text, struct web_config *wc, char *err, size_t errlen)
{
	return web_config_parse(text, strlen(text), "web.yml", DATA_DIR, wc, err, errlen);
}

static void test_empty_file_is_plain_http(void **state)
{
	struct web_config wc;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse("", &wc, err, sizeof(err)), 0);
	assert_false(wc.tls);
	assert_int_equal(wc.nusers, 0);
	assert_int_equal(parse("# nothing\ntls_server_config:\nbasic_auth_users: ~\n", &wc, err,
			       sizeof(err)), 0);
	assert_false(wc.tls);
	web_config_free(&wc);
}

static void test_full_file(void **state)
{
	struct web_config wc;
	char err[512] = "", prio[128];
	const char *text =
		"tls_server_config:\n"
		"  cert_file: cert.pem\n"
		"  key_file: " DATA_DIR "/key.pem\n"
		"  client_ca_file: cert.pem\n"
		"  client_auth_type: RequireAndVerifyClientCert\n"
		"  min_version: TLS13\n"
		"http_server_config:\n"
		"  http2: false\n"
		"  headers:\n"
		"    x-frame-options: deny\n"
		"basic_auth_users:\n"
		"  prom: " PROM_HASH "\n"
		"  'u2': \"" U2_HASH "\"\n";

	(void)state;
	if (parse(text, &wc, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(wc.tls);
	assert_non_null(strstr(wc.cert_pem, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(wc.key_pem, "PRIVATE KEY"));
	assert_non_null(strstr(wc.ca_pem, "BEGIN CERTIFICATE"));
	assert_int_equal(wc.client_auth, CLIENT_AUTH_REQUIRE_VERIFY);
	assert_int_equal(wc.nusers, 2);
	assert_string_equal(wc.users[1].name, "u2");
	assert_string_equal(wc.users[1].hash, U2_HASH);
	assert_int_equal(wc.nheaders, 1);
	assert_string_equal(wc.headers[0].name, "X-Frame-Options");	/* canonical case */
	assert_string_equal(wc.headers[0].value, "deny");
	web_config_priorities(&wc, prio, sizeof(prio));
	assert_string_equal(prio, "NORMAL:-VERS-ALL:+VERS-TLS1.3");
	web_config_free(&wc);
}

static void test_versions(void **state)
{
	struct web_config wc = { .min_version = 12 };
	char prio[128];

	(void)state;
	web_config_priorities(&wc, prio, sizeof(prio));
	assert_string_equal(prio, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2");
	wc.min_version = 10;
	wc.max_version = 11;
	web_config_priorities(&wc, prio, sizeof(prio));
	assert_string_equal(prio, "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0");
}

/* Every bad file: refused, one line naming the place and the problem. */
static void test_bad_files(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "foo: 1\n", "web.yml:1: unknown key foo (bccflow reads" },
		{ "- a\n", "web.yml:1: the file must be a mapping" },
		{ "a: [\n", "web.yml:2: not valid YAML" },
		{ "tls_server_config:\n  cert_file: cert.pem\n",
		  "tls_server_config needs both cert_file and key_file" },
		{ "tls_server_config:\n  cert_file: nosuch.pem\n  key_file: key.pem\n",
		  "web.yml:2: cert_file " DATA_DIR "/nosuch.pem: No such file or directory" },
		{ "tls_server_config:\n  cert_file: cert.pem\n  key_file: other-key.pem\n",
		  "cert_file and key_file: " },
		{ "tls_server_config:\n  cert_file: key.pem\n  key_file: cert.pem\n",
		  "cert_file and key_file: " },
		{ "tls_server_config:\n  cert_file: nosuch.pem\n\n    x\ty\n  key_file: key.pem\n",
		  "web.yml:2: cert_file " DATA_DIR "/nosuch.pem?x?y: No such file" },
		{ "tls_server_config:\n  cert_file: ''\n", "web.yml:2: cert_file is empty" },
		{ "tls_server_config:\n  key_file: /dev/null\n",
		  "web.yml:2: key_file /dev/null: not a regular file" },
		{ "tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
		  "web.yml:2: tls_server_config.cipher_suites is not supported" },
		{ "tls_server_config:\n  cert: x\n", "web.yml:2: unknown key tls_server_config.cert" },
		{ "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
		  "  client_auth_type: Always\n", "web.yml:4: client_auth_type: 'Always' is not" },
		{ "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
		  "  client_auth_type: RequireAndVerifyClientCert\n",
		  "client_auth_type RequireAndVerifyClientCert needs client_ca_file" },
		{ "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
		  "  client_ca_file: key.pem\n  client_auth_type: RequireAnyClientCert\n",
		  "client_ca_file: " },
		{ "tls_server_config:\n  min_version: TLS14\n", "web.yml:2: min_version: 'TLS14'" },
		{ "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
		  "  min_version: TLS13\n  max_version: TLS12\n", "min_version is above max_version" },
		{ "tls_server_config: yes\n", "tls_server_config must be a mapping" },
		{ "basic_auth_users:\n  prom: s3cret\n",
		  "web.yml:2: basic_auth_users.prom: the password must be a bcrypt hash "
		  "(make one with: htpasswd -nBC 10 prom)" },
		{ "basic_auth_users:\n  prom: [a]\n", "web.yml:2: prom must be a string" },
		{ "basic_auth_users:\n  'a:b': " PROM_HASH "\n", "'a:b' cannot be a user name" },
		{ "basic_auth_users:\n  p: " PROM_HASH "\n  p: " PROM_HASH "\n",
		  "web.yml:3: p appears twice in basic_auth_users" },
		{ "http_server_config:\n  headers:\n    Authorization: x\n",
		  "web.yml:3: http_server_config.headers: Authorization cannot be set" },
		{ "http_server_config:\n  http2: maybe\n", "http2: 'maybe' is not true or false" },
		{ "http_server_config:\n  tls: 1\n", "unknown key http_server_config.tls" },
	};
	struct web_config wc;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (parse(cases[i].text, &wc, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", cases[i].text);
		if (!strstr(err, cases[i].want) || strchr(err, '\n'))
			fail_msg("for %s\nwant: %s\ngot:  %s", cases[i].text, cases[i].want, err);
		assert_null(wc.users);	/* freed on error */
	}
}

static void test_load_names_the_file(void **state)
{
	struct web_config wc;
	char err[512];

	(void)state;
	assert_int_equal(web_config_load("/nonexistent/web.yml", &wc, err, sizeof(err)), -1);
	assert_string_equal(err, "--web-config /nonexistent/web.yml: No such file or directory");
}

/* ---- basic auth ---------------------------------------------------------- */

static struct web_config users(void)
{
	static struct web_user u[] = { { "prom", PROM_HASH }, { "u2", U2_HASH } };

	return (struct web_config){ .users = u, .nusers = 2 };
}

static void test_basic_auth(void **state)
{
	struct web_config wc = users();
	struct auth_cache c = { 0 };

	(void)state;
	/* base64("prom:s3cret") = cHJvbTpzM2NyZXQ= ; ("u2:a:b") = dTI6YTpi */
	assert_true(basic_auth_check(&wc, &c, "Basic cHJvbTpzM2NyZXQ="));
	assert_int_equal(c.n, 1);
	assert_true(basic_auth_check(&wc, &c, "Basic cHJvbTpzM2NyZXQ="));	/* from the cache */
	assert_int_equal(c.n, 1);
	assert_true(basic_auth_check(&wc, &c, "basic   cHJvbTpzM2NyZXQ="));
	assert_true(basic_auth_check(&wc, &c, "Basic dTI6YTpi"));	/* ':' in a password */
	assert_int_equal(c.n, 2);
	/* prom:wrong (twice: the second from the cache), nobody:s3cret, prom:, u2:s3cret */
	assert_false(basic_auth_check(&wc, &c, "Basic cHJvbTp3cm9uZw=="));
	assert_int_equal(c.n, 3);
	assert_false(basic_auth_check(&wc, &c, "Basic cHJvbTp3cm9uZw=="));
	assert_int_equal(c.n, 3);
	assert_false(basic_auth_check(&wc, &c, "Basic bm9ib2R5OnMzY3JldA=="));
	assert_false(basic_auth_check(&wc, &c, "Basic cHJvbTo="));
	assert_false(basic_auth_check(&wc, &c, "Basic dTI6czNjcmV0"));
	assert_int_equal(c.n, 6);
	/* still right after the wrong ones */
	assert_true(basic_auth_check(&wc, &c, "Basic cHJvbTpzM2NyZXQ="));
	/* no ':' at all, and the malformed: never reach bcrypt or the cache */
	assert_false(basic_auth_check(&wc, &c, "Basic cHJvbQ=="));
	assert_false(basic_auth_check(&wc, &c, NULL));
	assert_false(basic_auth_check(&wc, &c, ""));
	assert_false(basic_auth_check(&wc, &c, "Bearer cHJvbTpzM2NyZXQ="));
	assert_false(basic_auth_check(&wc, &c, "BasiccHJvbTpzM2NyZXQ="));
	assert_false(basic_auth_check(&wc, &c, "Basic !!!!"));
	assert_false(basic_auth_check(&wc, &c, "Basic cHJvbQBzM2NyZXQ="));	/* NUL inside */
	assert_int_equal(c.n, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_file_is_plain_http),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_load_names_the_file),
		cmocka_unit_test(test_basic_auth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

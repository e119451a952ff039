/* SPDX-License-Identifier: MIT */
/*
 * --web-config FILE: the web configuration file of Prometheus's exporter
 * toolkit (as node_exporter reads it), for TLS and basic auth on the metrics
 * endpoint. Read once at start-up, before anything is loaded: files named in
 * it are read into memory then, while we may still read them.
 */
#ifndef BCCFLOW_WEBCONFIG_H
#define BCCFLOW_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum client_auth {
	CLIENT_AUTH_NONE = 0,		/* NoClientCert (the default) */
	CLIENT_AUTH_REQUEST,		/* RequestClientCert */
	CLIENT_AUTH_REQUIRE_ANY,	/* RequireAnyClientCert */
	CLIENT_AUTH_VERIFY_IF_GIVEN,	/* VerifyClientCertIfGiven */
	CLIENT_AUTH_REQUIRE_VERIFY,	/* RequireAndVerifyClientCert */
};

struct web_user {
	char *name;
	char *hash;		/* bcrypt, as htpasswd -B makes it */
};

struct web_header {
	char *name;
	char *value;
};

struct web_config {
	bool tls;			/* tls_server_config given: HTTPS only */
	char *cert_pem, *key_pem;	/* contents of cert_file, key_file */
	char *ca_pem;			/* client_ca_file, or NULL */
	enum client_auth client_auth;
	int min_version, max_version;	/* 10..13 for TLS 1.0..1.3; 0: GnuTLS's */
	struct web_user *users;		/* basic_auth_users; none: no auth */
	size_t nusers;
	struct web_header *headers;	/* http_server_config.headers */
	size_t nheaders;
};

/*
 * Reads and checks FILE: unknown or unsupported keys, bad values, missing or
 * unreadable files, certificates and keys GnuTLS cannot use together, and
 * passwords that are not bcrypt hashes are errors. 0, or -1 with one line
 * ("FILE:LINE: problem (fix)") in err. Relative paths in the file are taken
 * from the file's directory.
 */
int web_config_load(const char *path, struct web_config *wc, char *err, size_t errlen);

/* As above, from text (name is used in messages, dir for relative paths). */
int web_config_parse(const char *text, size_t len, const char *name, const char *dir,
		     struct web_config *wc, char *err, size_t errlen);

/* GnuTLS priority string for the version range ("NORMAL:-VERS-ALL:+VERS-TLS1.3:..."). */
void web_config_priorities(const struct web_config *wc, char *out, size_t len);

void web_config_free(struct web_config *wc);

#endif

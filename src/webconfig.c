/* SPDX-License-Identifier: MIT */
/* --web-config: the exporter toolkit's web configuration file (libyaml). */
#define _GNU_SOURCE
#include "webconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <yaml.h>

#include "format.h"
#include "smallfile.h"

#define MAX_FILE (1u << 20)	/* a web config or a PEM file: far below this */
#define BCRYPT_LEN 60

struct ctx {
	const char *name, *dir;
	yaml_document_t *doc;
	struct web_config *wc;
	char *err;
	size_t errlen;
};

static int bad(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[384], full[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		snprintf(full, sizeof(full), "%s:%zu: %s", c->name, n->start_mark.line + 1, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", c->name, msg);
	/* one line: values echoed from the file may span lines (a YAML scalar) */
	text_printable(full, sizeof(full), c->err, c->errlen);
	return -1;
}

static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null");
}

static const char *scalar(struct ctx *c, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		bad(c, n, "%s must be a string", what);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

/* Calls fn for every key: value of a mapping (null: an empty section). */
typedef int (*pair_fn)(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v);

static int each_pair(struct ctx *c, yaml_node_t *map, const char *what, pair_fn fn)
{
	if (is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE)
		return bad(c, map, "%s must be a mapping of keys to values", what);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *key = scalar(c, k, "a key");

		if (!key)
			return -1;
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *o = yaml_document_get_node(c->doc, q->key);

			if (o->type == YAML_SCALAR_NODE && !strcmp((char *)o->data.scalar.value, key))
				return bad(c, k, "%s appears twice in %s", key, what);
		}
		if (fn(c, key, k, v))
			return -1;
	}
	return 0;
}

/* Reads a file the config names; relative to the config's directory. */
static char *read_named(struct ctx *c, const char *key, yaml_node_t *v)
{
	const char *name = scalar(c, v, key);
	enum smallfile_err why;
	char path[4096];
	char *buf;
	size_t n = 0;

	if (!name)
		return NULL;
	if (!*name) {
		bad(c, v, "%s is empty (give the path of a PEM file)", key);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s%s%s", name[0] == '/' ? "" : c->dir,
		 name[0] == '/' ? "" : "/", name);
	buf = smallfile_read(path, MAX_FILE, true, &n, &why);
	if (buf && n)
		return buf;
	free(buf);
	bad(c, v, "%s %s: %s", key, path, why == SMALLFILE_OPEN ? strerror(errno) :
		why == SMALLFILE_NOT_REGULAR ? "not a regular file" :
		why == SMALLFILE_NOMEM ? "out of memory" :
		why == SMALLFILE_TOO_BIG ? "larger than 1 MiB" : "empty or unreadable");
	return NULL;
}

static const char *const auth_names[] = {
	[CLIENT_AUTH_NONE] = "NoClientCert",
	[CLIENT_AUTH_REQUEST] = "RequestClientCert",
	[CLIENT_AUTH_REQUIRE_ANY] = "RequireAnyClientCert",
	[CLIENT_AUTH_VERIFY_IF_GIVEN] = "VerifyClientCertIfGiven",
	[CLIENT_AUTH_REQUIRE_VERIFY] = "RequireAndVerifyClientCert",
};

static int tls_version(struct ctx *c, const char *key, yaml_node_t *v, int *out)
{
	const char *s = scalar(c, v, key);

	if (!s)
		return -1;
	if (strlen(s) == 5 && !strncmp(s, "TLS1", 4) && s[4] >= '0' && s[4] <= '3') {
		*out = 10 + s[4] - '0';
		return 0;
	}
	return bad(c, v, "%s: '%s' is not a TLS version (TLS10, TLS11, TLS12 or TLS13)", key, s);
}

static int tls_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	struct web_config *wc = c->wc;
	const char *s;

	if (!strcmp(key, "cert_file"))
		return (wc->cert_pem = read_named(c, key, v)) ? 0 : -1;
	if (!strcmp(key, "key_file"))
		return (wc->key_pem = read_named(c, key, v)) ? 0 : -1;
	if (!strcmp(key, "client_ca_file"))
		return (wc->ca_pem = read_named(c, key, v)) ? 0 : -1;
	if (!strcmp(key, "min_version"))
		return tls_version(c, key, v, &wc->min_version);
	if (!strcmp(key, "max_version"))
		return tls_version(c, key, v, &wc->max_version);
	if (!strcmp(key, "client_auth_type")) {
		if (!(s = scalar(c, v, key)))
			return -1;
		for (size_t i = 0; i < sizeof(auth_names) / sizeof(auth_names[0]); i++)
			if (!strcmp(s, auth_names[i])) {
				wc->client_auth = (enum client_auth)i;
				return 0;
			}
		return bad(c, v, "client_auth_type: '%s' is not one of NoClientCert, "
			   "RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, "
			   "RequireAndVerifyClientCert", s);
	}
	if (!strcmp(key, "cipher_suites") || !strcmp(key, "curve_preferences") ||
	    !strcmp(key, "prefer_server_cipher_suites"))
		return bad(c, k, "tls_server_config.%s is not supported by bccflow (GnuTLS's "
			   "secure defaults apply): remove it", key);
	return bad(c, k, "unknown key tls_server_config.%s (bccflow reads cert_file, key_file, "
		   "client_ca_file, client_auth_type, min_version, max_version)", key);
}

/* The response headers the exporter toolkit lets a config set. */
static const char *const allowed_headers[] = {
	"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
	"X-XSS-Protection", "Content-Security-Policy", NULL,
};

static int header_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	struct web_config *wc = c->wc;
	struct web_header *h;
	const char *val = scalar(c, v, key);
	int i;

	if (!val)
		return -1;
	for (i = 0; allowed_headers[i] && strcasecmp(key, allowed_headers[i]); i++)
		;
	if (!allowed_headers[i])
		return bad(c, k, "http_server_config.headers: %s cannot be set (allowed: "
			   "Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, "
			   "X-XSS-Protection, Content-Security-Policy)", key);
	if (strpbrk(val, "\r\n"))
		return bad(c, v, "header %s: the value must be one line", key);
	h = realloc(wc->headers, (wc->nheaders + 1) * sizeof(*h));
	if (!h)
		return bad(c, v, "out of memory");
	wc->headers = h;
	h[wc->nheaders].name = strdup(allowed_headers[i]);
	h[wc->nheaders].value = strdup(val);
	wc->nheaders++;
	return 0;
}

static int http_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	if (!strcmp(key, "headers"))
		return each_pair(c, v, "http_server_config.headers", header_pair);
	if (!strcmp(key, "http2")) {
		const char *s = scalar(c, v, key);

		if (!s)
			return -1;
		if (strcmp(s, "true") && strcmp(s, "false"))
			return bad(c, v, "http2: '%s' is not true or false", s);
		return 0;	/* accepted; the server speaks HTTP/1.1 only */
	}
	return bad(c, k, "unknown key http_server_config.%s (bccflow reads headers and http2)",
		   key);
}

static bool is_bcrypt(const char *h)
{
	return strlen(h) == BCRYPT_LEN && h[0] == '$' && h[1] == '2' &&
	       (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') && h[3] == '$' &&
	       h[4] >= '0' && h[4] <= '3' && h[5] >= '0' && h[5] <= '9' && h[6] == '$';
}

static int user_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	struct web_config *wc = c->wc;
	struct web_user *u;
	const char *hash = scalar(c, v, key);

	if (!hash)
		return -1;
	if (!*key || strchr(key, ':'))
		return bad(c, k, "basic_auth_users: '%s' cannot be a user name (empty, or has ':')",
			   key);
	if (!is_bcrypt(hash))
		return bad(c, v, "basic_auth_users.%s: the password must be a bcrypt hash "
			   "(make one with: htpasswd -nBC 10 %s)", key, key);
	u = realloc(wc->users, (wc->nusers + 1) * sizeof(*u));
	if (!u)
		return bad(c, v, "out of memory");
	wc->users = u;
	u[wc->nusers].name = strdup(key);
	u[wc->nusers].hash = strdup(hash);
	wc->nusers++;
	return 0;
}

static int top_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	if (!strcmp(key, "tls_server_config")) {
		c->wc->tls = !is_null(v);
		return each_pair(c, v, key, tls_pair);
	}
	if (!strcmp(key, "http_server_config"))
		return each_pair(c, v, key, http_pair);
	if (!strcmp(key, "basic_auth_users"))
		return each_pair(c, v, key, user_pair);
	return bad(c, k, "unknown key %s (bccflow reads tls_server_config, http_server_config "
		   "and basic_auth_users)", key);
}

/* What GnuTLS will be given must work together: checked now, not at a scrape. */
static int check_tls(struct ctx *c)
{
	struct web_config *wc = c->wc;
	gnutls_certificate_credentials_t cred;
	int r;

	if (!wc->tls) {
		if (wc->ca_pem || wc->client_auth)
			return bad(c, NULL, "client certificates need tls_server_config with "
				   "cert_file and key_file");
		return 0;
	}
	if (!wc->cert_pem || !wc->key_pem)
		return bad(c, NULL, "tls_server_config needs both cert_file and key_file");
	if (wc->client_auth > CLIENT_AUTH_NONE && !wc->ca_pem)
		return bad(c, NULL, "client_auth_type %s needs client_ca_file (the CA that signs "
			   "client certificates)", auth_names[wc->client_auth]);
	if (wc->min_version && wc->max_version && wc->min_version > wc->max_version)
		return bad(c, NULL, "min_version is above max_version");
	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return bad(c, NULL, "out of memory");
	r = gnutls_certificate_set_x509_key_mem(
		cred, &(gnutls_datum_t){ (unsigned char *)wc->cert_pem, strlen(wc->cert_pem) },
		&(gnutls_datum_t){ (unsigned char *)wc->key_pem, strlen(wc->key_pem) },
		GNUTLS_X509_FMT_PEM);
	if (r < 0) {
		gnutls_certificate_free_credentials(cred);
		return bad(c, NULL, "cert_file and key_file: %s (give a PEM certificate and its "
			   "own private key)", gnutls_strerror(r));
	}
	if (wc->ca_pem)
		r = gnutls_certificate_set_x509_trust_mem(
			cred, &(gnutls_datum_t){ (unsigned char *)wc->ca_pem, strlen(wc->ca_pem) },
			GNUTLS_X509_FMT_PEM);
	gnutls_certificate_free_credentials(cred);
	if (wc->ca_pem && r <= 0)
		return bad(c, NULL, "client_ca_file: %s (give PEM CA certificates)",
			   r < 0 ? gnutls_strerror(r) : "no certificate in it");
	return 0;
}

int web_config_parse(const char *text, size_t len, const char *name, const char *dir,
		     struct web_config *wc, char *err, size_t errlen)
{
	struct ctx c = { .name = name, .dir = dir, .wc = wc, .err = err, .errlen = errlen };
	yaml_parser_t p;
	yaml_document_t doc;
	yaml_node_t *root;
	int rc;

	memset(wc, 0, sizeof(*wc));
	wc->min_version = 12;	/* the toolkit's default: TLS 1.2 and later */
	if (!yaml_parser_initialize(&p))
		return bad(&c, NULL, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &doc)) {
		snprintf(err, errlen, "%s:%zu: not valid YAML: %s", name,
			 p.problem_mark.line + 1, p.problem ? p.problem : "parse error");
		yaml_parser_delete(&p);
		return -1;
	}
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	rc = root ? each_pair(&c, root, "the file", top_pair) : 0;
	if (!rc)
		rc = check_tls(&c);
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	if (rc)
		web_config_free(wc);
	return rc;
}

int web_config_load(const char *path, struct web_config *wc, char *err, size_t errlen)
{
	enum smallfile_err why;
	char dir[4096];
	char *text, *slash;
	size_t n = 0;
	int rc;

	memset(wc, 0, sizeof(*wc));
	/* not only regular files: --web-config <(...) is a FIFO */
	text = smallfile_read(path, MAX_FILE, false, &n, &why);
	if (!text) {
		snprintf(err, errlen, "--web-config %s: %s", path,
			 why == SMALLFILE_OPEN ? strerror(errno) : why == SMALLFILE_NOMEM ?
			 "out of memory" : why == SMALLFILE_READ ? "cannot read it" :
			 "larger than 1 MiB");
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	rc = web_config_parse(text, n, path, dir, wc, err, errlen);
	free(text);
	return rc;
}

void web_config_priorities(const struct web_config *wc, char *out, size_t len)
{
	int lo = wc->min_version ? wc->min_version : 10;
	int hi = wc->max_version ? wc->max_version : 13;
	size_t n = (size_t)snprintf(out, len, "NORMAL:-VERS-ALL");

	for (int v = hi; v >= lo && n < len; v--)
		n += (size_t)snprintf(out + n, len - n, ":+VERS-TLS1.%d", v - 10);
}

void web_config_free(struct web_config *wc)
{
	for (size_t i = 0; i < wc->nusers; i++) {
		free(wc->users[i].name);
		free(wc->users[i].hash);
	}
	for (size_t i = 0; i < wc->nheaders; i++) {
		free(wc->headers[i].name);
		free(wc->headers[i].value);
	}
	free(wc->users);
	free(wc->headers);
	free(wc->cert_pem);
	free(wc->key_pem);
	free(wc->ca_pem);
	memset(wc, 0, sizeof(*wc));
}

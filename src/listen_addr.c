/* SPDX-License-Identifier: MIT */
/* Where --listen ADDR:PORT is read: numeric addresses only, one-line errors. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "numparse.h"
#include "prom.h"

#define LISTEN_EXAMPLE "e.g. 127.0.0.1:9877 or [::1]:9877"

/* s shown in a message: long input cut. */
static void shown_arg(const char *s, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < outlen; i++)
		out[i] = s[i];
	out[i] = '\0';
	if (s[i] && outlen > 4)
		memcpy(out + outlen - 4, "...", 4);
}

static int listen_error(char *err, size_t errlen, const char *arg, const char *fmt, ...)
{
	char shown[128], why[192];
	va_list ap;

	shown_arg(arg, shown, sizeof(shown));
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (err && errlen) {
		snprintf(err, errlen, "invalid --listen '%s': %s, " LISTEN_EXAMPLE, shown, why);
		for (char *p = err; *p; p++)	/* one line, whatever the input held */
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return -1;
}

int prom_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sslen,
		      char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s, *colon;
	size_t hlen;
	unsigned long port;
	bool v6;

	if (!s)
		s = "";
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return listen_error(err, errlen, s, "no ']' after the IPv6 address");
		if (close[1] != ':')
			return listen_error(err, errlen, s, "expected ADDR:PORT");
		hlen = (size_t)(close - s - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			return listen_error(err, errlen, s, "expected an IPv6 address in brackets");
		memcpy(host, s + 1, hlen);
		port_s = close + 2;
		v6 = true;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return listen_error(err, errlen, s, "expected ADDR:PORT");
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen))
			return listen_error(err, errlen, s,
					    "an IPv6 address goes in brackets, as in [::1]:9877");
		if (hlen == 0 || hlen >= sizeof(host))
			return listen_error(err, errlen, s, "expected a numeric IPv4 address");
		memcpy(host, s, hlen);
		port_s = colon + 1;
		v6 = false;
	}
	host[hlen] = '\0';
	if (parse_ulong(port_s, 65535, &port) || port == 0)
		return listen_error(err, errlen, s, "expected a port from 1 to 65535");

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return listen_error(err, errlen, s, "'%s' is not a numeric IPv6 address",
					    host);
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return listen_error(err, errlen, s,
					    "'%s' is not a numeric IPv4 address (no host names)",
					    host);
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*a);
	}
	return 0;
}

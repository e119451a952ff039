/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <string.h>

#include "workload.h"

/* One path component: not NUL-terminated. */
struct comp {
	const char *s;
	size_t n;
};

static bool hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool starts(struct comp c, const char *prefix)
{
	size_t n = strlen(prefix);

	return c.n >= n && memcmp(c.s, prefix, n) == 0;
}

static bool ends(struct comp c, const char *suffix)
{
	size_t n = strlen(suffix);

	return c.n > n && memcmp(c.s + c.n - n, suffix, n) == 0;
}

/*
 * The container id c names, if any: <64hex> or <prefix><64hex>, with an
 * optional ".scope". The conmon scopes fail here: "conmon-" is no hex.
 */
static bool container_id(struct comp c, char *id)
{
	static const char *const prefixes[] = { "", "docker-", "cri-containerd-", "crio-",
						"libpod-" };

	if (ends(c, ".scope"))
		c.n -= strlen(".scope");
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t p = strlen(prefixes[i]);

		if (c.n == p + WORKLOAD_ID_LEN && starts(c, prefixes[i]) &&
		    hex_run(c.s + p, WORKLOAD_ID_LEN)) {
			memcpy(id, c.s + p, WORKLOAD_ID_LEN);
			id[WORKLOAD_ID_LEN] = '\0';
			return true;
		}
	}
	return false;
}

/* A UUID (8-4-4-4-12) or a static pod's 32 hex digits, '_' read as '-'. */
static bool pod_uid_text(const char *s, size_t n, char *uid)
{
	static const char dash_at[] = { 8, 13, 18, 23 };
	size_t d = 0;

	if (n == 32) {
		if (!hex_run(s, n))
			return false;
		memcpy(uid, s, n);
		uid[n] = '\0';
		return true;
	}
	if (n != WORKLOAD_UID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = d < sizeof(dash_at) && (size_t)dash_at[d] == i;

		if (dash ? (s[i] != '-' && s[i] != '_') : !hex_run(s + i, 1))
			return false;
		uid[i] = dash ? '-' : s[i];
		d += dash;
	}
	uid[n] = '\0';
	return true;
}

static bool contains(struct comp c, const char *word)
{
	size_t n = strlen(word);

	for (size_t i = 0; i + n <= c.n; i++)
		if (memcmp(c.s + i, word, n) == 0)
			return true;
	return false;
}

/*
 * The pod UID c names: <...>kubepods[-qos]-pod<uid>.slice (systemd driver;
 * a kubelet --cgroup-root adds its prefix), or pod<uid> below a kubepods
 * component (cgroupfs driver).
 */
static bool pod_uid(struct comp c, bool in_kubepods, char *uid)
{
	char text[WORKLOAD_UID_LEN + 1];

	if (ends(c, ".slice") && contains(c, "kubepods")) {
		c.n -= strlen(".slice");
		for (size_t i = c.n; i > 0; i--)	/* the pod is the last '-' part */
			if (c.s[i - 1] == '-') {
				c.s += i;
				c.n -= i;
				break;
			}
	} else if (!in_kubepods) {
		return false;
	}
	/* text: a component that fails half-way leaves uid as it was */
	if (!starts(c, "pod") || !pod_uid_text(c.s + 3, c.n - 3, text))
		return false;
	strcpy(uid, text);
	return true;
}

/* slices are left out: they only group units, and hold no processes */
static bool unit(struct comp c)
{
	static const char *const types[] = { ".service", ".scope", ".socket", ".mount",
					     ".swap" };

	if (c.n >= WORKLOAD_NAME_LEN)
		return false;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (ends(c, types[i]))
			return true;
	return false;
}

void workload_from_path(const char *path, struct workload *w)
{
	struct comp c, unit_c = { 0 };
	bool in_kubepods = false;

	memset(w, 0, sizeof(*w));
	for (const char *p = path; *p;) {
		c.s = p;
		c.n = strcspn(p, "/");
		p += c.n + (p[c.n] == '/');
		if (!c.n)
			continue;
		/* each check overwrites: the innermost match is the one kept */
		if (container_id(c, w->container_id))
			w->kind = WORKLOAD_CONTAINER;
		pod_uid(c, in_kubepods, w->pod_uid);
		if (unit(c))
			unit_c = c;
		in_kubepods = in_kubepods || contains(c, "kubepods");
	}
	if (w->kind == WORKLOAD_CONTAINER) {
		memcpy(w->container, w->container_id, WORKLOAD_SHORT_ID_LEN);
	} else if (unit_c.n) {
		w->kind = WORKLOAD_UNIT;
		memcpy(w->container, unit_c.s, unit_c.n);
	}
}

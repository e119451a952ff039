/* SPDX-License-Identifier: MIT */
/* Privileges after attach: see privdrop.h. */
#define _GNU_SOURCE
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "numparse.h"
#include "versions.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

int privdrop_resolve(const char *user, struct privdrop *p, char *err, size_t errlen)
{
	const struct passwd *pw;
	unsigned long uid;

	memset(p, 0, sizeof(*p));
	if (!user)
		user = PRIVDROP_DEFAULT_USER;
	errno = 0;
	pw = parse_ulong(user, 0xfffffffeUL, &uid) == 0 ? getpwuid((uid_t)uid) : getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "--user %s: %s in the password database (name an existing "
			 "user, e.g. --user nobody)", user, errno ? strerror(errno) : "no such user");
		return -1;
	}
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	p->keep_root = pw->pw_uid == 0;
	snprintf(p->name, sizeof(p->name), "%s", pw->pw_name);
	return 0;
}

int privdrop_needed_cap(const char *release, int unpriv_disabled)
{
	char v[32];

	if (!unpriv_disabled || !version_of_release(release, v, sizeof(v)) ||
	    version_cmp(v, "5.19") >= 0)
		return -1;
	return version_cmp(v, "5.8") >= 0 ? CAP_BPF : CAP_SYS_ADMIN;
}

const char *privdrop_cap_name(int cap)
{
	return cap == CAP_BPF ? "CAP_BPF" : cap == CAP_SYS_ADMIN ? "CAP_SYS_ADMIN" : "?";
}

int privdrop_read_unpriv_disabled(void)
{
	FILE *f = fopen("/proc/sys/kernel/unprivileged_bpf_disabled", "re");
	int v = 1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 1;
		fclose(f);
	}
	return v;
}

static int fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "cannot drop privileges: %s: %s", what, strerror(errno));
	return -1;
}

/* Needs CAP_SETPCAP: done before the uid changes. */
static int empty_bounding_set(char *err, size_t errlen)
{
	/* what the kernel supports, not what our headers name */
	for (int c = 0; CAP_IS_SUPPORTED(c); c++)
		if (cap_drop_bound((cap_value_t)c))
			return fail(err, errlen, "emptying the bounding set");
	return 0;
}

/* The capability sets we end with: keep_cap (-1: none) permitted and effective. */
static cap_t caps_keeping(int keep_cap)
{
	cap_t c = cap_init();
	cap_value_t v = (cap_value_t)keep_cap;

	if (c && keep_cap >= 0 && (cap_set_flag(c, CAP_PERMITTED, 1, &v, CAP_SET) ||
				   cap_set_flag(c, CAP_EFFECTIVE, 1, &v, CAP_SET))) {
		cap_free(c);
		return NULL;
	}
	return c;
}

static int set_caps(int keep_cap, char *err, size_t errlen)
{
	cap_t c = caps_keeping(keep_cap);
	int rc = 0;

	if (!c)
		return fail(err, errlen, "building the capability sets");
	if (cap_set_proc(c))
		rc = fail(err, errlen, "setting capabilities");
	cap_free(c);
	return rc;
}

static bool effective(cap_value_t cap)
{
	cap_t c = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (c)
		cap_get_flag(c, cap, CAP_EFFECTIVE, &v);
	cap_free(c);
	return v == CAP_SET;
}

/* Reads back what the kernel now says: trust it, not the calls above. */
static int verify(uid_t uid, int keep_cap, bool bounding, char *err, size_t errlen)
{
	uid_t r, e, s;
	cap_t want = caps_keeping(keep_cap), now = cap_get_proc();
	int same = want && now && cap_compare(want, now) == 0;

	cap_free(want);
	cap_free(now);
	if (getresuid(&r, &e, &s) || r != uid || e != uid || s != uid || !same ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		snprintf(err, errlen, "cannot drop privileges: the kernel still reports some");
		return -1;
	}
	for (int c = 0; bounding && CAP_IS_SUPPORTED(c); c++)
		if (cap_get_bound((cap_value_t)c) == 1) {
			snprintf(err, errlen, "cannot drop privileges: capability %d is still "
				 "in the bounding set", c);
			return -1;
		}
	return 0;
}

static int switch_user(const struct privdrop *p, int keep_cap, char *err, size_t errlen)
{
	if (keep_cap >= 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return fail(err, errlen, "PR_SET_KEEPCAPS");
	if (setgroups(0, NULL))
		return fail(err, errlen, "setgroups");
	if (setresgid(p->gid, p->gid, p->gid))
		return fail(err, errlen, "setresgid");
	if (setresuid(p->uid, p->uid, p->uid))
		return fail(err, errlen, "setresuid");
	return 0;
}

/*
 * Started by root: everything below. Started by another user with
 * capabilities (file or ambient): that user stays unless it may switch,
 * and the bounding set stays unless it may empty it; with no_new_privs no
 * later exec could use what is left there.
 */
int privdrop_apply(const struct privdrop *p, int keep_cap, char *err, size_t errlen)
{
	bool root = geteuid() == 0;
	bool bounding = root || effective(CAP_SETPCAP);
	bool setid = root || (effective(CAP_SETUID) && effective(CAP_SETGID));

	if (p->keep_root)
		return 0;
	if (bounding && empty_bounding_set(err, errlen))
		return -1;
	if (cap_reset_ambient())
		return fail(err, errlen, "clearing the ambient set");
	if (setid && switch_user(p, keep_cap, err, errlen))
		return -1;
	if (set_caps(keep_cap, err, errlen))
		return -1;
	if (keep_cap >= 0 && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0))
		return fail(err, errlen, "PR_SET_KEEPCAPS");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return fail(err, errlen, "PR_SET_NO_NEW_PRIVS");
	return verify(setid ? p->uid : getuid(), keep_cap, bounding, err, errlen);
}

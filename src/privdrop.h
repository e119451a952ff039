/* SPDX-License-Identifier: MIT */
/*
 * Privileges after attach. Once the programs are loaded and attached and
 * every map is open, the monitor needs only its descriptors: it becomes an
 * unprivileged user with no capabilities, no bounding set and no_new_privs,
 * before it serves anything.
 */
#ifndef BCCFLOW_PRIVDROP_H
#define BCCFLOW_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PRIVDROP_DEFAULT_USER "nobody"

struct privdrop {
	bool keep_root;		/* --user root: no drop (said at start-up) */
	uid_t uid;
	gid_t gid;
	char name[64];
};

/*
 * Looks up --user NAME (a user name or a numeric uid; NULL: nobody) in the
 * password database. 0, or -1 with a one-line reason and fix in err.
 */
int privdrop_resolve(const char *user, struct privdrop *p, char *err, size_t errlen);

/*
 * The one capability a kernel needs for bpf() commands on descriptors it
 * already gave us (map lookups, deletes, program info), or -1 for none.
 * Since 5.19, kernel.unprivileged_bpf_disabled refuses only map creation and
 * program loading; before, it refused every command without CAP_BPF (5.8+)
 * or CAP_SYS_ADMIN. release: uname -r; unpriv_disabled: the sysctl's value.
 */
int privdrop_needed_cap(const char *release, int unpriv_disabled);

/* CAP_* name for messages ("CAP_BPF"). */
const char *privdrop_cap_name(int cap);

/*
 * Becomes p's user (groups cleared, then gid, then uid), keeps keep_cap
 * (-1: none) in the effective and permitted sets only, empties the bounding
 * and ambient sets and sets no_new_privs; then checks the result. A process
 * started by another user with capabilities stays that user unless it has
 * CAP_SETUID and CAP_SETGID, and keeps its bounding set without
 * CAP_SETPCAP (no_new_privs makes it useless). Must run
 * while this process has one thread: credentials set here are per thread.
 * 0, or -1 with a reason in err (the caller must then stop: half-dropped
 * privileges are worse than a clear failure).
 */
int privdrop_apply(const struct privdrop *p, int keep_cap, char *err, size_t errlen);

/* The unprivileged_bpf_disabled sysctl, or 1 when it cannot be read. */
int privdrop_read_unpriv_disabled(void);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The workload a cgroup v2 path belongs to (groundwork for issue 13;
 * nothing calls it yet): a container id, a Kubernetes pod UID, a systemd
 * unit. Only the path is read, never the file system.
 *
 * The path is split at '/' into components, and every component is
 * matched on its own; "<64hex>" below is exactly 64 lowercase hex digits.
 *
 * Container ids (the innermost such component wins):
 *   docker-<64hex>.scope            Docker, systemd cgroup driver
 *   /docker/<64hex>                 Docker, cgroupfs driver (any bare <64hex>)
 *   cri-containerd-<64hex>.scope    containerd's CRI plugin, systemd driver
 *   /kubepods/.../pod<uid>/<64hex>  containerd or Docker, cgroupfs driver
 *   crio-<64hex>.scope              CRI-O, systemd driver
 *   /kubepods/.../pod<uid>/crio-<64hex>  CRI-O, cgroupfs driver
 *   libpod-<64hex>.scope            Podman (root, or rootless under
 *                                   user@UID.service/user.slice/)
 *   /libpod_parent/libpod-<64hex>   Podman, cgroupfs manager
 * A ".scope" suffix is optional after each prefix form. Below a container's
 * cgroup (systemd running in the container, podman's "container"
 * subgroup) the path still belongs to that container: a container id wins
 * over any systemd unit, inside or around it, so docker-<id>.scope gives
 * the id, not the unit name.
 *
 * crio-conmon-<64hex>.scope and libpod-conmon-<64hex>.scope hold conmon,
 * the runtime's monitor of that container, not the container: its bytes
 * are not the container's. They are not container ids; they are systemd
 * scopes, so the unit rule below names them (kind WORKLOAD_UNIT).
 *
 * Kubernetes pod UIDs (qos: burstable or besteffort; guaranteed pods
 * have none):
 *   kubepods-pod<uid>.slice, kubepods-<qos>-pod<uid>.slice  systemd driver,
 *       with '_' for '-' in the UID (systemd reserves '-' for nesting);
 *       any slice naming kubepods, so a kubelet --cgroup-root prefix is fine
 *   pod<uid> below a component naming kubepods      cgroupfs driver
 * <uid> is a UUID (8-4-4-4-12 hex) or, for static pods, 32 hex digits;
 * pod_uid is given with dashes. The pod's container id is as above.
 *
 * systemd units, when there is no container id: the innermost component
 * ending in .service, .scope, .socket, .mount or .swap (slices only
 * group units and are skipped), e.g. session-3.scope for
 * /user.slice/user-1000.slice/session-3.scope and app.service for
 * /user.slice/user-1000.slice/user@1000.service/app.slice/app.service.
 * Anything else (the root "/", a slice, a cgroup a tool made) is no
 * workload: container is "".
 */
#ifndef BCCFLOW_WORKLOAD_H
#define BCCFLOW_WORKLOAD_H

/* systemd's longest unit name is 255 bytes */
#define WORKLOAD_NAME_LEN 256
#define WORKLOAD_ID_LEN 64
#define WORKLOAD_SHORT_ID_LEN 12
#define WORKLOAD_UID_LEN 36

enum workload_kind {
	WORKLOAD_NONE,
	WORKLOAD_UNIT,		/* container is a systemd unit name */
	WORKLOAD_CONTAINER,	/* container is a short container id */
};

struct workload {
	enum workload_kind kind;
	/* what a report shows: the id's first 12 hex digits, or a unit name; "" */
	char container[WORKLOAD_NAME_LEN];
	char container_id[WORKLOAD_ID_LEN + 1];	/* all 64 digits; "" */
	char pod_uid[WORKLOAD_UID_LEN + 1];	/* with dashes; "" outside a pod */
};

/* Fills w from a cgroup path relative to the cgroup2 root; never fails. */
void workload_from_path(const char *path, struct workload *w);

#endif

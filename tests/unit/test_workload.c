/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: workloads from cgroup v2 paths (workload.c). The paths are
 * written after the layouts each runtime's documentation shows; the source
 * is named above each group. Ids are made up, 64 lowercase hex digits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "workload.h"

#define ID "3f4e8b9c2a1d0e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
#define SHORT "3f4e8b9c2a1d"
#define ID2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "e9fd6274-59d1-11e9-af90-9e3c8464d679"
#define UID_ "e9fd6274_59d1_11e9_af90_9e3c8464d679"
_Static_assert(sizeof(ID) == 65 && sizeof(ID2) == 65, "64 hex digits");

static void check(const char *path, enum workload_kind kind, const char *container,
		  const char *id, const char *pod)
{
	struct workload w;

	workload_from_path(path, &w);
	if (w.kind != kind || strcmp(w.container, container) || strcmp(w.container_id, id) ||
	    strcmp(w.pod_uid, pod))
		fail_msg("%s: kind %d container '%s' id '%s' pod '%s'", path, w.kind,
			 w.container, w.container_id, w.pod_uid);
}

static void container(const char *path, const char *pod)
{
	check(path, WORKLOAD_CONTAINER, SHORT, ID, pod);
}

static void unit(const char *path, const char *name)
{
	check(path, WORKLOAD_UNIT, name, "", "");
}

/*
 * Docker, "Runtime metrics" (docs.docker.com/engine/containers/runmetrics/):
 * /sys/fs/cgroup/system.slice/docker-<longid>.scope/ with cgroup v2 and the
 * systemd driver, /sys/fs/cgroup/docker/<longid>/ with cgroupfs.
 */
static void test_docker(void **state)
{
	(void)state;
	container("/system.slice/docker-" ID ".scope", "");
	container("/docker/" ID, "");
	/* the e2e layout: a Docker-like name in a test's own cgroup */
	container("/test.slice/docker-" ID ".scope", "");
	/* systemd inside the container: the container still wins */
	container("/system.slice/docker-" ID ".scope/system.slice/nginx.service", "");
	container("/system.slice/docker-" ID ".scope/init.scope", "");
	/* rootless Docker (docs.docker.com/engine/security/rootless/), systemd driver */
	container("/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" ID
		  ".scope", "");
	/* docker in docker: the innermost id is the process's container */
	container("/docker/" ID2 "/docker/" ID, "");
}

/*
 * Kubernetes with containerd's CRI plugin: "Container runtimes" and
 * "Configuring a cgroup driver" (kubernetes.io/docs/setup/production-
 * environment/container-runtimes/, /docs/tasks/administer-cluster/
 * kubeadm/configure-cgroup-driver/); QoS classes as in the kubelet's pod
 * cgroups (kubernetes.io/docs/concepts/workloads/pods/pod-qos/). The
 * besteffort pod slice is the one quoted in google/gvisor#193.
 */
static void test_containerd_kubernetes(void **state)
{
	(void)state;
	container("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		  ".slice/cri-containerd-" ID ".scope", UID);
	container("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		  ".slice/cri-containerd-" ID ".scope", UID);
	/* guaranteed pods sit directly under kubepods.slice */
	container("/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope",
		  UID);
	/* cgroupfs driver: the UID keeps its dashes, the container is its bare id */
	container("/kubepods/burstable/pod" UID "/" ID, UID);
	container("/kubepods/besteffort/pod" UID "/" ID, UID);
	container("/kubepods/pod" UID "/" ID, UID);
	/* a static pod's UID is a 32-digit hash of its manifest */
	container("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-"
		  "pod0123456789abcdef0123456789abcdef.slice/cri-containerd-" ID ".scope",
		  "0123456789abcdef0123456789abcdef");
	/* the pod's own cgroup (processes rarely live there): the pod, no container */
	check("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	      ".slice", WORKLOAD_NONE, "", "", UID);
	/* a kubelet with --cgroup-root=/kubelet: the slices get its prefix */
	container("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
		  "kubelet-kubepods-burstable-pod" UID_ ".slice/cri-containerd-" ID ".scope",
		  UID);
}

/*
 * CRI-O: conmon_cgroup and cgroup_manager in crio.conf(5)
 * (github.com/cri-o/cri-o/blob/main/docs/crio.conf.5.md): the container in
 * crio-<id>.scope, its monitor in crio-conmon-<id>.scope, under the pod's
 * slice ("pod") or in system.slice.
 */
static void test_crio(void **state)
{
	(void)state;
	container("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		  ".slice/crio-" ID ".scope", UID);
	/* conmon is not the container: a systemd scope, still in the pod */
	check("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	      ".slice/crio-conmon-" ID ".scope", WORKLOAD_UNIT,
	      "crio-conmon-" ID ".scope", "", UID);
	unit("/system.slice/crio-conmon-" ID ".scope", "crio-conmon-" ID ".scope");
	/* cgroupfs manager */
	container("/kubepods/burstable/pod" UID "/crio-" ID, UID);
	container("/kubepods/pod" UID "/crio-" ID, UID);
}

/*
 * Podman: --cgroups and --cgroup-parent in podman-run(1)
 * (docs.podman.io/en/latest/markdown/podman-run.1.html): containers in
 * machine.slice/libpod-<id>.scope as root, in the user's user.slice under
 * user@UID.service when rootless; conmon in libpod-conmon-<id>.scope;
 * "split" and systemd-mode containers get a child cgroup of their own.
 */
static void test_podman(void **state)
{
	(void)state;
	container("/machine.slice/libpod-" ID ".scope", "");
	container("/machine.slice/libpod-" ID ".scope/container", "");
	container("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID
		  ".scope", "");
	container("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID
		  ".scope/container", "");
	/* podman pods group their containers in a slice of their own */
	container("/machine.slice/machine-libpod_pod_" ID2 ".slice/libpod-" ID ".scope", "");
	/* the cgroupfs manager's parent */
	container("/libpod_parent/libpod-" ID, "");
	unit("/machine.slice/libpod-conmon-" ID ".scope", "libpod-conmon-" ID ".scope");
	unit("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-" ID
	     ".scope", "libpod-conmon-" ID ".scope");
}

/*
 * systemd: systemd.slice(5), systemd.scope(5), "Control Group APIs and
 * Delegation" (systemd.io/CGROUP_DELEGATION/), user@.service(5).
 */
static void test_systemd_units(void **state)
{
	(void)state;
	unit("/system.slice/nginx.service", "nginx.service");
	unit("/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service");
	unit("/init.scope", "init.scope");
	unit("/user.slice/user-1000.slice/session-3.scope", "session-3.scope");
	unit("/user.slice/user-1000.slice/user@1000.service", "user@1000.service");
	unit("/user.slice/user-1000.slice/user@1000.service/init.scope", "init.scope");
	unit("/user.slice/user-1000.slice/user@1000.service/app.slice/pipewire.service",
	     "pipewire.service");
	unit("/user.slice/user-1000.slice/user@1000.service/app.slice/"
	     "app-gnome-firefox-2271.scope", "app-gnome-firefox-2271.scope");
	/* a service's own subgroups (Delegate=yes): the service */
	unit("/system.slice/containerd.service/sub/leaf", "containerd.service");
	unit("/system.slice/systemd-networkd.socket", "systemd-networkd.socket");
	unit("/system.slice/home.mount", "home.mount");
	/* ".service" alone is no name */
	check("/system.slice/.service", WORKLOAD_NONE, "", "", "");
}

static void test_no_workload(void **state)
{
	(void)state;
	check("/", WORKLOAD_NONE, "", "", "");
	check("", WORKLOAD_NONE, "", "", "");
	check("/system.slice", WORKLOAD_NONE, "", "", "");
	check("/user.slice/user-1000.slice", WORKLOAD_NONE, "", "", "");
	check("/bccflow-test/child", WORKLOAD_NONE, "", "", "");
	/* near misses: 63 digits, upper case, a prefix no runtime uses */
	check("/docker/3f4e8b9c2a1d0e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3",
	      WORKLOAD_NONE, "", "", "");
	check("/docker/3F4E8B9C2A1D0E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F",
	      WORKLOAD_NONE, "", "", "");
	check("/other/lxc-" ID, WORKLOAD_NONE, "", "", "");
	/* a pod<uid> name outside kubepods is no pod; a bad UID is none either */
	check("/machine.slice/pod" UID, WORKLOAD_NONE, "", "", "");
	check("/kubepods/burstable/pod" UID "x", WORKLOAD_NONE, "", "", "");
	check("/kubepods/burstable/podE9FD6274-59D1-11E9-AF90-9E3C8464D679", WORKLOAD_NONE,
	      "", "", "");
	/* a unit name longer than systemd allows */
	{
		char path[400] = "/system.slice/";

		memset(path + 14, 'a', 300);
		strcpy(path + 314, ".service");
		check(path, WORKLOAD_NONE, "", "", "");
	}
}

/* slashes doubled or trailing, as a hand-written path might have them */
static void test_loose_slashes(void **state)
{
	(void)state;
	unit("system.slice/nginx.service", "nginx.service");
	unit("/system.slice//nginx.service/", "nginx.service");
	container("//docker//" ID "/", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker),
		cmocka_unit_test(test_containerd_kubernetes),
		cmocka_unit_test(test_crio),
		cmocka_unit_test(test_podman),
		cmocka_unit_test(test_systemd_units),
		cmocka_unit_test(test_no_workload),
		cmocka_unit_test(test_loose_slashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

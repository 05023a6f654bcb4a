"""`gpu-fleet fabric-check STACK --pool PATH`: a ready-to-apply 2-node NCCL test of a pool's GPU fabric.

It prints the steps to run it and the bus bandwidth it must reach.

Each family gets the test its anchor runs, with the pool's own interfaces and images: on GKE a pair of pods behind
headless services (Google's container-engine-accelerators tests: TCPX and TCPXO run `allgather.sh` through
`kubectl exec`; A3 Ultra's gIB pods run `all_gather_perf` themselves, as cluster-toolkit's job does); on EKS an
`MPIJob` (kubeflow.org/v2beta1, the EKS user guide's) asking for the pool's EFA interfaces. Pods request all of a
node's GPUs and select the pool by name, so they land on two of its nodes. Network names come from
`components.config.fabric`, the same function that names the cluster's Network objects; images run by the digest
`components.images.DIGESTS` verifies (`images.pinned`, the table the plan's images use).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from components import catalog, images, versions
from components.catalog.fabric import NcclBar, Transport
from components.config import ConfigError, Fleet, Issue
from components.config.eks import EksCluster, EksGpuPool, efa_interfaces, is_dedicated
from components.config.fabric import pool_fabric, pool_nics
from components.config.gke import GkeCluster, GpuPool
from components.kubernetes.conventions import GPU_TAINT, POOL_TAINT_KEY

POOL_PATH = re.compile(r"^(?P<platform>gke|eks)\.regions\[(?P<region>[^\]]+)\]\.clusters\[(?P<cluster>[^\]]+)\]"
                       r"\.gpu_pools\[(?P<pool>[^\]]+)\]$")
SEED_SHARE = 0.8
"""Seed 001: "NCCL Bandwidth: >80% of theoretical maximum"; for a ring all_gather the theoretical maximum across
nodes is the node's GPU-fabric line rate (an all_reduce may exceed it with NVLS/tree algorithms)."""
HOSTS = ("nccl-host-1", "nccl-host-2")
_TOLERATION = {"key": GPU_TAINT[0], "operator": "Exists", "effect": "NoSchedule"}
_GKE_NVIDIA_LIB = "/home/kubernetes/bin/nvidia/lib64"


@dataclass
class FabricCheck:
    pool_path: str
    title: str
    """The pool's machine and fabric, one line."""
    steps: list[str]
    """Shell commands, in order."""
    expectations: list[str]
    """What the output must show."""
    bases: list[str]
    """Where the numbers come from, with their sources."""
    manifests: list[dict[str, Any]] = field(default_factory=list)

    def render(self) -> str:
        head = [f"gpu-fleet fabric check: {self.pool_path}", self.title, "", "Run:"]
        head += [f"  {i}. {step}" for i, step in enumerate(self.steps, 1)]
        head += ["", "Pass:"] + [f"  - {line}" for line in self.expectations]
        head += ["", "Basis:"] + [f"  - {line}" for line in self.bases]
        comment = "\n".join(f"# {line}".rstrip() for line in head)
        docs = yaml.dump_all(self.manifests, Dumper=_Dumper, sort_keys=False, width=120)
        return f"{comment}\n---\n{docs}"


class _Dumper(yaml.SafeDumper):
    """Scripts and annotation lists as literal blocks (`|`), as the manifests they come from write them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # every object spelled out: no &id001 anchors in a manifest people read


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)


def build(fleet: Fleet, path: str, *, gcp_project: str) -> FabricCheck:
    """The fabric check of the pool at config key `path`; ConfigError (one line) for a path that names none."""
    match = POOL_PATH.match(path)
    if match is None:
        raise ConfigError([Issue("--pool", "not a GPU pool's config key", path,
                                 "e.g. gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod] or "
                                 "eks.regions[us-east-1].clusters[ml-aws].gpu_pools[h100]")])
    platform, region, cluster, pool = match.group("platform", "region", "cluster", "pool")
    if platform == "gke" and fleet.gke is not None:
        for r in fleet.gke.regions:
            for c in r.clusters:
                for p in c.gpu_pools:
                    if (r.name, c.name, p.name) == (region, cluster, pool):
                        return _gke(path, fleet.gke.network.name, r.name, c, p, gcp_project)
    if platform == "eks" and fleet.eks is not None:
        for er in fleet.eks.regions:
            for ec in er.clusters:
                for ep in ec.gpu_pools:
                    if (er.name, ec.name, ep.name) == (region, cluster, pool):
                        return _eks(path, er.name, ec, ep)
    known = pool_paths(fleet)
    close = difflib.get_close_matches(path, known, n=1, cutoff=0.8)
    raise ConfigError([Issue("--pool", "the stack has no such GPU pool", path,
                             f"did you mean {close[0]}?" if close else
                             f"the stack's GPU pools: {', '.join(known) or 'none'}")])


def pool_paths(fleet: Fleet) -> list[str]:
    """Config keys of every GPU pool of the stack."""
    out = [f"gke.regions[{r.name}].clusters[{c.name}].gpu_pools[{p.name}]"
           for r in (fleet.gke.regions if fleet.gke else []) for c in r.clusters for p in c.gpu_pools]
    out += [f"eks.regions[{r.name}].clusters[{c.name}].gpu_pools[{p.name}]"
            for r in (fleet.eks.regions if fleet.eks else []) for c in r.clusters for p in c.gpu_pools]
    return out


def expectations(bar: NcclBar, line_rate_gbps: int) -> list[str]:
    """What the largest row (and the average) must show: the anchors' bars, and seed 001's share of the line rate."""
    largest = bar.sizes[1]
    out: list[str] = []
    target = SEED_SHARE * line_rate_gbps / 8
    if bar.collective == "all_gather_perf" and line_rate_gbps:
        fabric = f"seed 001: 80% of the {line_rate_gbps / 8:.0f} GB/s fabric"
        if bar.measured_gbs is not None and bar.measured_gbs >= target:
            out.append(f"{bar.collective}, {largest} row: busbw >= {target:.0f} GB/s ({fabric}; an anchor "
                       f"measured {bar.measured_gbs:g} GB/s there)")
        else:
            out.append(f"{bar.collective}, {largest} row: aim for busbw >= {target:.0f} GB/s ({fabric}; no anchor "
                       "has published this size's figure, so it is a target, not a bar)")
    if bar.floor_gbs is not None:
        measured = f"; measured: {bar.measured_gbs:g} GB/s" if bar.measured_gbs is not None else ""
        out.append(f"{bar.collective}, {largest} row: busbw >= {bar.floor_gbs:g} GB/s (an anchor's bar{measured})")
    if bar.avg_floor_gbs is not None:
        out.append(f"{bar.collective}: `# Avg bus bandwidth` >= {bar.avg_floor_gbs:g} GB/s (the anchor CI's bar)")
    if bar.floor_gbs is None and bar.avg_floor_gbs is None and bar.collective != "all_gather_perf":
        reference = f"{bar.measured_gbs:g} GB/s measured" if bar.measured_gbs is not None else "none published"
        out.append(f"{bar.collective}, {largest} row: no anchor bar; reference: {reference}")
    return out


def basis(bars: tuple[NcclBar, ...]) -> list[str]:
    """Each bar's basis with its sources, for the reviewer to check."""
    return [f"{bar.basis} ({', '.join(s.url for s in bar.sources)})" for bar in bars]


# --- GKE ------------------------------------------------------------------------------------------------------------

def _gke(path: str, network: str, region: str, cluster: GkeCluster, pool: GpuPool, project: str) -> FabricCheck:
    fabric = pool_fabric(pool)
    machine = catalog.machine_type(pool.machine_type)
    if fabric is None:
        raise ConfigError([Issue("--pool", f"{pool.machine_type} pool without a GPU fabric: its GPUs reach other "
                                 "nodes over TCP, there is no fabric to check", path,
                                 "fabric-check takes pools of a3-highgpu-8g, a3-megagpu-8g or a3-ultragpu-8g "
                                 "(fabric on) and EFA pools")])
    names = [n.object_name for n in pool_nics(network, region, pool)]
    context = f"gke_{project}_{region}_{cluster.name}"
    kubectl = f"kubectl --context {context}"
    services = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": host},
                 "spec": {"selector": {"name": host}, "clusterIP": "None"}} for host in HOSTS]
    steps = [f"{kubectl} apply -f fabric-check.yaml   # this output, saved"]
    if fabric.transport is Transport.TCPX:
        pods = [_tcpx_pod(i, pool, names, machine.gpus) for i in (1, 2)]
        steps = [f"{kubectl} apply -f {versions.NCCL_TCPX_CONFIG}", *steps]
        steps += [f"{kubectl} wait --for=condition=Ready pod/nccl-test-host-1 pod/nccl-test-host-2 --timeout=20m",
                  f"{kubectl} exec nccl-test-host-1 -c nccl-test -- /bin/bash -c "
                  "\"cp /configs/allgather.sh /scripts/allgather.sh\"",
                  f"{kubectl} exec nccl-test-host-1 -c nccl-test -- /scripts/allgather.sh {' '.join(HOSTS)}"]
    elif fabric.transport is Transport.TCPXO:
        pods = [_tcpxo_pod(i, pool, names, machine.gpus) for i in (1, 2)]
        steps += [f"{kubectl} wait --for=condition=Ready pod/nccl-test-host-1 pod/nccl-test-host-2 --timeout=20m",
                  f"{kubectl} exec nccl-test-host-1 -c nccl-test -- /scripts/allgather.sh {' '.join(HOSTS)}"]
    else:
        pods = [_gib_pod(i, pool, fabric.rdma_network_names, fabric.gvnic_networks, machine.gpus) for i in (1, 2)]
        steps += [f"{kubectl} logs -f nccl-test-host-1   # the test runs by itself once both pods are up"]
    steps.append(f"{kubectl} delete -f fabric-check.yaml")
    title = (f"{pool.machine_type}: {fabric.transport.value} over {fabric.extra_nics} GPU NICs "
             f"({', '.join(names)}), {fabric.line_rate_gbps} Gbps per node; two nodes of pool {pool.name}")
    return FabricCheck(path, title, steps,
                       [e for bar in fabric.nccl for e in expectations(bar, fabric.line_rate_gbps)],
                       basis(fabric.nccl), [*services, *pods])


def _interfaces(names: list[str], *, first: int = 1) -> str:
    """`networking.gke.io/interfaces`: eth0 on the pod network, then one interface per GPU network, in NIC order."""
    nics = [{"interfaceName": "eth0", "network": "default"}]
    nics += [{"interfaceName": f"eth{first + i}", "network": n} for i, n in enumerate(names)]
    return json.dumps(nics, indent=2) + "\n"


def _devices(gpus: int, *extra: str) -> str:
    """A `devices.gke.io/container.<name>` annotation: the GPUs (and helpers) the NRI injector hands the daemon."""
    paths = [f"/dev/nvidia{g}" for g in range(gpus)] + ["/dev/nvidiactl", "/dev/nvidia-uvm", *extra]
    return "".join(f"- path: {p}\n" for p in paths)


def _pod(i: int, pool: GpuPool, annotations: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    host = HOSTS[i - 1]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"nccl-test-host-{i}", "labels": {"name": host, "gpu-fleet/fabric-check": pool.name},
                     "annotations": annotations},
        "spec": {
            "hostname": f"host{i}", "subdomain": host,
            "nodeSelector": {"cloud.google.com/gke-nodepool": pool.name},
            "tolerations": [_TOLERATION],
            # One pod per node: the test is across two nodes' fabric, not within one.
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"gpu-fleet/fabric-check": pool.name}},
                "topologyKey": "kubernetes.io/hostname"}]}},
            **spec,
        },
    }


def _host_path(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "hostPath": {"path": path}}


def _tcpxo_pod(i: int, pool: GpuPool, names: list[str], gpus: int) -> dict[str, Any]:
    """Google's A3 Mega test pod (gpudirect-tcpxo/nccl-test-latest.yaml): the TCPXO daemon beside the NCCL tests."""
    lib = {"name": "nvidia", "mountPath": "/usr/local/nvidia/lib64"}
    env = [{"name": "LD_LIBRARY_PATH", "value": "/usr/local/nvidia/lib64"}]
    script = "\n".join([
        "set -ex",
        "chmod 755  /scripts/demo-run-nccl-test-tcpxo-via-mpi.sh",
        "cat >/scripts/allgather.sh <<EOF",
        "#!/bin/bash",
        "/scripts/init_ssh.sh \\${@};",
        "pushd /scripts;",
        "/scripts/gen_hostfiles.sh \\${@};",
        "popd;",
        "BENCHMARK=all_gather_perf NHOSTS=2 NCCL_LIB_DIR=\"${LD_LIBRARY_PATH}\" "
        "LD_LIBRARY_PATH=\"${LD_LIBRARY_PATH}\" /scripts/demo-run-nccl-test-tcpxo-via-mpi.sh",
        "EOF",
        "chmod +x /scripts/allgather.sh",
        "service ssh restart;",
        "sleep infinity;",
    ]) + "\n"
    annotations = {
        "devices.gke.io/container.tcpxo-daemon": _devices(gpus, "/dev/dmabuf_import_helper"),
        "networking.gke.io/default-interface": "eth0",
        "networking.gke.io/interfaces": _interfaces(names),
    }
    return _pod(i, pool, annotations, {
        "containers": [
            {"name": "tcpxo-daemon", "image": images.pinned(versions.TCPXO_IMAGES["daemon"]),
             "imagePullPolicy": "Always",
             "command": ["/bin/sh", "-c"],
             "args": ["set -ex\nchmod 755 /fts/entrypoint_rxdm_container.sh\n"
                      "/fts/entrypoint_rxdm_container.sh --num_hops=2\n"],
             "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_BIND_SERVICE"]}},
             "volumeMounts": [lib, {"name": "sys", "mountPath": "/hostsysfs"},
                              {"name": "proc-sys", "mountPath": "/hostprocsysfs"}],
             "env": env},
            {"name": "nccl-test", "image": images.pinned(versions.TCPXO_IMAGES["nccl"]),
             "imagePullPolicy": "Always",
             "command": ["/bin/sh", "-c", script],
             "env": [*env, {"name": "NCCL_FASTRAK_LLCM_DEVICE_DIRECTORY", "value": "/dev/aperture_devices"}],
             "volumeMounts": [lib, {"name": "shared-memory", "mountPath": "/dev/shm"},
                              {"name": "aperture-devices", "mountPath": "/dev/aperture_devices"}],
             "resources": {"limits": {"nvidia.com/gpu": gpus}}},
        ],
        "volumes": [_host_path("nvidia", _GKE_NVIDIA_LIB),
                    {"name": "shared-memory", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
                    _host_path("sys", "/sys"), _host_path("proc-sys", "/proc/sys"),
                    _host_path("aperture-devices", "/dev/aperture_devices")],
    })


def _tcpx_pod(i: int, pool: GpuPool, names: list[str], gpus: int) -> dict[str, Any]:
    """Google's A3 High test pod (gpudirect-tcpx/nccl-test-latest.yaml): the TCPX daemon, NCCL tests, the scripts."""
    lib = {"name": "libraries", "mountPath": "/usr/local/nvidia/lib64"}
    env = [{"name": "LD_LIBRARY_PATH", "value": "/usr/local/nvidia/lib64"}]
    annotations = {
        "networking.gke.io/default-interface": "eth0",
        "networking.gke.io/interfaces": _interfaces(names),
        "devices.gke.io/container.tcpx-daemon": _devices(gpus),
    }
    return _pod(i, pool, annotations, {
        "containers": [
            {"name": "tcpx-daemon", "image": images.pinned(versions.TCPX_IMAGES["daemon"]),
             "imagePullPolicy": "Always",
             "command": ["/tcpgpudmarxd/build/app/tcpgpudmarxd", "--gpu_nic_preset", "a3vm", "--gpu_shmem_type", "fd",
                         "--uds_path", "/run/tcpx", "--setup_param", '\\"--verbose 128 2 0 \\"'],
             "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
             "volumeMounts": [lib, {"name": "tcpx-socket", "mountPath": "/run/tcpx"},
                              {"name": "sys", "mountPath": "/hostsysfs"},
                              {"name": "proc-sys", "mountPath": "/hostprocsysfs"}],
             "env": env},
            {"name": "nccl-test", "image": images.pinned(versions.TCPX_IMAGES["nccl"]),
             "imagePullPolicy": "Always",
             "command": ["/bin/sh", "-c", "service ssh restart;\nsleep infinity;\n"],
             "env": env,
             "securityContext": {"capabilities": {"add": ["IPC_LOCK"]}},
             "volumeMounts": [{"name": "tcpx-socket", "mountPath": "/tmp"}, lib,
                              {"name": "config-volume", "mountPath": "/configs"}],
             "resources": {"limits": {"nvidia.com/gpu": gpus}}},
        ],
        "volumes": [{"name": "config-volume", "configMap": {"name": "nccl-configmap", "defaultMode": 0o777}},
                    _host_path("libraries", _GKE_NVIDIA_LIB), _host_path("tcpx-socket", "/run/tcpx"),
                    _host_path("sys", "/sys"), _host_path("proc-sys", "/proc/sys")],
    })


def _gib_pod(i: int, pool: GpuPool, rdma_names: tuple[str, ...], gvnic: int, gpus: int) -> dict[str, Any]:
    """A3 Ultra / A4: Google's gIB test pod (gpudirect-rdma/nccl-test.yaml) running cluster-toolkit's job script.

    Only the RDMA networks are given to the pod (eth1, the extra gVNIC, is left out, as the anchors do). Host 1
    waits for both pods' sshd, then runs all_gather_perf across them with the gIB environment; host 2 serves.
    """
    hostfile = "".join(f"until ssh -p 222 -o StrictHostKeyChecking=no {h} hostname; do echo waiting for {h}; "
                       f"sleep 10; done\necho \"{h} port=222 slots={gpus}\" >> /tmp/hostfile\n" for h in HOSTS)
    run = (
        "/sbin/ldconfig\n"
        "/scripts/container_entry.sh daemon &\n"
        + ("sleep infinity\n" if i == 2 else
           "set -x\nrm -f /tmp/hostfile\n" + hostfile +
           "export NCCL_NET=gIB\n"
           "source /usr/local/gib/scripts/set_nccl_env.sh\n"
           "ENV_VARS=$(echo ${!NCCL*} ${!OMPI*} LD_LIBRARY_PATH PATH | sed 's/ / -x /g')\n"
           "mpirun --hostfile /tmp/hostfile -x $ENV_VARS -mca plm_rsh_no_tree_spawn 1 "
           "--mca orte_keep_fqdn_hostnames 1 --mca btl self,tcp --mca btl_tcp_if_include eth0 --bind-to none "
           "--mca plm_rsh_agent \"ssh -q -o LogLevel=ERROR -o StrictHostKeyChecking=no -p 222\" "
           "/third_party/nccl-tests/build/all_gather_perf -b 1K -e 8G -f 2 -g 1 -w 5 --iters 100 -c 1\n"
           "sleep infinity\n"))
    annotations = {
        "networking.gke.io/default-interface": "eth0",
        "networking.gke.io/interfaces": _interfaces(list(rdma_names), first=1 + gvnic),
    }
    return _pod(i, pool, annotations, {
        "containers": [{
            "name": "nccl", "image": images.pinned(versions.GIB_DIAGNOSTIC_IMAGE),
            "command": ["/bin/bash", "-c", run],
            "securityContext": {"privileged": True},
            "env": [{"name": "LD_LIBRARY_PATH", "value": "/usr/local/nvidia/lib64"},
                    {"name": "OMPI_ALLOW_RUN_AS_ROOT", "value": "1"},
                    {"name": "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "value": "1"}],
            "volumeMounts": [{"name": "nvidia", "mountPath": "/usr/local/nvidia"},
                             {"name": "gib", "mountPath": "/usr/local/gib"},
                             {"name": "shared-memory", "mountPath": "/dev/shm"}],
            "resources": {"limits": {"nvidia.com/gpu": gpus}, "requests": {"nvidia.com/gpu": gpus}},
        }],
        "volumes": [_host_path("nvidia", "/home/kubernetes/bin/nvidia"), _host_path("gib", "/home/kubernetes/bin/gib"),
                    {"name": "shared-memory", "emptyDir": {"medium": "Memory", "sizeLimit": "250Gi"}}],
    })


# --- EKS ------------------------------------------------------------------------------------------------------------

def _pool_toleration(pool: EksGpuPool) -> list[dict[str, str]]:
    """The toleration of a dedicated pool's own taint (components.aws.gpu_pool `taints`)."""
    return [{"key": POOL_TAINT_KEY, "operator": "Equal", "value": pool.name, "effect": "NoSchedule"}] \
        if is_dedicated(pool) else []


def _efa_or_refuse(path: str, pool: EksGpuPool) -> int:
    """The pool's EFA interfaces per node; a pool without EFA has no fabric to check (exit 2)."""
    efa = efa_interfaces(pool)
    if not efa:
        raise ConfigError([Issue("--pool", "pool without EFA: its GPUs reach other nodes over TCP, there is no "
                                 "fabric to check", path, "fabric-check takes EFA pools (p4d, p4de, p5, p5e, p5en by "
                                 "default, or efa: true)")])
    return efa


def _efa_runs(*, gpus: int, bars: tuple[NcclBar, ...]) -> list[str]:
    """The launcher's mpirun lines over two nodes of `gpus` GPUs: all_gather 8 B to 16 GiB, then each bar's test."""
    env = ["-x", "PATH", "-x", "LD_LIBRARY_PATH", "-x", "FI_PROVIDER=efa", "-x", "FI_EFA_FORK_SAFE=1",
           "-x", "NCCL_DEBUG=INFO", "-x", "NCCL_BUFFSIZE=8388608", "-x", "NCCL_P2P_NET_CHUNKSIZE=524288",
           "-x", "NCCL_TUNER_PLUGIN=/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu/libnccl-ofi-tuner.so"]
    mpirun = ["/opt/amazon/openmpi/bin/mpirun", "--allow-run-as-root", "--tag-output", "-np", str(2 * gpus), "-N",
              str(gpus), "--bind-to", "none", *env, "--mca", "pml", "^cm,ucx", "--mca", "btl", "tcp,self",
              "--mca", "btl_tcp_if_exclude", "lo,docker0,veth_def_agent"]
    tests = [("all_gather_perf", ("8", "16G")), *((b.collective, b.sizes) for b in bars)]
    return [" ".join([*mpirun, f"/opt/nccl-tests/build/{c}", "-b", lo, "-e", hi, "-f", "2", "-g", "1", "-c", "1",
                      "-n", "100"]) for c, (lo, hi) in dict(tests).items()]


def _mpi_steps(*, kubectl: str, job: str) -> list[str]:
    """What to run: the MPI operator once, the MPIJob, its launcher's log, and the clean-up."""
    return [f"{kubectl} apply --server-side -f {versions.MPI_OPERATOR}   # once: the MPI operator",
            f"{kubectl} apply -f fabric-check.yaml   # this output, saved",
            f"{kubectl} logs -f job/{job}-launcher   # the MPI operator runs the launcher as this Job",
            f"{kubectl} delete -f fabric-check.yaml"]


def _eks(path: str, region: str, cluster: EksCluster, pool: EksGpuPool) -> FabricCheck:
    efa = _efa_or_refuse(path, pool)
    instance = pool.instance_types[0]
    machine = catalog.machine_type(instance)
    fabric = catalog.fabric.efa_fabric(instance)
    line_rate = fabric.line_rate_gbps if fabric else 0
    gpus = machine.gpus
    name = f"nccl-tests-{pool.name}"
    kubectl = f"kubectl --context {cluster.name}"
    bars = fabric.nccl if fabric else ()
    runs = _efa_runs(gpus=gpus, bars=bars)
    # No huge pages: with FI_EFA_FORK_SAFE=1 (set above) libfabric's EFA provider does not use them ("By default,
    # EFA provider will use huge page unless FI_EFA_FORK_SAFE is set to 1/on/true", ofiwg/libfabric
    # man/fi_efa.7.md, FI_EFA_USE_HUGE_PAGE), and the AL2023 AMI reserves none (amazon-eks-ami v20260724 sets no
    # vm.nr_hugepages in templates/ or nodeadm; install-efa.sh runs `efa_installer.sh --minimal`), so a request
    # would keep the workers Pending: Karpenter sees no instance type offering hugepages-2Mi and launches nothing.
    resources = {"nvidia.com/gpu": gpus, "vpc.amazonaws.com/efa": efa, "memory": "32000Mi"}
    job = {
        "apiVersion": "kubeflow.org/v2beta1", "kind": "MPIJob", "metadata": {"name": name},
        "spec": {
            "runPolicy": {"cleanPodPolicy": "Running", "backoffLimit": 20},
            "slotsPerWorker": gpus,
            "mpiReplicaSpecs": {
                "Launcher": {"replicas": 1, "template": {"spec": {"restartPolicy": "OnFailure", "containers": [{
                    "name": "launcher", "image": images.pinned(versions.NCCL_TESTS_EFA_IMAGE),
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["/bin/bash", "-c", "set -e\nexport PATH=\"$PATH:/opt/amazon/efa/bin\"\n"
                                + "\n".join(runs) + "\n"]}]}}},
                "Worker": {"replicas": 2, "template": {"spec": {
                    "nodeSelector": {"karpenter.sh/nodepool": pool.name},
                    # EFA pools are dedicated: their nodes also carry gpu-fleet/pool=<name>:NoSchedule.
                    "tolerations": [_TOLERATION, *_pool_toleration(pool)],
                    "containers": [{
                        "name": "worker", "image": images.pinned(versions.NCCL_TESTS_EFA_IMAGE),
                        "imagePullPolicy": "IfNotPresent",
                        "volumeMounts": [{"name": "shmem", "mountPath": "/dev/shm"}],
                        "resources": {"limits": resources, "requests": resources}}],
                    "volumes": [{"name": "shmem", "hostPath": {"path": "/dev/shm"}}]}}},
            },
        },
    }
    steps = _mpi_steps(kubectl=kubectl, job=name)
    default = NcclBar(collective="all_gather_perf", sizes=("8", "16G"), measured_gbs=None, floor_gbs=None,
                      avg_floor_gbs=None, basis="", sources=())
    expect = expectations(default, line_rate) if line_rate else []
    expect += [e for bar in bars for e in expectations(bar, line_rate)]
    title = (f"{instance}: EFA, {efa} efa-only interfaces beside one ENA, {line_rate or 'unknown'} Gbps per node; "
             f"two nodes of NodePool {pool.name} in {', '.join(pool.zones or cluster.zones)} ({region})")
    return FabricCheck(path, title, steps, expect, basis(bars), [job])

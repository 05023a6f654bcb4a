"""GPU fabric inside a GKE cluster: one GKENetworkParamSet and Network per GPU NIC, and the pinned node installers.

GKE hands a pod a node's extra NIC through a `networking.gke.io/v1` Network of type Device, whose parameter set names
the VPC and subnet (`deviceMode` NetDevice for gVNIC, RDMA for ConnectX-7), as cluster-toolkit's templates write
them. The NCCL plugins come from Google's DaemonSets, pinned to a commit in `components.versions` and
applied from their reviewed copies in `components/manifests/` (images by digest, narrowed tolerations): TCPX or TCPXO
plus the NRI device injector on A3 High and Mega, the gIB installer on A3 Ultra.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import images, versions
from components.catalog.fabric import Transport
from components.config.fabric import GpuNic, pool_fabric, pool_nics
from components.config.gke import GpuPool
from components.gcp.gpu_network import GpuNetworks

API_VERSION = "networking.gke.io/v1"
INSTALLERS: dict[Transport, tuple[tuple[str, str], ...]] = {
    Transport.TCPX: (("nccl-tcpx-installer", versions.NCCL_TCPX_INSTALLER),
                     ("nri-device-injector", versions.NRI_DEVICE_INJECTOR)),
    Transport.TCPXO: (("nccl-tcpxo-installer", versions.NCCL_TCPXO_INSTALLER),
                      ("nri-device-injector", versions.NRI_DEVICE_INJECTOR)),
    Transport.RDMA: (("nccl-rdma-installer", versions.NCCL_RDMA_INSTALLER),),
}
"""The DaemonSets each transport needs (stable key, pinned manifest); the NRI injector is not used with RDMA."""


def param_set_spec(vpc: str, subnet: str, *, rdma: bool) -> dict[str, str]:
    return {"vpc": vpc, "vpcSubnet": subnet, "deviceMode": "RDMA" if rdma else "NetDevice"}


def network_spec(name: str) -> dict[str, object]:
    return {"type": "Device", "parametersRef": {"group": "networking.gke.io", "kind": "GKENetworkParamSet",
                                                "name": name}}


def cluster_nics(fleet_network: str, region: str, pools: list[GpuPool]) -> list[GpuNic]:
    """The GPU NICs of a cluster's fabric pools, one per Network object name (validated: names do not clash)."""
    return list({n.object_name: n for p in pools for n in pool_nics(fleet_network, region, p)}.values())


@dataclass(frozen=True)
class GkeGpuFabricArgs:
    pools: list[GpuPool]
    """The cluster's GPU pools: its fabric pools' NICs and transports (which installers to apply) come from them."""
    fleet_network: str
    """The fleet VPC's name (`gke.network.name`): the GPU networks' names derive from it."""
    region: str
    """The cluster's region: a gVNIC NIC's subnet is its region's."""
    networks: GpuNetworks
    """The fleet's GPU VPCs and subnets: the parameter sets name them, and wait for them to exist."""
    provider: k8s.Provider
    """The cluster's Kubernetes provider."""
    system_pool: pulumi.Resource
    """The cluster's system node pool: a Helm-free apply still needs nodes for the installers' DaemonSets."""


class GkeGpuFabric(pulumi.ComponentResource):
    network_objects: list[str]
    """Names of the cluster's GPU Network objects, in NIC order (pods' `networking.gke.io/interfaces` use them)."""

    def __init__(self, name: str, args: GkeGpuFabricArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:gke:GpuFabric", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider,
                                          depends_on=[args.system_pool, *args.networks.ready])
        nics = cluster_nics(args.fleet_network, args.region, args.pools)
        self.network_objects = [self._nic_network(name, nic, args, k8s_opts) for nic in nics]
        self._installers(name, [f.transport for p in args.pools if (f := pool_fabric(p))], k8s_opts)
        self.register_outputs({"network_objects": self.network_objects})

    def _nic_network(self, name: str, nic: GpuNic, args: GkeGpuFabricArgs, k8s_opts: pulumi.ResourceOptions) -> str:
        """The NIC's GKENetworkParamSet and the Network pods name it by; returns the Network's name."""
        params = k8s.apiextensions.CustomResource(
            f"{name}-{nic.object_name}-params",
            api_version=API_VERSION,
            kind="GKENetworkParamSet",
            metadata={"name": nic.object_name},
            spec=pulumi.Output.all(args.networks.network_names[nic.network],
                                   args.networks.subnet_names[nic.subnet]).apply(
                lambda v, rdma=nic.rdma: param_set_spec(v[0], v[1], rdma=rdma)),  # type: ignore[misc]
            opts=k8s_opts,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-{nic.object_name}",
            api_version=API_VERSION,
            kind="Network",
            metadata={"name": nic.object_name},
            spec=network_spec(nic.object_name),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[params]),
        )
        return nic.object_name

    def _installers(self, name: str, transports: list[Transport], k8s_opts: pulumi.ResourceOptions) -> None:
        """Each installer DaemonSet the transports need, once (TCPX and TCPXO share the NRI injector)."""
        applied: set[str] = set()
        for transport in sorted(set(transports), key=lambda t: t.value):
            for key, manifest in INSTALLERS[transport]:
                if key not in applied:
                    applied.add(key)
                    # The reviewed copy, by the same type and name as when `file` was the GitHub URL: the
                    # DaemonSet children keep their URNs and update in place.
                    k8s.yaml.v2.ConfigFile(f"{name}-{key}", file=images.manifest_file(manifest), opts=k8s_opts)

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
from components.config.fabric import GpuNic

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


@dataclass(frozen=True)
class GkeGpuFabricArgs:
    nics: list[GpuNic]
    """The GPU NICs of the cluster's fabric pools, one per Network object name (validated: names do not clash)."""
    transports: list[Transport]
    """The transports of the cluster's fabric pools: which installers to apply."""
    network_names: dict[str, pulumi.Output[str]]
    """GCP network name -> created network name (GpuNetworks)."""
    subnet_names: dict[str, pulumi.Output[str]]
    provider: k8s.Provider
    depends_on: list[pulumi.Resource]
    """What the objects need first: the cluster's system pool (a Helm-free apply still needs the API) and networks."""


class GkeGpuFabric(pulumi.ComponentResource):
    network_objects: list[str]
    """Names of the cluster's GPU Network objects, in NIC order (pods' `networking.gke.io/interfaces` use them)."""

    def __init__(self, name: str, args: GkeGpuFabricArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:gke:GpuFabric", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=args.depends_on)
        self.network_objects = []
        for nic in args.nics:
            params = k8s.apiextensions.CustomResource(
                f"{name}-{nic.object_name}-params",
                api_version=API_VERSION,
                kind="GKENetworkParamSet",
                metadata={"name": nic.object_name},
                spec=pulumi.Output.all(args.network_names[nic.network], args.subnet_names[nic.subnet]).apply(
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
            self.network_objects.append(nic.object_name)
        applied: set[str] = set()
        for transport in sorted(set(args.transports), key=lambda t: t.value):
            for key, manifest in INSTALLERS[transport]:
                if key not in applied:
                    applied.add(key)
                    # The reviewed copy, by the same type and name as when `file` was the GitHub URL: the
                    # DaemonSet children keep their URNs and update in place.
                    k8s.yaml.v2.ConfigFile(f"{name}-{key}", file=images.manifest_file(manifest), opts=k8s_opts)
        self.register_outputs({"network_objects": self.network_objects})

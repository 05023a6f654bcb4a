"""The fleet's GPU networks: the extra VPCs GPU fabric pools put their GPU NICs on, their subnets and firewall rules.

A family's gVNIC networks (4 for A3 High, 8 for A3 Mega, 1 for A3 Ultra) are shared by its pools in every region,
one subnet per region, at the family's MTU (8244 for TCPX/TCPXO), with one rule opening the network's own ranges to
each other. A3 Ultra's RDMA NICs sit on a RoCE network per zone (the zone's `vpc-roce` profile, 8896, 8 subnets);
GCP allows no firewall rules there, so none are created. No NAT or router: GPU traffic never leaves the VPC.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.config.fabric import GpuVpc, rdma_profile
from components.gcp.network import allow_internal


@dataclass(frozen=True)
class GpuNetworksArgs:
    project: str
    vpcs: list[GpuVpc]
    """Every GPU VPC the fleet's fabric pools need, with its subnets (components.config.fabric.gpu_vpcs)."""


class GpuNetworks(pulumi.ComponentResource):
    network_names: dict[str, pulumi.Output[str]]
    """GCP network name -> the created network's name (what node pools and Network objects reference)."""
    subnet_names: dict[str, pulumi.Output[str]]
    """GCP subnet name -> the created subnet's name."""
    ready: list[pulumi.Resource]
    """The networks and subnets: node pools with GPU NICs wait for them."""

    def __init__(self, name: str, args: GpuNetworksArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:network:GpuNetworks", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.network_names, self.subnet_names, self.ready = {}, {}, []
        for spec in args.vpcs:
            vpc = gcp.compute.Network(
                f"{name}-{spec.key}",
                name=spec.name,
                project=args.project,
                auto_create_subnetworks=False,
                routing_mode="REGIONAL",
                mtu=spec.mtu,
                # A RoCE network takes its zone's RDMA profile at creation (it cannot be added later).
                network_profile=rdma_profile(args.project, spec.rdma_zone) if spec.rdma_zone else None,
                opts=child,
            )
            self.network_names[spec.name] = vpc.name
            self.ready.append(vpc)
            for subnet in spec.subnets:
                sub = gcp.compute.Subnetwork(
                    f"{name}-{spec.key}-{subnet.name.removeprefix(spec.name + '-')}",
                    name=subnet.name,
                    project=args.project,
                    region=subnet.region,
                    network=vpc.id,
                    ip_cidr_range=subnet.cidr,
                    opts=child,
                )
                self.subnet_names[subnet.name] = sub.name
                self.ready.append(sub)
            if spec.rdma_zone is None:
                # GPU-to-GPU traffic between the family's nodes, in every region; nothing else is admitted.
                allow_internal(f"{name}-{spec.key}-allow-internal", f"{spec.name}-allow-internal", args.project,
                               vpc.id, [s.cidr for s in spec.subnets], child)
        self.register_outputs({"network_names": self.network_names, "subnet_names": self.subnet_names})

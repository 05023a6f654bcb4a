"""The gpu-fleet CrossGuard pack: `pulumi preview --policy-pack policies --policy-pack-config ...`."""

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.pack import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)

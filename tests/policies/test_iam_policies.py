"""Issue 24 §3 (partial): the pack refuses long-lived keys and primitive GCP roles, through the real pack."""

from __future__ import annotations

import copy

import pytest

from gpufleet.report import Plan
from tests.support.engine import run_resource_policy
from tests.support.verdicts import engine_config, violated

IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"


@pytest.mark.parametrize("typ", ["gcp:serviceaccount/key:Key", "aws:iam/accessKey:AccessKey"])
def test_keys_are_refused(typ: str) -> None:
    (msg,) = run_resource_policy("iam-no-service-account-keys", typ, {"user": "x"},
                                 engine_config("iam-no-service-account-keys", "prod"), urn="urn:x::ci-key")
    assert "ci-key" in msg and "long-lived" in msg
    assert run_resource_policy("iam-no-service-account-keys", "aws:iam/role:Role", {},
                               engine_config("iam-no-service-account-keys", "prod")) == []


def test_primitive_roles_are_refused_and_the_node_roles_pass(prod_plan: Plan) -> None:
    members = [r for r in prod_plan.resources if r.type == IAM_MEMBER and r.custom]
    assert members
    config = engine_config("gcp-no-primitive-roles", "prod")
    for m in members:
        assert run_resource_policy("gcp-no-primitive-roles", IAM_MEMBER, m.inputs, config) == []
    props = copy.deepcopy(members[0].inputs)
    props["role"] = "roles/editor"
    (msg,) = run_resource_policy("gcp-no-primitive-roles", IAM_MEMBER, props, config)
    assert "roles/editor" in msg


def test_shipped_plans_pass_the_identity_policies(dev_plan: Plan, prod_plan: Plan) -> None:
    for plan, stack in ((dev_plan, "dev"), (prod_plan, "prod")):
        names = {"iam-no-service-account-keys", "gcp-no-primitive-roles"}
        assert not names & set(violated(plan, stack, only=names)), stack

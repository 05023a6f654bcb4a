"""README "Pipelines" is a recipe from a fresh repository: each name it gives is the one the workflows and stacks use.

Variables and secrets, environments, job and check names, the stack-init command and the secrets it sets, the
prices schedule: read from the README section and compared with `.github/workflows/*.yml` and `Pulumi.<stack>.yaml`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import eks
from gpufleet import offline

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
README = (ROOT / "README.md").read_text()
SECTION = README[README.index("\n## Pipelines\n"):README.index("\n## Layout\n")]
RECIPE = SECTION[SECTION.index("### CI from a fresh repository"):]


def workflow(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # PyYAML reads the bare key `on` as True (YAML 1.1)
    return doc


def step_of(text: str, number: int) -> str:
    """The recipe's numbered step `number.`, up to the next one."""
    m = re.search(rf"(?ms)^{number}\. (.*?)(?=^\d+\. |\Z)", text)
    assert m, f"the recipe has no step {number}"
    return m[1]


def expressions(kind: str) -> set[str]:
    return {m for p in WORKFLOWS.glob("*.yml") for m in re.findall(rf"\b{kind}\.([A-Z][A-Z0-9_]+)", p.read_text())}


def test_every_variable_and_secret_the_workflows_read_is_in_the_recipe() -> None:
    assert expressions("vars") and expressions("secrets")
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", RECIPE))
    assert expressions("vars") | expressions("secrets") <= named, "set up nowhere in the recipe"
    assert named <= expressions("vars") | expressions("secrets"), "named in the recipe, read by no workflow"


def test_deployers_are_environment_variables_and_previews_repository_variables() -> None:
    """The recipe says where each goes; a job reads an environment variable only with its `environment:`."""
    identities = step_of(RECIPE, 2)
    deploy_part = identities[identities.index("*Deploy*"):identities.index("Repository variables shared")]
    preview_part = identities[identities.index("*Preview*"):identities.index("*Deploy*")]
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_id, job in yaml.safe_load(path.read_text())["jobs"].items():
            used = set(re.findall(r"\bvars\.([A-Z][A-Z0-9_]+)", yaml.safe_dump(job)))
            for name in used:
                if f"`{name}`" in deploy_part:
                    assert job.get("environment") in ("dev", "prod"), (path.name, job_id, name)
                if f"`{name}`" in preview_part:
                    assert "environment" not in job, (path.name, job_id, name)
    assert "**environment** variables of `dev` and `prod`" in deploy_part
    assert "in repository variables" in preview_part


def test_the_recipes_environments_are_the_deploy_jobs() -> None:
    environments = {job["environment"] for job in workflow("deploy.yml")["jobs"].values() if "environment" in job}
    assert environments == {"dev", "prod"}
    step = step_of(RECIPE, 3)
    assert all(f"`{env}`" in step for env in environments)
    assert "required reviewers" in step and '"Deployment branches: main"' in step


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_init_uses_the_stacks_own_secrets_provider_and_sets_its_secrets(stack: str) -> None:
    step = step_of(RECIPE, 1)
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    url = doc["secretsprovider"]
    secret_keys = offline.read_stack_file(ROOT / f"Pulumi.{stack}.yaml", stack).secret_keys
    if f"pulumi stack init {stack}" not in step:  # the commands are prod's; dev's URL is in the prose
        assert re.sub(r"\s+", "", url) in re.sub(r"\s+", "", step) and not secret_keys, url
        return
    assert re.search(rf"pulumi stack init {stack} \\\s*\n\s*--secrets-provider {re.escape(url)}\n", step)
    secrets = set(re.findall(r"pulumi config set --secret (\S+) <", step))
    assert secrets == set(secret_keys)
    # Order: log in, init with the provider, then the secrets, then commit the stack file with its encryptedkey.
    commands = [line.strip() for line in step.splitlines() if line.strip().startswith(("pulumi ", "git "))]
    assert commands[0].startswith("pulumi login gs://") and commands[1].startswith(f"pulumi stack init {stack}")
    assert commands[-1].startswith(f"git add Pulumi.{stack}.yaml")


def test_required_checks_are_the_jobs_names_as_github_lists_them() -> None:
    """GitHub names a matrix job's check by its `name:` with the matrix value filled in."""
    checks = set(re.findall(r"`([^`]+)`", step_of(RECIPE, 4).split("status checks", 1)[1].split("(the jobs", 1)[0]))
    listed = set()
    for name in ("test.yml", "pull-request.yml"):
        for job in workflow(name)["jobs"].values():
            values = (job.get("strategy") or {}).get("matrix", {}).get("stack", [None])
            listed |= {job["name"].replace("${{ matrix.stack }}", v) if v else job["name"] for v in values}
    assert checks == {"./dev test", "offline plan (dev)", "offline plan (prod)"} and checks <= listed
    # The checks a fork's pull request never gets cannot be required.
    assert "head.repo.full_name == github.repository" in workflow("pull-request.yml")["jobs"]["preview"]["if"]


def test_the_prices_step_matches_its_workflow() -> None:
    doc = workflow("prices.yml")
    assert doc["on"]["schedule"] == [{"cron": "17 6 * * 1"}]
    step = step_of(RECIPE, 7)
    assert "every Monday at 06:17 UTC" in step and "`GPU_FLEET_BILLING_API_KEY`" in step
    assert doc["on"]["workflow_dispatch"]["inputs"]["mode"]["options"] == ["check", "refresh"]
    assert "`mode: refresh`" in step
    assert doc["jobs"]["refresh"]["permissions"]["pull-requests"] == "write"
    assert "gh pr create" in doc["jobs"]["refresh"]["steps"][-1]["run"]


def test_the_section_names_only_jobs_that_exist() -> None:
    deploy = set(workflow("deploy.yml")["jobs"])
    for name in ("supersede", "preview-prod", "up-prod", "up-dev"):
        assert f"`{name}`" in SECTION and name in deploy, name
    for cited in re.findall(r"`(\.ci/[\w-]+)`", SECTION):
        assert (ROOT / cited).is_file(), cited
    for group in re.findall(r"`(gpu-fleet-deploy-\w+)`", SECTION):
        assert group in (WORKFLOWS / "deploy.yml").read_text(), group


def test_the_oidc_subjects_are_the_ones_the_jobs_get() -> None:
    """Pull requests -> pull_request; deploy jobs -> environment:<env>; `preview-prod` (no environment) -> main."""
    identities = step_of(RECIPE, 2)
    for ctx in ("pull_request", "ref:refs/heads/main", "environment:prod"):
        assert ctx in identities, ctx
    jobs = workflow("deploy.yml")["jobs"]
    assert "environment" not in jobs["preview-prod"] and jobs["up-prod"]["environment"] == "prod"
    assert workflow("deploy.yml")["on"]["push"]["branches"] == ["main"]
    assert "roles/iam.workloadIdentityUser" in identities and "token.actions.githubusercontent.com:aud" in identities


def test_the_recipes_cross_references_exist() -> None:
    """Each `see "<section>"` or `under "<section>"` names a README heading; each `eks.` key is a config field."""
    headings = {re.sub(r"^#+ ", "", line).strip() for line in README.splitlines() if line.startswith("#")}
    cited = {" ".join(c.split()) for c in re.findall(r'(?:see|under) "([^"]+)"', RECIPE, flags=re.I)}
    assert cited and cited <= headings, cited - headings
    fields = set(eks.Eks.model_fields)
    for key in re.findall(r"`eks\.(\w+)`", RECIPE):
        assert key in fields, key

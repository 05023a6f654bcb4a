"""Issue 20 section 4: every command-line mistake is exit 2 with one line and a hint, before anything runs.

Table-driven: argv, the exit code, a fragment of the one error line, and a fragment of its hint (the nearest flag or
command, or what the argument is, and the `--help` to read). Every command `gpu-fleet --help` lists has bad rows
and a valid control that really runs; an unexpected exception in any of them is exit 3 in one line.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml

from gpufleet import cli, fabric_check, openshift_discover, runners, usage
from tests.support.fake_apiserver import FakeApiServer
from tests.support.fake_cli import fake_pulumi_on_path
from tests.support.openshift_cluster import installer_cluster
from tests.support.plans import ROOT
from tests.support.shipped_cli import share_shipped_plans

H100 = "gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]"
MISSING = "/nonexistent/gpu-fleet-usage"

# (argv, exit code, fragment of the error line before the hint, fragment of the hint)
BAD: list[tuple[list[str], int, str, str]] = [
    # gpu-fleet prices refresh
    (["prices"], 2, "gpu-fleet prices: a command is missing", "one of `gpu-fleet prices refresh`"),
    (["prices", "refresh", "--chek"], 2, "no such option (got '--chek')", "did you mean --check?"),
    (["prices", "refresh", "--max-age-days", "soon"], 2, "--max-age-days: invalid int value: 'soon'",
     "gpu-price-age.max_age_days"),
    # gpu-fleet preview
    (["preview"], 2, "gpu-fleet preview: the stack argument is missing", "pass STACK"),
    (["preview", "dev", "--plan", "no-such-plan.json"], 2, "no such file (got 'no-such-plan.json')",
     "gpu-fleet preview --help"),
    # gpu-fleet
    ([], 2, "gpu-fleet: a command is missing", "one of `gpu-fleet plan`, `gpu-fleet openshift`"),
    (["plann", "dev"], 2, "gpu-fleet: no such command (got 'plann')", "did you mean `gpu-fleet plan`?"),
    (["fabric_check", "dev"], 2, "no such command (got 'fabric_check')", "did you mean `gpu-fleet fabric-check`?"),
    (["discover"], 2, "no such command (got 'discover')", "did you mean `gpu-fleet openshift discover`?"),
    (["deploy", "dev"], 2, "no such command (got 'deploy')",
     "the commands: plan, openshift, prices, fabric-check, ci, preview"),
    # gpu-fleet plan
    (["plan"], 2, "gpu-fleet plan: the stack argument is missing", "pass STACK (stack name"),
    (["plan"], 2, "gpu-fleet plan: the stack argument is missing", "here: dev, prod"),
    (["plan", "dev", "--jsn", "plan.json"], 2, "gpu-fleet plan: no such option (got '--jsn')",
     "did you mean --json? see `gpu-fleet plan --help`"),
    (["plan", "dev", "--no-polcy"], 2, "no such option (got '--no-polcy')", "did you mean --no-policy?"),
    (["plan", "dev", "--markdwn=plan.md"], 2, "no such option (got '--markdwn')", "did you mean --markdown?"),
    (["plan", "dev", "--pool", H100], 2, "no such option (got '--pool')",
     "--pool is an option of `gpu-fleet fabric-check`"),
    (["plan", "dev", "--verbose"], 2, "no such option (got '--verbose')", "its options: --config, --json"),
    (["plan", "dev", "prod"], 2, "gpu-fleet plan: unexpected argument (got 'prod')", "takes one STACK"),
    (["plan", "dev", "--json"], 2, "gpu-fleet plan: --json needs a value", "pass --json FILE"),
    (["plan", "dev", "--config", MISSING], 2, f"--config: no such file (got '{MISSING}')", "plan this stack file"),
    (["plan", "dev", "--policy-config", MISSING], 2, "--policy-config: no such file", "policy pack config"),
    (["plan", "dev", "--base", str(ROOT)], 2, "--base: is not a file", "a plan JSON of the target branch"),
    (["plan", "staging"], 2, "stack 'staging': Pulumi.staging.yaml does not exist", "known stacks: dev, prod"),
    # gpu-fleet fabric-check
    (["fabric-check", "prod"], 2, "gpu-fleet fabric-check: --pool is missing",
     "pass --pool KEY (the pool's config key, e.g. gke.regions["),
    (["fabric-check", "prod", "--pol", H100], 2, "no such option (got '--pol')", "did you mean --pool?"),
    (["fabric-check", "--pool", H100], 2, "fabric-check: the stack argument is missing", "here: dev, prod"),
    (["fabric-check"], 2, "the stack argument and --pool are missing", "pass --pool KEY"),
    (["fabric-check", "prod", "--pool", H100, "--config", MISSING], 2, "--config: no such file",
     "see `gpu-fleet fabric-check --help`"),
    (["fabric-check", "prod", "--pool", "gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prd]"], 2,
     "--pool: the stack has no such GPU pool", f"did you mean {H100}?"),
    # gpu-fleet openshift
    (["openshift"], 2, "gpu-fleet openshift: a command is missing", "one of `gpu-fleet openshift discover`"),
    (["openshift", "disover"], 2, "no such command (got 'disover')", "did you mean `gpu-fleet openshift discover`?"),
    # gpu-fleet openshift discover
    (["openshift", "discover"], 2, "gpu-fleet openshift discover: --kubeconfig is missing", "pass --kubeconfig FILE"),
    (["openshift", "discover", "--kubconfig", "ocp.kubeconfig"], 2, "no such option (got '--kubconfig')",
     "did you mean --kubeconfig? see `gpu-fleet openshift discover --help`"),
    (["openshift", "discover", "--kubeconfig", MISSING, "--timeout", "soon"], 2,
     "--timeout: not a number (got 'soon')", "seconds to wait for each API request (default: 30.0)"),
    (["openshift", "discover", "--kubeconfig", MISSING, "--chunk-size", "0"], 2,
     "--chunk-size: must be above 0 (got '0')", "items per list request"),
    (["openshift", "discover", "--kubeconfig", MISSING, "--c", "admin"], 2, "ambiguous option (got '--c')",
     "spell it out: --context or --chunk-size"),
    (["openshift", "discover", "--kubeconfig", MISSING], 2, f"--kubeconfig: no such file (got '{MISSING}')",
     "auth/kubeconfig"),
    (["openshift", "discover", "--kubeconfig", MISSING, "--name", "OCP_AI"], 2, "--name: not a valid gpu-fleet",
     "lower-case letters"),
    # gpu-fleet ci runners
    (["ci"], 2, "gpu-fleet ci: a command is missing", "one of `gpu-fleet ci runners`"),
    (["ci", "runner", "dev"], 2, "no such command (got 'runner')", "did you mean `gpu-fleet ci runners`?"),
    (["ci", "runners"], 2, "gpu-fleet ci runners: the stack argument is missing", "here: dev, prod"),
    (["ci", "runners", "dev", "--run-idd", "7"], 2, "no such option (got '--run-idd')", "did you mean --run-id?"),
    (["ci", "runners", "dev", "staging"], 2, "stack 'staging'", "known stacks: dev, prod"),
]


@pytest.fixture(autouse=True)
def at_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as a user does: from the checkout (Pulumi.STACK.yaml at the project root)."""
    monkeypatch.chdir(ROOT)


@pytest.fixture
def no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to open a connection: the command line is judged before any network call."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a connection was opened before the command line was checked")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)


def one_line(err: str) -> str:
    """The only line on stderr: no usage block, no traceback, no 'invalid configuration' heading."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert not lines[0].startswith("usage:") and "Traceback" not in err and "invalid configuration" not in err, err
    return lines[0]


@pytest.mark.parametrize(("argv", "code", "what", "hint"), BAD, ids=[" ".join(r[0]) or "(none)" for r in BAD])
def test_a_bad_command_line_is_one_line_with_a_hint(argv: list[str], code: int, what: str, hint: str,
                                                    capsys: pytest.CaptureFixture[str], no_connection: None) -> None:
    assert cli.main(argv) == code
    out = capsys.readouterr()
    line = one_line(out.err)
    assert out.out == ""
    assert line.startswith("error: ") and "; hint: " in line, line
    head, _, tail = line.partition("; hint: ")
    assert what in head, line
    assert hint in tail, line
    assert "plain text" not in line and "without --secret" not in line


def test_every_command_has_a_bad_row_and_a_control() -> None:
    """`gpu-fleet --help` lists the commands; each has rows above and a control below."""
    names = [path for path, _ in usage.commands(cli._parser(ROOT))]
    assert names == ["plan", "openshift discover", "prices refresh", "fabric-check", "ci runners", "preview"]
    for name in names:
        assert any(" ".join(argv).startswith(name) for argv, *_ in BAD), name
        assert name in CONTROLLED_ELSEWHERE or any(" ".join(argv).startswith(name) for argv in CONTROLS), name


def test_usage_errors_come_from_every_subparser() -> None:
    """argparse builds subparsers from the parser's class: none of them can print a usage block and exit."""
    parser = cli._parser(ROOT)
    assert isinstance(parser, usage.Parser)
    assert all(isinstance(p, usage.Parser) for _, p in usage.commands(parser))


def test_the_installed_command_prints_one_line() -> None:
    """As a shell runs it: the entry point, exit 2, one line on stderr and nothing else."""
    exe = Path(sys.executable).with_name("gpu-fleet")
    run = subprocess.run([str(exe), "fabric-check", "prod"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 2 and run.stdout == ""
    assert one_line(run.stderr).startswith("error: gpu-fleet fabric-check: --pool is missing; hint: pass --pool KEY")


# --- openshift discover: the kubeconfig is checked before any connection ---------------------------------------

def _kubeconfig(path: Path, **changes: Any) -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config", "current-context": "admin",
        "clusters": [{"name": "ocp-ai", "cluster": {"server": "https://api.ocp-ai.example.com:6443"}}],
        "users": [{"name": "admin", "user": {"token": "sha256~not-a-real-token"}}],
        "contexts": [{"name": "admin", "context": {"cluster": "ocp-ai", "user": "admin"}}],
    }
    doc.update(changes)
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(("write", "extra", "what", "hint"), [
    (lambda p: p.mkdir(), [], "--kubeconfig: is not a file", "oc login"),
    (lambda p: p.write_bytes(b"\xff\xfe\x00k"), [], "--kubeconfig: is not a text file", "auth/kubeconfig"),
    (lambda p: p.write_text("users:\n- name: admin\n  user: {token: sha256~leaked-token\n"), [],
     "--kubeconfig: is not YAML (line 4, column 1", "auth/kubeconfig"),
    (lambda p: p.write_text("apiVersion: v1\nkind: Config\n"), [], "is not a kubeconfig (no contexts or clusters)",
     "oc login"),
    (lambda p: _kubeconfig(p), ["--context", "admn"], "--context: no such context in the kubeconfig (got 'admn')",
     "did you mean admin? its contexts: admin"),
    (lambda p: _kubeconfig(p, **{"current-context": ""}), [], "--context: the kubeconfig has no current-context",
     "pass --context NAME, one of: admin"),
    (lambda p: _kubeconfig(p, clusters=[{"name": "ocp-ai", "cluster": {"server": "api.ocp-ai:6443"}}]), [],
     "its cluster ocp-ai has no API server address", "https://api.<cluster>.<domain>:6443"),
], ids=["folder", "binary", "not-yaml", "no-contexts", "misspelt-context", "no-current-context", "no-server"])
def test_a_kubeconfig_that_cannot_work_is_refused_before_connecting(
        tmp_path: Path, write: Any, extra: list[str], what: str, hint: str, capsys: pytest.CaptureFixture[str],
        no_connection: None) -> None:
    path = tmp_path / "ocp-ai.kubeconfig"
    write(path)
    assert cli.main(["openshift", "discover", "--kubeconfig", str(path), *extra]) == 2
    line = one_line(capsys.readouterr().err)
    head, _, tail = line.partition("; hint: ")
    assert line.startswith("error: openshift discover: ") and what in head and hint in tail, line
    assert "token" not in line  # a YAML error names the line and column, never the line's text


def test_a_network_failure_is_not_called_invalid_configuration(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A valid kubeconfig whose server refuses: `cannot reach the ... API server <url>: <reason>`, exit 2."""
    server = f"https://127.0.0.1:{_refused_port()}"
    path = _kubeconfig(tmp_path / "k", clusters=[{"name": "ocp-ai", "cluster": {"server": server}}])
    assert cli.main(["openshift", "discover", "--kubeconfig", str(path), "--timeout", "2"]) == 2
    line = one_line(capsys.readouterr().err)
    assert re.search(rf"cannot reach the (cluster's )?API server {re.escape(server)}: the connection was refused",
                     line), line


def _refused_port() -> int:
    """A local port nothing listens on: bound, then closed, so the OS refuses connections to it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- valid controls: the same commands, spelt right, run ------------------------------------------------------

CONTROLLED_ELSEWHERE = {
    "prices refresh": "tests/cli/test_prices_refresh.py runs it through cli.main against recorded catalogs on loopback",
}
CONTROLS: list[list[str]] = [
    ["plan", "dev", "--no-policy"],
    ["openshift", "discover", "--kubeconfig", "<fake API server>"],
    ["fabric-check", "prod", "--pool", H100],
    ["ci", "runners", "dev", "prod"],
    ["preview", "dev"],
]


@pytest.fixture
def cluster() -> Iterator[FakeApiServer]:
    with FakeApiServer(installer_cluster()) as server:
        yield server


@pytest.mark.parametrize("argv", CONTROLS, ids=[" ".join(c[:2]) for c in CONTROLS])
def test_the_same_commands_spelt_right_run(argv: list[str], tmp_path: Path, cluster: FakeApiServer,
                                           capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    argv = [str(cluster.kubeconfig(tmp_path / "ocp-ai.kubeconfig")) if a == "<fake API server>" else a for a in argv]
    if argv[0] == "preview":
        fake_pulumi_on_path(tmp_path, monkeypatch)
    if argv[0] == "plan":  # the command line is the control: dev's plan is the run's one plan of Pulumi.dev.yaml
        share_shipped_plans(monkeypatch, tmp_path_factory)
    code = cli.main(argv)
    out = capsys.readouterr()
    # The recorded dev preview holds a mandatory violation: the live verdict (1) is the control's success.
    assert code == (1 if argv[0] == "preview" else 0), out.err
    assert "error:" not in out.err
    if argv[0] == "ci":
        assert set(json.loads(out.out)) == {"dev", "prod"}
    elif argv[0] == "fabric-check":
        assert "kind:" in out.out
    elif argv[0] == "preview":
        assert "live preview" in out.out.lower()
    elif argv[0] == "openshift":
        assert yaml.safe_load(out.out)["gpu-fleet:openshift"]["clusters"][0]["infrastructure_id"] == "ocp-ai-7xk2p"
    else:
        assert "GPUs and monthly cost by region and type" in out.out


@pytest.mark.parametrize("argv", [["--help"], *[[*p.split(), "--help"] for p in ("plan", "openshift", "openshift "
                                  "discover", "fabric-check", "ci", "ci runners", "preview")]])
def test_help_is_exit_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 0 and capsys.readouterr().out.startswith("usage: gpu-fleet")


# --- exit 3: a failure nobody foresaw, in any command ---------------------------------------------------------

@pytest.mark.parametrize(("target", "argv"), [
    ((cli, "build_plan"), ["plan", "dev", "--no-policy"]),
    ((openshift_discover, "run"), ["openshift", "discover", "--kubeconfig", "ocp-ai.kubeconfig"]),
    ((fabric_check, "build"), ["fabric-check", "prod", "--pool", H100]),
    ((runners, "labels"), ["ci", "runners", "dev"]),
], ids=["plan", "openshift discover", "fabric-check", "ci runners"])
def test_an_unexpected_exception_is_exit_3_in_one_line(target: tuple[Any, str], argv: list[str],
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("zones")

    monkeypatch.setattr(*target, boom)
    monkeypatch.delenv("GPU_FLEET_DEBUG", raising=False)
    assert cli.main(argv) == 3
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: unexpected KeyError: 'zones'; hint: this is a gpu-fleet bug"), line


# --- the README's command lines are ones the CLI takes ----------------------------------------------------------

def readme_commands() -> list[str]:
    """Every gpu-fleet command line in the README's shell blocks, as `./dev ...` runs it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)
    return [line.strip() for block in blocks for line in block.splitlines()
            if re.match(r"\s*(\./dev (plan|gpu-fleet)|\S*gpu-fleet) ", line)]


def test_the_readme_runs_every_command_through_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    """One way in (pr-review.md section 1 step 7): `./dev gpu-fleet ...` (or `./dev plan`), and each line parses."""
    monkeypatch.setattr(cli, "_existing_file", Path)  # the README names files a reader has, not this checkout
    lines = readme_commands()
    assert {line.split()[1] for line in lines} >= {"plan", "gpu-fleet"}
    assert all(line.startswith("./dev ") for line in lines), lines
    for line in lines:
        synopsis = re.sub(r"\[(--[^\]]*)\]", r"\1", line.split(" #")[0].split(" > ")[0])  # [--flag X]: given
        words = shlex.split(synopsis)
        argv = ["plan", *words[2:]] if words[1] == "plan" else words[2:]
        usage.parse(cli._parser(ROOT), argv)  # a UsageError fails the test with its line


def test_dev_passes_gpu_fleet_through() -> None:
    run = subprocess.run([str(ROOT / "dev"), "gpu-fleet", "ci", "runner", "dev"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=False)
    assert run.returncode == 2
    assert one_line(run.stderr).endswith("did you mean `gpu-fleet ci runners`? see `gpu-fleet ci --help`")

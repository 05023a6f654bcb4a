"""The subcharts gpu-fleet's charts install, vendored verbatim in tests/support/subchart_values/<name>/.

../shared/reference holds the parent charts' values only; these are the dependencies their Chart.yaml pins, copied
from the fetched upstream mirrors (`git show <commit>:<path>/{Chart.yaml,values.yaml}`, 2026-12-01), each with its
sha256 so a hand edit shows.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

VENDORED = Path(__file__).parent / "subchart_values"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "charts"


@dataclass(frozen=True)
class Subchart:
    parent: str
    """The parent chart's directory in ../shared/reference/charts."""
    name: str
    """The dependency's name in the parent's Chart.yaml (and its values key there)."""
    version: str
    """The version the parent's Chart.yaml pins."""
    source: str
    """`owner/repo@commit:path` the vendored files were read from (the commit the version was released at)."""
    values_sha256: str
    chart_sha256: str

    def read(self, file: str) -> dict[str, Any]:
        """The vendored `file` (values.yaml, Chart.yaml), parsed; each caller gets its own copy."""
        return copy.deepcopy(_parsed(VENDORED / self.name / file))

    def sha256(self, file: str) -> str:
        return hashlib.sha256((VENDORED / self.name / file).read_bytes()).hexdigest()


SUBCHARTS = {s.name: s for s in (
    Subchart("kube-prometheus-stack", "kube-state-metrics", "8.4.0",
             "prometheus-community/helm-charts@1982f1c5828920f5d4ea5d04956169e81f8c5129:charts/kube-state-metrics "
             "(tag kube-state-metrics-8.4.0)",
             "a4dea7869dc7b21d16a5bfc6de666e66b92f0fe1ae48c100344eb6d97cef16a4",
             "8bf2f9c8557d4187a7331e27a4f566659639e1c6318e553f8b9ef4dabfb3736d"),
    Subchart("kube-prometheus-stack", "prometheus-node-exporter", "4.56.1",
             "prometheus-community/helm-charts@8b8e639cac80a3001412f187060068978f649a55:"
             "charts/prometheus-node-exporter (tag prometheus-node-exporter-4.56.1)",
             "428cec4fb54b0c0a58480d067f13b7f6851102fb5c5c1b282bf6f376073f21f0",
             "27aaa04b10edc1933ba119a2813673b3b994324e33d4026ecf63c875c02d0601"),
    Subchart("kube-prometheus-stack", "grafana", "12.11.1",
             "grafana-community/helm-charts@864f7794683680e5100a38670e103c4fa6e37e29:charts/grafana "
             "(tag grafana-12.11.1; kube-prometheus-stack 88.5.3 takes it from grafana-community.github.io)",
             "653e88838eb7553f561d2e6ffa3cbaa7d5b5029398af6ea2fdd2c27793853a68",
             "4ca1085863a002c5d92bc4189fd083bde1f61ba5fc72b87d4a3274f99577b87e"),
    # The tag's Chart.yaml keeps a placeholder `version`; the release packages the chart with the tag's semver
    # (v0.19.0 hack/prepare-release.sh `helm package ... --version $semver`), so its appVersion is the check.
    Subchart("gpu-operator", "node-feature-discovery", "0.19.0",
             "kubernetes-sigs/node-feature-discovery@45d276ed9d3f0f67fb642aa78969721df3034451:"
             "deployment/helm/node-feature-discovery (tag v0.19.0)",
             "84c6277dd7934c1ba54c0707c307e6b206400ac51179af0674b1de300e8fcb8b",
             "9b6e096649071b901d6d1aa2560701fa393864a5a58efe0e319c2414ee151300"),
)}


def parent_values(parent: str) -> dict[str, Any]:
    """The parent chart's values.yaml in ../shared/reference, parsed; each caller gets its own copy."""
    return copy.deepcopy(_parsed(REFERENCE / parent / "values.yaml"))


@functools.cache
def _parsed(path: Path) -> dict[str, Any]:
    """A YAML file parsed once per worker (PyYAML takes a quarter of a second for kube-prometheus-stack's values)."""
    return dict(yaml.safe_load(path.read_text()))


def dependency(parent: str, name: str) -> dict[str, Any]:
    """The parent Chart.yaml's `dependencies` entry for `name`."""
    chart = yaml.safe_load((REFERENCE / parent / "Chart.yaml").read_text())
    (dep,) = [d for d in chart["dependencies"] if d["name"] == name]
    return dict(dep)

"""Fixtures of the OpenShift tests: a local API server with an installer-shaped cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_apiserver import FakeApiServer
from tests.support.openshift_cluster import installer_cluster


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    with FakeApiServer(installer_cluster()) as server:
        yield server

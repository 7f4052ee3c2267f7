"""Gateway test fixtures; the helpers they build on are ``tests/gateway/helpers.py`` (a module, so
test files import it by its package name and mypy reads it)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# ``python -m pytest`` from the repository root can import ``tests.gateway.helpers`` already; a bare
# ``pytest`` (or another working directory) cannot, so the root goes last on the path: it never
# shadows anything. (``pythonpath = ["."]`` in the pytest config would make this unneeded.)
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from lynsms.gateway.config import GatewayConfig  # noqa: E402
from tests.gateway.helpers import Client, FakeAdapter, make_client, make_config, make_fakes  # noqa: E402


@pytest.fixture
def fakes() -> dict[str, FakeAdapter]:
    return make_fakes()


@pytest.fixture
def config() -> GatewayConfig:
    return make_config()


@pytest.fixture
def client(config: GatewayConfig, fakes: dict[str, FakeAdapter]) -> Iterator[Client]:
    with make_client(config, fakes) as test_client:
        yield test_client

"""Gateway test fixtures; the helpers they build on are ``tests/gateway/helpers.py`` (a module, so
test files import it by its package name and mypy reads it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lynsms.gateway.config import GatewayConfig
from tests.gateway.helpers import Client, FakeAdapter, make_client, make_config, make_fakes


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

"""The provider registry: a provider's module is found by its name alone (``providers/<name>.py``
exposing ``PROVIDER``), so a fifth provider is that module plus its line in ``providers/names.py``."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import httpx
import pytest

from lynsms.gateway.providers import registry
from lynsms.gateway.providers.base import Provider, ProviderAdapter, ProviderSettings
from lynsms.gateway.providers.names import PROVIDER_NAMES
from tests.gateway.helpers import FakeAdapter


def acme_adapter(settings: ProviderSettings, transport: httpx.AsyncBaseTransport) -> ProviderAdapter:
    return FakeAdapter(settings.name, max_batch=min(settings.max_batch, 10))


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """A module ``lynsms.gateway.providers.acme`` and the name ``acme`` in the list of names."""
    module = types.ModuleType("lynsms.gateway.providers.acme")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(registry, "PROVIDER_NAMES", (*PROVIDER_NAMES, "acme"))
    registry.provider.cache_clear()
    yield module
    registry.provider.cache_clear()


def test_every_listed_provider_has_a_module_exposing_its_provider() -> None:
    for name in PROVIDER_NAMES:
        assert registry.provider(name).name == name


def test_a_new_provider_is_found_by_its_name_alone(acme: types.ModuleType) -> None:
    provider = Provider(
        name="acme",
        adapter=acme_adapter,
        max_batch=10,
        default_credentials={"token": "t"},
        report_media_types=("application/json",),
        parse_reports=lambda data: [],
    )
    acme.__dict__["PROVIDER"] = provider
    assert registry.provider("acme") is provider
    settings = ProviderSettings(name="acme", base_url="https://acme.test", max_batch=500)
    adapter = registry.build_adapter(settings, httpx.MockTransport(lambda request: httpx.Response(500)))
    assert (adapter.name, adapter.max_batch) == ("acme", 10)


def test_a_provider_module_without_its_provider_is_refused_at_lookup(acme: types.ModuleType) -> None:
    with pytest.raises(TypeError, match=r"must define PROVIDER = Provider\(name='acme'"):
        registry.provider("acme")


def test_a_name_missing_from_the_list_is_unknown_even_with_a_module() -> None:
    with pytest.raises(ValueError, match="unknown provider 'http'"):
        registry.provider("http")  # providers/http.py exists, but is not a provider

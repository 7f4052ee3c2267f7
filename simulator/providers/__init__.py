"""The emulated providers, one folder each, found by their registry name.

``lynsms.gateway.providers.names.PROVIDER_NAMES`` lists them; ``providers/<name>/__init__.py``
exports ``PROVIDER``, the ``Provider`` subclass (a ``ProviderFactory``) built with the app's ``Core``.
"""

from __future__ import annotations

import importlib
from typing import Any

from lynsms.gateway.providers.names import PROVIDER_NAMES, ProviderName
from lynsms.simulator.providers.base import Core, Provider, ProviderFactory


def factory(name: ProviderName) -> ProviderFactory:
    """The ``PROVIDER`` of ``providers/<name>/``."""
    found: ProviderFactory = importlib.import_module(f"{__name__}.{name}").PROVIDER
    return found


def build(core: Core) -> dict[ProviderName, Provider[Any]]:
    """Every registered provider, in registry order, built for ``core``."""
    return {name: factory(name)(core) for name in PROVIDER_NAMES}


__all__ = ["Core", "Provider", "ProviderFactory", "build", "factory"]

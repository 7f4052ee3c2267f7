"""Finding a provider's module by its name: ``providers/<name>.py`` exposes ``PROVIDER``.

The names are ``providers.names``; nothing else lists the providers, so a fifth provider is its
module plus one line there. Modules load on first use, so reading the names stays cheap.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING

from lynsms.gateway.providers.base import Provider, ProviderAdapter, ProviderSettings
from lynsms.gateway.providers.names import PROVIDER_NAMES

if TYPE_CHECKING:
    import httpx


@functools.cache
def provider(name: str) -> Provider:
    """The provider called ``name``; ``ValueError`` for a name ``providers.names`` does not list."""
    if name not in PROVIDER_NAMES:
        raise ValueError(f"unknown provider {name!r}; expected one of {', '.join(PROVIDER_NAMES)}")
    module = importlib.import_module(f"lynsms.gateway.providers.{name}")
    found = getattr(module, "PROVIDER", None)
    if not isinstance(found, Provider) or found.name != name:
        raise TypeError(f"lynsms.gateway.providers.{name} must define PROVIDER = Provider(name={name!r}, ...)")
    return found


def build_adapter(settings: ProviderSettings, transport: httpx.AsyncBaseTransport) -> ProviderAdapter:
    """The adapter for ``settings.name``; ``max_batch`` is capped at what the provider takes.

    Raises ``ValueError`` for an unknown provider or missing credentials, so a bad config fails at
    start-up rather than on the first message.
    """
    return provider(settings.name).adapter(settings, transport)

"""The provider adapters, by name: the one place the gateway core turns settings into adapters.

Each adapter speaks its provider's real HTTP API through the httpx transport it is given (the
core owns one pooled transport per provider; the adapter applies that provider's timeout), so
pointing ``base_url`` at the real provider with real credentials really sends.
"""

from __future__ import annotations

from typing import Final

import httpx

from lynsms.gateway.providers.base import ProviderAdapter, ProviderSettings
from lynsms.gateway.providers.clicksend import ClickSendAdapter
from lynsms.gateway.providers.http import HttpAdapter
from lynsms.gateway.providers.infobip import InfobipAdapter
from lynsms.gateway.providers.sinch import SinchAdapter
from lynsms.gateway.providers.twilio import TwilioAdapter

PROVIDERS: tuple[str, ...] = ("twilio", "sinch", "infobip", "clicksend")

ADAPTERS: Final[dict[str, type[HttpAdapter]]] = {
    "twilio": TwilioAdapter,
    "sinch": SinchAdapter,
    "infobip": InfobipAdapter,
    "clicksend": ClickSendAdapter,
}


def default_max_batch(name: str) -> int:
    """Recipients one request to ``name`` can carry: 1 for Twilio, 1,000 for the others."""
    return _adapter_class(name).limit


def build_adapter(settings: ProviderSettings, transport: httpx.AsyncBaseTransport) -> ProviderAdapter:
    """The adapter for ``settings.name``; ``max_batch`` is capped at what the provider takes.

    Raises ``ValueError`` for an unknown provider or missing credentials, so a bad config fails at
    start-up rather than on the first message.
    """
    return _adapter_class(settings.name)(settings, transport)


def _adapter_class(name: str) -> type[HttpAdapter]:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}; expected one of {', '.join(PROVIDERS)}") from None


__all__ = ["ADAPTERS", "PROVIDERS", "ClickSendAdapter", "build_adapter", "default_max_batch"]

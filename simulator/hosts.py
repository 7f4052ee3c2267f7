"""The providers' real hosts, and which provider a request's ``Host`` names.

Requests that reach the simulator through ``lynsms.intercept()`` or the proxy keep their original
``Host`` (``api.twilio.com``, ``us.sms.api.sinch.com``, ``<account>.api.infobip.com`` ...). A provider
route answers only requests whose host is its own provider's or no provider's at all (a base-URL
client, ``Host: 127.0.0.1:8900``), so a path two providers might share always reaches the one the
client meant, and an unknown path gets that provider's own 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.routing import Match, Route
from starlette.types import Scope

from lynsms.gateway.providers.names import ProviderName

# "*.x" stands for any name below x (one label or more), never x itself.
PROVIDER_HOSTS: Mapping[ProviderName, tuple[str, ...]] = {
    "twilio": ("api.twilio.com", "lookups.twilio.com"),
    "sinch": ("*.sms.api.sinch.com", "auth.sinch.com", "lookup.api.sinch.com"),
    # Every account has its own base URL <prefix>.api.infobip.com; api.infobip.com is the shared one.
    "infobip": ("api.infobip.com", "*.api.infobip.com"),
    "clicksend": ("rest.clicksend.com",),
}

_EXACT = {pattern: name for name, patterns in PROVIDER_HOSTS.items() for pattern in patterns if "*" not in pattern}
_SUFFIXES = tuple(
    (pattern[1:], name) for name, patterns in PROVIDER_HOSTS.items() for pattern in patterns if "*" in pattern
)


def hostname(authority: str) -> str:
    """``Host``/CONNECT authority without port or trailing dot, lower-cased (IPv6 literals keep no brackets)."""
    text = authority.strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    if text.count(":") == 1:
        text = text.partition(":")[0]
    return text.rstrip(".")


def provider_of_host(authority: str) -> ProviderName | None:
    """The provider whose real host this is, or None (the simulator's own address, any other host)."""
    host = hostname(authority)
    exact = _EXACT.get(host)
    if exact is not None:
        return exact
    for suffix, name in _SUFFIXES:
        if host.endswith(suffix) and len(host) > len(suffix):
            return name
    return None


def all_patterns() -> list[str]:
    return [pattern for patterns in PROVIDER_HOSTS.values() for pattern in patterns]


_SCOPE_KEY = "lynsms.host_provider"
_UNSET: Any = object()


def host_provider(scope: Scope) -> ProviderName | None:
    """The provider the request's ``Host`` names, worked out once per request."""
    found = scope.get(_SCOPE_KEY, _UNSET)
    if found is _UNSET:
        found = None
        for name, value in scope.get("headers", ()):
            if name == b"host":
                found = provider_of_host(value.decode("latin-1"))
                break
        scope[_SCOPE_KEY] = found
    return found  # type: ignore[no-any-return]


class ProviderRoute(Route):
    """A provider's route: it does not match a request addressed to another provider's host."""

    def __init__(self, provider: ProviderName, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.provider = provider

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        owner = host_provider(scope)
        if owner is not None and owner != self.provider:
            return Match.NONE, {}
        return super().matches(scope)

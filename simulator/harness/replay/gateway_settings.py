"""A scenario's ``gateway`` block: the settings of the gateway the replay runner starts.

The block is the gateway's own config format (docs/gateway.md) with scenario conveniences: every
provider stays configured, ``timeout`` applies to each provider that sets none, durations may be
written ``"250ms"``. Only the harness reads it: the simulator ignores it, and the scenario language
leaves its meaning to the gateway's config parser, which ``gateway_problems`` consults when the
harness checks a file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lynsms.gateway.providers.names import PROVIDER_NAMES
from lynsms.simulator.scenario import Check
from lynsms.simulator.scenario.paths import KeyPath
from lynsms.simulator.scenario.rules import seconds

if TYPE_CHECKING:
    from lynsms.gateway.config import GatewayConfig

# Checking a block needs somewhere for the providers to point; nothing is contacted.
_NOWHERE = "http://127.0.0.1:8900"


def gateway_data(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A scenario's ``gateway`` block as a gateway config document (``gateway.config.parse_config``)."""
    timeout = settings.get("timeout")
    providers: dict[str, dict[str, Any]] = {}
    for name in PROVIDER_NAMES:
        provider = dict(settings.get("providers", {}).get(name) or {})
        if "timeout" in provider:
            provider["timeout"] = seconds(provider["timeout"])
        elif timeout is not None:
            provider["timeout"] = seconds(timeout)
        providers[name] = provider
    data: dict[str, Any] = {"providers": providers}
    for key in ("default_chain", "routes"):
        if key in settings:
            data[key] = settings[key]
    if "breaker" in settings:
        breaker = dict(settings["breaker"])
        if "cooldown_seconds" in breaker:
            breaker["cooldown_seconds"] = seconds(breaker["cooldown_seconds"])
        data["breaker"] = breaker
    return data


def gateway_config(
    settings: Mapping[str, Any], simulator_url: str, public_url: str, api_key: str, webhook_url: str | None = None
) -> GatewayConfig:
    """The reference gateway's config for a scenario's ``gateway`` block."""
    from lynsms.gateway.config import parse_config

    data = gateway_data(settings)
    if webhook_url is not None:
        data["webhook_url"] = webhook_url
    config = parse_config(data, simulator_url, source="gateway").with_api_key(api_key, name="lynsms-replay")
    return replace(config, public_url=public_url)


def setting_names(settings: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Each setting of a ``gateway`` block as ``path=value``: ``providers.twilio.timeout=500ms``."""
    names: list[str] = []
    for key, value in settings.items():
        if isinstance(value, Mapping) and value:
            names.extend(setting_names(value, f"{prefix}{key}."))
        else:
            names.append(f"{prefix}{key}={json.dumps(value) if not isinstance(value, str) else value}")
    return names


def gateway_problems(document: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """A scenario check (``scenario.check_paths(..., checks=...)``): what the gateway's own config
    parser says about the document's ``gateway`` block (route ids, chains...), by key path."""
    if "gateway" not in document:
        return
    from lynsms.gateway.config import ConfigError, parse_config

    try:
        parse_config(gateway_data(document["gateway"]), _NOWHERE, source="gateway")
    except ConfigError as exc:
        for problem in exc.problems:
            yield ("gateway", *problem.path), problem.message


# What the harness checks beyond the scenario language, wherever it loads a file.
CHECKS: tuple[Check, ...] = (gateway_problems,)

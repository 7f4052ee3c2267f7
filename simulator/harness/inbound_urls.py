"""Telling the simulator where the gateway takes inbound SMS: one registration per provider.

``lynsms up`` and the replay stacks call ``register`` so that a reply typed in the console, sent
with ``POST /_sim/inbound`` or scripted in a scenario reaches the gateway, pushed in each
provider's own format and (Twilio) signed with the auth token the gateway verifies with. Each
registration names the gateway's account at that provider, so the push carries it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from lynsms.gateway.inbound import inbound_url
from lynsms.tls import client_tls

if TYPE_CHECKING:
    from lynsms.gateway.config import GatewayConfig
    from lynsms.simulator.inbound import Inbound

# The credential that names the gateway's account at each provider, as the simulator sees it.
_ACCOUNT = {
    "twilio": ("account_sid",),
    "sinch": ("service_plan_id", "project_id"),
    "infobip": ("api_key",),
    "clicksend": ("username",),
}


def registrations(gateway: Any) -> list[dict[str, Any]]:
    """The ``POST /_sim/inbound/urls`` bodies for every provider a running ``gateway`` app (its
    lifespan started: the URLs carry its callback token) configures."""
    config: GatewayConfig = gateway.state.config
    callbacks = gateway.state.tracking.callbacks
    found = []
    for name, provider in config.providers.items():
        url = inbound_url(callbacks, name)
        if url is None:  # no public URL: providers have nowhere to push
            continue
        credentials = provider.settings.credentials
        account = next((credentials[k] for k in _ACCOUNT.get(name, ()) if credentials.get(k)), None)
        body: dict[str, Any] = {"provider": name, "url": url}
        if account:
            body["account"] = account
        secret = credentials.get("auth_token") or credentials.get("api_key_secret")
        if name == "twilio" and secret:
            body["auth_token"] = secret
        found.append(body)
    return found


def register(sim: Inbound, gateway: Any) -> None:
    """Register on a simulator in this process."""
    for body in registrations(gateway):
        sim.register(body["provider"], body["url"], account=body.get("account"), secret=body.get("auth_token", ""))


def register_over_http(simulator: str | httpx.Client, gateway: Any) -> None:
    """Register on a simulator reached over HTTP: its URL, or a client whose base URL it is."""
    if isinstance(simulator, str):
        with httpx.Client(base_url=simulator, timeout=10, trust_env=False, verify=client_tls()) as client:
            register_over_http(client, gateway)
        return
    for body in registrations(gateway):
        simulator.post("/_sim/inbound/urls", json=body).raise_for_status()

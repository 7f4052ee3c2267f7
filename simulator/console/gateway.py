"""The gateway's side of a simulator message, read from the gateway API (under ``lynsms up``).

The gateway keeps the provider's message id on its own message, so the console looks the message
up among the gateway's messages to the same recipient, then reads its events (status changes,
attempts across providers, customer webhook deliveries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from lynsms.tls import client_tls

TIMEOUT = 3.0
PAGE = 100


@dataclass(frozen=True, slots=True)
class GatewayLink:
    url: str  # the gateway's base URL, without /api
    api_key: str

    async def side_of(self, provider_message_id: str, to: str) -> dict[str, Any]:
        """``{"message": ..., "events": [...]}`` or ``{"error": ...}``; never raises."""
        recipient = to if to.startswith("+") else f"+{to}"
        headers = {"Authorization": f"Bearer {self.api_key}"}
        try:
            async with httpx.AsyncClient(
                base_url=self.url, headers=headers, timeout=TIMEOUT, trust_env=False, verify=client_tls()
            ) as client:
                listed = await client.get("/api/v1/messages", params={"to": recipient, "limit": PAGE})
                if listed.status_code != 200:
                    return {"error": f"gateway answered {listed.status_code} listing messages"}
                found = next(
                    (m for m in listed.json()["data"]["messages"] if _sent_as(m, provider_message_id)),
                    None,
                )
                if found is None:
                    return {"error": "the gateway has no message with this provider id (not sent through it?)"}
                events = await client.get(f"/api/v1/messages/{found['id']}/events")
                listed_events = events.json()["data"]["events"] if events.status_code == 200 else []
                return {"message": found, "events": listed_events}
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            return {"error": f"cannot read the gateway at {self.url}: {type(exc).__name__}: {exc}".rstrip(": ")}


def _sent_as(message: dict[str, Any], provider_message_id: str) -> bool:
    if message.get("provider_message_id") == provider_message_id:
        return True
    # A message that fell back to another provider still names this one's id in its attempt log.
    attempts = message.get("attempt_log")
    return isinstance(attempts, list) and any(
        isinstance(a, dict) and a.get("provider_message_id") == provider_message_id for a in attempts
    )

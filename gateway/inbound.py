"""``POST /api/v1/webhooks/{provider}/inbound``: inbound SMS in, opt-outs and help answers out.

    provider's inbound webhook ── authenticate (as delivery reports are) ── parse (providers/inbound.py)
        └── store inbound_message + message.received event (one transaction; a provider's retry
            of the same message id is recorded once)
              └── keyword? STOP family: opt the sender out (recipient.opted_out)
                           START family: opt back in (recipient.opted_in)
                           HELP family: send the help text back through the same provider

Authentication happens here as for delivery reports: the callback token of the URL the provider
was given (``inbound_url``, ``delivery.callback_auth``), then Twilio's signature over that URL and
the form (``authenticate``); the other providers do not sign. The URLs handed to providers are
built by ``inbound_url`` alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.requests import Request

from lynsms.gateway.delivery.callback_auth import CallbackAuth
from lynsms.gateway.delivery.inbound import _read, _verify
from lynsms.gateway.delivery.tracking import Tracking
from lynsms.gateway.errors import InvalidInbound, NotFound, UnsupportedMediaType
from lynsms.gateway.models import new_id, now_iso
from lynsms.gateway.optouts import OptOuts, keyword_of
from lynsms.gateway.providers import registry
from lynsms.gateway.providers.http import FORM_TYPE
from lynsms.gateway.providers.inbound import FORMATS, Inbound
from lynsms.gateway.providers.names import PROVIDER_NAMES
from lynsms.gateway.providers.reports import ReportError
from lynsms.gateway.service import Gateway
from lynsms.gateway.store.inbound import Event, InboundMessage

log = logging.getLogger("lynsms.gateway")


INBOUND_PATH: Final = "/api/v1/webhooks/{provider}/inbound"


def inbound_url(callbacks: CallbackAuth, provider: str) -> str | None:
    """Where ``provider`` is told to push inbound messages for this gateway, its callback token
    included (None without a public URL)."""
    return callbacks.url(provider, INBOUND_PATH)


def check_token(request: Request, provider: str) -> None:
    """403 ``invalid_callback_token`` unless the push came to the URL the gateway handed out."""
    tracking: Tracking = request.app.state.tracking
    tracking.callbacks.check(request, provider)


def authenticate(request: Request, gateway: Gateway, provider: str, pairs: Sequence[tuple[str, str]]) -> None:
    """Refuse (403 ``invalid_signature``) an inbound push that is not genuine, as reports are refused."""
    verify = registry.provider(provider).verify_report
    if verify is not None:
        _verify(request, gateway.config, verify, pairs)


async def receive(request: Request, gateway: Gateway, optouts: OptOuts) -> dict[str, Any]:
    provider = request.path_params["provider"]
    if provider not in PROVIDER_NAMES:
        raise NotFound(f"no such provider webhook: {provider!r} (expected one of {', '.join(PROVIDER_NAMES)})")
    check_token(request, provider)
    wire = FORMATS[provider]
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media not in wire.media_types:
        raise UnsupportedMediaType(
            f"{provider} inbound messages are {' or '.join(wire.media_types)}, not {media or 'untyped'}"
        )
    raw = await _read(request)
    pairs: list[tuple[str, str]] = []
    if media == FORM_TYPE:
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidInbound(f"the {provider} inbound message is not a UTF-8 form: {exc}") from None
        data: Any = dict(pairs)
    else:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidInbound(f"the {provider} inbound message is not JSON: {exc}") from None
    authenticate(request, gateway, provider, pairs)
    try:
        messages = wire.parse(data)
    except ReportError as exc:
        raise InvalidInbound(str(exc).replace("delivery report", "inbound message")) from None
    stored = [await _ingest(gateway, optouts, provider, m) for m in messages]
    return {
        "object": "inbound_receipt",
        "provider": provider,
        "received": sum(1 for s in stored if s is not None),
        "duplicates": sum(1 for s in stored if s is None),
        "messages": [s.to_json() for s in stored if s is not None],
    }


async def _ingest(gateway: Gateway, optouts: OptOuts, provider: str, inbound: Inbound) -> InboundMessage | None:
    found = keyword_of(inbound.body)
    message = InboundMessage(
        id=new_id("in_", 25),
        provider=provider,
        provider_message_id=inbound.provider_message_id,
        sender=inbound.sender,
        to=inbound.to,
        body=inbound.body,
        keyword=found[0] if found else None,
        received_at=inbound.received_at or now_iso(gateway.clock),
    )
    if not gateway.two_way.add_inbound(message, [Event("message.received", message.id, message.to_json())]):
        return None  # the provider retried a push the gateway already has
    if found is None:
        return message
    word, family = found
    if family == "stop":
        optouts.opt_out(message.sender, source="keyword", keyword=word, inbound_id=message.id)
    elif family == "start":
        optouts.opt_in(message.sender, source="keyword", keyword=word, inbound_id=message.id)
    else:
        await _help(gateway, provider, message)
    return message


async def _help(gateway: Gateway, provider: str, message: InboundMessage) -> None:
    """The help text back to the sender, from the number it wrote to, through the same provider."""
    if provider not in gateway.adapters:
        log.warning("HELP from %s: %s is not configured to answer through", message.sender, provider)
        return
    answer = await gateway.reply(message.sender, message.to, gateway.config.two_way.help_text, provider)
    if answer.status != "sent":
        log.warning("HELP answer to %s failed: %s", message.sender, answer.error.message if answer.error else "")

"""Each provider's inbound-message webhook, read into ``Inbound`` values.

    twilio     form: MessageSid, From, To, Body (signed like status callbacks: X-Twilio-Signature)
    sinch      JSON: {"type": "mo_text", "id", "from", "to", "body", "received_at"}
    infobip    JSON: {"results": [{"messageId", "from", "to", "text", "receivedAt"}, ...]}
    clicksend  form or JSON: message_id, from, to, body, timestamp

A body that is not the provider's inbound format raises ``reports.ReportError`` (the gateway
answers 400, which no provider retries). Numbers come back in E.164 with the ``+`` the
providers that drop it (Sinch, Infobip) leave out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from lynsms.gateway.providers import http
from lynsms.gateway.providers.reports import ReportError, iso_text, mapping, required, text, unix_text


@dataclass(frozen=True)
class Inbound:
    provider_message_id: str
    sender: str
    to: str
    body: str
    received_at: str | None = None


def _plus(number: str) -> str:
    return number if not (number.isascii() and number.isdecimal()) else "+" + number


def _body(data: Mapping[str, Any], key: str, provider: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ReportError(f"a {provider} inbound message needs {key!r} as a string")
    return value


def twilio(data: Any) -> list[Inbound]:
    form = mapping(data, "a Twilio incoming-message form")
    sid = text(form, "MessageSid") or required(form, "SmsSid", "Twilio")
    return [
        Inbound(sid, required(form, "From", "Twilio"), required(form, "To", "Twilio"), _body(form, "Body", "Twilio"))
    ]


def sinch(data: Any) -> list[Inbound]:
    event = mapping(data, "a Sinch inbound message")
    kind = event.get("type")
    if kind != "mo_text":
        raise ReportError(f"a Sinch inbound text message has type 'mo_text', not {kind!r}")
    return [
        Inbound(
            required(event, "id", "Sinch"),
            _plus(required(event, "from", "Sinch")),
            _plus(required(event, "to", "Sinch")),
            _body(event, "body", "Sinch"),
            iso_text(event.get("received_at")),
        )
    ]


def infobip(data: Any) -> list[Inbound]:
    results = mapping(data, "an Infobip inbound message").get("results")
    if not isinstance(results, list) or not results:
        raise ReportError("an Infobip inbound forward has a non-empty 'results' list")
    found = []
    for item in results:
        result = mapping(item, "an Infobip inbound result")
        found.append(
            Inbound(
                required(result, "messageId", "Infobip"),
                _plus(required(result, "from", "Infobip")),
                _plus(required(result, "to", "Infobip")),
                _body(result, "text", "Infobip"),
                iso_text(result.get("receivedAt")),
            )
        )
    return found


def clicksend(data: Any) -> list[Inbound]:
    push = mapping(data, "a ClickSend inbound message")
    stamp = push.get("timestamp")
    received = unix_text(str(stamp)) if isinstance(stamp, int | str) else None
    return [
        Inbound(
            required(push, "message_id", "ClickSend"),
            _plus(required(push, "from", "ClickSend")),
            _plus(required(push, "to", "ClickSend")),
            _body(push, "body", "ClickSend"),
            received,
        )
    ]


@dataclass(frozen=True)
class InboundFormat:
    media_types: tuple[str, ...]
    parse: Callable[[Any], list[Inbound]]


FORMATS: Final[dict[str, InboundFormat]] = {
    "twilio": InboundFormat((http.FORM_TYPE,), twilio),
    "sinch": InboundFormat((http.JSON_TYPE,), sinch),
    "infobip": InboundFormat((http.JSON_TYPE,), infobip),
    "clicksend": InboundFormat((http.FORM_TYPE, http.JSON_TYPE), clicksend),
}

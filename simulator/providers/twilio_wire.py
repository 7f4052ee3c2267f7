"""Twilio's wire formats: the Message resource, error bodies, status callbacks and their signature.

Pure functions over ``SimMessage`` and plain values, so ``twilio.py`` only holds the HTTP handlers.
Field names, types and formats follow the ``twilio`` SDK's ``MessageInstance`` (9.13.0) and
Twilio's public docs; see docs/providers/twilio.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, Final

from lynsms.simulator.model import SimMessage
from lynsms.simulator.numbers import lookup

API_VERSION: Final = "2010-04-01"
PREFIX: Final = f"/{API_VERSION}"
BODY_LIMIT: Final = 1600  # characters, counted as UTF-16 code units like Twilio's Java stack
# What one outbound US SMS segment costs; Twilio reports prices as negative strings in USD.
PRICE_PER_SEGMENT: Final = Decimal("0.00790")

ACCOUNT_SID: Final = re.compile(r"AC[0-9a-fA-F]{32}")
API_KEY_SID: Final = re.compile(r"SK[0-9a-fA-F]{32}")
SERVICE_SID: Final = re.compile(r"MG[0-9a-fA-F]{32}")
_DIGITS: Final = re.compile(r"\+?[0-9]{1,20}")
_SHORT_CODE: Final = re.compile(r"[0-9]{3,8}")
# Alphanumeric sender ids: up to 11 of A-Z, a-z, 0-9 and space, at least one letter.
_ALPHANUMERIC: Final = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")

# The Message resource statuses (MessageInstance.Status); other providers' intermediate words map to "sent".
STATUSES: Final = frozenset(
    {
        "queued",
        "sending",
        "sent",
        "failed",
        "delivered",
        "undelivered",
        "receiving",
        "received",
        "accepted",
        "scheduled",
        "read",
        "partially_delivered",
        "canceled",
    }
)
# Scripted final status -> (Twilio status, default error code). Twilio has no "expired": a message
# that outlives its ValidityPeriod ends failed with 30036.
FINAL: Final[dict[str, tuple[str, str | None]]] = {
    "delivered": ("delivered", None),
    "undelivered": ("undelivered", "30003"),
    "failed": ("failed", "30001"),
    "expired": ("failed", "30036"),
}
# Statuses in which the carrier has the message: it is dated as sent and priced.
_HANDED_OVER: Final = frozenset({"sent", "delivered", "undelivered", "read", "partially_delivered"})
_WITH_ERROR: Final = frozenset({"failed", "undelivered"})


class Code:
    """Twilio error codes the simulator answers with (https://www.twilio.com/docs/api/errors)."""

    ACCOUNT_INACTIVE = 10001
    AUTHENTICATE = 20003
    NOT_FOUND = 20404
    INVALID_TO = 21211
    INVALID_FROM = 21212
    BODY_REQUIRED = 21602
    FROM_REQUIRED = 21603
    TO_REQUIRED = 21604
    FROM_NOT_CAPABLE = 21606
    INVALID_CALLBACK_URL = 21609
    UNSUBSCRIBED = 21610
    BODY_TOO_LONG = 21617
    UPDATE_INVALID = 30400
    NOT_CANCELABLE = 30409
    SEND_AT_MISSING = 35111
    SEND_AT_OUT_OF_RANGE = 35114
    SERVICE_REQUIRED_TO_SCHEDULE = 35118


def default_code(status: int) -> int:
    """Twilio's code for a bare HTTP status: 20003 for 401, else 20000 + status (20404, 20429, 20500...)."""
    return Code.AUTHENTICATE if status == 401 else 20000 + status


def error_body(status: int, message: str, code: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def rfc2822(moment: datetime) -> str:
    """``Tue, 05 May 2026 10:00:00 +0000``, the format of every Twilio 2010 API date."""
    return _rfc2822(int(moment.timestamp()))


@lru_cache(maxsize=64)
def _rfc2822(epoch: int) -> str:
    # Every resource renders two or three dates of the same second; formatting is the costly part.
    return format_datetime(datetime.fromtimestamp(epoch, UTC))


def e164(number: str) -> str | None:
    """``number`` as ``+digits`` when it is a possible phone number (with or without '+'), else None."""
    if not _DIGITS.fullmatch(number):
        return None
    plus = number if number.startswith("+") else f"+{number}"
    return plus if lookup(plus) is not None else None


def valid_sender(sender: str) -> bool:
    """A phone number, a short code or an alphanumeric sender id (or a Messaging Service sid)."""
    return bool(
        e164(sender)
        or _SHORT_CODE.fullmatch(sender)
        or _ALPHANUMERIC.fullmatch(sender)
        or SERVICE_SID.fullmatch(sender)
    )


def plus(number: str) -> str:
    """A validated number as Twilio echoes it: E.164 with the leading '+'."""
    return number if number.startswith("+") else f"+{number}"


def body_length(body: str) -> int:
    return len(body.encode("utf-16-le")) // 2


def messages_uri(account_sid: str) -> str:
    return f"{PREFIX}/Accounts/{account_sid}/Messages.json"


def message_uri(message: SimMessage) -> str:
    return f"{PREFIX}/Accounts/{message.account}/Messages/{message.id}.json"


def _price(message: SimMessage) -> str | None:
    if message.status not in _HANDED_OVER:
        return None
    return f"{-PRICE_PER_SEGMENT * message.segments:.5f}"


def _error_code(message: SimMessage) -> int | str | None:
    code = message.error_code
    return int(code) if code is not None and code.isdigit() else code


def resource(message: SimMessage) -> dict[str, Any]:
    """The Message resource exactly as Twilio renders it: every field of the SDK's MessageInstance."""
    sub = message.submission
    sent_at: datetime | None = message.extra.get("date_sent")
    return {
        "body": sub.body,
        "num_segments": str(message.segments),
        "direction": "outbound-api",
        "from": sub.sender,
        "to": plus(sub.to),
        "date_updated": rfc2822(message.updated_at),
        "price": _price(message),
        "error_message": None,
        "uri": message_uri(message),
        "account_sid": message.account,
        "num_media": str(len(sub.extra.get("media_urls", ()))),
        "status": message.status,
        "messaging_service_sid": sub.extra.get("messaging_service_sid"),
        "sid": message.id,
        "date_sent": rfc2822(sent_at) if sent_at else None,
        "date_created": rfc2822(message.created_at),
        "error_code": _error_code(message),
        "price_unit": "USD",
        "api_version": API_VERSION,
        "subresource_uris": {"media": message_uri(message).removesuffix(".json") + "/Media.json"},
    }


def advance(message: SimMessage, status: str, error_code: str | None, now: datetime) -> str:
    """Move ``message`` to the Twilio status for a scripted ``status``; returns that Twilio status."""
    if message.status == "canceled":
        return message.status  # a canceled message never goes out, whatever was scripted for it
    twilio_status, default = FINAL.get(status, (status if status in STATUSES else "sent", None))
    message.status = twilio_status
    message.error_code = (error_code or default) if twilio_status in _WITH_ERROR else None
    message.updated_at = now
    if twilio_status in _HANDED_OVER:
        message.extra.setdefault("date_sent", now)
    return twilio_status


def status_callback(message: SimMessage, now: datetime) -> dict[str, str]:
    """The form fields Twilio POSTs to a StatusCallback for the message's current status."""
    sub = message.submission
    fields = {
        "MessageSid": message.id,
        "SmsSid": message.id,
        "AccountSid": message.account,
        "MessageStatus": message.status,
        "SmsStatus": message.status,
        "To": plus(sub.to),
        "ApiVersion": API_VERSION,
    }
    if sub.sender:
        fields["From"] = sub.sender
    if sub.extra.get("messaging_service_sid"):
        fields["MessagingServiceSid"] = sub.extra["messaging_service_sid"]
    if message.error_code is not None:
        fields["ErrorCode"] = message.error_code
    if message.status in ("delivered", "undelivered"):
        fields["RawDlrDoneDate"] = now.astimezone(UTC).strftime("%y%m%d%H%M")
    return fields


def signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each param, sorted, as name + value."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def parse_when(text: str) -> datetime | date | None:
    """A list filter or SendAt value: ``YYYY-MM-DD`` (a date) or ISO 8601 (a UTC datetime); None if neither."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

"""Twilio's wire formats: the Message resource, error bodies, status callbacks and their signature.

Pure functions over ``SimMessage`` and plain values; ``parse`` reads requests, ``handlers`` serves them.
Field names, types and formats follow the ``twilio`` SDK's ``MessageInstance`` (9.13.0) and
Twilio's public docs; see docs/providers/twilio.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, Final

from lynsms.gateway.providers.twilio import TWILIO_ERRORS
from lynsms.simulator.messages import RejectReason, SimMessage
from lynsms.simulator.providers.base import Rejection

API_VERSION: Final = "2010-04-01"
PREFIX: Final = f"/{API_VERSION}"
# What one outbound US SMS segment costs; Twilio reports prices as negative strings in USD.
PRICE_PER_SEGMENT: Final = Decimal("0.00790")

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
HANDED_OVER: Final = frozenset({"sent", "delivered", "undelivered", "read", "partially_delivered"})
WITH_ERROR: Final = frozenset({"failed", "undelivered"})


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


# Scripted rejections, each a whole-request error (docs/providers/twilio.md).
REJECTIONS: Final[dict[RejectReason, Rejection]] = {
    "invalid_number": Rejection(400, Code.INVALID_TO, "Invalid 'To' Phone Number: {to}"),
    "unsubscribed": Rejection(400, Code.UNSUBSCRIBED, "Attempt to send to unsubscribed recipient"),
    "insufficient_funds": Rejection(401, Code.ACCOUNT_INACTIVE, "Account is not active"),
    "invalid_sender": Rejection(
        400,
        Code.FROM_NOT_CAPABLE,
        "The 'From' phone number provided ({sender}) is not a valid message-capable Twilio phone number "
        "for this destination/account",
    ),
    "body_too_long": Rejection(
        400, Code.BODY_TOO_LONG, "The concatenated message body exceeds the 1600 character limit"
    ),
    "auth_failed": Rejection(401, Code.AUTHENTICATE, "Authenticate"),
}


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


def plus(number: str) -> str:
    """A validated number as Twilio echoes it: E.164 with the leading '+'."""
    return number if number.startswith("+") else f"+{number}"


def messages_uri(account_sid: str) -> str:
    return f"{PREFIX}/Accounts/{account_sid}/Messages.json"


def message_uri(message: SimMessage) -> str:
    return f"{PREFIX}/Accounts/{message.account}/Messages/{message.id}.json"


def _price(message: SimMessage) -> str | None:
    if message.status not in HANDED_OVER:
        return None
    return f"{-PRICE_PER_SEGMENT * message.segments:.5f}"


def _error_code(message: SimMessage) -> int | str | None:
    code = message.error_code
    return int(code) if code is not None and code.isdecimal() else code


def _error_message(message: SimMessage) -> str | None:
    code = message.error_code
    return None if code is None else TWILIO_ERRORS.get(code, "Message delivery failed")


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
        "error_message": _error_message(message),
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


def twilio_status(message: SimMessage, status: str, error_code: str | None) -> tuple[str, str | None]:
    """The Twilio status and error code ``message`` moves to for a scripted ``status``."""
    if message.status == "canceled":
        return message.status, message.error_code  # a canceled message never goes out, whatever was scripted
    twilio_status, default = FINAL.get(status, (status if status in STATUSES else "sent", None))
    return twilio_status, (error_code or default) if twilio_status in WITH_ERROR else None


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

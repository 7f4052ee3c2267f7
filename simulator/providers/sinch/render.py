"""Sinch's SMS REST API ("XMS") wire format: batches, delivery reports and OAuth tokens exactly as
the official SDK's pydantic models expect them.

Pure functions over plain values; ``parse`` reads requests, ``handlers`` owns the routes and the state.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, Final

from starlette.responses import Response

from lynsms.simulator.http import JSONResponse
from lynsms.simulator.messages import RejectReason, SimMessage
from lynsms.simulator.providers.base import Rejection

DEFAULT_VALIDITY: Final = timedelta(days=3)  # expire_at defaults to send_at (or now) + 3 days
FINAL_STATUSES: Final = frozenset({"Delivered", "Failed", "Expired", "Aborted", "Cancelled", "Rejected", "Deleted"})
QUEUED: Final = ("Queued", 400)
BINARY: Final = "binary"  # the stored encoding of an mt_binary message (8-bit data, one part)
PARTS_EXCEEDED: Final = ("Aborted", 411)  # "Exceeded parts limit": more parts than max_number_of_message_parts

# Scenario status words -> (Sinch status, default delivery report code). Codes 400-418 are Sinch's own;
# codes below 400 are operator (SMPP / GSM MAP) codes passed through, 27 = absent subscriber.
STATUSES: Final[dict[str, tuple[str, int]]] = {
    "queued": QUEUED,
    "accepted": QUEUED,
    "sent": ("Dispatched", 401),
    "dispatched": ("Dispatched", 401),
    "enroute": ("Dispatched", 401),
    "delivered": ("Delivered", 0),
    "undelivered": ("Failed", 27),
    "failed": ("Aborted", 408),
    "expired": ("Expired", 406),
    "cancelled": ("Cancelled", 407),
    "canceled": ("Cancelled", 407),
}
# The SDK fetches a new token and resends once when WWW-Authenticate mentions "expired".
EXPIRED_TOKEN: Final = 'Bearer error="invalid_token", error_description="Jwt is expired"'
INVALID_TOKEN: Final = 'Bearer error="invalid_token", error_description="Invalid token"'
# Scripted rejections, each a whole-request error (docs/providers/sinch.md).
REJECTIONS: Final[dict[RejectReason, Rejection]] = {
    "invalid_number": Rejection(400, "syntax_invalid_parameter_format", "Invalid number: {to}"),
    "unsubscribed": Rejection(403, "illegal_number_type", "Recipient {to} has opted out and cannot receive messages"),
    "insufficient_funds": Rejection(403, "blocked_account", "Account is blocked: insufficient credit"),
    "invalid_sender": Rejection(400, "syntax_invalid_parameter_format", "Invalid from address: {sender}"),
    "body_too_long": Rejection(400, "syntax_constraint_violation", "body: size must be between 1 and 2000"),
    "auth_failed": Rejection(401, "unauthorized", "Invalid credentials"),
}
# Only these carry the operator's own timestamp; Sinch-internal outcomes never reached an operator.
_OPERATOR_STATUSES: Final = frozenset({"Delivered", "Failed", "Expired"})


@dataclass(slots=True)
class Batch:
    """What Sinch remembers of a batch beyond its per-recipient messages."""

    id: str
    account: str
    message_ids: list[str]
    echo: dict[str, Any]
    created_at: datetime
    modified_at: datetime
    canceled: bool = False
    groups: list[str] = field(default_factory=list)  # group ids the batch was sent to


@dataclass(slots=True)
class Token:
    """An OAuth access token issued by ``/oauth2/token``; bound to a project on first use."""

    key_id: str
    expires_at: datetime
    project: str | None = None


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as Sinch writes every time."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def encoding_name(encoding: str) -> str:
    """Sinch's word for a stored encoding: ``GSM``, ``UNICODE``, or ``BINARY`` (Sinch names none for binary)."""
    return {"UCS-2": "UNICODE", BINARY: "BINARY"}.get(encoding, "GSM")


def recipient(msisdn: str) -> str:
    """Sinch reports recipients without the leading '+'."""
    return msisdn.removeprefix("+")


def batch_json(batch: Batch, messages: Sequence[SimMessage]) -> dict[str, Any]:
    """The batch object (``TextResponse`` in the SDK): every type strict, ``type`` always present."""
    echo = batch.echo
    # A batch sent to a group repeats the ``to`` it was given, group ids and all.
    data: dict[str, Any] = {"id": batch.id, "to": echo.get("to", [m.to for m in messages])}
    if "from" in echo:
        data["from"] = echo["from"]
    data.update(
        canceled=batch.canceled,
        body=echo["body"],
        type=echo["type"],
        created_at=timestamp(batch.created_at),
        modified_at=timestamp(batch.modified_at),
    )
    data["delivery_report"] = echo["delivery_report"]
    if "send_at" in echo:
        data["send_at"] = echo["send_at"]
    data["expire_at"] = echo.get("expire_at", timestamp(batch.created_at + DEFAULT_VALIDITY))
    data.update({k: v for k, v in echo.items() if k not in data and k not in ("from", "to")})
    return data


def recipient_report(message: SimMessage, status: str, code: int, at: datetime) -> dict[str, Any]:
    """A ``recipient_delivery_report_sms`` (the SDK's ``RecipientDeliveryReport``)."""
    report: dict[str, Any] = {
        "type": "recipient_delivery_report_sms",
        "batch_id": message.batch_id,
        "recipient": recipient(message.to),
        "code": code,
        "status": status,
        "at": timestamp(at),
    }
    if status in _OPERATOR_STATUSES:
        report["operator_status_at"] = timestamp(at)
    if message.submission.client_ref is not None:
        report["client_reference"] = message.submission.client_ref
    # Sinch: "Present only if max_number_of_message_parts parameter was set". Its ``encoding`` is
    # "present only if smart encoding is enabled", an account feature the simulator has not got.
    if "max_number_of_message_parts" in message.submission.extra:
        report["number_of_message_parts"] = message.segments
    return report


def over_part_limit(message: SimMessage) -> bool:
    """More parts than the batch's ``max_number_of_message_parts``, and no ``truncate_concat`` to cut it."""
    limit = message.submission.extra.get("max_number_of_message_parts")
    truncated = message.submission.extra.get("truncate_concat") is True
    return isinstance(limit, int) and message.segments > limit and not truncated


def current(message: SimMessage) -> tuple[str, int]:
    """The message's Sinch status and code now; a fresh message is Queued (400)."""
    if message.error_code is None or not message.error_code.lstrip("-").isdecimal():
        return QUEUED
    return message.status, int(message.error_code)


def batch_report(
    batch: Batch,
    messages: Iterable[SimMessage],
    full: bool,
    statuses: set[str] | None = None,
    codes: set[int] | None = None,
) -> dict[str, Any]:
    """A ``delivery_report_sms``: one entry per (status, code) with at least one recipient."""
    groups: dict[tuple[str, int], list[str]] = {}
    total = 0
    for message in messages:
        total += 1
        status, code = current(message)
        if statuses is not None and status.lower() not in statuses:
            continue
        if codes is not None and code not in codes:
            continue
        groups.setdefault((status, code), []).append(recipient(message.to))
    entries: list[dict[str, Any]] = []
    for (status, code), recipients in groups.items():
        entry: dict[str, Any] = {"code": code, "status": status, "count": len(recipients)}
        if full:
            entry["recipients"] = recipients
        entries.append(entry)
    report: dict[str, Any] = {
        "type": "delivery_report_sms",
        "batch_id": batch.id,
        "total_message_count": total,
        "statuses": entries,
    }
    if "client_reference" in batch.echo:
        report["client_reference"] = batch.echo["client_reference"]
    return report


def access_token(key_id: str, issued: datetime, expires: datetime, jti: str, signature: str) -> str:
    """A JWT-shaped bearer token, like Sinch's: it also tells OAuth tokens from service plan API tokens."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=").decode()

    claims = {"sub": key_id, "iat": int(issued.timestamp()), "exp": int(expires.timestamp()), "jti": jti}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"


def token_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a token shaped like ``access_token``'s, or None when it has none."""
    try:
        claims = token.split(".")[1]
        exp = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["exp"]
        return datetime.fromtimestamp(exp, UTC) if isinstance(exp, int) and not isinstance(exp, bool) else None
    except (IndexError, ValueError, TypeError, KeyError, OverflowError, OSError):
        return None


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def oauth_error(status: int, error: str, description: str) -> Response:
    """The OAuth2 error format of ``/oauth2/token`` (RFC 6749 section 5.2)."""
    response = JSONResponse({"error": error, "error_description": description}, status_code=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="sinch"'
    return response


def error_response(status: int, message: str, code: str | int | None = None) -> Response:
    """``{"code", "text"}``; statuses without a documented Sinch code get the reason phrase in snake_case."""
    if code is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        code = phrase.lower().replace(" ", "_").replace("-", "_")
    response = JSONResponse({"code": str(code), "text": message}, status_code=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = INVALID_TOKEN
    return response

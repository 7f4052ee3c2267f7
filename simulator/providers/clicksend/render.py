"""ClickSend's wire vocabulary: the response envelope, status and error codes, delivery-receipt
texts, Laravel-style paging, sent messages, history rows and receipts. Pure data and functions;
``parse`` reads requests and ``handlers`` holds the endpoints.

Types follow what the official ``clicksend`` 6.x SDK models demand (pydantic strict): in a send
response ``date``/``schedule``/``message_parts`` are ints and ``message_price`` a string; in a
receipt ``status_code``/``error_code`` are ints; in SMS history ``schedule``, ``status_code`` and
``error_code`` are strings.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from starlette.datastructures import URL

from lynsms.simulator.http import JSONResponse
from lynsms.simulator.messages import RejectReason, SimMessage
from lynsms.simulator.providers.base import Rejection

CURRENCY: Final = {
    "currency_name_short": "USD",
    "currency_prefix_d": "$",
    "currency_prefix_c": "¢",
    "currency_name_long": "US Dollars",
}
PRICE_PER_PART: Final = 0.0792  # ClickSend's documented example price for one part
SENT_MSG: Final = "Messages queued for delivery."

# The response_code ClickSend pairs with each HTTP status in its error envelope.
RESPONSE_CODES: Final = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_FOUND",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}
# History statuses of a message waiting for its ``schedule`` and of one canceled before it went out.
SCHEDULED: Final = "Scheduled"
CANCELLED: Final = "Cancelled"
NOT_FOUND_MSG: Final = "Invalid endpoint. Please try again."
AUTH_FAILED_MSG: Final = "Authentication failed. Please check your username and API key."

# Per-message status inside a 200 for each scripted rejection (see docs/providers/clicksend.md).
REJECT_STATUS: Final[dict[RejectReason, str]] = {
    "invalid_number": "INVALID_RECIPIENT",
    "unsubscribed": "BLOCKED",
    "insufficient_funds": "INSUFFICIENT_CREDIT",
    "invalid_sender": "INVALID_SENDER_ID",
    "body_too_long": "MESSAGE_TOO_LONG",
}  # auth_failed is a whole-request 401, never a message status
# Only bad credentials fail a whole request; everything else is a per-message status.
REJECTIONS: Final[dict[RejectReason, Rejection]] = {"auth_failed": Rejection(401, None, AUTH_FAILED_MSG)}


def envelope(status: int, code: str, message: str, data: Any = None) -> JSONResponse:
    return JSONResponse({"http_code": status, "response_code": code, "response_msg": message, "data": data}, status)


def account_numbers(username: str) -> tuple[int, int]:
    """Stable ``user_id`` and ``subaccount_id`` for a username (ClickSend gives ints)."""
    user = zlib.crc32(username.encode()) % 900_000 + 100_000
    return user, zlib.crc32(b"sub:" + username.encode()) % 900_000 + 100_000


def price(parts: int) -> str:
    return f"{parts * PRICE_PER_PART:.4f}"


# ---- delivery receipts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    """One line of ClickSend's SMS gateway code list: history status word, status code, texts."""

    status: str  # history word: Queued, Sent, Failed...
    status_code: int  # 200 queued/sent, 201 delivered, 300 temporary failure, 301 permanent failure
    status_text: str
    error_code: int | None
    error_text: str | None


def _failed(code: int, text: str, status_code: int = 301) -> Receipt:
    return Receipt("Failed", status_code, f"Failed: {text}", code, text)


# ClickSend's published gateway error codes (help article "List of SMS gateway error codes").
GATEWAY_ERRORS: Final = {
    7: _failed(7, "Unknown failure."),
    8: _failed(8, "Unknown subscriber. Number is inactive or invalid."),
    9: _failed(9, "Unidentified Subscriber. Number is invalid or network routing issue."),
    10: _failed(10, "Illegal Subscriber. Rejection due to failed authentication or filtering."),
    11: _failed(11, "Rejection due to subscription, handset or network not supporting SMS."),
    12: _failed(12, "Absent Subscriber. Phone is out of range or switched off."),
    13: _failed(13, "Memory Capacity Exceeded."),
    14: _failed(14, "Rejection due to recipient network error or congestion."),
    15: _failed(15, "Rejected by the recipient network."),
    16: _failed(16, "Temporary network error - will be retried.", status_code=300),
    17: _failed(17, "Network timeout when delivering message."),
    18: _failed(18, "Network routing error."),
    19: _failed(19, "Anti-spam rejection by recipient network."),
    20: _failed(20, "Message delivery receipt expired."),
}
DEFAULT_ERROR: Final = {"undelivered": 12, "failed": 8, "expired": 20}
DELIVERED: Final = Receipt("Sent", 201, "Success: Message received on handset.", None, None)
QUEUED: Final = Receipt("Queued", 200, "Queued: Message is queued for delivery.", None, None)
SENT: Final = Receipt("Sent", 200, "Sent: Message sent to the network for delivery.", None, None)


def receipt_for(status: str, error_code: str | None) -> Receipt:
    """The receipt line for a scripted status; a numeric ``error_code`` picks the failure line."""
    if status == "delivered":
        return DELIVERED
    if status in DEFAULT_ERROR:
        code = int(error_code) if error_code is not None and error_code.isdecimal() else DEFAULT_ERROR[status]
        known = GATEWAY_ERRORS.get(code)
        # An undocumented code keeps its number, with the generic failure text.
        return known if known is not None else _failed(code, GATEWAY_ERRORS[7].error_text or "")
    return QUEUED if status in ("queued", "accepted", "scheduled") else SENT


# ---- Laravel paginator ---------------------------------------------------------------------------


def paginate(items: list[Any], url: URL, page: int, limit: int) -> dict[str, Any]:
    """``data`` of a paged answer: the paginator keys and this page's items under ``data``."""
    last = max(1, math.ceil(len(items) / limit))
    start = (page - 1) * limit
    chunk = items[start : start + limit]

    def link(number: int) -> str | None:
        if number < 1 or number > last:
            return None
        return str(url.include_query_params(page=number))

    return {
        "total": len(items),
        "per_page": limit,
        "current_page": page,
        "last_page": last,
        "next_page_url": link(page + 1),
        "prev_page_url": link(page - 1),
        "from": start + 1 if chunk else None,
        "to": start + len(chunk) if chunk else None,
        "data": chunk,
    }


def form_value(value: Any) -> str:
    """A receipt field as ClickSend's form push sends it: everything a string, null as empty."""
    return "" if value is None else str(value)


def receipt_json(
    line: Receipt, message_id: str, sent: int, at: int, custom: str | None, account: str
) -> dict[str, Any]:
    return {
        "timestamp_send": sent,
        "timestamp": at,
        "message_id": message_id,
        "status_code": line.status_code,
        "status_text": line.status_text,
        "error_code": line.error_code,
        "error_text": line.error_text,
        "custom_string": custom,
        "subaccount_id": account_numbers(account)[1],
        "message_type": "sms",
    }


def message_fields(message: SimMessage) -> dict[str, Any]:
    """What a send answer and a history row say alike about an accepted message."""
    sub, extra = message.submission, message.submission.extra
    user_id, subaccount_id = account_numbers(message.account)
    return {
        "direction": "out",
        "date": int(message.created_at.timestamp()),
        "to": sub.to,
        "body": sub.body,
        "from": sub.sender,
        "message_id": message.id,
        "message_parts": message.segments,
        "message_price": price(message.segments),
        "from_email": extra["from_email"],
        "list_id": extra["list_id"],
        "custom_string": sub.client_ref or "",
        "contact_id": extra["contact_id"],
        "user_id": user_id,
        "subaccount_id": subaccount_id,
        "country": extra["country"],
        "carrier": extra["carrier"],
    }


# The history fields ``q=field:value`` searches (ClickSend documents status, to, from,
# subaccount_id and message_id; custom_string is kept for clients that used it), read straight
# from a message without rendering its row.
HISTORY_FIELDS: Final[dict[str, Callable[[SimMessage], object]]] = {
    "to": lambda m: m.submission.to,
    "from": lambda m: m.submission.sender,
    "status": lambda m: m.status,
    "message_id": lambda m: m.id,
    "subaccount_id": lambda m: account_numbers(m.account)[1],
    "custom_string": lambda m: m.submission.client_ref or "",
}
# The fields ``order_by=field:asc|desc`` sorts on (ClickSend's documented list).
HISTORY_ORDER: Final[dict[str, Callable[[SimMessage], Any]]] = {
    "date": lambda m: m.created_at,
    "username": lambda m: m.account,
    "from": lambda m: m.submission.sender or "",
    "to": lambda m: m.submission.to,
    "status": lambda m: m.status,
    "body": lambda m: m.submission.body,
}


def history_row(message: SimMessage) -> dict[str, Any]:
    line: Receipt | None = message.extra.get("receipt")
    fields = message_fields(message)
    return {
        **fields,
        "status": message.status,
        # History types differ from the send answer's: the schedule is a string here.
        "schedule": str(message.submission.extra["schedule"] or fields["date"]),
        "status_code": None if line is None else str(line.status_code),
        "status_text": None if line is None else line.status_text,
        "error_code": message.error_code,
        "error_text": None if line is None else line.error_text,
        "first_name": None,
        "last_name": None,
        "_api_username": message.account,
    }

"""Infobip's wire vocabulary: status and error tables, error bodies, reports, logs and XML.

Status and error ids are Infobip's published ones (docs: "Response status and error codes"); the
short descriptions are the ones its API puts in ``status.description``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from xml.sax.saxutils import escape

from lynsms.simulator.messages import RejectReason, SimMessage
from lynsms.simulator.numbers import lookup

Api = Literal["v2", "v3"]

# name -> (groupId, groupName, id, description)
STATUSES: dict[str, tuple[int, str, int, str]] = {
    "PENDING_ACCEPTED": (1, "PENDING", 26, "Message sent to next instance"),
    "PENDING_ENROUTE": (1, "PENDING", 7, "Message sent to next instance"),
    "UNDELIVERABLE_REJECTED_OPERATOR": (2, "UNDELIVERABLE", 4, "Message rejected by operator"),
    "UNDELIVERABLE_NOT_DELIVERED": (2, "UNDELIVERABLE", 9, "Message sent not delivered"),
    "DELIVERED_TO_HANDSET": (3, "DELIVERED", 5, "Message delivered to handset"),
    "EXPIRED_EXPIRED": (4, "EXPIRED", 15, "Message expired"),
    "REJECTED_DND": (5, "REJECTED", 10, "Destination address is on the DND list"),
    "REJECTED_SOURCE": (5, "REJECTED", 11, "Invalid source address"),
    "REJECTED_NOT_ENOUGH_CREDITS": (5, "REJECTED", 12, "Not enough credits"),
    "REJECTED_MESSAGE_TOO_LONG": (5, "REJECTED", 25, "Message too long"),
    "REJECTED_DESTINATION": (5, "REJECTED", 52, "Invalid destination address"),
}

REJECT_STATUS: dict[RejectReason, str] = {
    "invalid_number": "REJECTED_DESTINATION",
    "unsubscribed": "REJECTED_DND",
    "insufficient_funds": "REJECTED_NOT_ENOUGH_CREDITS",
    "invalid_sender": "REJECTED_SOURCE",
    "body_too_long": "REJECTED_MESSAGE_TOO_LONG",
}

# Scripted delivery outcome -> (status name, default error id). Infobip has no "failed" group: a
# permanent failure is an operator rejection with a permanent handset error.
FINAL_STATUS: dict[str, tuple[str, int]] = {
    "delivered": ("DELIVERED_TO_HANDSET", 0),
    "undelivered": ("UNDELIVERABLE_NOT_DELIVERED", 27),
    "failed": ("UNDELIVERABLE_REJECTED_OPERATOR", 1),
    "expired": ("EXPIRED_EXPIRED", 27),
}
INTERMEDIATE_STATUS = "PENDING_ENROUTE"

_ERROR_GROUPS = {0: "OK", 1: "HANDSET_ERRORS", 2: "USER_ERRORS", 3: "OPERATOR_ERRORS"}
# id -> (groupId, name, description, permanent)
ERRORS: dict[int, tuple[int, str, str, bool]] = {
    0: (0, "NO_ERROR", "No Error", False),
    1: (1, "EC_UNKNOWN_SUBSCRIBER", "Unknown Subscriber", True),
    5: (1, "EC_UNIDENTIFIED_SUBSCRIBER", "Unidentified Subscriber", False),
    6: (1, "EC_ABSENT_SUBSCRIBER_SM", "Absent Subscriber", False),
    9: (1, "EC_ILLEGAL_SUBSCRIBER", "Illegal Subscriber", True),
    11: (1, "EC_TELESERVICE_NOT_PROVISIONED", "Teleservice not provisioned", True),
    13: (1, "EC_CALL_BARRED", "Call Barred", False),
    27: (1, "EC_ABSENT_SUBSCRIBER", "Absent Subscriber", False),
    31: (1, "EC_SUBSCRIBER_BUSY_FOR_MT_SMS", "Subscriber busy for MT SMS", False),
    32: (1, "EC_SM_DELIVERY_FAILURE", "SM Delivery Failure", False),
    34: (1, "EC_SYSTEM_FAILURE", "System Failure", False),
    255: (1, "EC_UNKNOWN_ERROR", "Unknown Error", False),
    256: (1, "EC_SM_DF_MEMORYCAPACITYEXCEEDED", "Memory Capacity Exceeded", False),
}
_ERROR_IDS = {name: error_id for error_id, (_, name, _, _) in ERRORS.items()}

DEFAULT_SENDER = "InfoSMS"

# A few operators' MCC+MNC by country, so reports carry a plausible mccMnc.
_MCC_MNC = {
    "US": "310260",
    "CA": "302720",
    "GB": "23415",
    "DE": "26201",
    "FR": "20801",
    "CH": "22801",
    "HR": "21910",
    "ES": "21401",
    "IT": "22201",
    "NL": "20404",
    "IN": "40410",
    "BR": "72405",
}


def status_json(name: str) -> dict[str, Any]:
    group_id, group_name, status_id, description = STATUSES[name]
    return {"groupId": group_id, "groupName": group_name, "id": status_id, "name": name, "description": description}


def error_id(code: str | None, default: int) -> int:
    """A scripted error code given as Infobip's id ("27") or name ("EC_ABSENT_SUBSCRIBER")."""
    if code is None:
        return default
    if code.isdecimal():
        return int(code)
    return _ERROR_IDS.get(code, 255)


def error_json(error: int) -> dict[str, Any]:
    group_id, name, description, permanent = ERRORS.get(error, (1, "EC_UNKNOWN_ERROR", "Unknown Error", False))
    return {
        "groupId": group_id,
        "groupName": _ERROR_GROUPS[group_id],
        "id": error,
        "name": name,
        "description": description,
        "permanent": permanent,
    }


def timestamp(at: datetime) -> str:
    """Infobip's "2019-11-09T16:00:00.000+0000"."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}" + at.strftime("%z")


def mcc_mnc(number: str) -> str | None:
    found = lookup("+" + number.lstrip("+"))
    return _MCC_MNC.get(found.region or "") if found else None


_DOCS = "https://www.infobip.com/docs/essentials"
_API_DOCS = ("API documentation", "https://www.infobip.com/docs/api")
# status -> (errorCode, description, action, resources): Infobip's ApiError texts.
API_ERRORS: dict[int, tuple[str, str, str, list[tuple[str, str]]]] = {
    400: ("E400", "Request cannot be processed.", "Check the syntax, violations and adjust the request.", []),
    401: (
        "E401",
        "The request lacks valid authentication credentials for the requested resource.",
        "Check the resources and adjust authentication credentials.",
        [("API Authentication", f"{_DOCS}/api-authentication")],
    ),
    403: (
        "E403",
        "Insufficient permissions to access the requested resource.",
        "Repeat the request with new or different credentials.",
        [],
    ),
    404: ("E404", "Requested resource not found.", "Check the request path.", [_API_DOCS]),
    405: ("E405", "Request method not supported.", "Check the request method.", [_API_DOCS]),
    413: ("E413", "Request payload too large.", "Reduce the size of the request.", []),
    415: ("E415", "Unsupported media type.", "Send the request as application/json.", []),
    429: (
        "E429",
        "Too many requests sent.",
        "Check request rate limit specified in the API endpoint documentation resource.",
        [("Throttling handling errors", f"{_DOCS}/integration-best-practices#throttling-handling-errors")],
    ),
    500: ("E500", "Something went wrong.", "Contact the support.", []),
    503: ("E503", "Service temporarily unavailable.", "Retry the request later.", []),
}
LEGACY_IDS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    500: "GENERAL_ERROR",
}

# ---- error bodies --------------------------------------------------------------------------------


def api_error(
    code: str,
    description: str,
    action: str,
    violations: list[tuple[str, str]] | None = None,
    resources: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The v3 ApiError: the SDK fails to parse it unless all five keys are present."""
    return {
        "errorCode": code,
        "description": description,
        "action": action,
        "violations": [{"property": p, "violation": v} for p, v in violations or []],
        "resources": [{"name": n, "url": u} for n, u in resources or []],
    }


def legacy_error(message_id: str, text: str, violations: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The older ``requestError`` body of the v1/v2 endpoints."""
    exception: dict[str, Any] = {"messageId": message_id, "text": text}
    if violations:
        grouped: dict[str, list[str]] = {}
        for prop, violation in violations:
            grouped.setdefault(prop, []).append(violation)
        exception["validationErrors"] = grouped
    return {"requestError": {"serviceException": exception}}


# ---- XML, for clients that asked for XML callbacks ------------------------------------------------


def to_xml(root: str, value: Any) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>' + _xml(root, value)).encode()


def _xml(tag: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml(k, v) for k, v in value.items() if v is not None)
    elif isinstance(value, list):
        # Infobip names list items after the list: <results><result>...</result></results>
        inner = "".join(_xml(tag.removesuffix("s"), v) for v in value)
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{tag}>{inner}</{tag}>"


def count_key(api: str) -> str:
    return "smsCount" if api == "v2" else "messageCount"


def reshape(report: dict[str, Any], api: Api) -> dict[str, Any]:
    """A stored report in the shape of the endpoint serving it (v3 ``messageCount``, v1 ``smsCount``)."""
    theirs, ours = ("messageCount", "smsCount") if api == "v2" else ("smsCount", "messageCount")
    if theirs not in report:
        return report
    return {(ours if key == theirs else key): value for key, value in report.items()}


def log(message: SimMessage, api: Api) -> dict[str, Any]:
    name = message.status if message.status in STATUSES else INTERMEDIATE_STATUS
    final = STATUSES[name][0] != 1
    done_at = timestamp(message.updated_at) if final else None
    common = {
        "bulkId": message.batch_id,
        "messageId": message.id,
        "sentAt": timestamp(message.created_at),
        "doneAt": done_at,
        "mccMnc": mcc_mnc(message.to),
        "price": {"pricePerMessage": 0.01, "currency": "EUR"},
        "status": status_json(name),
        "error": error_json(error_id(message.error_code, 0)),
    }
    sender = message.submission.sender or DEFAULT_SENDER
    if api == "v2":
        return {
            "to": message.to,
            "from": sender,
            "text": message.submission.body,
            "smsCount": message.segments,
            **common,
        }
    return {
        "sender": sender,
        "destination": message.to,
        "messageCount": message.segments,
        "content": {"text": message.submission.body},
        **common,
    }

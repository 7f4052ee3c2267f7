"""Infobip's wire vocabulary: status and error tables, request parsing, error bodies and XML.

Status and error ids are Infobip's published ones (docs: "Response status and error codes"); the
short descriptions are the ones its API puts in ``status.description``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from xml.sax.saxutils import escape

from lynsms.gateway.segmentation import segment
from lynsms.simulator.model import RejectReason, Submission
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

MAX_PARTS = 25  # Infobip rejects texts over 25 parts or 4000 bytes (REJECTED_MESSAGE_TOO_LONG)
MAX_TEXT_BYTES = 4000
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
    if code.isdigit():
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


def precheck(submission: Submission) -> RejectReason | None:
    """Infobip accepts the request but rejects a destination it cannot route, or an oversized text."""
    digits = submission.to.removeprefix("+")
    if not digits.isdigit():
        return "invalid_number"
    if lookup("+" + digits) is None:
        return "invalid_number"
    if segment(submission.body).segments > MAX_PARTS or len(submission.body.encode()) > MAX_TEXT_BYTES:
        return "body_too_long"
    return None


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


# ---- request parsing -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parsed:
    submissions: list[Submission]
    bulk_id: str | None


class Invalid(Exception):
    def __init__(self, violations: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {v}" for p, v in violations))
        self.violations = violations


class _Checker:
    """Collects every violation of a request, like Infobip's bean validation does."""

    def __init__(self) -> None:
        self.violations: list[tuple[str, str]] = []

    def obj(self, value: Any, prop: str, required: bool = False) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        if value is not None:
            self.violations.append((prop, "must be an object"))
        elif required:
            self.violations.append((prop, "must not be null"))
        return {}

    def items(self, value: Any, prop: str) -> list[Any]:
        if isinstance(value, list) and value:
            return value
        self.violations.append((prop, "must not be empty" if value in (None, []) else "must be an array"))
        return []

    def text(self, value: Any, prop: str, required: bool = False) -> str | None:
        if isinstance(value, str) and (value.strip() or not required):
            return value
        if value is not None and not isinstance(value, str):
            self.violations.append((prop, "must be a string"))
        elif required:
            self.violations.append((prop, "must not be blank"))
        return None

    def flag(self, value: Any, prop: str) -> bool:
        if value is not None and not isinstance(value, bool):
            self.violations.append((prop, "must be a boolean"))
        return value is True


def _messages(check: _Checker, body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each message object of ``messages`` with its property path; other items become violations."""
    for i, raw in enumerate(check.items(body.get("messages"), "messages")):
        path = f"messages[{i}]"
        if isinstance(raw, dict):
            yield path, raw
        else:
            check.obj(raw, path, required=True)


def parse_v3(body: dict[str, Any]) -> Parsed:
    check = _Checker()
    submissions: list[Submission] = []
    for p, message in _messages(check, body):
        sender = check.text(message.get("sender"), f"{p}.sender")
        text = check.text(
            check.obj(message.get("content"), f"{p}.content", True).get("text"), f"{p}.content.text", True
        )
        webhooks = check.obj(message.get("webhooks"), f"{p}.webhooks")
        delivery = check.obj(webhooks.get("delivery"), f"{p}.webhooks.delivery")
        check.flag(delivery.get("notify"), f"{p}.webhooks.delivery.notify")
        muted = delivery.get("notify") is False  # the client turned delivery webhooks off
        hooks = {
            "url": None if muted else check.text(delivery.get("url"), f"{p}.webhooks.delivery.url"),
            "intermediate": check.flag(delivery.get("intermediateReport"), f"{p}.webhooks.delivery.intermediateReport"),
            "content_type": check.text(webhooks.get("contentType"), f"{p}.webhooks.contentType"),
            "callback_data": check.text(webhooks.get("callbackData"), f"{p}.webhooks.callbackData"),
        }
        submissions += _destinations(check, message, p, sender, text, hooks, "v3")
    options = check.obj(body.get("options"), "options")
    schedule = check.obj(options.get("schedule"), "options.schedule")
    bulk_id = check.text(body.get("bulkId"), "bulkId") or check.text(schedule.get("bulkId"), "options.schedule.bulkId")
    if check.violations:
        raise Invalid(check.violations)
    return Parsed(submissions, bulk_id)


def parse_v2(body: dict[str, Any]) -> Parsed:
    check = _Checker()
    submissions: list[Submission] = []
    for p, message in _messages(check, body):
        hooks = {
            "url": check.text(message.get("notifyUrl"), f"{p}.notifyUrl"),
            "intermediate": check.flag(message.get("intermediateReport"), f"{p}.intermediateReport"),
            "content_type": check.text(message.get("notifyContentType"), f"{p}.notifyContentType"),
            "callback_data": check.text(message.get("callbackData"), f"{p}.callbackData"),
        }
        sender = check.text(message.get("from"), f"{p}.from")
        text = check.text(message.get("text"), f"{p}.text", True)
        submissions += _destinations(check, message, p, sender, text, hooks, "v2")
    bulk_id = check.text(body.get("bulkId"), "bulkId")
    if check.violations:
        raise Invalid(check.violations)
    return Parsed(submissions, bulk_id)


def _destinations(
    check: _Checker,
    message: dict[str, Any],
    p: str,
    sender: str | None,
    text: str | None,
    hooks: dict[str, Any],
    api: Api,
) -> list[Submission]:
    found: list[Submission] = []
    for j, raw in enumerate(check.items(message.get("destinations"), f"{p}.destinations")):
        destination = check.obj(raw, f"{p}.destinations[{j}]", required=True)
        to = check.text(destination.get("to"), f"{p}.destinations[{j}].to", True)
        message_id = check.text(destination.get("messageId"), f"{p}.destinations[{j}].messageId")
        if to is None or text is None:
            continue
        found.append(
            Submission(
                to=to,
                sender=sender,
                body=text,
                callback_url=hooks["url"],
                client_ref=hooks["callback_data"],
                extra={
                    "api": api,
                    "message_id": message_id,
                    "intermediate": hooks["intermediate"],
                    "content_type": hooks["content_type"] or "application/json",
                },
            )
        )
    return found


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

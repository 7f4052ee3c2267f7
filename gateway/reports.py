"""Each provider's delivery report, read into one normalised ``Report`` (pure: no I/O, no store).

A report names the message the way its provider knows it (the ids the adapters record as
``provider_message_id``) and says where the message got to, in the gateway's words:

    provider word ──> status
     in flight (Twilio sent, Sinch Dispatched, Infobip PENDING, ClickSend 200)   sent
     reached the handset                                                           delivered
     reached the network, not the handset (absent, expired, unknown error)         undelivered
     refused: never left the provider, or the network turned it away for good      failed
     queued / accepted / anything we cannot place                                  None: recorded, changes nothing

The same parsers read what polling fetches (Twilio's Message resource, Sinch's recipient report,
Infobip's reports and logs, ClickSend's receipts), so a polled status and a pushed one are one thing.
A body that is not the provider's report shape raises ``ReportError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal

Outcome = Literal["sent", "delivered", "undelivered", "failed"]
FINAL: Final[frozenset[str]] = frozenset({"delivered", "undelivered", "failed"})


class ReportError(ValueError):
    """The body is not a delivery report of that provider."""


@dataclass(frozen=True)
class Report:
    provider: str
    # How the provider names the message; None only for a Sinch batch report without recipients.
    provider_message_id: str | None
    status: Outcome | None  # None: informational, the message's status stays as it is
    provider_status: str  # the provider's own word, kept for the record
    error_code: str | None = None
    error_text: str | None = None
    at: str | None = None  # when the provider says the status was reached, ISO 8601 UTC
    batch_id: str | None = None  # Sinch: the batch, when the report covers it without recipients

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "provider_message_id": self.provider_message_id,
            "report_status": self.status,
            "provider_status": self.provider_status,
            "error_code": self.error_code,
            "error_text": self.error_text,
            "provider_at": self.at,
        }


# ---- shared reading --------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _iso_text(text: object) -> str | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return _iso(datetime.fromisoformat(text))
    except ValueError:
        return None


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, (dict, list, bool)) or value == "":
        return None
    return str(value)


def _required(data: Mapping[str, Any], key: str, provider: str) -> str:
    value = _text(data, key)
    if value is None:
        raise ReportError(f"a {provider} delivery report needs {key!r}")
    return value


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ReportError(f"{what} must be an object, not {type(data).__name__}")
    return data


def _error(status: Outcome | None, code: str | None, text: str | None) -> tuple[str | None, str | None]:
    # Only a message that did not get through has an error; "code 0" on a delivery is not one.
    return (code, text) if status in ("undelivered", "failed") else (None, None)


# ---- Twilio: form callbacks and the Message resource -------------------------------------------------

_TWILIO_STATUS: Final[dict[str, Outcome | None]] = {
    "queued": None,
    "accepted": None,
    "scheduled": None,
    "sending": None,
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "partially_delivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
# Twilio's callbacks carry the code only; the texts are Twilio's error catalogue.
_TWILIO_ERRORS: Final = {
    "30001": "Queue overflow",
    "30002": "Account suspended",
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered",
    "30008": "Unknown error",
    "30034": "Message from an unregistered number",
    "30036": "Validity period expired",
}


def _twilio(sid: str, word: str, code: str | None, text: str | None, at: str | None) -> Report:
    status = _TWILIO_STATUS.get(word)
    code, text = _error(status, code, text or _TWILIO_ERRORS.get(code or ""))
    return Report("twilio", sid, status, word, code, text, at)


def twilio(form: Mapping[str, str]) -> list[Report]:
    """A status callback: ``MessageSid``, ``MessageStatus``, ``ErrorCode``, ``RawDlrDoneDate``."""
    sid = _text(form, "MessageSid") or _required(form, "SmsSid", "Twilio")
    word = _text(form, "MessageStatus") or _required(form, "SmsStatus", "Twilio")
    done = _text(form, "RawDlrDoneDate")
    at = None
    if done and len(done) == 10 and done.isdigit():  # YYMMDDhhmm, UTC
        try:
            at = _iso(datetime.strptime(done, "%y%m%d%H%M").replace(tzinfo=UTC))
        except ValueError:
            at = None
    return [_twilio(sid, word, _text(form, "ErrorCode"), None, at)]


def twilio_resource(data: Any) -> list[Report]:
    """``GET .../Messages/{Sid}.json``: the status lives on the resource itself."""
    resource = _mapping(data, "a Twilio Message resource")
    updated = _text(resource, "date_updated")
    try:
        at = _iso(parsedate_to_datetime(updated)) if updated else None
    except (TypeError, ValueError):
        at = None
    return [
        _twilio(
            _required(resource, "sid", "Twilio"),
            _required(resource, "status", "Twilio"),
            _text(resource, "error_code"),
            _text(resource, "error_message"),
            at,
        )
    ]


# ---- Sinch: recipient and batch reports -------------------------------------------------------------

_SINCH_STATUS: Final[dict[str, Outcome | None]] = {
    "Queued": None,
    "Unknown": None,
    "Dispatched": "sent",
    "Delivered": "delivered",
    # Failed/Expired/Deleted: the operator had it and could not (or no longer) deliver.
    "Failed": "undelivered",
    "Expired": "undelivered",
    "Deleted": "undelivered",
    # Aborted/Rejected/Cancelled: Sinch or the SMSC refused it; it never reached a handset.
    "Aborted": "failed",
    "Rejected": "failed",
    "Cancelled": "failed",
}
_SINCH_ERRORS: Final = {
    "402": "Message unroutable",
    "403": "Internal error",
    "404": "Temporary delivery failure",
    "405": "Unmatched parameter",
    "406": "Internal expiry",
    "407": "Cancelled",
    "408": "Internal reject",
    "410": "Unmatched default originator",
    "411": "Exceeded parts limit",
    "412": "Unprovisioned region",
    "413": "Blocked",
    "1": "Unknown subscriber",
    "27": "Absent subscriber",
}


def _sinch_report(pmid: str | None, batch_id: str, word: str, code: object, at: str | None) -> Report:
    status = _SINCH_STATUS.get(word)
    code_text = None if code is None or isinstance(code, bool) else str(code)
    text = _SINCH_ERRORS.get(code_text or "")
    if text is None and code_text and code_text.isdigit() and int(code_text) < 400:
        text = f"Operator error {code_text}"  # 0-399 are the operator's SMPP / GSM MAP codes
    error_code, error_text = _error(status, code_text, text)
    return Report("sinch", pmid, status, word, error_code, error_text, at, batch_id if pmid is None else None)


def _sinch_id(batch_id: str, recipient: str) -> str:
    # The same key the Sinch adapter records: gateway.providers.sinch.recipient_message_id.
    return f"{batch_id}:+{recipient.lstrip('+')}"


def sinch(data: Any) -> list[Report]:
    """``recipient_delivery_report_sms`` (what the gateway asks for), or a ``delivery_report_sms``
    batch report: ``full`` lists recipients per status; a ``summary`` of a batch whose recipients
    all share one status applies to the whole batch; any other summary names nobody and is skipped."""
    report = _mapping(data, "a Sinch delivery report")
    kind = _required(report, "type", "Sinch")
    batch_id = _required(report, "batch_id", "Sinch")
    if kind == "recipient_delivery_report_sms":
        recipient = _required(report, "recipient", "Sinch")
        word = _required(report, "status", "Sinch")
        at = _iso_text(report.get("operator_status_at")) or _iso_text(report.get("at"))
        return [_sinch_report(_sinch_id(batch_id, recipient), batch_id, word, report.get("code"), at)]
    if kind != "delivery_report_sms":
        raise ReportError(f"unknown Sinch report type {kind!r}")
    statuses = report.get("statuses")
    if not isinstance(statuses, list):
        raise ReportError("a Sinch batch report needs a 'statuses' list")
    reports: list[Report] = []
    for entry in statuses:
        entry = _mapping(entry, "a Sinch batch report status")
        word = _required(entry, "status", "Sinch")
        recipients = entry.get("recipients")
        if isinstance(recipients, list) and recipients:
            reports += [
                _sinch_report(_sinch_id(batch_id, str(r)), batch_id, word, entry.get("code"), None) for r in recipients
            ]
        elif len(statuses) == 1 and entry.get("count") == report.get("total_message_count"):
            reports.append(_sinch_report(None, batch_id, word, entry.get("code"), None))
    return reports


# ---- Infobip: {"results": [...]} pushed, from /sms/3/reports and from /sms/3/logs --------------------

_INFOBIP_GROUP: Final[dict[str, Outcome | None]] = {
    "ACCEPTED": None,
    "PENDING": "sent",
    "DELIVERED": "delivered",
    "UNDELIVERABLE": "undelivered",
    "EXPIRED": "undelivered",
    "REJECTED": "failed",
}
# Statuses inside UNDELIVERABLE that mean the operator turned the message away.
_INFOBIP_REFUSED: Final = frozenset({"UNDELIVERABLE_REJECTED_OPERATOR"})


def infobip(data: Any) -> list[Report]:
    results = _mapping(data, "an Infobip delivery report").get("results")
    if not isinstance(results, list):
        raise ReportError("an Infobip delivery report needs a 'results' list")
    reports = []
    for entry in results:
        entry = _mapping(entry, "an Infobip report result")
        status_json = _mapping(entry.get("status"), "an Infobip report's 'status'")
        group = _text(status_json, "groupName") or ""
        name = _text(status_json, "name") or group
        status = "failed" if name in _INFOBIP_REFUSED else _INFOBIP_GROUP.get(group)
        error = entry.get("error")
        code, text = None, None
        # Error 0 (group 0 OK, id 0 NO_ERROR) is Infobip's way of saying "no error".
        if isinstance(error, Mapping) and (error.get("id") or error.get("groupId")):
            code = _text(error, "id")
            text = _text(error, "description") or _text(error, "name")
        code, text = _error(status, code, text)
        reports.append(
            Report(
                "infobip",
                _required(entry, "messageId", "Infobip"),
                status,
                name,
                code,
                text,
                _iso_text(entry.get("doneAt")),
            )
        )
    return reports


# ---- ClickSend: receipts, pushed as a form (or JSON) and polled as JSON ------------------------------

# ClickSend's gateway error codes that mean the number or network refused the message for good;
# the other failures (absent handset, congestion, timeouts, expiry) reached the network.
_CLICKSEND_REFUSED: Final = frozenset({"8", "9", "10", "11", "15", "19"})


def _clicksend_one(receipt: Mapping[str, Any]) -> Report:
    message_id = _required(receipt, "message_id", "ClickSend")
    code = _required(receipt, "status_code", "ClickSend")
    error_code, error_text = _text(receipt, "error_code"), _text(receipt, "error_text")
    at_value = _text(receipt, "timestamp")
    at = _iso(datetime.fromtimestamp(int(at_value), UTC)) if at_value and at_value.isdigit() else None
    word = _text(receipt, "status_text") or code
    if code == "300":
        # A temporary failure ClickSend retries itself: still on its way, but the error is worth keeping.
        return Report("clicksend", message_id, "sent", word, error_code, error_text, at)
    status: Outcome | None
    if code == "201":
        status = "delivered"
    elif code == "301":
        status = "failed" if error_code in _CLICKSEND_REFUSED else "undelivered"
    else:
        status = "sent" if code == "200" else None
    error_code, error_text = _error(status, error_code, error_text)
    return Report("clicksend", message_id, status, word, error_code, error_text, at)


def clicksend(data: Any) -> list[Report]:
    """One receipt (the form push, or ``GET /v3/sms/receipts/{id}``'s ``data``), or a list of them."""
    if isinstance(data, list):
        return [_clicksend_one(_mapping(item, "a ClickSend receipt")) for item in data]
    return [_clicksend_one(_mapping(data, "a ClickSend receipt"))]


PARSERS: Final[dict[str, Callable[[Any], list[Report]]]] = {
    "twilio": twilio,
    "sinch": sinch,
    "infobip": infobip,
    "clicksend": clicksend,
}

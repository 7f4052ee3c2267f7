"""Reading Infobip send requests (SMS v3 and v2): every violation collected, like Infobip's bean
validation, and the destinations Infobip itself refuses inside its 200.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from lynsms.gateway.segmentation import segment
from lynsms.simulator.messages import RejectReason, Submission
from lynsms.simulator.numbers import lookup
from lynsms.simulator.providers.infobip.render import Api

MAX_PARTS = 25  # Infobip rejects texts over 25 parts or 4000 bytes (REJECTED_MESSAGE_TOO_LONG)
MAX_TEXT_BYTES = 4000
BINARY_REFUSED = "binary content is not supported for this account"


def precheck(submission: Submission) -> RejectReason | None:
    """Infobip accepts the request but rejects a destination it cannot route, or an oversized text."""
    digits = submission.to.removeprefix("+")
    if not digits.isdecimal():
        return "invalid_number"
    if lookup("+" + digits) is None:
        return "invalid_number"
    if segment(submission.body).segments > MAX_PARTS or len(submission.body.encode()) > MAX_TEXT_BYTES:
        return "body_too_long"
    return None


@dataclass(frozen=True, slots=True)
class Parsed:
    """A send request: its submissions in request order, the client's bulk id and the API it came on."""

    submissions: list[Submission]
    bulk_id: str | None
    api: Api = "v3"


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

    def moment(self, value: Any, prop: str) -> datetime | None:
        """A date-time such as Infobip's "2026-01-01T12:00:00.000+0000" (no zone: UTC)."""
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            self.violations.append((prop, "must be a valid date-time"))
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

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
        content = check.obj(message.get("content"), f"{p}.content", True)
        if "hex" in content and "text" not in content:  # SmsBinaryContent
            check.violations.append((f"{p}.content", BINARY_REFUSED))
            continue
        text = check.text(content.get("text"), f"{p}.content.text", True)
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
    send_at = check.moment(schedule.get("sendAt"), "options.schedule.sendAt")
    if check.violations:
        raise Invalid(check.violations)
    return Parsed([replace(s, send_at=send_at) for s in submissions], bulk_id, "v3")


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
        send_at = check.moment(message.get("sendAt"), f"{p}.sendAt")
        submissions += [
            replace(s, send_at=send_at) for s in _destinations(check, message, p, sender, text, hooks, "v2")
        ]
    bulk_id = check.text(body.get("bulkId"), "bulkId")
    if check.violations:
        raise Invalid(check.violations)
    return Parsed(submissions, bulk_id, "v2")


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

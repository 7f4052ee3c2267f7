"""Reading Twilio requests: credentials, the create form in Twilio's validation order, list filters.

Problems are raised as ``Invalid`` with Twilio's own error code; ``handlers`` words them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from starlette.requests import Request

from lynsms.gateway.segmentation import utf16_units
from lynsms.simulator.http import BasicAuth, Form, read_form
from lynsms.simulator.messages import SimMessage, Submission
from lynsms.simulator.numbers import lookup
from lynsms.simulator.providers.twilio.render import Code, default_code, plus
from lynsms.simulator.providers.twilio.smart_encoding import smart_encode

BODY_LIMIT: Final = 1600  # characters, counted as UTF-16 code units like Twilio's Java stack
SCHEDULE_WINDOW: Final = (timedelta(seconds=300), timedelta(days=35))
LIST_FILTERS: Final = ("To", "From", "DateSent", "DateSent<", "DateSent>")
# Optional create fields kept on the submission (journal, inbox) under snake_case names.
_KEPT_FIELDS: Final = (
    ("ValidityPeriod", "validity_period"),
    ("MaxPrice", "max_price"),
    ("SmartEncoded", "smart_encoded"),
    ("SendAt", "send_at"),
)

ACCOUNT_SID: Final = re.compile(r"AC[0-9a-fA-F]{32}")
API_KEY_SID: Final = re.compile(r"SK[0-9a-fA-F]{32}")
SERVICE_SID: Final = re.compile(r"MG[0-9a-fA-F]{32}")
_DIGITS: Final = re.compile(r"\+?[0-9]{1,20}")
_SHORT_CODE: Final = re.compile(r"[0-9]{3,8}")
# Alphanumeric sender ids: up to 11 of A-Z, a-z, 0-9 and space, at least one letter.
_ALPHANUMERIC: Final = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")


class Invalid(Exception):
    """A request Twilio refuses with 400 and this error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Create:
    """A parsed create request: its one message, and the password that signs its status callbacks."""

    submission: Submission
    auth_token: str


def e164(number: str) -> str | None:
    """``number`` as ``+digits`` when it is a possible phone number (with or without '+'), else None."""
    if not _DIGITS.fullmatch(number):
        return None
    with_plus = number if number.startswith("+") else f"+{number}"
    return with_plus if lookup(with_plus) is not None else None


def valid_sender(sender: str) -> bool:
    """A phone number, a short code or an alphanumeric sender id (or a Messaging Service sid)."""
    return bool(
        e164(sender)
        or _SHORT_CODE.fullmatch(sender)
        or _ALPHANUMERIC.fullmatch(sender)
        or SERVICE_SID.fullmatch(sender)
    )


def parse_when(text: str) -> datetime | date | None:
    """A list filter or SendAt value: ``YYYY-MM-DD`` (a date) or ISO 8601 (a UTC datetime); None if neither."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def username(credentials: BasicAuth | None) -> str | None:
    """The Basic username when it is an account or API key sid with a password, else None."""
    if credentials is None or not credentials.password:
        return None
    name = credentials.username
    return name if ACCOUNT_SID.fullmatch(name) or API_KEY_SID.fullmatch(name) else None


async def form(request: Request) -> Form:
    """The request's form; a POST with no body at all is an empty form to Twilio, not a malformed one."""
    if "content-type" not in request.headers and request.headers.get("content-length", "0") == "0":
        return Form()
    return await read_form(request)


def submission(fields: Form, now: datetime) -> Submission:
    """Validate a create form in Twilio's order and with Twilio's codes."""
    to = fields.get("To")
    if not to:
        raise Invalid(Code.TO_REQUIRED, "A 'To' phone number is required.")
    if e164(to) is None:
        raise Invalid(Code.INVALID_TO, f"Invalid 'To' Phone Number: {to}")
    sender, service = fields.get("From"), fields.get("MessagingServiceSid")
    if sender and SERVICE_SID.fullmatch(sender) and not service:
        sender, service = None, sender  # Twilio takes a Messaging Service sid in From too
    if not sender and not service:
        raise Invalid(Code.FROM_REQUIRED, "A 'From' phone number is required.")
    for given, valid in ((sender, valid_sender), (service, SERVICE_SID.fullmatch)):
        if given and not valid(given):
            raise Invalid(
                Code.INVALID_FROM,
                f"The 'From' number {given} is not a valid phone number, shortcode, or alphanumeric sender ID.",
            )
    body = fields.get("Body") or ""
    if (fields.get("SmartEncoded") or "").lower() == "true":
        body = smart_encode(body)  # Twilio sends (and counts segments of) the GSM-7 lookalikes
    media = [url for url in fields.getlist("MediaUrl") if url]
    if not body and not media:
        raise Invalid(Code.BODY_REQUIRED, "Message body is required.")
    if utf16_units(body) > BODY_LIMIT:
        raise Invalid(Code.BODY_TOO_LONG, "The concatenated message body exceeds the 1600 character limit.")
    callback = fields.get("StatusCallback")
    if callback and not callback.startswith(("http://", "https://")):
        raise Invalid(Code.INVALID_CALLBACK_URL, f"The StatusCallback URL {callback} is not a valid URL.")
    extra: dict[str, Any] = {key: fields.get(name) for name, key in _KEPT_FIELDS if fields.get(name)}
    if media:
        extra["media_urls"] = media
    if service:
        extra["messaging_service_sid"] = service
    schedule = fields.get("ScheduleType")
    send_at = None
    if schedule is not None:
        send_at = _check_schedule(schedule, extra.get("send_at"), service, now)
        extra["schedule_type"] = schedule
    return Submission(to=to, sender=sender, body=body, callback_url=callback, extra=extra, send_at=send_at)


def _check_schedule(schedule: str, send_at: str | None, service: str | None, now: datetime) -> datetime:
    """When a ``ScheduleType=fixed`` message falls due, once Twilio's scheduling rules hold."""
    if schedule != "fixed":
        raise Invalid(default_code(400), f"Invalid ScheduleType: {schedule}; the only value is 'fixed'")
    if not send_at:
        raise Invalid(Code.SEND_AT_MISSING, "SendAt timestamp is missing")
    when = parse_when(send_at)
    if not isinstance(when, datetime) or not SCHEDULE_WINDOW[0] <= when - now <= SCHEDULE_WINDOW[1]:
        raise Invalid(
            Code.SEND_AT_OUT_OF_RANGE,
            "SendAt time must be between 300 seconds and 35 days (3024000 seconds) in the future, inclusive",
        )
    if not service:
        raise Invalid(Code.SERVICE_REQUIRED_TO_SCHEDULE, "MessagingServiceSid is required to schedule a message")
    return when


def list_filter(filters: Mapping[str, str]) -> Callable[[SimMessage], bool]:
    """A predicate for the list filters; dates compare against date_sent (date_created until sent).
    Raises ``ValueError`` naming a filter that is not a date."""
    to = plus(filters["To"]) if "To" in filters else None
    bounds: list[tuple[str, date]] = []
    for key, op in (("DateSent", "="), ("DateSent<", "<"), ("DateSent>", ">")):
        if key in filters:
            bound = parse_when(filters[key])
            if bound is None:
                raise ValueError(f"Invalid {key}: {filters[key]}")
            bounds.append((op, bound))

    def wanted(message: SimMessage) -> bool:
        if to is not None and plus(message.to) != to:
            return False
        if "From" in filters and message.submission.sender != filters["From"]:
            return False
        moment: datetime = message.extra.get("date_sent") or message.created_at
        return all(_compare(moment, op, bound) for op, bound in bounds)

    return wanted


def latest_created(filters: Mapping[str, str]) -> float | None:
    """The latest creation time (unix seconds) a message matching the ``DateSent`` filters can have:
    a message is sent no earlier than it is created, so "sent on or before" bounds its creation
    too (None: no such bound). Call after ``list_filter`` accepted the filters."""
    limits: list[float] = []
    for key in ("DateSent", "DateSent<"):
        bound = parse_when(filters[key]) if key in filters else None
        if isinstance(bound, datetime) and key == "DateSent<":
            limits.append(bound.timestamp())
        elif bound is not None:
            day = bound.date() if isinstance(bound, datetime) else bound
            limits.append(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + 86400 - 1e-6)
    return min(limits, default=None)


def _compare(moment: datetime, op: str, bound: date) -> bool:
    if isinstance(bound, datetime) and op != "=":
        left: date = moment
        right: date = bound
    else:
        left, right = moment.date(), bound.date() if isinstance(bound, datetime) else bound
    return left == right if op == "=" else left <= right if op == "<" else left >= right

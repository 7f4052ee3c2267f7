"""Reading a ClickSend send request: type errors fail the whole request (``Invalid``), content
problems (bad number, missing field, bad sender) become a per-message status inside the 200.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from lynsms.gateway.segmentation import segment
from lynsms.simulator.messages import Submission
from lynsms.simulator.numbers import PhoneNumber, lookup

MAX_MESSAGES: Final = 1000
MAX_PARTS: Final = 8  # ClickSend truncates a body longer than 8 parts (1224 GSM-7 / 536 UCS-2 chars)
_PHONE_SENDER = re.compile(r"\+?\d{3,16}")
_ALPHA_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ._&-]{1,11}")
_TEXT_FIELDS = ("body", "from", "custom_string", "source", "country", "from_email")


class Invalid(Exception):
    """A request ClickSend refuses as a whole with 400 and this message."""


def message(index: int, item: Any, shared_sender: Callable[[], str]) -> tuple[Submission, str | None]:
    """One message object as a Submission, plus the per-message status when it cannot be queued;
    ``shared_sender`` picks a number from ClickSend's pool for a message without ``from``."""
    if not isinstance(item, dict):
        raise Invalid(f"messages[{index}] must be an object.")
    for name in _TEXT_FIELDS:
        if item.get(name) is not None and not isinstance(item[name], str):
            raise Invalid(f"messages[{index}].{name} must be a string.")
    to, schedule = item.get("to"), item.get("schedule")
    if to is not None and not isinstance(to, str):
        raise Invalid(f"messages[{index}].to must be a string.")
    if schedule is not None and (isinstance(schedule, bool) or not isinstance(schedule, int)):
        raise Invalid(f"messages[{index}].schedule must be a unix timestamp.")
    body: str = item.get("body") or ""
    shape = segment(body)
    if shape.segments > MAX_PARTS:  # ClickSend truncates rather than refuses a long body
        body = "".join(shape.parts[:MAX_PARTS])
    number, country = _parse_number(to or "", item.get("country"))
    sender = item.get("from")
    extra: dict[str, Any] = {
        "country": country,
        "carrier": number.carrier if number is not None else "",
        "schedule": schedule or None,
        "shared_sender": sender is None,
        "source": item.get("source"),
        "list_id": _text_or_none(item.get("list_id")),
        "contact_id": _text_or_none(item.get("contact_id")),
        "from_email": item.get("from_email"),
    }
    if sender is None:  # ClickSend picks a number from its shared pool
        sender = shared_sender()
    submission = Submission(
        to=number.e164 if number else (to or ""),
        sender=sender,
        body=body,
        client_ref=item.get("custom_string") or None,
        extra=extra,
        send_at=datetime.fromtimestamp(schedule, UTC) if schedule else None,
    )
    if not to or not body:
        return submission, "MISSING_REQUIRED_FIELDS"
    if number is None:
        return submission, "INVALID_RECIPIENT"
    if not (_PHONE_SENDER.fullmatch(sender) or _ALPHA_SENDER.fullmatch(sender)):
        return submission, "INVALID_SENDER_ID"
    return submission, None


def _parse_number(to: str, country: str | None) -> tuple[PhoneNumber | None, str | None]:
    """The recipient and its country; local numbers need ``country``, bare digits are read as E.164."""
    region = country.upper() if country else None
    number = lookup(to.strip(), region)
    if number is None:
        return None, region
    return number, number.region or region


def _text_or_none(value: Any) -> str | None:
    return None if value is None or isinstance(value, bool) else str(value)

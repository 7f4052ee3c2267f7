"""Reading a Sinch send request: an ``mt_text`` or ``mt_binary`` batch validated in Sinch's order,
with its codes.

Pure functions over the JSON body; ``handlers`` turns ``Invalid`` into Sinch's 400.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from lynsms.gateway.segmentation import utf16_units
from lynsms.simulator.messages import Submission
from lynsms.simulator.providers.sinch.render import DEFAULT_VALIDITY, timestamp

MAX_RECIPIENTS: Final = 1000
# Sinch's mt_text limit; longer bodies are a syntax_constraint_violation. The message is a Java Bean
# Validation @Size one, which counts String.length(): UTF-16 code units, so an emoji counts 2.
MAX_BODY_CHARS: Final = 2000
REPORT_MODES: Final = ("none", "summary", "full", "per_recipient", "per_recipient_final")
TYPES: Final = ("mt_text", "mt_binary")
# An mt_binary body (Base64) and its udh (hex) together fill at most one SMS: 140 octets.
MAX_BINARY_OCTETS: Final = 140

_MSISDN = re.compile(r"\+?[1-9][0-9]{6,14}")
_NUMERIC_SENDER = re.compile(r"\+?[0-9]{1,15}")
_ALPHA_SENDER = re.compile(r"[A-Za-z0-9 ._&!#'()*+,/:;<=>?@-]{1,11}")
_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)
_PARAMETER = re.compile(r"\$\{([A-Za-z0-9_-]+)\}")


class Invalid(Exception):
    """A request Sinch refuses with 400 and ``{"code", "text"}``."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """A validated batch. ``echo`` holds the batch-level fields the batch object repeats; an
    ``mt_binary`` batch has ``udh`` set and ``body`` still in Base64."""

    to: list[str]
    sender: str | None
    body: str
    delivery_report: str
    callback_url: str | None
    client_reference: str | None
    parameters: dict[str, dict[str, str]] | None
    echo: dict[str, Any]
    send_at: datetime | None = None  # a scheduled batch; in the past it goes at once, as Sinch documents
    udh: str | None = None
    groups: tuple[str, ...] = ()  # group ids in ``to``, already replaced by their members

    def body_for(self, recipient: str) -> str:
        """The body one recipient gets: ``${name}`` filled from ``parameters`` (own value, else ``default``)."""
        if not self.parameters:
            return self.body

        def fill(match: re.Match[str]) -> str:
            values = (self.parameters or {}).get(match.group(1))
            if values is None:
                return match.group(0)
            return values.get(recipient, values.get("default", match.group(0)))

        return _PARAMETER.sub(fill, self.body)


def is_msisdn(value: str) -> bool:
    return _MSISDN.fullmatch(value) is not None


def is_sender(value: str) -> bool:
    """A phone number, a short code, or an alphanumeric sender of at most 11 characters."""
    return _NUMERIC_SENDER.fullmatch(value) is not None or _ALPHA_SENDER.fullmatch(value) is not None


def parse_batch(data: dict[str, Any], now: datetime) -> BatchRequest:
    """Validate a send request in Sinch's order: JSON shape first, then constraints, then formats."""
    to = data.get("to")
    if to is None:
        raise Invalid("syntax_constraint_violation", "to: must not be null")
    if not isinstance(to, list) or not all(isinstance(n, str) for n in to):
        raise Invalid("syntax_invalid_json", "to: expected an array of strings")
    body = data.get("body")
    if body is None:
        raise Invalid("syntax_constraint_violation", "body: must not be null")
    if not isinstance(body, str):
        raise Invalid("syntax_invalid_json", "body: expected a string")
    kind = data.get("type", "mt_text")
    if kind not in TYPES:
        raise Invalid("syntax_invalid_json", f"type: unsupported value {kind!r}, expected one of {', '.join(TYPES)}")
    udh = _optional(data, "udh", str)
    if kind == "mt_binary" and udh is None:
        raise Invalid("syntax_constraint_violation", "udh: must not be null")
    sender = _optional(data, "from", str)
    mode = _optional(data, "delivery_report", str)
    mode = "none" if mode is None else mode  # an empty string is an unknown value, not the default
    if mode not in REPORT_MODES:
        raise Invalid(
            "syntax_invalid_json", f"delivery_report: unknown value {mode!r}, expected one of {', '.join(REPORT_MODES)}"
        )
    callback_url = _optional(data, "callback_url", str)
    client_reference = _optional(data, "client_reference", str)
    parameters = _parameters(data.get("parameters"))
    flags = {name: _optional(data, name, bool) for name in ("flash_message", "feedback_enabled", "truncate_concat")}
    ints = {name: _optional(data, name, int) for name in ("max_number_of_message_parts", "from_ton", "from_npi")}
    send_at = _time(data, "send_at")
    expire_at = _time(data, "expire_at")

    if not 1 <= len(to) <= MAX_RECIPIENTS:
        raise Invalid("syntax_constraint_violation", f"to: size must be between 1 and {MAX_RECIPIENTS}")
    if kind == "mt_binary":
        check_binary(body, udh or "", parameters)
    elif not 1 <= utf16_units(body) <= MAX_BODY_CHARS:
        raise Invalid("syntax_constraint_violation", f"body: size must be between 1 and {MAX_BODY_CHARS}")
    if ints["max_number_of_message_parts"] is not None and ints["max_number_of_message_parts"] < 1:
        raise Invalid("syntax_constraint_violation", "max_number_of_message_parts: must be greater than or equal to 1")
    if client_reference is not None and len(client_reference) > 2048:
        raise Invalid("syntax_constraint_violation", "client_reference: size must be between 0 and 2048")
    if expire_at is not None and expire_at <= (send_at or now):
        raise Invalid("syntax_constraint_violation", "expire_at: must be after send_at")
    if expire_at is None and send_at is not None:
        expire_at = send_at + DEFAULT_VALIDITY
    for number in to:
        if not is_msisdn(number):
            raise Invalid("syntax_invalid_parameter_format", f"Invalid number: {number}")
    if sender is not None and not is_sender(sender):
        raise Invalid("syntax_invalid_parameter_format", f"Invalid from address: {sender}")
    if callback_url is not None and (_URL.fullmatch(callback_url) is None or len(callback_url) > 2048):
        raise Invalid("syntax_invalid_parameter_format", f"Invalid callback_url: {callback_url}")

    echo: dict[str, Any] = {"body": body, "type": kind, "delivery_report": mode}
    if udh is not None and kind == "mt_binary":
        echo["udh"] = udh
    if sender is not None:
        echo["from"] = sender
    if send_at is not None:
        echo["send_at"] = timestamp(send_at)
    if expire_at is not None:  # otherwise three days after the batch's creation, filled in by batch_json
        echo["expire_at"] = timestamp(expire_at)
    if callback_url is not None:
        echo["callback_url"] = callback_url
    if client_reference is not None:
        echo["client_reference"] = client_reference
    if parameters is not None:
        echo["parameters"] = parameters
    if kind == "mt_text":  # a text-only field; Sinch's binary batch object has none
        echo["flash_message"] = bool(flags.pop("flash_message"))
    echo.update({k: v for k, v in {**flags, **ints}.items() if v is not None})
    binary_udh = udh if kind == "mt_binary" else None
    return BatchRequest(to, sender, body, mode, callback_url, client_reference, parameters, echo, send_at, binary_udh)


def submissions(batch: BatchRequest) -> list[Submission]:
    """One submission per recipient of ``batch``. ``extra`` keeps what later answers depend on:
    the callback mode, binary content, and the part limit (reports carry the part count then)."""
    extra: dict[str, Any] = {"delivery_report": batch.delivery_report}
    if batch.udh is not None:
        extra.update(type="mt_binary", udh=batch.udh)
    for name in ("max_number_of_message_parts", "truncate_concat"):
        if name in batch.echo:
            extra[name] = batch.echo[name]
    return [
        Submission(
            to=number,
            sender=batch.sender,
            body=batch.body_for(number),
            callback_url=batch.callback_url,
            client_ref=batch.client_reference,
            extra=dict(extra),
            send_at=batch.send_at,
        )
        for number in batch.to
    ]


def binary_octets(body: str, udh: str) -> int:
    """The octets an ``mt_binary`` message fills: its decoded body plus its UDH."""
    return len(b64decode(body)) + len(udh) // 2


def check_binary(body: str, udh: str, parameters: Any) -> None:
    """Sinch's rules for ``mt_binary``: Base64 body, hex UDH, at most 140 octets together, no parameters."""
    if not body:
        raise Invalid("syntax_constraint_violation", "body: must not be empty")
    try:
        b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("syntax_invalid_parameter_format", "body: not valid Base64") from None
    if len(udh) % 2 or any(c not in "0123456789abcdefABCDEF" for c in udh):
        raise Invalid("syntax_invalid_parameter_format", "udh: not valid hex")
    if binary_octets(body, udh) > MAX_BINARY_OCTETS:
        text = f"body: size must be at most {MAX_BINARY_OCTETS} bytes including udh"
        raise Invalid("syntax_constraint_violation", text)
    if parameters is not None:
        raise Invalid("syntax_constraint_violation", "parameters: not applicable to mt_binary")


def _optional(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    # bool is an int subclass; Sinch's JSON binding does not take true for a number.
    if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
        raise Invalid("syntax_invalid_json", f"{name}: expected {_KIND_NAMES[kind]}")
    return value


_KIND_NAMES: Final[dict[type, str]] = {str: "a string", bool: "a boolean", int: "an integer"}


def _parameters(value: Any) -> dict[str, dict[str, str]] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(values, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())
        for values in value.values()
    ):
        raise Invalid("syntax_invalid_json", "parameters: expected an object of objects of strings")
    return value


def _time(data: dict[str, Any], name: str) -> datetime | None:
    value = _optional(data, name, str)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
        moment = moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # OverflowError: before year 1 once in UTC
        moment = None
    if moment is None or moment > _LATEST:
        raise Invalid("syntax_invalid_parameter_format", f"{name}: invalid ISO 8601 timestamp {value!r}")
    return moment


# The default expiry (send_at + three days) must be a time too.
_LATEST: Final = datetime.max.replace(tzinfo=UTC) - DEFAULT_VALIDITY

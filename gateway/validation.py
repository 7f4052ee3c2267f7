"""Request bodies and query strings in, frozen values out; anything wrong is a ``RequestError``
naming the field or parameter.

Strict on purpose: ``"to": 123``, ``"route_id": "1"`` and unknown fields (``"recipient"``) are
rejected rather than coerced or ignored, because a typo that silently drops a field sends the
wrong SMS. ``null`` on an optional field means "not given".
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import phonenumbers

from lynsms.gateway import numbers
from lynsms.gateway.errors import InvalidJSON, InvalidParameter, ValidationFailed
from lynsms.gateway.models import STATUSES

MAX_BODY_CHARS: Final = 1600
MAX_RECIPIENTS: Final = 1000
MAX_REFERENCE_CHARS: Final = 128
MAX_LIMIT: Final = 100
DEFAULT_LIMIT: Final = 20

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_ALPHA_SENDER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ]{0,9}[A-Za-z0-9])?")
_NUMERIC_SENDER = re.compile(r"\+?[0-9]{3,15}")
# Ranges regulators reserve for fiction and testing. phonenumbers' metadata may call them invalid
# (Ofcom's 07700 900xxx is), yet a test bench exists to send to exactly these numbers.
_RESERVED_RANGES = (
    re.compile(r"\+1[2-9][0-9]{2}55501[0-9]{2}"),  # NANP 555-0100..0199
    re.compile(r"\+447700900[0-9]{3}"),  # UK mobile drama range
    re.compile(r"\+441632960[0-9]{3}"),  # UK geographic drama range
)


@dataclass(frozen=True)
class SendRequest:
    to: str
    sender: str
    body: str
    route_id: int | None = None
    provider: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class BulkRequest:
    recipients: tuple[str, ...]  # well-typed, but each is validated as E.164 per item, not here
    sender: str
    body: str
    route_id: int | None = None
    provider: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class QuoteRequest:
    body: str
    to: str | None = None


@dataclass(frozen=True)
class ListQuery:
    limit: int = DEFAULT_LIMIT
    after_seq: int | None = None  # decoded cursor: list messages older than this one
    status: str | None = None
    provider: str | None = None
    reference: str | None = None
    to: str | None = None


@dataclass(frozen=True)
class Context:
    """What validation needs to know about this gateway's configuration."""

    providers: Collection[str]  # configured provider names
    routes: Collection[int]  # configured route ids


def parse_json(raw: bytes) -> dict[str, Any]:
    """Strict JSON: UTF-8 only, no NaN/Infinity, no duplicate keys, an object at the top."""
    if not raw.strip():
        raise InvalidJSON("the request body is empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJSON(f"the request body is not valid UTF-8 (byte {exc.start})") from exc
    try:
        data = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidJSON(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidJSON(f"the request body must be a JSON object, got {_json_type(data)}")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.loads with hooks builds a new decoder for every body.
_DECODER: Final = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def _json_type(value: object) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _check_fields(data: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    for name in data:
        if name not in required and name not in optional:
            raise ValidationFailed(name, f"unknown field {name!r}; allowed: {', '.join(required + optional)}")
    for name in required:
        if data.get(name) is None:
            raise ValidationFailed(name, f"{name} is required" if name not in data else f"{name} must not be null")


def _string(data: Mapping[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise ValidationFailed(name, f"{name} must be a string, got {_json_type(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # JSON "\ud800" escapes decode to lone surrogates
        raise ValidationFailed(name, f"{name} contains an unpaired UTF-16 surrogate") from exc
    return value


@lru_cache(maxsize=16_384)  # the checks after the (shared) parse cost ~10 us more
def e164_problem(value: str) -> str | None:
    """Why ``value`` is not an acceptable E.164 number, or None when it is.

    Accepted: strict E.164 syntax (a +, no spaces or punctuation) and a number phonenumbers
    calls valid, or one inside a range reserved for fiction and testing.
    """
    if not _E164.fullmatch(value):
        return "must be an E.164 number: a leading + and digits only, e.g. +12025550143"
    if any(rng.fullmatch(value) for rng in _RESERVED_RANGES):
        return None
    number = numbers.parse(value)
    if number is None:
        return "has an unknown country calling code"
    if not phonenumbers.is_valid_number(number):
        return "is not a valid phone number for its country"
    return None


def _to(data: Mapping[str, Any]) -> str:
    value = _string(data, "to")
    problem = e164_problem(value)
    if problem:
        raise ValidationFailed("to", f"to {problem}")
    return value


def _sender(data: Mapping[str, Any]) -> str:
    value = _string(data, "from")
    if _NUMERIC_SENDER.fullmatch(value) or (_ALPHA_SENDER.fullmatch(value) and not value.isdigit()):
        return value
    raise ValidationFailed(
        "from",
        "from must be an alphanumeric sender ID of 1 to 11 letters, digits or inner spaces, "
        "or a numeric long/short code of 3 to 15 digits with an optional leading +",
    )


def _body(data: Mapping[str, Any]) -> str:
    value = _string(data, "body")
    if not value:
        raise ValidationFailed("body", "body must not be empty")
    if len(value) > MAX_BODY_CHARS:  # characters are code points, as the spec counts them
        raise ValidationFailed("body", f"body is {len(value)} characters; the maximum is {MAX_BODY_CHARS}")
    return value


def _options(data: Mapping[str, Any], ctx: Context) -> tuple[int | None, str | None, str | None]:
    route_id = data.get("route_id")
    if route_id is not None:
        if isinstance(route_id, bool) or not isinstance(route_id, int):
            raise ValidationFailed("route_id", f"route_id must be an integer, got {_json_type(route_id)}")
        if route_id not in ctx.routes:
            known = ", ".join(map(str, sorted(ctx.routes))) or "none"
            raise ValidationFailed("route_id", f"route_id {route_id} is not a configured route (configured: {known})")
    provider = _string(data, "provider") if data.get("provider") is not None else None
    if provider is not None and provider not in ctx.providers:
        raise ValidationFailed("provider", f"provider must be one of: {', '.join(ctx.providers)}")
    reference = _string(data, "reference") if data.get("reference") is not None else None
    if reference is not None and len(reference) > MAX_REFERENCE_CHARS:
        raise ValidationFailed("reference", f"reference must be at most {MAX_REFERENCE_CHARS} characters")
    return route_id, provider, reference


_SEND_OPTIONAL = ("route_id", "provider", "reference")


def send_request(data: Mapping[str, Any], ctx: Context) -> SendRequest:
    _check_fields(data, ("to", "from", "body"), _SEND_OPTIONAL)
    to, sender, body = _to(data), _sender(data), _body(data)
    route_id, provider, reference = _options(data, ctx)
    return SendRequest(to=to, sender=sender, body=body, route_id=route_id, provider=provider, reference=reference)


def bulk_request(data: Mapping[str, Any], ctx: Context) -> BulkRequest:
    _check_fields(data, ("recipients", "from", "body"), _SEND_OPTIONAL)
    recipients = data["recipients"]
    if not isinstance(recipients, list):
        raise ValidationFailed("recipients", f"recipients must be an array of strings, got {_json_type(recipients)}")
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ValidationFailed(
            "recipients", f"recipients must hold 1 to {MAX_RECIPIENTS} numbers, got {len(recipients)}"
        )
    for i, item in enumerate(recipients):
        # A non-string is a bug in the caller's code, not a bad number in their list: reject it all.
        if not isinstance(item, str):
            raise ValidationFailed(f"recipients[{i}]", f"recipients[{i}] must be a string, got {_json_type(item)}")
        _string({f"recipients[{i}]": item}, f"recipients[{i}]")
    sender, body = _sender(data), _body(data)
    route_id, provider, reference = _options(data, ctx)
    return BulkRequest(
        recipients=tuple(recipients),
        sender=sender,
        body=body,
        route_id=route_id,
        provider=provider,
        reference=reference,
    )


def quote_request(data: Mapping[str, Any]) -> QuoteRequest:
    # ``from`` is checked as a send checks it, so a send's body quotes as it is; it changes no price.
    _check_fields(data, ("body",), ("to", "from"))
    if data.get("from") is not None:
        _sender(data)
    return QuoteRequest(body=_body(data), to=_to(data) if data.get("to") is not None else None)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"m1:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, seq = text.partition(":")
        if prefix == "m1" and seq.isdigit():
            return int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidParameter("cursor", "cursor is not one this API returned; pass next_cursor unchanged")


def list_query(params: Mapping[str, str], ctx: Context, keys: Collection[str]) -> ListQuery:
    """``keys`` are every parameter name sent, so a repeated or unknown one is caught."""
    allowed = ("limit", "cursor", "status", "provider", "reference", "to")
    for key in keys:
        if key not in allowed:
            raise InvalidParameter(key, f"unknown query parameter {key!r}; allowed: {', '.join(allowed)}")
    limit = DEFAULT_LIMIT
    if "limit" in params:
        raw = params["limit"]
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise InvalidParameter("limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
        limit = int(raw)
    status = params.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidParameter("status", f"status must be one of: {', '.join(STATUSES)}")
    provider = params.get("provider")
    if provider is not None and provider not in ctx.providers:
        raise InvalidParameter("provider", f"provider must be one of: {', '.join(ctx.providers)}")
    to = params.get("to")
    if to is not None and not _E164.fullmatch(to):
        raise InvalidParameter("to", "to must be an E.164 number, e.g. +12025550143 (encode + as %2B)")
    reference = params.get("reference")
    if reference is not None and not 1 <= len(reference) <= MAX_REFERENCE_CHARS:
        raise InvalidParameter("reference", f"reference must be 1 to {MAX_REFERENCE_CHARS} characters")
    after = _decode_cursor(params["cursor"]) if "cursor" in params else None
    return ListQuery(limit=limit, after_seq=after, status=status, provider=provider, reference=reference, to=to)

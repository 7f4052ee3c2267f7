"""Request bodies and query strings in, frozen values out; anything wrong is a ``RequestError``
naming the field or parameter.

One definition: each request is a pydantic model, strict and ``extra="forbid"``. The same model
validates here and is the request's schema in the OpenAPI document (``openapi.py`` renders
``model_json_schema()``), so the document and the checks cannot drift apart. A new endpoint's body
is one model here and one path entry there. Pydantic's error types become our own messages in
``_message``, which name the field and say what it must be.

Strict on purpose: ``"to": 123``, ``"route_id": "1"`` and unknown fields (``"recipient"``) are
rejected rather than coerced or ignored, because a typo that silently drops a field sends the
wrong SMS. ``null`` on an optional field means "not given". The stdlib JSON parser stays in
front: duplicate keys and NaN never reach a model.

What a schema cannot say is checked after the model, against this gateway's configuration: a
``route_id`` must be configured, a ``provider`` configured, and the body must fit what the
providers it may be routed to accept (``BodyLimit`` of each provider module).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Final, TypeVar

import phonenumbers
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from lynsms.gateway import numbers
from lynsms.gateway.errors import InvalidParameter, ValidationFailed
from lynsms.gateway.jsonbody import json_type
from lynsms.gateway.models import STATUSES, Status
from lynsms.gateway.providers.names import ProviderName
from lynsms.gateway.providers.registry import provider
from lynsms.gateway.routing import compute_chain
from lynsms.gateway.segmentation import segment

MAX_BODY_CHARS: Final = 1600
MAX_RECIPIENTS: Final = 1000
MAX_REFERENCE_CHARS: Final = 128
MAX_LIMIT: Final = 100
DEFAULT_LIMIT: Final = 20
MAX_IDEMPOTENCY_KEY: Final = 255

E164_PATTERN: Final = r"^\+[1-9][0-9]{1,14}$"
# An alphanumeric sender ID (1 to 11 letters, digits or inner spaces, not only digits) or a numeric
# long/short code (3 to 15 digits, optional +). The lookahead keeps "1" and "12" out.
SENDER_PATTERN: Final = r"^(?:\+?[0-9]{3,15}|(?![0-9]{1,2}$)[A-Za-z0-9](?:[A-Za-z0-9 ]{0,9}[A-Za-z0-9])?)$"
IDEMPOTENCY_KEY_PATTERN: Final = rf"^[\x20-\x7e]{{1,{MAX_IDEMPOTENCY_KEY}}}$"  # printable ASCII

_E164 = re.compile(E164_PATTERN)
# Ranges regulators reserve for fiction and testing. phonenumbers' metadata may call them invalid
# (Ofcom's 07700 900xxx is), yet a test bench exists to send to exactly these numbers.
_RESERVED_RANGES = (
    re.compile(r"\+1[2-9][0-9]{2}55501[0-9]{2}"),  # NANP 555-0100..0199
    re.compile(r"\+447700900[0-9]{3}"),  # UK mobile drama range
    re.compile(r"\+441632960[0-9]{3}"),  # UK geographic drama range
)


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


def _dialable(value: str) -> str:
    problem = e164_problem(value)
    if problem:
        raise PydanticCustomError("phone_number", "{problem}", {"problem": problem})
    return value


# ---- the fields, each described once ----------------------------------------------------------

E164 = Annotated[
    str,
    Field(
        pattern=E164_PATTERN,
        description="an E.164 number: a leading + and digits only, e.g. +12025550143",
        examples=["+12025550143"],
    ),
]
# What a JSON Schema cannot say: phonenumbers must call the number valid (or it is in a reserved
# fiction range). A send needs a number a provider can deliver to; a quote prices any E.164 number.
Phone = Annotated[E164, AfterValidator(_dialable)]
Sender = Annotated[
    str,
    Field(
        pattern=SENDER_PATTERN,
        description="an alphanumeric sender ID of 1 to 11 letters, digits or inner spaces, "
        "or a numeric long/short code of 3 to 15 digits with an optional leading +",
        examples=["LynSMS"],
    ),
]
Body = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_BODY_CHARS,
        description=f"1 to {MAX_BODY_CHARS} characters (code points); long messages are segmented. It must "
        "also fit a provider the message may be routed to (Twilio: 1600 UTF-16 units).",
        examples=["Your verification code is 482194"],
    ),
]
RouteId = Annotated[int, Field(description="A configured route id: force that route's chain.")]
Provider = Annotated[ProviderName, Field(description="Preferred provider, tried first.")]
Reference = Annotated[
    str,
    Field(
        max_length=MAX_REFERENCE_CHARS,
        description="Your correlation id, echoed back in webhooks.",
        examples=["signup-9214"],
    ),
]


class _Request(BaseModel):
    # python-re: SENDER_PATTERN needs a lookahead, which the default Rust engine lacks.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, regex_engine="python-re")

    # Field -> the message for any problem with it but a missing or unknown one; overrides _message.
    messages: ClassVar[dict[str, str]] = {}


class SendRequest(_Request):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"to": "+12025550143", "from": "LynSMS", "body": "Your code is 482194"}]}
    )

    to: Phone
    sender: Sender = Field(alias="from")
    body: Body
    route_id: RouteId | None = None
    provider: Provider | None = None
    reference: Reference | None = None


class BulkRequest(_Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"from": "LynSMS", "recipients": ["+12025550143", "+447700900100"], "body": "Doors at 8"}]
        }
    )

    # Each is checked as E.164 per recipient by the service (a bad number fails that item only).
    recipients: list[str] = Field(min_length=1, max_length=MAX_RECIPIENTS, description="E.164 numbers")
    sender: Sender = Field(alias="from")
    body: Body
    route_id: RouteId | None = None
    provider: Provider | None = None
    reference: Reference | None = None
    # Read by twoway_api.bulk_lookup_flag; described here so the document lists it.
    lookup: bool = Field(
        False, description="Look every recipient up first and skip the invalid, unreachable or landline ones."
    )


class QuoteRequest(_Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"body": "Hello there", "to": "+447700900100"}]})

    body: Body
    to: E164 | None = None  # priced by its calling code; an unknown one gets the default price
    # Checked as a send checks it, so a send's body quotes as it is; it changes no price.
    sender: Sender | None = Field(None, alias="from")


def _query_int(value: object) -> object:
    """Query values are text: ASCII digits become an int, anything else stays to fail the strict check."""
    return int(value) if isinstance(value, str) and value.isascii() and value.isdecimal() else value


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"m1:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, seq = text.partition(":")
    # At most 18 digits: SQLite integers are 64-bit, and a longer one overflows in the query.
    if prefix == "m1" and seq.isascii() and seq.isdecimal() and len(seq) <= 18:
        return int(seq)
    return None


def _cursor(value: str) -> str:
    if _decode_cursor(value) is None:
        raise PydanticCustomError("cursor", "not a cursor this API returned")
    return value


Cursor = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9_-]+$", description="next_cursor of the previous page, unchanged"),
    AfterValidator(_cursor),
]


class ListQuery(_Request):
    messages: ClassVar[dict[str, str]] = {
        "limit": f"limit must be an integer from 1 to {MAX_LIMIT}",
        "cursor": "cursor is not one this API returned; pass next_cursor unchanged",
        "status": f"status must be one of: {', '.join(STATUSES)}",
        "to": "to must be an E.164 number, e.g. +12025550143 (encode + as %2B)",
        "reference": f"reference must be 1 to {MAX_REFERENCE_CHARS} characters",
    }

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT), BeforeValidator(_query_int)] = DEFAULT_LIMIT
    cursor: Cursor | None = None
    status: Status | None = None
    provider: ProviderName | None = None
    reference: Annotated[str, Field(min_length=1, max_length=MAX_REFERENCE_CHARS)] | None = None
    to: E164 | None = None

    @property
    def after_seq(self) -> int | None:
        """The decoded cursor: list messages older than this one."""
        return _decode_cursor(self.cursor) if self.cursor is not None else None


RequestT = TypeVar("RequestT", bound=_Request)

# Every request body's model, by the name the OpenAPI document gives its schema: a new endpoint's
# model goes here, and its path entry in openapi.py refers to it by this name.
REQUEST_MODELS: Final[dict[str, type[_Request]]] = {
    "SendRequest": SendRequest,
    "BulkRequest": BulkRequest,
    "QuoteRequest": QuoteRequest,
}


@dataclass(frozen=True)
class Context:
    """What validation needs to know about this gateway's configuration."""

    providers: Collection[str]  # configured provider names
    routes: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # route id -> its chain
    default_chain: tuple[str, ...] = ()

    def chain(self, provider: str | None, route_id: int | None) -> tuple[str, ...]:
        return compute_chain(provider, self.routes[route_id] if route_id is not None else self.default_chain)


# ---- pydantic's errors in our words -----------------------------------------------------------


def _location(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


_TYPE_NAMES: Final = {
    "string_type": "a string",
    "int_type": "an integer",
    "list_type": "an array",
    "bool_type": "a boolean",
}


def _message(model: type[_Request], error: ErrorDetails) -> tuple[str, str]:
    """(field, message) for one pydantic error, worded as the API always has."""
    name = _location(error["loc"])
    kind, given, ctx = error["type"], error["input"], error.get("ctx", {})
    aliases = [info.alias or key for key, info in model.model_fields.items()]
    if kind == "extra_forbidden":
        return name, f"unknown field {name!r}; allowed: {', '.join(aliases)}"
    if kind == "missing":
        return name, f"{name} is required"
    top = str(error["loc"][0]) if error["loc"] else name
    if top in model.messages:
        return top, model.messages[top]
    if given is None:
        return name, f"{name} must not be null"
    if kind in _TYPE_NAMES:
        return name, f"{name} must be {_TYPE_NAMES[kind]}, got {json_type(given)}"
    if kind == "string_unicode":  # JSON "\ud800" escapes decode to lone surrogates
        return name, f"{name} contains an unpaired UTF-16 surrogate"
    if kind == "string_too_short":
        return name, f"{name} must not be empty" if ctx["min_length"] == 1 else f"{name} is too short"
    if kind == "string_too_long":
        return name, f"{name} is {len(given)} characters; the maximum is {ctx['max_length']}"
    if kind in ("too_short", "too_long"):
        bound = ctx["min_length"] if kind == "too_short" else ctx["max_length"]
        least = "at least" if kind == "too_short" else "at most"
        return name, f"{name} must hold {least} {bound} item{'s' * (bound != 1)}, got {ctx['actual_length']}"
    if kind == "string_pattern_mismatch":
        fields = {info.alias or key: info for key, info in model.model_fields.items()}
        described = fields[top].description if top in fields else None
        return name, f"{name} must be {described}" if described else f"{name} does not match {ctx['pattern']}"
    if kind == "literal_error":
        return name, f"{name} must be one of: {ctx['expected']}"
    if kind == "phone_number":
        return name, f"{name} {error['msg']}"
    return name, f"{name}: {error['msg']}"


def validate(model: type[RequestT], data: Mapping[str, Any]) -> RequestT:
    """``data`` as ``model``, or ``ValidationFailed`` for its first problem (a new endpoint's body
    needs only its model and this)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # An unknown field first: it is most often a typo of the field another error is about.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise ValidationFailed(*_message(model, first)) from None


# ---- against this gateway's configuration -----------------------------------------------------


def body_problems(body: str, providers: Iterable[str]) -> dict[str, str]:
    """Why each of ``providers`` would refuse or truncate ``body``; those that take it are absent."""
    counted: list[int] = []

    def parts() -> int:  # segmenting costs more than all the rest: once, and only when asked
        if not counted:
            counted.append(segment(body).segments)
        return counted[0]

    found = {name: provider(name).body_limit.problem(body, parts) for name in providers}
    return {name: problem for name, problem in found.items() if problem}


def _configured(request: SendRequest | BulkRequest, ctx: Context) -> None:
    if request.route_id is not None and request.route_id not in ctx.routes:
        known = ", ".join(map(str, sorted(ctx.routes))) or "none"
        raise ValidationFailed(
            "route_id", f"route_id {request.route_id} is not a configured route (configured: {known})"
        )
    if request.provider is not None and request.provider not in ctx.providers:
        raise ValidationFailed("provider", f"provider must be one of: {', '.join(ctx.providers)}")
    chain = ctx.chain(request.provider, request.route_id)
    unfit = body_problems(request.body, chain)
    if request.provider is not None and request.provider in unfit:
        raise ValidationFailed("body", f"body is too long for {request.provider}: {unfit[request.provider]}")
    if chain and len(unfit) == len(chain):
        reasons = "; ".join(f"{name}: {problem}" for name, problem in unfit.items())
        raise ValidationFailed("body", f"body is too long for every provider this request may use ({reasons})")


def send_request(data: Mapping[str, Any], ctx: Context) -> SendRequest:
    request = validate(SendRequest, data)
    _configured(request, ctx)
    return request


def bulk_request(data: Mapping[str, Any], ctx: Context) -> BulkRequest:
    request = validate(BulkRequest, data)
    _configured(request, ctx)
    return request


def quote_request(data: Mapping[str, Any]) -> QuoteRequest:
    return validate(QuoteRequest, data)


def list_query(params: Mapping[str, str], ctx: Context, keys: Collection[str]) -> ListQuery:
    """``keys`` are every parameter name sent, so a repeated or unknown one is caught."""
    allowed = list(ListQuery.model_fields)
    for key in keys:
        if key not in allowed:
            raise InvalidParameter(key, f"unknown query parameter {key!r}; allowed: {', '.join(allowed)}")
    try:
        query = validate(ListQuery, params)
    except ValidationFailed as exc:
        raise InvalidParameter(exc.field, exc.message) from None
    if query.provider is not None and query.provider not in ctx.providers:
        raise InvalidParameter("provider", f"provider must be one of: {', '.join(ctx.providers)}")
    return query

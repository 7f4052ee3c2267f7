"""The HTTP mechanics every provider adapter shares, written once.

An adapter module only knows its wire: how to build a request, how to read its provider's error
body into ``(code, text)``, which codes mean what, and how to parse a success answer. Everything
else lives here: sending, the mapping of transport trouble and HTTP status classes to failures,
and JSON decoding; splitting ``send_many`` into requests and halving a batch refused for one
recipient's sake is ``providers/adapter.py``.

    one provider request
     ├── httpx.TimeoutException (connect, read, write, pool)   -> Failed(retryable, "timeout")
     ├── httpx.TransportError / other httpx.HTTPError
     │    (ConnectError, ReadError, RemoteProtocolError: reset, empty reply...)
     │                                                         -> Failed(retryable, "connection_error")
     ├── 2xx, JSON body                                        -> Reply, parsed by the adapter
     │    ├── the expected shape                               -> Accepted / per-message Failed
     │    └── anything else (not JSON, wrong shape)            -> Failed(retryable, "malformed_response")
     ├── 1xx / 3xx (redirects are not followed)                -> Failed(retryable, "malformed_response")
     ├── 429                                                   -> Failed(retryable, "rate_limited", retry_after)
     ├── 408                                                   -> Failed(retryable, "timeout")
     ├── 5xx                                                   -> Failed(retryable, "server_error")
     └── other 4xx: the adapter's rule for the provider's code, if it has one; else
          ├── 401 / 403                                        -> Failed(hard, "auth_failed")
          └── any other                                        -> Failed(hard, "rejected")

Shared reasons: timeout, connection_error, malformed_response, rate_limited, server_error (all
retryable) and invalid_number, unsubscribed, insufficient_funds, invalid_sender, body_too_long,
auth_failed, invalid_request, rejected (hard, unless a provider code says otherwise).

The 2xx trade-off: a 2xx we cannot parse may mean the provider accepted the message (and will
deliver it) or that something in between garbled the answer. We call it retryable, so the next
provider may send it again: a rare duplicate SMS is a smaller harm than a message silently lost
because we assumed it went out. The attempt keeps the HTTP status so the record shows the doubt.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urlencode

import httpx
import orjson

from lynsms.clock import SYSTEM_CLOCK, Clock
from lynsms.gateway.providers.base import Failed, FailureKind
from lynsms.gateway.providers.clocked import ClockedTimeouts
from lynsms.gateway.providers.reports import Report, ReportError

# How much of a non-JSON error body to keep in a failure message.
_SNIPPET: Final = 200


@dataclass(frozen=True)
class Rule:
    """What a provider code means: retry elsewhere or stop, and the shared reason."""

    kind: FailureKind
    reason: str

    def fail(self, message: str, code: str | None = None, status: int | None = None) -> Failed:
        return Failed(kind=self.kind, reason=self.reason, message=message, provider_code=code, http_status=status)


def hard(reason: str) -> Rule:
    return Rule("hard", reason)


def retryable(reason: str) -> Rule:
    return Rule("retryable", reason)


REJECTED: Final = hard("rejected")
AUTH_FAILED: Final = hard("auth_failed")
RATE_LIMITED: Final = retryable("rate_limited")
SERVER_ERROR: Final = retryable("server_error")


@dataclass(frozen=True)
class ErrorFormat:
    """How one provider speaks about errors.

    ``read`` takes the decoded JSON of an error body (None when it was not JSON) and returns the
    provider's code and text; ``classify`` maps them to a ``Rule``, or None for "no opinion", in
    which case the HTTP status class decides.
    """

    read: Callable[[Any], tuple[str | None, str | None]]
    classify: Callable[[str | None, str], Rule | None]


@dataclass(frozen=True)
class Reply:
    """A 2xx answer whose body was valid JSON."""

    status: int
    data: Any


class Malformed(ValueError):
    """A 2xx body that does not have the shape the adapter expects."""


def basic_auth(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class Wire:
    """One provider's HTTP: the injected httpx transport (that provider's connection pool) and its
    timeout.

    Requests go to the transport's one method, ``handle_async_request``, the seam httpx itself
    defines: ``MockTransport`` in unit tests, ``ASGITransport`` for the simulator in-process,
    ``Http11Transport`` over TCP. An ``httpx.AsyncClient`` on top would add its auth flow, redirect
    loop, cookie-jar shims and event hooks, ~60 us of CPU a request (a fifth of a whole send) for
    features a provider call does not use: auth is one header, a redirect is a failure
    (``exchange``), and a cookie would only leak state between unrelated sends.
    """

    def __init__(self, transport: httpx.AsyncBaseTransport, timeout: float) -> None:
        self.transport = transport
        # What lifetimes (an OAuth token's) are measured on: the gateway's clock, which a transport
        # that times out on it carries; the system clock otherwise.
        self.clock: Clock = transport.clock if isinstance(transport, ClockedTimeouts) else SYSTEM_CLOCK
        # The request extension every httpx transport reads its timeouts from.
        self.extensions = {"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout)}

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The whole answer, read; httpx exceptions as the transport raises them."""
        # Bodies encoded here, as httpx would (same bytes), without its per-request encoder setup.
        if form is not None:
            headers, content = {**_FORM, **headers}, urlencode(form).encode()
        elif json_body is not None:
            headers, content = {**_JSON, **headers}, orjson.dumps(json_body)
        else:
            headers, content = {**_HEADERS, **headers}, None
        request = httpx.Request(method, _parsed_url(url), headers=headers, content=content, extensions=self.extensions)
        response = await self.transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response


FORM_TYPE: Final = "application/x-www-form-urlencoded"
JSON_TYPE: Final = "application/json"
_HEADERS: Final = {"Accept": JSON_TYPE, "User-Agent": "LynSMS-Gateway/1.0"}
_FORM: Final = {**_HEADERS, "Content-Type": FORM_TYPE}
_JSON: Final = {**_HEADERS, "Content-Type": JSON_TYPE}


async def exchange(
    wire: Wire,
    url: str,
    errors: ErrorFormat,
    *,
    headers: Mapping[str, str],
    json_body: Any = None,
    form: Mapping[str, str] | None = None,
    method: str = "POST",
) -> Reply | Failed:
    """One request; a ``Reply`` for a 2xx JSON answer, otherwise the classified ``Failed``."""
    try:
        response = await wire.request(method, url, headers=headers, json_body=json_body, form=form)
    except httpx.TimeoutException as exc:
        return Failed(kind="retryable", reason="timeout", message=f"no answer in time: {_describe(exc)}")
    except httpx.DecodingError as exc:
        # The body arrived but its content encoding was broken: an answer we cannot read.
        return Failed(kind="retryable", reason="malformed_response", message=f"undecodable body: {exc}")
    except httpx.HTTPError as exc:
        return Failed(kind="retryable", reason="connection_error", message=f"connection failed: {_describe(exc)}")
    status = response.status_code
    data = _json(response)
    if 200 <= status < 300:
        if data is _NOT_JSON:
            return malformed(f"HTTP {status} with a body that is not JSON: {_snippet(response)}", status)
        return Reply(status, data)
    if status < 200 or 300 <= status < 400:
        return malformed(f"unexpected HTTP {status}", status)
    code, text = errors.read(None if data is _NOT_JSON else data)
    text = text or _snippet(response) or response.reason_phrase
    return classify(status, code, text, errors, retry_after(response.headers.get("Retry-After")))


# Adapters post to a handful of fixed URLs; parsing one costs httpx ~20 us a request.
_parsed_url: Final[Callable[[str], httpx.URL]] = functools.lru_cache(maxsize=256)(httpx.URL)


def classify(status: int, code: str | None, text: str, errors: ErrorFormat, retry: float | None = None) -> Failed:
    """Transient status classes win over any code; for other 4xx the provider's code decides."""
    message = f"HTTP {status}: {text}"
    if status == 429:
        rule = RATE_LIMITED
    elif status >= 500:
        rule = SERVER_ERROR
    elif status == 408:
        rule = retryable("timeout")
    else:
        rule = errors.classify(code, text) or (AUTH_FAILED if status in (401, 403) else REJECTED)
    failed = rule.fail(message, code, status)
    # Retry-After only means something for a retry (429, 503); on a hard failure nobody retries.
    return replace(failed, retry_after=retry) if failed.kind == "retryable" else failed


def malformed(message: str, status: int | None = None) -> Failed:
    return Failed(kind="retryable", reason="malformed_response", message=message, http_status=status)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# ---- reading 2xx bodies: each raises Malformed, which becomes one retryable failure per message ---


def field(data: Any, key: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise Malformed(f"missing {key!r}")
    return data[key]


def text_field(data: Any, key: str) -> str:
    value = field(data, key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"{key!r} is not a non-empty string")
    return value


def list_field(data: Any, key: str) -> list[Any]:
    value = field(data, key)
    if not isinstance(value, list):
        raise Malformed(f"{key!r} is not a list")
    return value


def optional_text(data: Any, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return str(value) if value is not None and not isinstance(value, (dict, list)) else None


def match_entries(entries: Sequence[Any], keys: Sequence[str], key_field: str) -> list[Any]:
    """Pair answer entries with request items: by the id we sent (``key_field``) where the answer
    echoes it, else by position, which both providers promise is request order."""
    by_key = {entry.get(key_field): entry for entry in entries if isinstance(entry, dict)}
    matched: list[Any] = []
    for position, key in enumerate(keys):
        entry = by_key.get(key)
        if entry is None:
            if len(entries) != len(keys):
                raise Malformed(f"{len(entries)} entries for {len(keys)} messages, and no {key_field} for {key}")
            entry = entries[position]
        matched.append(entry)
    return matched


_NOT_JSON: Final[Any] = object()


def _json(response: httpx.Response) -> Any:
    # orjson, ~3x the stdlib's speed on a provider answer; it is stricter only where an answer is
    # broken anyway (invalid UTF-8, NaN, a lone surrogate): not JSON, so malformed, as before.
    if not response.content:
        return _NOT_JSON
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _snippet(response: httpx.Response) -> str:
    return response.content[:_SNIPPET].decode("utf-8", "replace").strip()


def _describe(exc: Exception) -> str:
    # httpx exceptions often carry an empty message (a bare ReadTimeout); the type still says what.
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# ---- polling delivery reports (the gateway's fallback when callbacks do not arrive) ----------------


async def fetch_reports(
    wire: Wire,
    url: str,
    errors: ErrorFormat,
    *,
    headers: Mapping[str, str],
    parse: Callable[[Any], list[Report]],
    none_yet: tuple[int, ...] = (),
) -> list[Report] | Failed:
    """GET a provider's report endpoint and read the answer with ``parse`` (the provider module's report parser).
    An HTTP status in ``none_yet`` means "no report yet" (ClickSend answers 404 before its first)."""
    reply = await exchange(wire, url, errors, headers=headers, method="GET")
    if isinstance(reply, Failed):
        return [] if reply.http_status in none_yet else reply
    try:
        return parse(reply.data)
    except (ReportError, Malformed) as exc:
        return malformed(f"report not understood: {exc}", reply.status)

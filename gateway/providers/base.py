"""What every provider adapter promises the gateway.

An adapter turns an ``Outbound`` message into that provider's real HTTP request and the
provider's real answer into a ``SendResult``. It never decides routing: it only says whether a
failure is ``retryable`` (try the next provider) or ``hard`` (stop the chain).

    SendResult
     ├── Accepted            the provider took the message; carries its id
     └── Failed
          ├── kind="retryable"  5xx, 429, timeouts, connection errors, malformed answers
          └── kind="hard"       validation, auth, billing, blocked recipient

Every adapter receives an injected httpx transport so the same code runs against a
``MockTransport``, the simulator in-process (``ASGITransport``) or a real provider over TCP
(``Http11Transport``); ``providers/http.py`` says why a transport and not an ``AsyncClient``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from lynsms.gateway.providers.reports import Report
from lynsms.gateway.segmentation import utf16_units

if TYPE_CHECKING:
    import httpx

FailureKind = Literal["retryable", "hard"]


@dataclass(frozen=True)
class Outbound:
    """One message, as the gateway asks a provider to send it."""

    message_id: str  # the gateway's own msg_... id
    to: str  # E.164, with the leading +
    sender: str
    body: str
    reference: str | None = None
    # Where the provider should POST delivery reports (the gateway's /api/v1/webhooks/{provider}).
    status_callback_url: str | None = None


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str
    # The provider's own status word at acceptance ("queued", "PENDING_ACCEPTED", ...), for the record.
    provider_status: str | None = None


@dataclass(frozen=True)
class Failed:
    kind: FailureKind
    # A short machine-readable reason shared by all adapters, e.g. "server_error", "rate_limited",
    # "timeout", "connection_error", "malformed_response", "invalid_number", "unsubscribed",
    # "insufficient_funds", "invalid_sender", "auth_failed", "body_too_long", "rejected".
    reason: str
    message: str
    provider_code: str | None = None  # the provider's own error code, as a string ("21211", "BAD_REQUEST")
    http_status: int | None = None
    retry_after: float | None = None  # seconds, from a 429's Retry-After


SendResult = Accepted | Failed


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    base_url: str
    credentials: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    max_batch: int = 1  # recipients per request where the provider takes several


class ProviderAdapter(Protocol):
    name: str
    # How many recipients one request may carry; 1 means one request per message.
    max_batch: int

    async def send(self, message: Outbound) -> SendResult: ...

    async def send_many(self, messages: Sequence[Outbound]) -> list[SendResult]:
        """Send several messages sharing sender and body; one result per message, in order."""
        ...

    # Optional capabilities: an adapter without them answers None.

    async def poll(self, provider_message_id: str) -> list[Report] | Failed | None:
        """The message's delivery reports as the provider has them now (the polling fallback for
        lost callbacks); None: this provider cannot be asked."""
        ...

    async def register_report_url(self, url: str) -> Failed | None:
        """Have the provider push delivery reports to ``url``, for providers that take no callback
        URL per message (ClickSend); None when done or not needed, else why it failed."""
        ...

    async def find(self, messages: Sequence[Outbound], since: datetime) -> list[list[str]] | Failed | None:
        """Reconciliation after a crash: for each of ``messages`` (handed to this provider in one
        request at ``since``), the provider ids under which the provider holds it, newest first
        (``[]``: it has no record of it); None: this provider cannot be asked."""
        ...


# What a provider module says about its delivery reports besides parsing them: given the
# provider's credentials, the URL the report was sent to, its form fields and its headers, the
# reason it is not genuine (None: it is). Only providers that sign their reports have one.
ReportVerifier = Callable[[Mapping[str, str], str, Sequence[tuple[str, str]], Mapping[str, str]], str | None]


@dataclass(frozen=True)
class BodyLimit:
    """The longest body a provider takes as one message, counted the way the provider counts.
    Validation refuses a body no provider of the chain can take, and routing skips a provider that
    would refuse (or truncate) it."""

    utf16_units: int | None = None  # Java/JS string length: a character outside the BMP counts 2
    utf8_bytes: int | None = None
    segments: int | None = None
    documented: str = ""  # the provider's own words for it, for the error message

    def problem(self, body: str, segments: Callable[[], int]) -> str | None:
        """Why the provider would not send ``body`` whole, or None. ``segments`` counts its SMS
        parts, asked only when the length alone cannot settle it: a code point is at most 2 UTF-16
        units and 4 UTF-8 bytes, and 35 of them always fit one part (70 UCS-2 units)."""
        length = len(body)
        if self.utf16_units is not None and 2 * length > self.utf16_units:
            units = utf16_units(body)
            if units > self.utf16_units:
                return f"{units} UTF-16 code units, over its {self.utf16_units} ({self.documented})"
        if self.utf8_bytes is not None and 4 * length > self.utf8_bytes:
            size = len(body.encode("utf-8"))
            if size > self.utf8_bytes:
                return f"{size} UTF-8 bytes, over its {self.utf8_bytes} ({self.documented})"
        if self.segments is not None and length > _ONE_PART and (parts := segments()) > self.segments:
            return f"{parts} SMS parts, over its {self.segments} ({self.documented})"
        return None


_ONE_PART: Final = 35


@dataclass(frozen=True)
class Provider:
    """Everything the gateway core needs from one provider: each module ``providers/<name>.py``
    exposes one as ``PROVIDER``, found by name through ``providers.registry``."""

    name: str
    adapter: Callable[[ProviderSettings, httpx.AsyncBaseTransport], ProviderAdapter]
    max_batch: int  # recipients one request can carry, and the config default
    # Well-formed but fake: what the built-in config uses, which the simulator accepts.
    default_credentials: Mapping[str, str]
    report_media_types: tuple[str, ...]  # Content-Types its delivery reports arrive in
    parse_reports: Callable[[Any], list[Report]]  # raises ReportError for a body that is not one
    verify_report: ReportVerifier | None = None
    # Credentials that must not be public constants (they verify reports): unless configured, each
    # installation makes its own (``gateway.installation``).
    generated_credentials: tuple[str, ...] = ()
    body_limit: BodyLimit = BodyLimit()

"""Values that travel between the simulator's modules: what a client asked a provider to send,
what the simulator decided to do about it, and the messages it accepted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from lynsms.gateway.providers.names import ProviderName

# Semantic rejections a scenario can script; each provider renders them with its own real code.
RejectReason = Literal[
    "invalid_number",
    "unsubscribed",
    "insufficient_funds",
    "invalid_sender",
    "body_too_long",
    "auth_failed",
]
REJECT_REASONS: tuple[RejectReason, ...] = get_args(RejectReason)

# Final delivery outcomes a scenario can script.
DeliveryStatus = Literal["delivered", "undelivered", "failed", "expired"]
# Where a message stands, in one vocabulary for every provider: taken, then reported on.
NORMALISED_STATUSES: tuple[str, ...] = ("accepted", "sent", *get_args(DeliveryStatus))


@dataclass(frozen=True, slots=True)
class Submission:
    """One message as a client asked a provider to send it, parsed from that provider's wire format."""

    to: str  # as the client wrote it; providers differ on the leading "+"
    sender: str | None
    body: str
    callback_url: str | None = None  # where this message's delivery reports go, if the request named one
    client_ref: str | None = None  # client_reference / callbackData / custom_string / messageId
    # Provider-specific fields worth keeping (Twilio MediaUrl, Sinch delivery_report mode, ...).
    extra: dict[str, Any] = field(default_factory=dict)
    send_at: datetime | None = None  # a scheduled send: the provider holds it until then (``scheduling``)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"to": self.to, "from": self.sender, "body": self.body}
        if self.send_at is not None:
            data["send_at"] = self.send_at.isoformat()
        if self.callback_url:
            data["callback_url"] = self.callback_url
        if self.client_ref:
            data["client_ref"] = self.client_ref
        if self.extra:
            data["extra"] = self.extra
        return data


@dataclass(slots=True)
class SimMessage:
    """A message a provider accepted. Mutable: delivery reports move its status on."""

    id: str
    provider: ProviderName
    account: str  # the credential it arrived under (Twilio account, Sinch plan/project, ...)
    submission: Submission
    segments: int
    encoding: str  # "GSM-7" | "UCS-2"
    status: str  # in the provider's own vocabulary ("queued", "Queued", "PENDING_ACCEPTED", "SUCCESS"...)
    created_at: datetime
    updated_at: datetime
    batch_id: str | None = None  # Sinch batch / Infobip bulkId, shared by messages of one request
    error_code: str | None = None
    # Delivery reports already issued for this message, in the provider's own JSON (for polling endpoints).
    reports: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    delivery: str = "accepted"  # ``status`` normalised: one of NORMALISED_STATUSES

    @property
    def to(self) -> str:
        return self.submission.to

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "account": self.account,
            "to": self.submission.to,
            "from": self.submission.sender,
            "body": self.submission.body,
            "segments": self.segments,
            "encoding": self.encoding,
            "status": self.status,
            "delivery": self.delivery,
            "batch_id": self.batch_id,
            "error_code": self.error_code,
            "callback_url": self.submission.callback_url,
            "client_ref": self.submission.client_ref,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

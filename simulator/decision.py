"""What a provider does with one submission: the values the engine chooses and scenario rules build.

A module of plain values below both ``engine`` (which chooses) and the scenario language (which
compiles rules into these), so neither imports the other for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lynsms.simulator.messages import DeliveryStatus, RejectReason, Submission

DecisionKind = Literal["accept", "reject", "http_error", "fault"]
FaultKind = Literal["timeout", "connection_reset", "empty_reply", "malformed_body", "slow_body"]
# Faults that garble a success response: the provider did accept the message, the client cannot tell.
BODY_FAULTS: frozenset[FaultKind] = frozenset({"malformed_body", "slow_body"})

# A credential scope: None = global; a string = that credential at any provider; a mapping = per provider.
Scope = str | Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    """What happens to an accepted message later: its final status, when, and with which error code."""

    status: DeliveryStatus = "delivered"
    after: float = 0.0  # seconds after acceptance
    error_code: str | None = None  # the provider's own error code, e.g. Twilio "30003"
    intermediate: bool = True  # send the provider's intermediate statuses (sent, ENROUTE...) first
    attempts: int = 5  # callback tries when the receiver answers 5xx/429 or is unreachable
    backoff: float = 0.5  # seconds before the 2nd try, doubled for each later one


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind = "accept"
    reason: RejectReason | None = None  # kind == "reject"
    status: int | None = None  # kind == "http_error"
    body: str | None = None  # kind == "http_error": a raw body instead of the provider's error format
    retry_after: int | None = None  # kind == "http_error" with 429/503
    fault: FaultKind | None = None  # kind == "fault"
    fault_seconds: float | None = None  # timeout cap, slow-body duration
    latency: float = 0.0  # seconds to wait before answering, on any outcome
    delivery: DeliveryPlan | None = None  # accepted messages: None means no delivery report is scripted
    rule: str | None = None  # which scenario rule chose this, for the journal
    extra: dict[str, Any] = field(default_factory=dict)
    content_type: str | None = None  # kind == "http_error" with a raw body

    @property
    def accepts(self) -> bool:
        """True when the provider takes the message (plain accept, or a garbled success body)."""
        return self.kind == "accept" or (self.kind == "fault" and self.fault in BODY_FAULTS)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        for name in ("reason", "status", "retry_after", "fault", "fault_seconds", "rule"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.latency:
            data["latency"] = round(self.latency, 4)
        if self.delivery is not None:
            data["delivery"] = {"status": self.delivery.status, "after": self.delivery.after}
            if self.delivery.error_code:
                data["delivery"]["error_code"] = self.delivery.error_code
        return data


ACCEPT = Decision()


def number(text: str) -> str:
    """A phone number as matched: E.164 with a leading '+' whatever the client wrote (Sinch drops
    it, Twilio keeps it). Short codes and alphanumeric senders stay as written."""
    stripped = text.strip()
    digits = stripped[1:] if stripped.startswith("+") else stripped
    return f"+{digits}" if digits.isdecimal() and len(digits) > 6 else stripped


@dataclass(frozen=True, slots=True)
class Facts:
    """What rules test, normalised once per submission rather than once per rule."""

    to: str
    sender: str
    body: str

    @classmethod
    def of(cls, submission: Submission) -> Facts:
        return cls(number(submission.to), number(submission.sender or ""), submission.body)

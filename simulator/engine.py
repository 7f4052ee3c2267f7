"""Deciding what a provider does with a request.

With no scenario loaded every message is accepted. The scenario engine (``simulator.scenario``)
plugs in here: ``Engine.decide`` is the one place outcomes are chosen, so provider modules only
render what was decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from simulator.model import DeliveryStatus, RejectReason, Submission

DecisionKind = Literal["accept", "reject", "http_error", "fault"]
FaultKind = Literal["timeout", "connection_reset", "empty_reply", "malformed_body", "slow_body"]


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    """What happens to an accepted message later: its final status, when, and with which error code."""

    status: DeliveryStatus = "delivered"
    after: float = 0.0  # seconds after acceptance
    error_code: str | None = None  # the provider's own error code, e.g. Twilio "30003"
    intermediate: bool = True  # send the provider's intermediate statuses (sent, ENROUTE...) first


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
    delivery: DeliveryPlan | None = None  # kind == "accept": None means no delivery report is scripted
    rule: str | None = None  # which scenario rule chose this, for the journal
    extra: dict[str, Any] = field(default_factory=dict)

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


class Engine:
    """Chooses a ``Decision`` for each submission. Without a scenario: accept everything."""

    def decide(self, provider: str, account: str, submission: Submission, call: int) -> Decision:
        return ACCEPT

    def reset(self) -> None:
        """Forget counters and rule hits (``POST /_sim/reset``)."""

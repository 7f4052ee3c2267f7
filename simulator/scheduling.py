"""Scheduled sends: messages accepted now and sent later, on the simulator's clock.

A provider accepts a message whose submission names a ``send_at`` in the future in its own
"scheduled" status and hands it here instead of to ``Deliveries``. It waits (one timer per
message: scheduled sends are few) until due, then meets the scenario engine like a fresh send:
the rule that matches *then* decides its fate (a rejection fails the message with the provider's
own failure report; an acceptance schedules its delivery plan). Until then the provider's own
calls can cancel it or move its due time; ``reset`` forgets everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lynsms.clock import Clock, Timer
from lynsms.simulator.decision import DeliveryPlan
from lynsms.simulator.messages import SimMessage

if TYPE_CHECKING:
    from lynsms.simulator.deliveries import Deliveries
    from lynsms.simulator.engine import Engine
    from lynsms.simulator.providers.base import Provider

    AnyProvider = Provider[Any]

# How a message the scenario rejects when it falls due ends: failed at once, without a "sent" step.
FAILED_WHEN_DUE = DeliveryPlan(status="failed", after=0.0, intermediate=False)
# A canceled message's one report, at once: providers report a canceled message as canceled
# whatever final status they are handed, so this plan only says "now, and nothing after".
CANCELED = FAILED_WHEN_DUE


@dataclass(slots=True)
class Held:
    """A message waiting for its due time, and the call it arrived on (the engine numbers calls)."""

    provider: AnyProvider
    message: SimMessage
    call: int
    due: datetime
    timer: Timer | None  # None while paused


class Scheduled:
    """The messages of one simulator that wait for their due time."""

    def __init__(self, clock: Clock, engine: Engine, deliveries: Deliveries) -> None:
        self._clock = clock
        self._engine = engine
        self._deliveries = deliveries
        self._held: dict[str, Held] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, provider: AnyProvider, message: SimMessage, due: datetime, call: int) -> None:
        """Keep ``message`` until ``due``; it must be stored already, in the provider's scheduled status."""
        self._held[message.id] = Held(provider, message, call, due, self._arm(message.id, due))

    def held(self, message_id: str) -> Held | None:
        """The held message ``message_id`` (read it, do not change it), or None when it is not waiting."""
        return self._held.get(message_id)

    def move(self, message_id: str, due: datetime) -> bool:
        """Reschedule a held message; False when it is no longer waiting (sent, canceled, unknown)."""
        held = self._held.get(message_id)
        if held is None:
            return False
        if held.timer is not None:
            held.timer.cancel()
            held.timer = self._arm(message_id, due)
        held.due = due
        return True

    def paused(self, message_id: str) -> bool:
        held = self._held.get(message_id)
        return held is not None and held.timer is None

    def pause(self, message_id: str) -> bool:
        """Stop a held message's countdown (Infobip PAUSED); False when it is no longer waiting."""
        held = self._held.get(message_id)
        if held is None:
            return False
        if held.timer is not None:
            held.timer.cancel()
            held.timer = None
        return True

    def resume(self, message_id: str) -> bool:
        """Restart a paused countdown; a message whose time passed meanwhile goes at once."""
        held = self._held.get(message_id)
        if held is None:
            return False
        if held.timer is None:
            held.timer = self._arm(message_id, held.due)
        return True

    def cancel(self, message_id: str) -> bool:
        """Forget a held message for good; False when it is no longer waiting."""
        held = self._held.pop(message_id, None)
        if held is None:
            return False
        if held.timer is not None:
            held.timer.cancel()
        return True

    def reset(self) -> None:
        for held in self._held.values():
            if held.timer is not None:
                held.timer.cancel()
        self._held.clear()

    def _arm(self, message_id: str, due: datetime) -> Timer:
        delay = due.timestamp() - self._clock.time()
        return self._clock.call_later(delay, lambda: self._release(message_id))

    def _release(self, message_id: str) -> None:
        held = self._held.pop(message_id, None)
        if held is None:
            return
        provider, message = held.provider, held.message
        provider.released(message)
        decision = self._engine.decide(provider.name, message.account, message.submission, held.call)
        # Scripted HTTP trouble has no request to answer when a message falls due: the send fails.
        plan = decision.delivery if decision.kind == "accept" else FAILED_WHEN_DUE
        if decision.kind != "accept":
            message.extra["failed_when_due"] = decision.reason or decision.fault or decision.status
        if plan is not None:
            self._deliveries.schedule(provider, message, plan)

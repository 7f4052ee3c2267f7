"""The polling fallback on the gateway's clock: when a stuck message is asked about, and how often."""

from __future__ import annotations

from lynsms.clock import ManualClock
from lynsms.gateway.delivery.polling import Poller
from lynsms.gateway.delivery.status import ReportApplier
from lynsms.gateway.providers.base import Failed
from lynsms.gateway.providers.reports import Report
from lynsms.gateway.store import Store
from tests.gateway.helpers import FakeAdapter, stored_sent_message

PMID = "batch-1:+12025550143"


class PolledSinch(FakeAdapter):
    """Answers each poll with the next of ``answers``."""

    def __init__(self, *answers: str) -> None:
        super().__init__("sinch", max_batch=1000)
        self.answers = list(answers)
        self.polls: list[str] = []

    async def poll(self, provider_message_id: str) -> list[Report] | Failed | None:
        self.polls.append(provider_message_id)
        word = self.answers.pop(0)
        return [Report("sinch", provider_message_id, "delivered" if word == "Delivered" else "sent", word)]


async def test_a_stuck_message_is_polled_after_poll_after_then_less_and_less_often() -> None:
    clock = ManualClock()
    store = Store(clock=clock)
    message_id = stored_sent_message(store, "sinch", PMID, clock)
    sinch = PolledSinch("Dispatched", "Dispatched", "Delivered")
    poller = Poller(store.reports, {"sinch": sinch}, ReportApplier(store, 60, clock), poll_after=30, clock=clock)

    assert await poller.poll_once() == 0  # just sent: its callback may still come
    clock.advance(30)
    assert await poller.poll_once() == 1  # still on its way: no news
    clock.advance(29)
    assert await poller.poll_once() == 0
    clock.advance(1)
    assert await poller.poll_once() == 1  # poll_after later; then each wait doubles
    clock.advance(59)
    assert await poller.poll_once() == 0
    clock.advance(1)
    assert await poller.poll_once() == 1
    assert sinch.polls == [PMID] * 3
    message = store.get(message_id)
    assert message is not None and message.status == "delivered"
    clock.advance(3600)
    assert await poller.poll_once() == 0  # final: never asked again

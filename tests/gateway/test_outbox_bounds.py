"""The webhook outbox stays bounded and cheap with a dead receiver: due events are found through
an index, settled events are deleted after the retention, pending events are capped."""

from __future__ import annotations

from collections.abc import Callable

from lynsms.clock import ManualClock
from lynsms.gateway.config import parse_config
from lynsms.gateway.store import Store
from lynsms.gateway.store.outbox import Listener
from tests.gateway.test_outbox import new_message, report, send


def backlog(size: int, clock: ManualClock | None = None) -> Store:
    """``size`` messages, each with ``message.sent`` and ``message.delivered`` pending for a
    receiver that is down: every head already failed once and waits an hour."""
    store = Store(clock=clock) if clock else Store()
    store.outbox.listener = Listener(None, lambda: None)
    for n in range(size):
        mid = new_message(store, n)
        send(store, mid)
        report(store, mid, "delivered")
    now = store.clock.time()
    for row in store.outbox.due(now, size * 2, []):
        store.outbox.attempted(
            row,
            state="pending",
            attempts=1,
            now=now,
            status=None,
            error="connection refused",
            next_at=now + 3600,
            url=None,
        )
    return store


def steps(store: Store, work: Callable[[Store], object]) -> int:
    """SQLite virtual-machine steps ``work(store)`` takes: the cost of its queries, not its timing."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    store.db.set_progress_handler(tick, 1)
    try:
        work(store)
    finally:
        store.db.set_progress_handler(None, 1)
    return count[0]


def test_looking_for_due_events_costs_the_same_whatever_the_backlog() -> None:
    costs = []
    for size in (100, 1000):
        store = backlog(size)
        assert store.outbox.due(store.clock.time(), 32, []) == []  # the heads wait, their successors too
        costs.append(steps(store, lambda s: (s.outbox.due(s.clock.time(), 32, []), s.outbox.next_due([]))))
    assert costs[1] < 2 * costs[0] + 100, costs


def test_the_next_event_of_a_message_goes_once_the_one_before_settles() -> None:
    store = backlog(1)
    now = store.clock.time()
    (head,) = store.outbox.due(now + 3600, 10, [])
    assert head.type == "message.sent"
    store.outbox.delivered(head, 2, now, 204, "http://hooks.test")
    (following,) = store.outbox.due(now, 10, [])
    assert following.type == "message.delivered" and following.message_id == head.message_id


def test_settled_events_are_deleted_after_the_retention_and_pending_ones_kept() -> None:
    clock = ManualClock()
    store = backlog(3, clock)
    (head, *_) = store.outbox.due(clock.time() + 3600, 10, [])
    store.outbox.delivered(head, 2, clock.time(), 204, "http://hooks.test")
    assert store.outbox.maintain(clock.time() + 59, retention=60, max_pending=100) == (0, 0)
    assert store.outbox.maintain(clock.time() + 61, retention=60, max_pending=100) == (1, 0)
    assert store.outbox.counts() == {"pending": 5}


def test_beyond_the_cap_the_oldest_pending_events_are_dropped_as_failed() -> None:
    store = backlog(3)  # 6 pending: 3 heads, 3 waiting behind them
    now = store.clock.time()
    assert store.outbox.maintain(now, retention=60, max_pending=3) == (0, 3)
    assert store.outbox.counts() == {"pending": 3, "failed": 3}
    first = store.outbox.deliveries("msg_" + "0" * 25)
    assert [d.state for d in first] == ["failed", "failed"]
    assert first[0].last_error and "webhook_max_pending" in first[0].last_error
    # The second message's head was dropped too: the event behind it is due now, in order.
    due = store.outbox.due(now, 10, [])
    assert [(row.message_id[-1], row.type) for row in due] == [("1", "message.delivered")]


def test_retention_and_cap_are_configurable() -> None:
    settings = parse_config({"webhook_retention_seconds": 3600, "webhook_max_pending": 500}).webhooks
    assert (settings.retention_seconds, settings.max_pending) == (3600.0, 500)

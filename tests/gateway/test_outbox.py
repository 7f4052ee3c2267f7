"""The webhook outbox: filled by the store with every status change, drained in order, retried, given up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest

from lynsms.clock import SYSTEM_CLOCK, Clock, ManualClock
from lynsms.gateway import signing
from lynsms.gateway.config import ApiKey, WebhookSettings
from lynsms.gateway.delivery.outbox import Outbox, Targets
from lynsms.gateway.models import Message, MessageError, now_iso
from lynsms.gateway.store import Completion, Store

KEYS = (
    ApiKey(key="key-a", name="a"),
    ApiKey(key="key-b", name="b", webhook_url="http://b.test/hooks", webhook_secret="whsec_b"),
)
FAST = WebhookSettings(url="http://hooks.test/events", retry_seconds=0.01, max_age_seconds=60, timeout_seconds=1)


@dataclass
class Hooks:
    """A MockTransport receiver: answers from ``script`` and records what it was sent."""

    script: Callable[[int], int | Exception] = lambda n: 204
    seen: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        outcome = self.script(len(self.seen))
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.seen]


def new_message(store: Store, n: int, key: str | None = "a", status: str = "queued") -> str:
    now = now_iso()
    message = Message(
        id=f"msg_{n:025d}",
        to="+12025550143",
        sender="LynSMS",
        body="hi",
        status=status,  # type: ignore[arg-type]
        segments=1,
        encoding="GSM-7",
        created_at=now,
        updated_at=now,
        reference=f"ref-{n}",
        error=MessageError("invalid_recipient", "bad") if status == "failed" else None,
    )
    store.insert([message], api_key=key)
    return message.id


def send(store: Store, message_id: str) -> None:
    store.complete(
        [
            Completion(
                message_id,
                (),
                status="sent",
                provider="twilio",
                provider_message_id="SM" + message_id,
                cost=Decimal("0.05"),
            )
        ]
    )


def report(store: Store, message_id: str, status: str) -> None:
    """Move the message as a delivery report does (a no-op when it already has ``status``)."""
    (current,) = store.db.execute("SELECT status FROM messages WHERE id=?", (message_id,)).fetchone()
    if current != status:
        store.reports.move(message_id, current, status, None, None, now_iso())


async def advance(clock: ManualClock, seconds: float, step: float = 0.5) -> None:
    """Move the gateway's clock on in steps, letting the outbox act at each (as time would)."""
    for _ in range(round(seconds / step)):
        clock.advance(step)
        for _ in range(10):
            await asyncio.sleep(0)


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.fixture
async def running() -> AsyncIterator[Callable[..., Any]]:
    started: list[tuple[Outbox, asyncio.Task[None], httpx.AsyncClient]] = []

    def start(
        store: Store,
        hooks: Hooks,
        settings: WebhookSettings = FAST,
        keys: tuple[ApiKey, ...] = KEYS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> Outbox:
        client = httpx.AsyncClient(transport=httpx.MockTransport(hooks.handler))
        outbox = Outbox(store, Targets(settings, keys), settings, client, clock)
        started.append((outbox, asyncio.create_task(outbox.run()), client))
        return outbox

    yield start
    for outbox, task, client in started:
        await outbox.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()


async def test_every_status_change_and_only_those_becomes_one_event(running: Callable[..., Outbox]) -> None:
    store, hooks = Store(), Hooks()
    outbox = running(store, hooks)
    first = new_message(store, 1)  # queued: nothing to say yet
    send(store, first)
    report(store, first, "sent")  # no change, no event
    report(store, first, "delivered")
    new_message(store, 2, status="failed")  # a bulk item failed up front
    await until(lambda: len(hooks.seen) == 3)
    # In order per message; messages are independent of each other.
    assert sorted((e["message_id"], e["sequence"], e["type"]) for e in hooks.events()) == [
        (first, 1, "message.sent"),
        (first, 2, "message.delivered"),
        ("msg_" + "2".zfill(25), 1, "message.failed"),
    ]
    assert outbox.counts() == {"delivered": 3}


async def test_events_are_signed_and_show_the_message_as_it_was(running: Callable[..., Outbox]) -> None:
    store, hooks = Store(), Hooks()
    running(store, hooks)
    message_id = new_message(store, 1)
    send(store, message_id)
    report(store, message_id, "delivered")
    await until(lambda: len(hooks.seen) == 2)
    for request in hooks.seen:
        assert str(request.url) == "http://hooks.test/events"
        assert signing.verify(signing.derive_secret("key-a"), request.content, request.headers["LynSMS-Signature"])
        assert request.headers["LynSMS-Event-Type"] == json.loads(request.content)["type"]
    sent, delivered = hooks.events()
    assert (sent["data"]["status"], delivered["data"]["status"]) == ("sent", "delivered")
    assert sent["reference"] == sent["data"]["reference"] == "ref-1" and sent["data"]["provider"] == "twilio"
    assert sent["id"].startswith("evt_") and sent["id"] != delivered["id"]


async def test_per_key_targets_and_keys_without_one(running: Callable[..., Outbox]) -> None:
    store, hooks = Store(), Hooks()
    outbox = running(store, hooks, WebhookSettings(retry_seconds=0.01))  # no global URL: only key b has one
    for n, key in enumerate(("a", "b", None)):
        send(store, new_message(store, n, key))
    await until(lambda: len(hooks.seen) == 1)
    assert outbox.counts() == {"delivered": 1}  # the only event kept: nothing else can follow
    [request] = hooks.seen
    assert str(request.url) == "http://b.test/hooks"
    assert signing.verify("whsec_b", request.content, request.headers["LynSMS-Signature"])


def test_target_resolution() -> None:
    targets = Targets(WebhookSettings(url="http://all.test", secret=None), KEYS)
    assert targets.for_key("a") == targets.for_key("a")
    a, b, unknown = targets.for_key("a"), targets.for_key("b"), targets.for_key(None)
    assert a is not None and (a.url, a.secret) == ("http://all.test", signing.derive_secret("key-a"))
    assert b is not None and (b.url, b.secret) == ("http://b.test/hooks", "whsec_b")
    assert unknown is not None and unknown.secret == signing.derive_secret("key-a")  # the first key's
    assert Targets(WebhookSettings(), KEYS).for_key("a") is None and Targets(WebhookSettings(), ()).enabled is False
    assert "whsec_b" not in repr(b)


async def test_failures_are_retried_with_backoff_and_keep_order(running: Callable[..., Outbox]) -> None:
    failures: list[int | Exception] = [httpx.ConnectError("refused"), 500, httpx.ReadTimeout("slow"), 429]
    store, hooks = Store(), Hooks(script=lambda n: failures[n - 1] if n <= len(failures) else 200)
    outbox = running(store, hooks)
    message_id = new_message(store, 1)
    send(store, message_id)
    report(store, message_id, "delivered")
    await until(lambda: outbox.counts() == {"delivered": 2})
    # The delivered event never overtook the sent one, however often the sent one failed.
    assert [json.loads(r.content)["type"] for r in hooks.seen] == ["message.sent"] * 5 + ["message.delivered"]
    assert len({r.content for r in hooks.seen[:5]}) == 1  # the same bytes every time
    sent, delivered = outbox.deliveries(message_id)
    assert (sent["delivery"], sent["attempts"], sent["last_http_status"], sent["last_error"]) == (
        "delivered",
        5,
        200,
        None,
    )
    assert (delivered["attempts"], delivered["event_type"]) == (1, "message.delivered")


async def test_a_retry_waits_out_its_backoff_on_the_gateway_clock(running: Callable[..., Outbox]) -> None:
    clock = ManualClock()
    store, hooks = Store(clock=clock), Hooks(script=lambda n: 500 if n == 1 else 204)
    settings = WebhookSettings(url="http://hooks.test/x", retry_seconds=10, max_age_seconds=3600)
    outbox = running(store, hooks, settings, clock=clock)
    send(store, new_message(store, 1))
    await until(lambda: len(hooks.seen) == 1)
    await advance(clock, 7.5)  # the first back-off is 8 to 10 s (10 s less up to 20% jitter)
    assert len(hooks.seen) == 1
    await advance(clock, 3)
    await until(lambda: outbox.counts() == {"delivered": 1})
    assert len(hooks.seen) == 2


async def test_an_event_is_given_up_after_the_horizon_and_the_next_one_goes(running: Callable[..., Outbox]) -> None:
    clock = ManualClock()
    store, hooks = Store(clock=clock), Hooks(script=lambda n: 503)
    settings = WebhookSettings(url="http://hooks.test/x", retry_seconds=1, max_age_seconds=10)
    outbox = running(store, hooks, settings, clock=clock)
    message_id = new_message(store, 1)
    send(store, message_id)
    await advance(clock, 11)  # tries at about 0, 1, 3, 7 and on the 10 s horizon itself
    await until(lambda: outbox.counts().get("failed") == 1)
    [event] = outbox.deliveries(message_id)
    assert (event["delivery"], event["last_error"], event["next_attempt_at"]) == ("failed", "HTTP 503", None)
    assert event["attempts"] >= 3
    hooks.script = lambda n: 200
    report(store, message_id, "undelivered")
    await until(lambda: outbox.counts().get("delivered") == 1)


async def test_pending_events_survive_a_restart(tmp_path: Any, running: Callable[..., Outbox]) -> None:
    path = str(tmp_path / "gateway.db")
    store, down = Store(path), Hooks(script=lambda n: httpx.ConnectError("refused"))
    first = running(store, down)
    ids = [new_message(store, n) for n in range(3)]
    for message_id in ids:
        send(store, message_id)
    await until(lambda: len(down.seen) >= 3)
    await first.close()
    store.close()
    again, up = Store(path), Hooks()
    outbox = running(again, up)
    await until(lambda: outbox.counts() == {"delivered": 3})
    assert sorted(e["message_id"] for e in up.events()) == ids


async def test_the_worker_deletes_settled_events_after_the_retention(running: Callable[..., Outbox]) -> None:
    clock = ManualClock()
    store, hooks = Store(clock=clock), Hooks()
    settings = WebhookSettings(url="http://hooks.test/x", retention_seconds=60)
    outbox = running(store, hooks, settings, clock=clock)
    message_id = new_message(store, 1)
    send(store, message_id)
    await until(lambda: outbox.counts() == {"delivered": 1})
    await advance(clock, 75, step=5)  # past the retention, and the next maintenance turn
    await until(lambda: outbox.counts() == {})
    assert outbox.deliveries(message_id) == []


async def test_the_worker_keeps_pending_events_under_the_cap(running: Callable[..., Outbox]) -> None:
    clock = ManualClock()
    store, hooks = Store(clock=clock), Hooks(script=lambda n: 503)
    settings = WebhookSettings(url="http://hooks.test/x", retry_seconds=600, max_age_seconds=86400, max_pending=2)
    outbox = running(store, hooks, settings, clock=clock)
    for n in range(5):
        send(store, new_message(store, n))
    await advance(clock, 15, step=5)
    await until(lambda: outbox.counts() == {"pending": 2, "failed": 3})

"""Crash safety: each provider answer is durable at once, only in-flight requests are uncertain,
uncertain messages are settled with the provider (never resent), and one report names one message.

The SIGKILL / SIGTERM runs against real processes are in tests/e2e/test_crash_recovery.py."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from lynsms.gateway.api import _delivery_outcome
from lynsms.gateway.delivery import reconcile
from lynsms.gateway.delivery.reconcile import Reconciler
from lynsms.gateway.delivery.status import ReportApplier
from lynsms.gateway.models import MessageError
from lynsms.gateway.providers.base import Failed, Outbound, SendResult
from lynsms.gateway.providers.reports import Report
from lynsms.gateway.service import SINGLE_CONCURRENCY
from lynsms.gateway.store import Completion, Store
from tests.gateway.helpers import (
    BULK,
    SEND,
    FakeAdapter,
    make_client,
    make_config,
    make_fakes,
    queued_message,
    stored_sent_message,
    total_sent,
)

BULK_URL = "/api/v1/messages/bulk"
SEND_URL = "/api/v1/messages/send"


class LookupAdapter(FakeAdapter):
    """A fake provider that answers reconciliation lookups from ``records`` (message id -> what
    ``find`` returns)."""

    def __init__(self, name: str, records: dict[str, list[str] | Failed]) -> None:
        super().__init__(name)
        self.records = records
        self.lookups: list[tuple[str, datetime]] = []

    async def find(self, messages: Sequence[Outbound], since: datetime) -> list[list[str]] | Failed | None:
        found: list[list[str]] = []
        for message in messages:
            self.lookups.append((message.message_id, since))
            record = self.records.get(message.message_id, [])
            if isinstance(record, Failed):
                return record
            found.append(record)
        return found


def _ids(n: int) -> list[str]:
    return [f"msg_{chr(ord('a') + i) * 25}" for i in range(n)]


def _status(db: str) -> dict[str, tuple[str, str | None, str | None]]:
    reader = sqlite3.connect(db)
    try:
        rows = reader.execute("SELECT id, status, provider, provider_message_id FROM messages").fetchall()
    finally:
        reader.close()
    return {mid: (status, provider, pmid) for mid, status, provider, pmid in rows}


def test_each_provider_answer_is_on_disk_before_its_worker_sends_the_next_request(tmp_path: Path) -> None:
    # Twilio takes one message per request, 16 at a time. What a kill at request k would leave
    # on disk: the message of request k marked as handed to Twilio, and the answers of every
    # request that went before on the same worker (all but the 16 in flight), with their ids.
    db = str(tmp_path / "durable.db")
    fakes = make_fakes()
    seen: list[tuple[int, str | None]] = []

    def twilio(message: Outbound) -> SendResult:
        reader = sqlite3.connect(db)
        (sent,) = reader.execute("SELECT COUNT(*) FROM messages WHERE provider_message_id IS NOT NULL").fetchone()
        query = "SELECT dispatched_to FROM messages WHERE id=?"
        (dispatched,) = reader.execute(query, (message.message_id,)).fetchone()
        reader.close()
        seen.append((sent, dispatched))
        return fakes["twilio"].accept(message)

    fakes["twilio"].script = twilio
    recipients = [f"+1202555{n:04d}" for n in range(1000, 1040)]
    with make_client(make_config(), fakes, db) as client:
        body = {**BULK, "recipients": recipients, "provider": "twilio"}
        assert client.post(BULK_URL, json=body).json()["data"]["sent"] == 40
    assert all(dispatched == "twilio" for _, dispatched in seen)
    assert all(sent >= k - SINGLE_CONCURRENCY for k, (sent, _) in enumerate(seen))
    assert seen[-1][0] >= 40 - SINGLE_CONCURRENCY


def test_after_a_crash_only_the_request_in_flight_is_unconfirmed(tmp_path: Path) -> None:
    db = str(tmp_path / "crash.db")
    done, in_flight, waiting = _ids(3)
    crashed = Store(db)  # a bulk of three: one accepted, one request in flight, one not yet sent
    crashed.insert([queued_message(done), queued_message(in_flight), queued_message(waiting)])
    crashed.dispatching([(done, Decimal("0.05"))], "twilio")
    crashed.complete([Completion(done, (), status="sent", provider="twilio", provider_message_id="SM1")])
    crashed.dispatching([(in_flight, Decimal("0.05"))], "twilio")
    crashed.close()

    fakes = make_fakes()
    with make_client(make_config(), fakes, db) as client:
        shown = {mid: client.get(f"/api/v1/messages/{mid}").json()["data"] for mid in (done, in_flight, waiting)}
        events = client.get(f"/api/v1/messages/{in_flight}/events").json()["data"]["events"]
    assert shown[done]["status"] == "sent" and shown[done]["provider_message_id"] == "SM1"
    assert shown[in_flight]["status"] == "unconfirmed"
    assert shown[in_flight]["provider"] == "twilio" and shown[in_flight]["error"] is None
    assert shown[waiting]["status"] == "failed" and shown[waiting]["error"]["code"] == "interrupted"
    assert "unconfirmed" in [e["type"] for e in events]
    assert total_sent(fakes) == 0  # nothing resent, to Twilio or anyone else


def test_reconciliation_confirms_what_the_provider_took_and_fails_what_it_did_not(tmp_path: Path) -> None:
    took, never, unreachable, taken_id = _ids(4)
    store = Store(str(tmp_path / "reconcile.db"))
    holder = stored_sent_message(store, pmid="SMolder")
    store.insert([queued_message(m) for m in (took, never, unreachable, taken_id)])
    store.dispatching([(m, Decimal("0.05")) for m in (took, never, taken_id)], "twilio")
    store.dispatching([(unreachable, Decimal("0.05"))], "sinch")
    assert store.interrupt().unconfirmed == 4
    adapter = LookupAdapter("twilio", {took: ["SMnew"], taken_id: ["SMolder"]})  # SMolder: another message's
    down = LookupAdapter("sinch", {unreachable: Failed("retryable", "server_error", "down")})
    again = asyncio.run(Reconciler(store, {"twilio": adapter, "sinch": down}).reconcile())

    assert again == 1  # the lookup that failed is worth another try
    found = store.get(took)
    assert found is not None and found.status == "sent" and found.provider_message_id == "SMnew"
    assert found.cost == Decimal("0.05") and found.attempt_log[-1].outcome == "accepted"
    for mid in (never, taken_id):
        failed = store.get(mid)
        assert failed is not None and failed.status == "failed"
        assert failed.error is not None and failed.error.code == "interrupted" and failed.cost == 0
    still = store.get(unreachable)
    assert still is not None and still.status == "unconfirmed"
    older = store.get(holder)
    assert older is not None and older.provider_message_id == "SMolder"
    assert {mid for mid, _ in adapter.lookups} == {took, never, taken_id}  # in one lookup: one request's
    assert "reconciled" in [e.type for e in store.events(took)]


def test_a_late_delivery_report_repairs_an_unconfirmed_message() -> None:
    store = Store()
    by_number, by_own_id = _ids(2)
    store.insert([queued_message(by_number), queued_message(by_own_id)])
    store.db.execute("UPDATE messages SET to_number='+447700900100' WHERE id=?", (by_own_id,))
    store.dispatching([(by_number, Decimal("0.05"))], "twilio")
    store.dispatching([(by_own_id, Decimal("0.04"))], "infobip")
    store.interrupt()
    applier = ReportApplier(store, park_seconds=60)

    applied = applier.apply(
        [
            Report("twilio", "SMlate", "delivered", "delivered", to="+12025550143"),
            Report("infobip", by_own_id, "delivered", "DELIVERED_TO_HANDSET"),  # Infobip's id is ours
        ],
        "webhook",
    )

    assert applied.changed == 2 and applied.parked == 0
    for mid, pmid in ((by_number, "SMlate"), (by_own_id, by_own_id)):
        message = store.get(mid)
        assert message is not None and message.status == "delivered" and message.provider_message_id == pmid


def test_a_report_for_a_reused_provider_id_reaches_only_the_newest_message() -> None:
    store = Store()
    older = stored_sent_message(store, pmid="SMsame")
    newer = queued_message("msg_" + "n" * 25)
    store.insert([newer])
    store.complete([Completion(newer.id, (), status="sent", provider="twilio", provider_message_id="SMsame")])

    applied = ReportApplier(store, park_seconds=60).apply(
        [Report("twilio", "SMsame", "undelivered", "undelivered")], "webhook"
    )

    assert applied.changed == 1
    first, second = store.get(older), store.get(newer.id)
    assert first is not None and second is not None
    assert (first.status, first.provider_message_id) == ("sent", None)
    assert (second.status, second.provider_message_id) == ("undelivered", "SMsame")
    assert "provider_id_reused" in [e.type for e in store.events(older)]


def test_an_older_database_with_repeated_provider_ids_keeps_each_id_on_its_newest_message(tmp_path: Path) -> None:
    db = str(tmp_path / "old.db")
    store = Store(db)
    older, newer = stored_sent_message(store, pmid="SMx"), stored_sent_message(store, pmid="SMy")
    store.db.execute("DROP INDEX messages_provider_id_unique")
    store.db.execute("UPDATE messages SET provider_message_id='SMx' WHERE id=?", (newer,))
    store.close()

    reopened = Store(db)
    assert reopened.get(older).provider_message_id is None  # type: ignore[union-attr]
    assert reopened.get(newer).provider_message_id == "SMx"  # type: ignore[union-attr]


def test_a_bulk_cut_short_by_shutdown_answers_in_the_envelope_and_replays_the_truth(tmp_path: Path) -> None:
    db = str(tmp_path / "shutdown.db")
    fakes = make_fakes()
    blocked = asyncio.Event()

    class Hanging(FakeAdapter):
        async def send(self, message: Outbound) -> SendResult:
            if message.to == BULK["recipients"][0]:
                return await super().send(message)
            blocked.set()
            await asyncio.Event().wait()  # a provider that never answers
            raise AssertionError("unreachable")

    fakes["twilio"] = Hanging("twilio")
    headers = {"Idempotency-Key": "cut-short"}
    with make_client(make_config(), fakes, db) as client:

        async def cut_short() -> tuple[int, dict[str, object]]:
            request = asyncio.create_task(client.http.post(BULK_URL, json=BULK, headers=headers))
            await blocked.wait()
            request.cancel()  # what uvicorn does when its graceful-shutdown wait runs out
            response = await request
            return response.status_code, response.json()

        status, body = client.run(cut_short())
        replay = client.post(BULK_URL, json=BULK, headers=headers)

    assert status == 503
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == "interrupted"
    assert [m["status"] for m in error["messages"]] == ["sent", "unconfirmed", "unconfirmed"]
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    data = replay.json()["data"]
    assert (data["sent"], data["failed"], data["unconfirmed"]) == (1, 0, 2)

    # After the restart reconciliation asks Twilio: it took one of the two, never saw the other.
    second = data["messages"][1]["id"]
    restarted = make_fakes()
    restarted["twilio"] = LookupAdapter("twilio", {second: ["SMfound"]})
    with make_client(make_config(), restarted, db) as client:
        for _ in range(200):  # the reconciler runs beside the app; the fakes answer at once
            data = client.post(BULK_URL, json=BULK, headers=headers).json()["data"]
            if not data["unconfirmed"]:
                break
            client.run(asyncio.sleep(0.01))
    assert [m["status"] for m in data["messages"]] == ["sent", "sent", "failed"]
    assert data["messages"][2]["error"]["code"] == "interrupted"
    assert total_sent(restarted) == 0


def test_a_send_cut_short_replays_202_while_unconfirmed_then_the_outcome(tmp_path: Path) -> None:
    db = str(tmp_path / "send.db")
    fakes = make_fakes()
    blocked = asyncio.Event()

    class Hanging(FakeAdapter):
        async def send(self, message: Outbound) -> SendResult:
            blocked.set()
            await asyncio.Event().wait()  # a provider that never answers
            raise AssertionError("unreachable")

    fakes["twilio"] = Hanging("twilio")
    headers = {"Idempotency-Key": "one"}
    with make_client(make_config(), fakes, db) as client:

        async def cut_short() -> int:
            request = asyncio.create_task(client.http.post(SEND_URL, json=SEND, headers=headers))
            await blocked.wait()
            request.cancel()
            return (await request).status_code

        assert client.run(cut_short()) == 503
        replay = client.post(SEND_URL, json=SEND, headers=headers)
    assert replay.status_code == 202
    assert replay.json()["data"]["status"] == "unconfirmed"

    message_id = replay.json()["data"]["id"]
    restarted = make_fakes()
    restarted["twilio"] = LookupAdapter("twilio", {message_id: ["SMlate"]})
    with make_client(make_config(), restarted, db) as client:
        for _ in range(200):
            replay = client.post(SEND_URL, json=SEND, headers=headers)
            if replay.status_code != 202:
                break
            client.run(asyncio.sleep(0.01))
    assert replay.status_code == 201
    data = replay.json()["data"]
    assert (data["status"], data["provider_message_id"], data["attempts"]) == ("sent", "SMlate", 1)
    assert total_sent(restarted) == 0


def test_a_replayed_send_answers_for_its_message_as_it_is_now() -> None:
    never_sent = replace(
        queued_message("msg_" + "i" * 25), status="failed", error=MessageError("interrupted", "the gateway stopped")
    )
    taken_then_failed = replace(
        queued_message("msg_" + "t" * 25),
        status="failed",
        provider="twilio",
        error=MessageError("delivery_failed", "twilio reported the message failed"),
    )
    status, payload = _delivery_outcome([never_sent])
    assert (status, payload["error"]["code"]) == (503, "interrupted")
    status, payload = _delivery_outcome([taken_then_failed])
    assert (status, payload["data"]["status"]) == (201, "failed")  # the provider took it: the send succeeded


def test_reconciliation_reaches_every_unconfirmed_message_page_by_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcile, "BATCH", 2)
    store = Store()
    ids = _ids(5)
    store.insert([queued_message(m) for m in ids])
    for mid in ids:
        store.dispatching([(mid, Decimal("0.05"))], "twilio")
    store.interrupt()
    adapter = LookupAdapter("twilio", {mid: [f"SM{n}"] for n, mid in enumerate(ids)})
    assert asyncio.run(Reconciler(store, {"twilio": adapter}).reconcile()) == 0
    assert [store.get(mid).status for mid in ids] == ["sent"] * 5  # type: ignore[union-attr]

"""What the store forgets: the oldest messages beyond a count, idempotency keys after 24 hours."""

from __future__ import annotations

from lynsms.clock import ManualClock
from lynsms.gateway.config import parse_config
from lynsms.gateway.store import Store
from lynsms.gateway.store.outbox import Listener
from lynsms.gateway.store.retention import iso_ago
from tests.gateway.helpers import stored_sent_message
from tests.gateway.test_outbox import report


def test_the_oldest_messages_beyond_the_count_go_with_everything_about_them() -> None:
    store = Store()
    store.outbox.listener = Listener(None, lambda: None)
    ids = [stored_sent_message(store, pmid=f"SM{n}") for n in range(5)]
    for mid in ids:
        report(store, mid, "delivered")
        store.reports.record(mid, "delivered", "2026-01-01T00:00:00+00:00", {})
    assert store.retention.keep_newest(2) == 3
    assert [mid for mid in ids if store.get(mid) is not None] == ids[3:]
    for table in ("events", "webhook_outbox"):
        left = {row[0] for row in store.db.execute(f"SELECT message_id FROM {table}")}
        assert left == set(ids[3:]), table
    assert store.retention.keep_newest(2) == 0


def test_an_idempotency_key_is_honoured_for_its_lifetime_then_new_again() -> None:
    clock = ManualClock()
    store = Store(clock=clock)
    assert store.claim_key("k", "key-1", "hash").state == "new"
    store.finish_key("k", "key-1", 201, {"ok": True})
    clock.advance(86400 - 1)
    assert store.claim_key("k", "key-1", "hash").state == "replay"
    clock.advance(2)
    assert store.claim_key("k", "key-1", "other-request").state == "new"  # expired: a new key


def test_expired_keys_are_deleted_in_the_background_batches() -> None:
    clock = ManualClock()
    store = Store(clock=clock)
    for n in range(3):
        store.claim_key("k", f"key-{n}", "hash")
        store.finish_key("k", f"key-{n}", 201, {})
    clock.advance(86401)
    assert store.retention.expire_keys(iso_ago(clock, store.key_lifetime)) == 3
    assert store.db.execute("SELECT COUNT(*) FROM idempotency_keys").fetchone()[0] == 0


def test_retention_is_configurable() -> None:
    settings = parse_config({"store_max_messages": 1000, "idempotency_key_seconds": 3600}).store
    assert (settings.max_messages, settings.key_lifetime_seconds) == (1000, 3600.0)

"""Durability: accepted work survives a restart; interrupted work is failed, never lost or resent."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from lynsms.gateway.providers.base import Outbound, SendResult
from lynsms.gateway.store import Store, StoreFormatError
from tests.gateway.helpers import (
    SEND,
    FakeAdapter,
    failing,
    make_client,
    make_config,
    make_fakes,
    queued_message,
    total_sent,
)

URL = "/api/v1/messages/send"


def test_messages_survive_a_restart_with_a_file_database(tmp_path: Path) -> None:
    db = str(tmp_path / "gateway.db")
    with make_client(make_config(), make_fakes(), db) as client:
        sent = client.post(URL, json=SEND).json()["data"]
    with make_client(make_config(), make_fakes(), db) as client:
        again = client.get(f"/api/v1/messages/{sent['id']}")
        assert again.status_code == 200
        assert again.json()["data"] == sent
        events = client.get(f"/api/v1/messages/{sent['id']}/events").json()["data"]["events"]
        assert [e["type"] for e in events] == ["queued", "attempt", "sent"]


def test_database_uses_wal_journal_mode(tmp_path: Path) -> None:
    db = str(tmp_path / "wal.db")
    store = Store(db)
    store.close()
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_idempotency_keys_survive_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "gateway.db")
    first_fakes, second_fakes = make_fakes(), make_fakes()
    with make_client(make_config(), first_fakes, db) as client:
        first = client.post(URL, json=SEND, headers={"Idempotency-Key": "restart"}).json()
    with make_client(make_config(), second_fakes, db) as client:
        second = client.post(URL, json=SEND, headers={"Idempotency-Key": "restart"}).json()
    assert second["data"] == first["data"]
    assert total_sent(second_fakes) == 0


def test_messages_left_queued_by_a_crash_are_marked_interrupted_and_not_resent(tmp_path: Path) -> None:
    db = str(tmp_path / "crash.db")
    crashed = Store(db)  # a previous run stored a bulk as queued, then died before routing it
    crashed.insert([queued_message("msg_" + "a" * 25), queued_message("msg_" + "b" * 25)])
    for key in ("stored", "empty"):
        crashed.claim_key("scope", key, "hash")
    crashed.db.execute(
        "UPDATE idempotency_keys SET message_ids=? WHERE key='stored'", (json.dumps(["msg_" + "a" * 25]),)
    )
    crashed.close()
    fakes: dict[str, FakeAdapter] = make_fakes()
    with make_client(make_config(), fakes, db) as client:
        for suffix in "ab":
            message = client.get(f"/api/v1/messages/msg_{suffix * 25}").json()["data"]
            assert message["status"] == "failed"
            assert message["error"]["code"] == "interrupted"
            events = client.get(f"/api/v1/messages/msg_{suffix * 25}/events").json()["data"]["events"]
            assert [e["type"] for e in events] == ["queued", "failed"]
    assert total_sent(fakes) == 0
    # The key that stored messages replays them as they are; the one that stored nothing is free again.
    rows = sqlite3.connect(db).execute("SELECT key, state FROM idempotency_keys").fetchall()
    assert rows == [("stored", "interrupted")]


def test_routing_round_is_committed_before_the_next_provider_is_called(tmp_path: Path) -> None:
    # A retryable attempt is on disk while the message waits for the next provider, so a crash
    # then would still show the attempt that was made.
    db = str(tmp_path / "rounds.db")
    fakes = make_fakes()
    seen_on_disk: list[int] = []

    def sinch(message: Outbound) -> SendResult:
        reader = sqlite3.connect(db)
        (attempts,) = reader.execute("SELECT attempts_json FROM messages").fetchone()
        seen_on_disk.append(len(json.loads(attempts)))
        reader.close()
        return fakes["sinch"].accept(message)

    fakes["twilio"].script = failing("retryable", "timeout")
    fakes["sinch"].script = sinch
    with make_client(make_config(), fakes, db) as client:
        assert client.post(URL, json=SEND).json()["data"]["provider"] == "sinch"
    assert seen_on_disk == [1]


# The layout before attempts_json: a message's routing history was kept as event rows.
_OLD_LAYOUT = """
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, to_number TEXT NOT NULL, sender TEXT NOT NULL,
    body TEXT NOT NULL, reference TEXT, route_id INTEGER, status TEXT NOT NULL, provider TEXT, provider_message_id TEXT,
    cost TEXT NOT NULL DEFAULT '0', currency TEXT NOT NULL DEFAULT 'USD', segments INTEGER NOT NULL,
    encoding TEXT NOT NULL, error_code TEXT, error_json TEXT, created_at TEXT NOT NULL, sent_at TEXT,
    updated_at TEXT NOT NULL, api_key TEXT
);
CREATE TABLE attempts (seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL, attempt_json TEXT NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL, type TEXT NOT NULL, status TEXT,
    at TEXT NOT NULL, detail_json TEXT
);
"""


def test_a_database_from_before_attempts_json_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    db = str(tmp_path / "old.db")
    old = sqlite3.connect(db)
    old.executescript(_OLD_LAYOUT)
    old.close()
    with pytest.raises(StoreFormatError, match="pre-release gateway"):
        Store(db)

"""Durability: accepted work survives a restart; interrupted work is failed, never lost or resent."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import SEND, FakeAdapter, failing, make_client, make_config, make_fakes, total_sent

from lynsms.gateway.models import Message, now_iso
from lynsms.gateway.providers.base import Outbound, SendResult
from lynsms.gateway.store import Store

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


def _queued(message_id: str) -> Message:
    now = now_iso()
    return Message(
        id=message_id,
        to="+12025550143",
        sender="LynSMS",
        body="hi",
        status="queued",
        segments=1,
        encoding="GSM-7",
        created_at=now,
        updated_at=now,
    )


def test_messages_left_queued_by_a_crash_are_marked_interrupted_and_not_resent(tmp_path: Path) -> None:
    db = str(tmp_path / "crash.db")
    crashed = Store(db)  # a previous run stored a bulk as queued, then died before routing it
    crashed.insert([_queued("msg_" + "a" * 25), _queued("msg_" + "b" * 25)])
    crashed.db.execute(
        "INSERT INTO idempotency_keys VALUES ('scope', 'k', 'hash', 'in_progress', NULL, NULL, ?)", (now_iso(),)
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
    row = sqlite3.connect(db).execute("SELECT state, status_code, response_json FROM idempotency_keys").fetchone()
    assert row[:2] == ("done", 500)
    assert json.loads(row[2])["error"]["code"] == "interrupted"


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


def test_a_database_from_before_attempts_json_keeps_every_message_history(tmp_path: Path) -> None:
    db = str(tmp_path / "old.db")
    old = sqlite3.connect(db)
    old.executescript(_OLD_LAYOUT)
    t0, t1, t2 = "2026-11-20T10:00:00+00:00", "2026-11-20T10:00:01+00:00", "2026-11-20T10:00:05+00:00"
    timeout = {
        "provider": "twilio",
        "outcome": "retryable",
        "reason": "timeout",
        "message": "no answer",
        "provider_code": None,
        "http_status": None,
        "provider_message_id": None,
        "duration_ms": 10000,
        "at": t0,
    }
    accepted = {
        **timeout,
        "provider": "sinch",
        "outcome": "accepted",
        "reason": None,
        "message": None,
        "provider_message_id": "B1",
        "duration_ms": 40,
        "at": t1,
    }
    error = {"code": "invalid_recipient", "message": "'12345' is not E.164"}
    old.executemany(
        "INSERT INTO messages (id, to_number, sender, body, status, provider, provider_message_id, segments, encoding, "
        "error_code, error_json, created_at, sent_at, updated_at) VALUES (?,?,?,?,?,?,?,1,'GSM-7',?,?,?,?,?)",
        [
            ("msg_" + "s" * 25, "+12025550143", "LynSMS", "hi", "delivered", "sinch", "B1", None, None, t0, t1, t2),
            (
                "msg_" + "f" * 25,
                "12345",
                "LynSMS",
                "hi",
                "failed",
                None,
                None,
                "invalid_recipient",
                json.dumps(error),
                t0,
                None,
                t0,
            ),
        ],
    )
    sent, failed = "msg_" + "s" * 25, "msg_" + "f" * 25
    old.executemany(
        "INSERT INTO events (message_id, type, status, at, detail_json) VALUES (?,?,?,?,?)",
        [
            (sent, "queued", "queued", t0, None),
            (sent, "attempt", None, t0, json.dumps(timeout)),
            (sent, "attempt", None, t1, json.dumps(accepted)),
            (sent, "sent", "sent", t1, json.dumps({"provider": "sinch", "provider_message_id": "B1"})),
            (sent, "delivery_report", "delivered", t2, json.dumps({"report_status": "delivered", "applied": True})),
            (failed, "failed", "failed", t0, json.dumps({"error": error})),
        ],
    )
    old.commit()
    old.close()

    store = Store(db)
    message = store.get(sent)
    assert message is not None
    assert [(a.provider, a.outcome) for a in message.attempt_log] == [("twilio", "retryable"), ("sinch", "accepted")]
    assert [(e.type, e.status, e.at) for e in store.events(sent)] == [
        ("queued", "queued", t0),
        ("attempt", None, t0),
        ("attempt", None, t1),
        ("sent", "sent", t1),
        ("delivery_report", "delivered", t2),
    ]
    assert [e.to_json() for e in store.events(failed)] == [
        {"type": "failed", "at": t0, "status": "failed", "error": error}
    ]
    store.close()
    reopened = Store(db)  # the move happens once; opening again changes nothing
    assert len(reopened.events(sent)) == 5 and reopened.get(failed).attempt_log == ()  # type: ignore[union-attr]
    reopened.close()

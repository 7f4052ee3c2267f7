"""Every table of the gateway's database, in one place (created at open, ``CREATE ... IF NOT EXISTS``),
and the additive upgrades (``upgrade``) that bring a database written by an earlier version up to date.

messages and events are never deleted, so a plain INTEGER PRIMARY KEY already keeps seq
increasing (the cursor order); AUTOINCREMENT would add a sqlite_sequence write per row. The
indexes on columns a send leaves NULL (no reference; no provider until one accepts) are partial:
an insert skips them, and ``col = ?`` filters still use them.
"""

from __future__ import annotations

import sqlite3
from typing import Final

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    to_number TEXT NOT NULL,
    sender TEXT NOT NULL,
    body TEXT NOT NULL,
    reference TEXT,
    route_id INTEGER,
    status TEXT NOT NULL,
    provider TEXT,
    provider_message_id TEXT,
    cost TEXT NOT NULL DEFAULT '0',
    currency TEXT NOT NULL DEFAULT 'USD',
    segments INTEGER NOT NULL,
    encoding TEXT NOT NULL,
    error_code TEXT,
    error_json TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    updated_at TEXT NOT NULL,
    api_key TEXT,  -- the name (never the key) of the API key that sent it: picks its webhook target
    attempts_json TEXT  -- its provider attempts so far, a JSON list; NULL: rejected before routing
);
CREATE INDEX IF NOT EXISTS messages_status ON messages (status, seq);
CREATE INDEX IF NOT EXISTS messages_reference ON messages (reference, seq) WHERE reference IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_to ON messages (to_number, seq);
CREATE INDEX IF NOT EXISTS messages_provider ON messages (provider, seq) WHERE provider IS NOT NULL;
-- What happened after routing (delivery reports); routing itself is read from the message row.
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages (id),
    type TEXT NOT NULL,
    status TEXT,
    at TEXT NOT NULL,
    detail_json TEXT
);
CREATE INDEX IF NOT EXISTS events_message ON events (message_id, seq);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    status_code INTEGER,
    response_json TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);
-- Delivery reports for messages not (yet) known, applied when their message appears: found by
-- (provider, match_key) when a provider id is recorded (``upgrade`` adds the two columns and their
-- index to databases written before them).
CREATE TABLE IF NOT EXISTS parked_reports (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    report_json TEXT NOT NULL,
    received_at REAL NOT NULL
);
-- When each message stuck in sent is next asked about (the polling fallback).
CREATE TABLE IF NOT EXISTS poll_state (
    message_id TEXT PRIMARY KEY,
    polls INTEGER NOT NULL,
    next_poll_at REAL NOT NULL,
    last_error TEXT
);
-- Customer webhook events, one row per status change, delivered in order per message.
CREATE TABLE IF NOT EXISTS webhook_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    api_key TEXT,
    snapshot_json TEXT NOT NULL,
    body BLOB,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_attempt_at REAL,
    last_status INTEGER,
    last_error TEXT,
    delivered_at REAL,
    url TEXT
);
-- Secrets this installation made for itself (callback URL tokens, a Twilio auth token) unless configured.
CREATE TABLE IF NOT EXISTS installation_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_outbox_message ON webhook_outbox (message_id, seq);
CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE state = 'pending';
-- Delivered and failed events, by when they settled: what retention deletes.
CREATE INDEX IF NOT EXISTS webhook_outbox_settled ON webhook_outbox (last_attempt_at) WHERE state <> 'pending';
"""

# Columns added after the first release, each ``(table, column, definition)``: added at open when
# missing, so new and old databases end up alike. Additive only: every existing row stays valid.
ADDED_COLUMNS: Final = (
    # The provider and the id (or "batch:" prefix) a parked report names; '' for rows parked before.
    ("parked_reports", "provider", "TEXT NOT NULL DEFAULT ''"),
    ("parked_reports", "match_key", "TEXT NOT NULL DEFAULT ''"),
    # The provider a routing round handed the message to, and when, set just before the request
    # and cleared with its answer: what a crash can leave uncertain (see Store.interrupt).
    ("messages", "dispatched_to", "TEXT"),
    ("messages", "dispatched_at", "TEXT"),
    # The messages a send or bulk stored under this key (a JSON list), written with the messages:
    # a request cut short by a restart replays their current state.
    ("idempotency_keys", "message_ids", "TEXT"),
)

# One message per provider id: a delivery report names exactly one message.
_UNIQUE_PROVIDER_IDS: Final = (
    "CREATE UNIQUE INDEX IF NOT EXISTS messages_provider_id_unique ON messages (provider, provider_message_id) "
    "WHERE provider_message_id IS NOT NULL"
)


def upgrade(db: sqlite3.Connection) -> None:
    """What ``CREATE ... IF NOT EXISTS`` cannot do for a database written by an earlier gateway:
    missing columns, the indexes on them, and the unique provider-id index."""
    for table, column, definition in ADDED_COLUMNS:
        if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
    db.execute("CREATE INDEX IF NOT EXISTS parked_reports_match ON parked_reports (provider, match_key)")
    db.execute("CREATE INDEX IF NOT EXISTS parked_reports_received ON parked_reports (received_at)")
    if db.execute("SELECT 1 FROM sqlite_master WHERE name='messages_provider_id_unique'").fetchone():
        return
    # Earlier versions allowed one provider id on several messages (a provider that reused ids);
    # only the newest keeps it, as the index of that time would have matched reports to all.
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "UPDATE messages SET provider_message_id = NULL WHERE provider_message_id IS NOT NULL AND seq < "
            "(SELECT MAX(seq) FROM messages newer WHERE newer.provider = messages.provider "
            "AND newer.provider_message_id = messages.provider_message_id)"
        )
        db.execute("DROP INDEX IF EXISTS messages_provider_id")
        db.execute(_UNIQUE_PROVIDER_IDS)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")

"""The connection and the one transaction helper every store module uses."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from lynsms.gateway.store.schema import SCHEMA, upgrade


def connect(path: str) -> sqlite3.Connection:
    """One connection, used from the event loop: every statement is a short indexed write or read,
    cheaper than a hop to a thread. WAL lets readers (another process, ``sqlite3`` in a shell) look
    while the gateway writes. ``synchronous=NORMAL``: a power cut may lose the last commits, but a
    process crash loses nothing and the file is never corrupt."""
    # check_same_thread=False: the lifespan may open it on a different thread than the one
    # serving; all use is still sequential on the event loop.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(SCHEMA)
    upgrade(db)
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` .. ``COMMIT``, rolled back on error (the connection autocommits otherwise).
    Inside a transaction already open it joins that one: the outer caller commits or rolls back."""
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")

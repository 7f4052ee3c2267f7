"""Secrets generated once per installation and kept with its database (``installation_secrets``):
a file store keeps them across restarts, the in-memory store for the life of its process."""

from __future__ import annotations

import secrets
import sqlite3


class InstallationSecrets:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def get(self, name: str) -> str:
        """The secret called ``name``, made (256 random bits) the first time it is asked for."""
        self.db.execute(
            "INSERT OR IGNORE INTO installation_secrets (name, value) VALUES (?, ?)", (name, secrets.token_urlsafe(32))
        )
        (value,) = self.db.execute("SELECT value FROM installation_secrets WHERE name=?", (name,)).fetchone()
        return str(value)

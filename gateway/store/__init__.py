"""The one owner of the gateway's tables and SQL: ``schema`` (every table), ``db`` (the connection
and the one transaction helper), ``messages`` (``Store``: messages, events, idempotency keys),
``outbox`` (customer events) and ``reports`` (what delivery reports and polling touch)."""

from __future__ import annotations

from lynsms.gateway.store.messages import Claim, Completion, Dispatch, Store, StoreFormatError

__all__ = ["Claim", "Completion", "Dispatch", "Store", "StoreFormatError"]

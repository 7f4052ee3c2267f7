"""Settling ``unconfirmed`` messages by asking their provider whether it took them.

A message is ``unconfirmed`` when the gateway stopped while its provider request was in flight
(``Store.interrupt``): the provider may have taken it or not. Resending could deliver it twice;
failing it could hide a message that was delivered. So each is looked up through its adapter's
``find`` (Twilio: the account's messages to that number; Sinch: the batches from our sender;
Infobip and ClickSend: our own id, which they keep as ``messageId`` / ``custom_string``):

- found, under an id no other message holds: ``sent`` with that id (``Store.confirm``), and its
  delivery reports apply from then on;
- no record of it: ``failed`` with ``interrupted``, and never resent;
- the lookup failed (provider down, rate-limited): asked again later, with back-off;
- a provider that cannot be asked: it stays ``unconfirmed`` until a delivery report names it
  (``ReportApplier`` confirms it then).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from lynsms.clock import SYSTEM_CLOCK, Clock
from lynsms.gateway.models import Message
from lynsms.gateway.providers.base import Failed, Outbound, ProviderAdapter
from lynsms.gateway.store import Store

log = logging.getLogger("lynsms.gateway")

BATCH: Final = 1000  # messages looked at per pass
GROUP: Final = 100  # messages asked about in one lookup (they went out in one request)
CONCURRENCY: Final = 8  # lookups in flight at once
FIRST_RETRY: Final = 2.0  # seconds before asking again after a failed lookup; doubles up to MAX_RETRY
MAX_RETRY: Final = 300.0


class Reconciler:
    def __init__(self, store: Store, adapters: Mapping[str, ProviderAdapter], clock: Clock = SYSTEM_CLOCK) -> None:
        self.store = store
        self.adapters = adapters
        self.clock = clock

    async def run(self) -> None:
        """Pass over the unconfirmed messages until none is left that a provider can settle."""
        delay = FIRST_RETRY
        while True:
            try:
                if not await self.reconcile():
                    return
            except Exception:
                log.exception("reconciling unconfirmed messages failed")
            await self.clock.sleep(delay)
            delay = min(delay * 2, MAX_RETRY)

    async def reconcile(self) -> int:
        """One pass over every unconfirmed message; returns how many could not be looked up and
        are worth another try."""
        left, after = 0, 0
        while True:
            page = self.store.unconfirmed(BATCH, after)
            if not page:
                return left
            left += await self._reconcile([(message, since) for message, since, _ in page])
            after = page[-1][2]

    async def _reconcile(self, pending: list[tuple[Message, str]]) -> int:
        # Messages handed over in one request share provider, time, sender and body: one lookup
        # answers for all of them (a Sinch batch of 1,000 is one list call, not 1,000).
        groups: dict[tuple[str, str, str, str], list[Message]] = {}
        for message, since in pending:
            groups.setdefault((message.provider or "", since, message.sender, message.body), []).append(message)
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(provider: str, since: str, messages: list[Message]) -> int:
            async with limit:
                return await self._settle(provider, since, messages)

        left = await asyncio.gather(
            *(
                one(provider, since, members[at : at + GROUP])
                for (provider, since, _, _), members in groups.items()
                for at in range(0, len(members), GROUP)
            )
        )
        return sum(left)

    async def _settle(self, provider: str, since: str, messages: list[Message]) -> int:
        """Ask ``provider`` about ``messages``; how many it could not tell about (ask again later)."""
        adapter = self.adapters.get(provider)
        if adapter is None:
            return 0  # no longer configured: only a delivery report can settle them
        outbound = [Outbound(m.id, m.to, m.sender, m.body, m.reference) for m in messages]
        try:
            found = await adapter.find(outbound, datetime.fromisoformat(since))
        except Exception:
            log.exception("%s lookup of %d unconfirmed message(s) raised", provider, len(messages))
            return len(messages)
        if found is None:
            return 0
        if isinstance(found, Failed):
            log.warning(
                "could not ask %s about %d unconfirmed message(s) yet: %s", provider, len(messages), found.message
            )
            return len(messages)
        for message, candidates in zip(messages, found, strict=True):
            # A match already recorded for another message is that message's, not this one's.
            fresh = [pid for pid in candidates if not self.store.reports.targets(provider, pid, None)]
            if fresh:
                log.info("%s had accepted unconfirmed %s as %s", provider, message.id, fresh[0])
                self.store.confirm(message.id, fresh[0], f"found at {provider} after a restart")
            else:
                log.info("%s has no record of unconfirmed %s: failed, not resent", provider, message.id)
                self.store.confirm(message.id, None, f"looked up at {provider} after a restart")
        return 0

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

BATCH: Final = 500  # messages looked up per pass
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
        while await self.reconcile():
            await self.clock.sleep(delay)
            delay = min(delay * 2, MAX_RETRY)

    async def reconcile(self) -> int:
        """One pass; returns how many lookups failed and are worth trying again."""
        limit = asyncio.Semaphore(CONCURRENCY)
        pending = self.store.unconfirmed(BATCH)
        if not pending:
            return 0

        async def one(message: Message, since: str) -> bool:
            async with limit:
                return await self._settle(message, since)

        settled = await asyncio.gather(*(one(message, since) for message, since in pending))
        return settled.count(False)

    async def _settle(self, message: Message, since: str) -> bool:
        """Ask the provider about ``message``; False if it could not tell (ask again later)."""
        provider = message.provider
        adapter = self.adapters.get(provider or "")
        if adapter is None:
            return True  # no longer configured: only a delivery report can settle it
        outbound = Outbound(message.id, message.to, message.sender, message.body, message.reference)
        try:
            found = await adapter.find(outbound, datetime.fromisoformat(since))
        except Exception:
            log.exception("%s lookup of unconfirmed %s raised", provider, message.id)
            return False
        if found is None:
            return True
        if isinstance(found, Failed):
            log.warning("could not ask %s about unconfirmed %s yet: %s", provider, message.id, found.message)
            return False
        assert provider is not None
        # A match already recorded for another message is that message's, not this one's.
        fresh = [pid for pid in found if not self.store.reports.targets(provider, pid, None)]
        if fresh:
            log.info("%s had accepted unconfirmed %s as %s", provider, message.id, fresh[0])
            self.store.confirm(message.id, fresh[0], f"found at {provider} after a restart")
        else:
            log.info("%s has no record of unconfirmed %s: failed, not resent", provider, message.id)
            self.store.confirm(message.id, None, f"looked up at {provider} after a restart")
        return True

"""``Tracking``: what runs beside the API for one gateway, along the delivery path

    provider report ──> delivery.inbound (pushed) or delivery.polling (asked for)
        ──> delivery.status.ReportApplier: the message's new status, in the store
        ──> store.outbox: the customer event, written with the change
        ──> delivery.outbox.Outbox: POSTed to the customer, signed, retried, in order

It starts and stops the outbox worker, the expiry of parked reports, the poller, and the
registration of the report URL with providers that need one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, Final

import httpx

from lynsms.clock import SYSTEM_CLOCK, Clock
from lynsms.gateway.config import ApiKey, GatewayConfig
from lynsms.gateway.delivery.callback_auth import CallbackAuth
from lynsms.gateway.delivery.outbox import Outbox, Targets
from lynsms.gateway.delivery.polling import Poller
from lynsms.gateway.delivery.status import ReportApplier
from lynsms.gateway.providers.base import ProviderAdapter
from lynsms.gateway.providers.transport import Http11Transport
from lynsms.gateway.store import Store
from lynsms.gateway.store.retention import BATCH, iso_ago

log = logging.getLogger("lynsms.gateway")

EXPIRY_INTERVAL: Final = 30.0  # longest wait between drops of expired parked reports
RETENTION_INTERVAL: Final = 5.0  # between rounds of forgetting old messages and idempotency keys


class Tracking:
    """Delivery-report ingestion, customer webhooks and polling for one running gateway."""

    def __init__(
        self,
        config: GatewayConfig,
        store: Store,
        adapters: Mapping[str, ProviderAdapter],
        api_keys: Sequence[ApiKey],
        clock: Clock = SYSTEM_CLOCK,
        keep_messages: int | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.keep_messages = keep_messages  # None: every message is kept
        self.clock = clock
        settings = config.webhooks
        self.callbacks = CallbackAuth(config.report_secret or store.secrets.get("report_secret"), config.public_url)
        self.applier = ReportApplier(store, settings.park_seconds, clock, settings.park_max)
        self.client = httpx.AsyncClient(
            # The providers' lean keep-alive transport: httpx's default pool costs more CPU per
            # webhook than everything else an event takes.
            transport=Http11Transport(max_connections=64),
            trust_env=False,  # a developer's proxy must not swallow webhooks to 127.0.0.1
            follow_redirects=False,
        )
        self.targets = Targets(settings, api_keys)
        self.outbox = Outbox(store, self.targets, settings, self.client, clock)
        self.poller = (
            Poller(store.reports, adapters, self.applier, settings.poll_after_seconds, clock)
            if settings.poll_after_seconds
            else None
        )
        self.adapters = adapters
        self.tasks: list[asyncio.Task[None]] = []
        self.registering: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._spawn(self.outbox.run())
        self._spawn(self._expire())
        self._spawn(self._forget())
        if self.poller is not None:
            self._spawn(self.poller.run())
        for name, adapter in self.adapters.items():
            url = self.callbacks.url(name)
            if url is not None:
                self._spawn(self._register(adapter, url))
                self.registering.append(self.tasks[-1])

    async def registered(self) -> None:
        """Wait until the start-up registrations with the providers (report URLs) have been
        answered or have failed: what a harness awaits before its first step, so those calls are
        not counted as the step's."""
        await asyncio.gather(*(asyncio.shield(task) for task in self.registering), return_exceptions=True)

    async def stop(self) -> None:
        await self.outbox.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.aclose()

    def timeline(self, message_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The message's stored events with its webhook deliveries, by time (stable: a status
        change comes before the webhook announcing it)."""
        return sorted(events + self.outbox.deliveries(message_id), key=lambda event: str(event["at"]))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self.tasks.append(asyncio.create_task(work))

    async def _expire(self) -> None:
        # Parked reports are applied when their message gets its provider id (``delivery.status``);
        # this only drops the ones that waited too long, through an index.
        interval = min(EXPIRY_INTERVAL, self.applier.park_seconds / 2)
        while True:
            await self.clock.sleep(interval)
            try:
                self.applier.expire()
            except Exception:
                log.exception("dropping expired delivery reports failed")

    async def _forget(self) -> None:
        """Retention: the oldest messages beyond ``keep_messages``, idempotency keys past their
        lifetime; in short batches, yielding between them, until nothing is left to do."""
        retention = self.store.retention
        while True:
            await self.clock.sleep(RETENTION_INTERVAL)
            try:
                while self.keep_messages is not None and retention.keep_newest(self.keep_messages) == BATCH:
                    await asyncio.sleep(0)
                while retention.expire_keys(iso_ago(self.clock, self.store.key_lifetime)) == BATCH:
                    await asyncio.sleep(0)
            except Exception:
                log.exception("store retention failed")

    async def _register(self, adapter: ProviderAdapter, url: str) -> None:
        # In the background: a provider that is down must not hold up the gateway's start.
        failed = await adapter.register_report_url(url)
        if failed is not None:
            log.warning(
                "%s delivery reports not registered for %s (%s: %s); polling or a manual rule is needed",
                adapter.name,
                url,
                failed.reason,
                failed.message,
            )

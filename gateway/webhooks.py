"""``POST /api/v1/webhooks/{provider}``: delivery reports in, and the background work around them.

Providers authenticate with no Bearer key. Twilio signs its callbacks (``X-Twilio-Signature`` over
the URL it was given, i.e. ``public_url`` + path + query, and the form): a forged or unsigned one
is refused with 403 ``invalid_signature`` before anything is read into the store. Sinch, Infobip
and ClickSend do not sign SMS reports; those are matched against ids only the gateway and that
provider know.

The answer is 200 for every well-formed report, including one for a message the gateway does
not know (yet): providers retry non-2xx answers, and retrying cannot make an unknown id known.
Such reports are parked for a while instead (see ``gateway.dlr``). A body that is not the
provider's report is 400 ``invalid_report``, so a misconfigured sender learns it at once.

``Tracking`` owns the pieces that run beside the API: the outbox worker (customer webhooks), the
reconciler of parked reports, the poller, and ClickSend's receipt-URL registration.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl

import httpx
from starlette.requests import Request

from lynsms.gateway.config import ApiKey, GatewayConfig
from lynsms.gateway.dlr import Tracker
from lynsms.gateway.errors import (
    InvalidReport,
    InvalidSignature,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from lynsms.gateway.outbox import Outbox, Targets
from lynsms.gateway.polling import Poller
from lynsms.gateway.providers import registry
from lynsms.gateway.providers.base import ProviderAdapter, ReportVerifier
from lynsms.gateway.providers.http import FORM_TYPE
from lynsms.gateway.providers.names import PROVIDER_NAMES
from lynsms.gateway.providers.reports import Report, ReportError
from lynsms.gateway.providers.transport import Http11Transport
from lynsms.gateway.store import Store

log = logging.getLogger("lynsms.gateway")

MAX_REPORT_BYTES: Final = 1024 * 1024
RECONCILE_INTERVAL: Final = 0.25  # how soon a parked report follows its message's commit


class Tracking:
    """Delivery-report ingestion, customer webhooks and polling for one running gateway."""

    def __init__(
        self, config: GatewayConfig, store: Store, adapters: Mapping[str, ProviderAdapter], api_keys: Sequence[ApiKey]
    ) -> None:
        self.config = config
        settings = config.webhooks
        self.tracker = Tracker(store.db, settings.park_seconds)
        self.client = httpx.AsyncClient(
            # The providers' lean keep-alive transport: httpx's default pool costs more CPU per
            # webhook than everything else an event takes.
            transport=Http11Transport(max_connections=64),
            trust_env=False,  # a developer's proxy must not swallow webhooks to 127.0.0.1
            follow_redirects=False,
        )
        self.targets = Targets(settings, api_keys)
        self.outbox = Outbox(store.db, self.targets, settings, store.get, self.client)
        self.poller = (
            Poller(store.db, adapters, self.tracker, settings.poll_after_seconds)
            if settings.poll_after_seconds
            else None
        )
        self.adapters = adapters
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._spawn(self.outbox.run())
        self._spawn(self._reconcile())
        if self.poller is not None:
            self._spawn(self.poller.run())
        if self.config.public_url:
            for name, adapter in self.adapters.items():
                self._spawn(self._register(adapter, f"{self.config.public_url}/api/v1/webhooks/{name}"))

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

    async def _reconcile(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_INTERVAL)
            try:
                self.tracker.reconcile()
            except Exception:
                log.exception("applying parked delivery reports failed")

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


async def receive(request: Request) -> dict[str, Any]:
    """Parse, verify and apply one provider webhook; the ``data`` of the 200 answer."""
    provider = request.path_params["provider"]
    if provider not in PROVIDER_NAMES:
        raise NotFound(f"no such provider webhook: {provider!r} (expected one of {', '.join(PROVIDER_NAMES)})")
    spec = registry.provider(provider)
    tracking: Tracking = request.app.state.tracking
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media not in spec.report_media_types:
        raise UnsupportedMediaType(
            f"{provider} delivery reports are {' or '.join(spec.report_media_types)}, not {media or 'untyped'}"
        )
    raw = await _read(request)
    if media == FORM_TYPE:
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidReport(f"the {provider} report is not a UTF-8 form: {exc}") from None
        if spec.verify_report is not None:
            _verify(request, tracking.config, spec.verify_report, pairs)
        data: Any = dict(pairs)
    else:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidReport(f"the {provider} report is not JSON: {exc}") from None
    try:
        reports: list[Report] = spec.parse_reports(data)
    except ReportError as exc:
        raise InvalidReport(str(exc)) from None
    applied = tracking.tracker.apply(reports, "webhook")
    return {"object": "report_receipt", "provider": provider, **applied.to_json()}


async def _read(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():  # counted as it arrives: Content-Length can lie
        size += len(chunk)
        if size > MAX_REPORT_BYTES:
            raise PayloadTooLarge(f"a delivery report is at most {MAX_REPORT_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _verify(request: Request, config: GatewayConfig, verify: ReportVerifier, pairs: Sequence[tuple[str, str]]) -> None:
    provider = config.providers.get(request.path_params["provider"])
    credentials = provider.settings.credentials if provider else {}
    # Signed over the URL the provider was given: public_url + path + query.
    base = config.public_url or str(request.base_url).rstrip("/")
    url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    problem = verify(credentials, url, pairs, request.headers)
    if problem is not None:
        raise InvalidSignature(problem)

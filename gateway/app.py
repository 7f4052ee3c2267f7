"""``create_app()``: the gateway as an ASGI app that owns its store and provider connections.

The store and the providers' pooled transports open in the Starlette lifespan and close with
it, so one process can start and stop gateways (tests, ``lynsms up``) without leaking sockets.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Final

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from lynsms.clock import SYSTEM_CLOCK, Clock, SystemClock
from lynsms.gateway import api, docs
from lynsms.gateway.config import GatewayConfig, default_config, effective_api_keys
from lynsms.gateway.delivery.reconcile import Reconciler
from lynsms.gateway.delivery.tracking import Tracking
from lynsms.gateway.installation import installed
from lynsms.gateway.providers.base import ProviderAdapter
from lynsms.gateway.routing import CircuitBreaker
from lynsms.gateway.service import Gateway
from lynsms.gateway.store import Store
from lynsms.header_limit import HeaderLimit

log = logging.getLogger("lynsms.gateway")

# The in-memory store keeps the newest this many messages (~1 KB each) unless configured: a soak
# test of millions of sends must run in constant memory, as the simulator's own store does.
IN_MEMORY_MAX_MESSAGES: Final = 50_000


def create_app(
    config: GatewayConfig | None = None,
    db_path: str = ":memory:",
    *,
    adapters: Mapping[str, ProviderAdapter] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    environ: Mapping[str, str] = os.environ,
) -> Starlette:
    """The gateway. ``adapters`` replaces the real provider adapters (tests); ``clock`` is what the
    gateway reads and waits on (timestamps, circuit-breaker cool-downs, webhook back-off, polling,
    parked-report expiry, provider HTTP timeouts); ``environ`` is where ``LYNSMS_API_KEY``
    and the proxy variables (``HTTPS_PROXY``...) are read from."""
    config = config or default_config()
    api_keys = effective_api_keys(config, environ)
    if not api_keys:
        log.warning("no API key configured (config api_keys or LYNSMS_API_KEY): every /api/v1 request will get 401")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = Store(db_path, clock)
        transports: list[httpx.AsyncBaseTransport] = []
        tracking: Tracking | None = None
        reconciling: asyncio.Task[None] | None = None
        try:
            running = app.state.config = installed(config, store.secrets)
            chosen = dict(adapters) if adapters is not None else _real_adapters(running, transports, environ, clock)
            # Before recovery: messages it fails are announced to the customer like any other change.
            store.key_lifetime = running.store.key_lifetime_seconds
            keep = running.store.max_messages or (IN_MEMORY_MAX_MESSAGES if db_path == ":memory:" else None)
            tracking = app.state.tracking = Tracking(running, store, chosen, api_keys, clock, keep)
            interrupted = store.interrupt()
            if interrupted.failed or interrupted.unconfirmed:
                log.warning(
                    "a previous run stopped mid-routing: %d message(s) no provider was asked about failed "
                    "(interrupted), %d in flight to a provider are unconfirmed until it is asked",
                    interrupted.failed,
                    interrupted.unconfirmed,
                )
            reconciling = asyncio.create_task(Reconciler(store, chosen, clock).run())
            breaker = CircuitBreaker(config.breaker.failure_threshold, config.breaker.cooldown_seconds, clock.monotonic)
            report_urls = tracking.callbacks.report_urls(list(running.providers))
            app.state.gateway = Gateway(running, store, chosen, breaker, clock, report_urls)
            tracking.start()  # delivery reports, customer webhooks, polling
            yield
        finally:
            if reconciling is not None:
                reconciling.cancel()
                await asyncio.gather(reconciling, return_exceptions=True)
            if tracking is not None:
                await tracking.stop()
            for transport in transports:
                await transport.aclose()
            store.close()

    app = Starlette(
        routes=[*api.routes, *docs.routes],
        middleware=[Middleware(HeaderLimit, too_large=api.headers_too_large)],
        lifespan=lifespan,
        exception_handlers={HTTPException: api.http_exception, Exception: api.server_error},
    )
    app.state.api_keys = api_keys
    app.state.config = config
    return app


def _real_adapters(
    config: GatewayConfig, transports: list[httpx.AsyncBaseTransport], environ: Mapping[str, str], clock: Clock
) -> dict[str, ProviderAdapter]:
    # Imported here so the pure parts of the gateway load without the adapter package.
    from lynsms.gateway.providers.clocked import ClockedTimeouts
    from lynsms.gateway.providers.registry import build_adapter
    from lynsms.gateway.providers.transport import for_provider

    built: dict[str, ProviderAdapter] = {}
    for name, provider in config.providers.items():
        # One connection pool per provider: a slow provider cannot starve the others' connections.
        # Http11Transport rather than httpx's default: about a third of the CPU per request, and
        # no per-request scan of the pool; httpx's own only where a proxy is configured (see
        # providers/transport.py).
        transport = for_provider(provider.settings.base_url, environ)
        if not isinstance(clock, SystemClock):
            transport = ClockedTimeouts(transport, clock)
        transports.append(transport)
        built[name] = build_adapter(provider.settings, transport)
    return built

"""One long-lived server, a fresh gateway app per test: test isolation at a fraction of a restart.

A gateway keeps state a test must not inherit: its store (messages, idempotency keys), the
circuit breaker (five timeouts in one test would open Twilio's circuit for the next 30 s), its
configuration. Starting a new uvicorn server per test isolates all of it but costs ~100 ms to
start and ~160 ms to stop (uvicorn checks ``should_exit`` every 100 ms). Instead the server
stays up for the session and serves a ``_Mount`` that forwards each request to the app of the
current test; each app's ASGI lifespan (store, provider clients) is driven by hand on the
server's own event loop, because its ``httpx.AsyncClient``s must live on the loop that uses them.
Measured: mounting a fresh gateway takes ~1.5 ms and unmounting ~0.5 ms.

``SmsGateway`` is what a test holds: the URL, the API key and a ready ``httpx.Client``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Self, TypeVar

import httpx

from lynsms.gateway.config import GatewayConfig, default_config, parse_config
from lynsms.simulator.harness.server import ServerThread
from lynsms.tls import client_tls

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Any  # Callable[[], Awaitable[Message]]; kept loose: ASGI apps type these variously
Send = Any
App = Any

T = TypeVar("T")
LIFESPAN_TIMEOUT = 30.0


class Lifespan:
    """Runs an ASGI app's lifespan protocol by hand: ``await start()``, later ``await stop()``."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        self._task = asyncio.ensure_future(self._run(scope))
        await self._exchange("startup")

    async def stop(self) -> None:
        if self._task is None or self._task.done():
            return
        await self._exchange("shutdown")
        await self._task

    async def _run(self, scope: Scope) -> None:
        await self.app(scope, self._to_app.get, self._from_app.put)

    async def _exchange(self, event: str) -> None:
        assert self._task is not None
        await self._to_app.put({"type": f"lifespan.{event}"})
        reply: asyncio.Future[Message] = asyncio.ensure_future(self._from_app.get())
        waiting: list[asyncio.Future[Any]] = [reply, self._task]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():
            # The app returned or raised without answering; surface its exception if it has one.
            reply.cancel()
            self._task.result()
            raise RuntimeError(f"the app finished its lifespan without answering lifespan.{event}")
        message = reply.result()
        if message["type"].endswith(".failed"):
            await asyncio.gather(self._task, return_exceptions=True)  # retrieve it: no "never retrieved" noise
            raise RuntimeError(f"gateway {event} failed: {message.get('message') or 'no detail'}")


class _Mount:
    """The ASGI app the long-lived server runs: forwards every request to ``current``."""

    def __init__(self) -> None:
        self.current: Lifespan | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._own_lifespan(receive, send)
            return
        mounted = self.current
        if mounted is None:
            # Between tests: e.g. a delivery report for the previous test's message, arriving late.
            await _no_gateway(scope, send)
            return
        await mounted.app({**scope, "state": dict(mounted.state)}, receive, send)

    async def _own_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.loop = asyncio.get_running_loop()  # where every mounted app must run
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _no_gateway(scope: Scope, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = json.dumps(
        {"success": False, "error": {"code": "no_gateway", "message": "no test is running: no gateway is mounted"}}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GatewayHost:
    """A uvicorn server on a free port whose app is swapped with ``mount``/``unmount``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._mount = _Mount()
        self.server = ServerThread(self._mount, host=host)
        self.url = self.server.url

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.unmount()
        self.server.stop()

    def mount(self, app: App) -> None:
        """Start ``app``'s lifespan on the server's loop and route every request to it."""
        self.unmount()
        lifespan = Lifespan(app)
        self.call(lifespan.start())
        self._mount.current = lifespan

    def unmount(self) -> None:
        """Stop routing to the current app, then shut its lifespan down (closes store and clients)."""
        lifespan, self._mount.current = self._mount.current, None
        if lifespan is not None:
            self.call(lifespan.stop())

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the server's event loop, where the mounted app lives; its result."""
        loop = self._mount.loop
        if loop is None:
            coroutine.close()
            raise RuntimeError("the gateway host is not started")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=LIFESPAN_TIMEOUT)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


GatewayConfigSetting = GatewayConfig | Mapping[str, Any] | None


def gateway_config(setting: GatewayConfigSetting, simulator_url: str, public_url: str, api_key: str) -> GatewayConfig:
    """The config of one test's gateway: ``setting`` is a ``GatewayConfig``, a mapping in the config
    file format (docs/gateway.md; providers without ``base_url`` point at the simulator), or None
    for the built-in default. Delivery reports come back to ``public_url`` unless it says otherwise."""
    if setting is None:
        config = default_config(simulator_url)
    elif isinstance(setting, GatewayConfig):
        config = setting
    else:
        config = parse_config(dict(setting), simulator_url, source="lynsms_gateway_config")
    if config.public_url is None:
        config = replace(config, public_url=public_url)
    return config.with_api_key(api_key, name="pytest")


@dataclass
class SmsGateway:
    """A test's gateway: ``client`` is an ``httpx.Client`` with the base URL and the API key set.

    What any fresh gateway does at start-up, e.g. registering its ClickSend receipt URL, is over
    before the test starts; the simulator's journal shows those calls first."""

    url: str
    api_key: str
    config: GatewayConfig = field(repr=False)
    client: httpx.Client = field(repr=False)

    def send(
        self, *, to: str, body: str, from_: str = "LynSMS", idempotency_key: str | None = None, **fields: Any
    ) -> httpx.Response:
        """``POST /api/v1/messages/send``; ``fields`` are the other request fields (``route_id``,
        ``provider``, ``reference``...). Returns the response whatever its status: failures are
        what many tests are about."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        payload = {"to": to, "from": from_, "body": body, **fields}
        return self.client.post("/api/v1/messages/send", json=payload, headers=headers)


@dataclass
class AsyncSmsGateway:
    """The test's gateway for ``async def`` tests (any runner: pytest-asyncio, anyio): the same
    gateway as ``sms_gateway``, with a client made inside the test's own event loop, where an
    ``httpx.AsyncClient`` has to live: ``async with gateway.client() as client: ...``."""

    url: str
    api_key: str
    config: GatewayConfig = field(repr=False)

    def client(self, **options: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` with the base URL and the API key set; close it (``async with``)."""
        headers = {"Authorization": f"Bearer {self.api_key}", **options.pop("headers", {})}
        options.setdefault("verify", client_tls())
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=options.pop("timeout", 30.0), **options)

    async def send(
        self, *, to: str, body: str, from_: str = "LynSMS", idempotency_key: str | None = None, **fields: Any
    ) -> httpx.Response:
        """``POST /api/v1/messages/send``, as ``SmsGateway.send``."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        async with self.client() as client:
            return await client.post(
                "/api/v1/messages/send", json={"to": to, "from": from_, "body": body, **fields}, headers=headers
            )

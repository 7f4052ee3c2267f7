"""The gateway's admin endpoint (``lynsms up --admin``, ``lynsms gateway --admin``): a scenario's
``gateway:`` settings applied at run time, so ``lynsms scenario run --gateway URL --simulator URL``
replays the library against a gateway someone started, with each scenario's settings in effect.

``PUT /api/admin/gateway`` with ``Authorization: Bearer <API key>`` and a JSON body
``{"gateway": {...a scenario's gateway block...}, "webhook_url": "http://..."}`` (both optional)
replaces the running gateway with a fresh one configured from that block, exactly as the replay
runner configures the gateway it starts: empty in-memory store (or the same ``--db`` file), closed
circuit breakers, every provider on the simulator. ``DELETE /api/admin/gateway`` brings back the
gateway the command started with. Off unless enabled: without ``--admin`` the path is the
gateway's own 404.

It lives in the harness, around the gateway app, so the gateway itself knows nothing of scenarios.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Final

from lynsms.simulator.harness.gateway_host import App, Lifespan, Message, Receive, Scope, Send

ADMIN_PATH: Final = "/api/admin/gateway"

# Builds a gateway app from a scenario's gateway block and an optional webhook URL; raises
# ``lynsms.gateway.config.ConfigError`` for settings the gateway refuses.
Build = Callable[[Mapping[str, Any], str | None], App]


class AdminGateway:
    """An ASGI app: the admin endpoint, and every other request forwarded to the current gateway."""

    def __init__(self, startup: App, build: Build, started: Callable[[App], None] | None = None) -> None:
        self.startup = startup
        self.build = build
        # Told of each gateway swapped in, once it runs: ``lynsms up`` registers its inbound URLs
        # with the simulator there, so replies reach the gateway that now serves.
        self.started = started
        # The keys the admin endpoint accepts: the ones of the gateway the command started.
        self.api_keys = tuple(key.key for key in startup.state.api_keys)
        self.current = Lifespan(startup)
        self._swap = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http" and scope["path"] == ADMIN_PATH:
            await self._admin(scope, receive, send)
        else:
            current = self.current
            await current.app({**scope, "state": dict(current.state)}, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.current.start()
                except RuntimeError as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            else:
                await self.current.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        token = headers.get(b"authorization", b"").decode("latin-1").removeprefix("Bearer ").strip()
        if not token or not any(secrets.compare_digest(token, key) for key in self.api_keys):
            await _answer(send, 401, _error("unauthorized", "the admin endpoint takes the gateway's API key as Bearer"))
            return
        if scope["method"] == "DELETE":
            await self._replace(self.startup)
            await _answer(send, 200, _ok({"gateway": "the configuration it started with"}))
            return
        if scope["method"] != "PUT":
            await _answer(send, 405, _error("method_not_allowed", "PUT a scenario's gateway settings, or DELETE"))
            return
        try:
            body = json.loads(await _body(receive) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body is a JSON object")
            settings, webhook_url = body.get("gateway") or {}, body.get("webhook_url")
            if not isinstance(settings, dict) or not (webhook_url is None or isinstance(webhook_url, str)):
                raise ValueError('"gateway" is an object (a scenario\'s gateway block), "webhook_url" a string')
        except ValueError as exc:
            await _answer(send, 400, _error("invalid_json", f"not a settings document: {exc}"))
            return
        from lynsms.gateway.config import ConfigError

        try:
            app = self.build(settings, webhook_url)
        except ConfigError as exc:
            problems = [{"path": ".".join(map(str, p.path)), "message": p.message} for p in exc.problems]
            await _answer(send, 422, _error("invalid_settings", str(exc), problems=problems))
            return
        await self._replace(app)
        await _answer(send, 200, _ok({"gateway": settings, "webhook_url": webhook_url}))

    async def _replace(self, app: App) -> None:
        async with self._swap:
            fresh = Lifespan(app)
            await fresh.start()
            # Its start-up calls to the providers (ClickSend's receipt URL) are over before the
            # answer: a replay's first step must not count them.
            tracking = getattr(app.state, "tracking", None)
            if tracking is not None:
                await tracking.registered()
            if self.started is not None:
                self.started(app)
            previous, self.current = self.current, fresh
            await previous.stop()


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data, "meta": {"request_id": f"req_{secrets.token_hex(12)}"}}


def _error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    error = {"code": code, "message": message, **extra}
    return {"success": False, "error": error, "meta": {"request_id": f"req_{secrets.token_hex(12)}"}}


async def _answer(send: Send, status: int, document: Any) -> None:
    body = json.dumps(document).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

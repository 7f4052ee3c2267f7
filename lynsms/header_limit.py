"""A cap on the total size of a request's headers, for the simulator and the gateway alike.

uvicorn's default parser (httptools) reads headers of any size: a 16 MB ``Idempotency-Key`` was
accepted. The cap answers ``431 Request Header Fields Too Large`` (RFC 6585) before any endpoint
runs; each app words the answer in its own format through ``too_large``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

# Names and values together. nginx allows 4 x 8 KiB of header lines by default, Node.js 16 KiB.
MAX_HEADER_BYTES: Final = 32 * 1024


class HeaderLimit:
    def __init__(
        self, app: ASGIApp, too_large: Callable[[Request], Awaitable[Response]], limit: int = MAX_HEADER_BYTES
    ) -> None:
        self.app = app
        self.too_large = too_large
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and sum(len(name) + len(value) for name, value in scope["headers"]) > self.limit:
            response = await self.too_large(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

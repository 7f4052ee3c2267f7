"""One line per request, for people watching ``lynsms up``: which server, what, the answer, how long.

    12:04:31 gateway    POST /api/v1/messages/send -> 201  3.1 ms

Logged at INFO on ``lynsms.requests`` (stderr), so ``--log-level warning`` turns it off; off by
default for the simulator and the gateway run alone, where load tests would drown in it.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

LOG_LEVELS: Final = ("debug", "info", "warning", "error")
log = logging.getLogger("lynsms.requests")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    # uvicorn's own access log would repeat every line; its errors stay.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def logged(app: Any, name: str) -> Any:
    """``app`` wrapped so each HTTP request is logged when it ends (nothing added when INFO is off)."""
    return RequestLog(app, name) if log.isEnabledFor(logging.INFO) else app


class RequestLog:
    """An ASGI wrapper; ``state`` is the wrapped app's, so the server still finds what it reads there."""

    def __init__(self, app: Any, name: str) -> None:
        self.app = app
        self.name = name
        self.state = getattr(app, "state", None)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            answered = f"-> {status[0]}" if status else "-> no response"
            took = (time.perf_counter() - started) * 1000
            path = scope["path"] + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
            log.info("%-10s %s %s %s  %.1f ms", self.name, scope["method"], path, answered, took)

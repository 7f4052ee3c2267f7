"""A webhook endpoint for tests: records every request (headers, raw body) and answers with the
statuses a test scripts, in turn (then 200)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lynsms.simulator.harness.server import ServerThread


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.answers: list[int] = []
        self._server = ServerThread(Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])]))
        self.url = self._server.url

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.received.append(Received(request.url.path, dict(request.headers), body))
            status = self.answers.pop(0) if self.answers else 200
        return JSONResponse({"ok": status < 300}, status_code=status)

    def wait(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = threading.Event()
        for _ in range(int(timeout / 0.01)):
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            deadline.wait(0.01)
        raise AssertionError(f"expected {count} requests, got {len(self.received)}: {self.received}")

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.answers.clear()

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.stop()

"""Rendering request-level trouble: scripted HTTP errors and network faults.

Network faults act at the ASGI level, below HTTP: each is a ``Response`` whose ``__call__`` holds,
aborts or garbles the exchange instead of sending a normal reply.

- ``timeout`` waits on ``receive()`` for the client's disconnect, capped; nothing blocks but one
  coroutine, so 200 held requests cost 200 sleeping tasks and no worker. At the cap the answer is the
  provider's 504, as a load balancer in front of a real provider would give.
- ``connection_reset`` sets SO_LINGER 0 and aborts the transport: the kernel sends an RST.
- ``empty_reply`` closes the connection after reading the request, without a byte of response.
- ``malformed_body`` / ``slow_body`` take the provider's real success response (the message *was*
  accepted) and truncate it, or dribble it over N seconds.

uvicorn's ``receive`` is a bound method of its request cycle, whose ``transport`` is the connection;
in-process transports (httpx's ASGITransport) have no socket, and socket faults raise there.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from lynsms.clock import Clock, utc_now
from lynsms.simulator.decision import Decision
from lynsms.simulator.messages import Submission
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.base import Provider

DEFAULT_TIMEOUT = 30.0  # timeout cap when a decision names none
DEFAULT_SLOW_BODY = 3.0
_DRIBBLE_CHUNKS = 20
_LINGER_ZERO = struct.pack("ii", 1, 0)


class Faults:
    """Renders request-level trouble; scripted waits (timeout caps, slow bodies) run on ``clock``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def render(
        self,
        provider: Provider[Any],
        decision: Decision,
        entry: JournalEntry | None = None,
        submission: Submission | None = None,
    ) -> Response:
        """The response for request-level trouble: an ``http_error`` or a socket-level fault
        (``submission``: the request's first message, which picks the error format's API version)."""
        if decision.kind == "http_error":
            status = decision.status or 500
            if decision.body is None:
                return provider.http_error(status, decision.retry_after, submission)
            response = Response(
                decision.body, status_code=status, media_type=decision.content_type or "application/json"
            )
            if decision.retry_after is not None:
                response.headers["Retry-After"] = str(decision.retry_after)
            return response
        if decision.fault == "timeout":
            cap = decision.fault_seconds if decision.fault_seconds is not None else DEFAULT_TIMEOUT
            return _Hold(cap, provider.http_error(504, submission=submission), entry, self.clock)
        if decision.fault in ("connection_reset", "empty_reply"):
            return _Drop(reset=decision.fault == "connection_reset", entry=entry, clock=self.clock)
        raise ValueError(f"cannot render {decision.kind} {decision.fault} without a success response")

    def garble(self, success: Response, decision: Decision, entry: JournalEntry | None = None) -> Response:
        """A success response made unreadable (``malformed_body``) or slow (``slow_body``)."""
        body = bytes(success.body)
        if decision.fault == "malformed_body":
            # Cut inside the document: valid UTF-8, never valid JSON, the Content-Type still promising it.
            cut = body[: max(1, len(body) // 2)].decode("utf-8", "ignore").encode("utf-8")
            return Response(
                cut, status_code=success.status_code, headers=_headers(success), media_type=success.media_type
            )
        if decision.fault == "slow_body":
            seconds = decision.fault_seconds if decision.fault_seconds is not None else DEFAULT_SLOW_BODY
            return _Dribble(body, seconds, success, entry, self.clock)
        raise ValueError(f"{decision.fault} is not a body fault")


def _headers(response: Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}


def _transport(receive: Receive) -> asyncio.Transport | None:
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    # Duck-typed: uvloop's transports do not subclass asyncio's.
    return transport if all(hasattr(transport, a) for a in ("abort", "close", "get_extra_info")) else None


async def _disconnect(receive: Receive, within: float, clock: Clock | None = None) -> bool:
    """Wait up to ``within`` seconds (on ``clock``, else real time) for the client to go away; True if it did."""

    async def gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    if clock is None:
        try:
            async with asyncio.timeout(within):
                await gone()
        except TimeoutError:
            return False
        return True
    waiting = asyncio.ensure_future(gone())
    cap = asyncio.ensure_future(clock.sleep(within))
    try:
        done, _ = await asyncio.wait({waiting, cap}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        cap.cancel()
        if not waiting.done():
            waiting.cancel()
    if waiting in done:
        waiting.result()  # a failing receive() fails the response, as before
        return True
    return False


def _finish(entry: JournalEntry | None, status: int | None, clock: Clock, **outcome: Any) -> None:
    """Record what really happened: the endpoint wrapper journaled before the fault played out."""
    if entry is None:
        return
    entry.status = status
    entry.outcome = {**entry.outcome, **outcome}
    entry.duration_ms = (utc_now(clock) - entry.at).total_seconds() * 1000


class _Hold(Response):
    """``timeout``: say nothing until the client gives up, or answer ``late`` at the cap."""

    def __init__(self, cap: float, late: Response, entry: JournalEntry | None, clock: Clock) -> None:
        super().__init__(status_code=late.status_code)
        self.cap, self.late, self.entry, self.clock = cap, late, entry, clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await _disconnect(receive, self.cap, self.clock):
            _finish(self.entry, None, self.clock, client_gave_up=True)
            return
        _finish(self.entry, self.late.status_code, self.clock, client_gave_up=False)
        await self.late(scope, receive, send)


class _Drop(Response):
    """``connection_reset`` (RST) or ``empty_reply`` (FIN): the connection ends without a response."""

    def __init__(self, reset: bool, entry: JournalEntry | None, clock: Clock) -> None:
        super().__init__(status_code=502)  # only read by in-process callers; no status line is ever sent
        self.reset, self.entry, self.clock = reset, entry, clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = _transport(receive)
        if transport is None:
            _finish(self.entry, None, self.clock)
            raise ConnectionResetError(
                "network faults need a real server connection (no transport in this ASGI server)"
            )
        if self.reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # Without SO_LINGER on this socket, abort still drops the connection, with a FIN.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
            transport.abort()
        else:
            transport.close()
        # Let the server notice the connection is gone, so it does not try to send a 500 on it.
        await _disconnect(receive, 1.0)
        _finish(self.entry, None, self.clock)


class _Dribble(Response):
    """``slow_body``: the real success response, its body sent in small pieces over ``seconds``."""

    def __init__(
        self, body: bytes, seconds: float, success: Response, entry: JournalEntry | None, clock: Clock
    ) -> None:
        super().__init__(status_code=success.status_code, headers=_headers(success), media_type=success.media_type)
        self.payload, self.seconds, self.entry, self.clock = body, seconds, entry, clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        headers.append((b"content-length", str(len(self.payload)).encode()))
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        size = len(self.payload)
        pieces = max(1, min(_DRIBBLE_CHUNKS, size))
        clock = self.clock
        started = clock.monotonic()
        for i in range(pieces):
            # Spread the pauses so the last byte leaves at ``seconds``, however long each send took.
            await clock.sleep(max(0.0, started + self.seconds * (i + 1) / pieces - clock.monotonic()))
            # Proportional bounds: no piece is empty, so the last byte is in the last piece (with
            # equal pieces of the rounded-up size, the body could run out a piece or two early).
            chunk = self.payload[size * i // pieces : size * (i + 1) // pieces]
            await send({"type": "http.response.body", "body": chunk, "more_body": i < pieces - 1})
        _finish(self.entry, self.status_code, self.clock)

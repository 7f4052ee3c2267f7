"""The proxy's connections: uvicorn runs this as the ``http`` protocol of the proxy port.

A connection opens with one request head. ``CONNECT <provider host>:<port>`` is answered 200, TLS is
terminated with a leaf certificate for that host (see ``ca``), and the decrypted connection is handed
to uvicorn's own HTTP protocol serving the proxy app. Any other request (plain-HTTP proxying,
``GET /_sim/ca.pem``) is handed over as it is. Everything else is refused in plain words on the wire
and in one log line, and the connection closes; the proxy keeps serving:

- CONNECT to any other host: 502 naming the host (never forwarded);
- a malformed CONNECT line or request head: 400;
- TLS spoken to this plain port: 400 (the client sees a TLS error; the log says what happened);
- a head over 16 KiB: 431.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from lynsms.simulator.hosts import hostname, provider_of_host
from lynsms.simulator.proxy.app import refusal
from lynsms.simulator.proxy.ca import installation_ca

log = logging.getLogger("lynsms.proxy")

MAX_HEAD = 16 * 1024
HEAD_TIMEOUT = 30.0
TLS_HANDSHAKE_TIMEOUT = 30.0
TLS_RECORD = 0x16  # the first byte of a TLS ClientHello
CONNECT = re.compile(rb"CONNECT (?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5}) HTTP/1\.[01]")


class ProxyProtocol(asyncio.Protocol):
    """One client connection to the proxy port, until it is handed to uvicorn's HTTP protocol."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.loop = _loop or asyncio.get_event_loop()
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.tunnel: str | None = None  # the CONNECT host, once accepted
        self.timer: asyncio.TimerHandle | None = None

    # ---- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.server_state.connections.add(self)  # type: ignore[arg-type]  # uvicorn only calls shutdown()
        self.timer = self.loop.call_later(HEAD_TIMEOUT, self._timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self._cancel_timer()

    def data_received(self, data: bytes) -> None:
        self.head += data
        if self.tunnel is not None:
            return  # bytes after the handshake, before the hand-over: kept for the HTTP protocol
        if self.head[:1] == bytes([TLS_RECORD]):
            self._refuse(
                400,
                "TLS spoken to the proxy's plain port: configure it as an http:// proxy "
                "(HTTPS_PROXY=http://host:port); HTTPS goes through CONNECT",
            )
            return
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > MAX_HEAD:
                self._refuse(431, f"request head over {MAX_HEAD} bytes")
            return
        self._cancel_timer()
        line = bytes(self.head[: self.head.find(b"\r\n")])
        if line.startswith(b"CONNECT "):
            self._connect(line, bytes(self.head[end + 4 :]))
        elif line.startswith(b"CONNECT"):
            self._refuse(400, f"malformed CONNECT line {_show(line)}: expected CONNECT host:port HTTP/1.1")
        else:
            data, self.head = bytes(self.head), bytearray()
            self._hand_over(self._transport(), data)

    def shutdown(self) -> None:  # uvicorn calls this on every connection when it stops
        self._transport().close()

    # ---- CONNECT ---------------------------------------------------------------------------------

    def _connect(self, line: bytes, rest: bytes) -> None:
        match = CONNECT.fullmatch(line)
        if match is None or not 0 < int(match["port"]) < 65536:
            self._refuse(400, f"malformed CONNECT line {_show(line)}: expected CONNECT host:port HTTP/1.1")
            return
        host = hostname(match["host"].decode("ascii"))
        if provider_of_host(host) is None:
            self._refuse(502, refusal(host).strip())
            return
        if rest:
            self._refuse(400, "data sent after CONNECT before the proxy answered it")
            return
        self.tunnel, self.head = host, bytearray()
        transport = self._transport()
        # The ClientHello may follow the 200 at once: it must stay unread until TLS takes over.
        transport.pause_reading()
        transport.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.loop.create_task(self._start_tls(transport, host))

    async def _start_tls(self, transport: asyncio.Transport, host: str) -> None:
        try:
            context: ssl.SSLContext = installation_ca().server_context(host)
            tls = await self.loop.start_tls(
                transport, self, context, server_side=True, ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            # The usual cause: the client does not trust the CA (it said so with a TLS alert).
            log.warning("proxy: TLS handshake for %s failed (does the client trust the CA?): %s", host, exc)
            transport.close()
            return
        if tls is None:  # the client left during the handshake
            return
        data, self.head = bytes(self.head), bytearray()
        self._hand_over(tls, data)

    # ---- hand-over and refusals ------------------------------------------------------------------

    def _hand_over(self, transport: asyncio.Transport, data: bytes) -> None:
        protocol = HttpToolsProtocol(self.config, self.server_state, self.app_state, _loop=self.loop)
        self.server_state.connections.discard(self)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if data:
            protocol.data_received(data)

    def _refuse(self, status: int, reason: str) -> None:
        peer = self._transport().get_extra_info("peername")
        log.warning("proxy: refused %s: %s", peer[0] if peer else "a client", reason)
        body = f"LynSMS proxy: {reason.removeprefix('LynSMS proxy: ')}\n".encode()
        phrase = {400: "Bad Request", 431: "Request Header Fields Too Large", 502: "Bad Gateway"}[status]
        head = (
            f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        transport = self._transport()
        transport.write(head + body)
        transport.close()
        self._cancel_timer()

    def _timed_out(self) -> None:
        self.timer = None
        self._transport().close()

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _transport(self) -> asyncio.Transport:
        assert self.transport is not None
        return self.transport


def _show(line: bytes) -> str:
    return repr(line[:100].decode("latin-1"))

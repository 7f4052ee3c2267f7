"""A lean HTTP/1.1 keep-alive transport for the provider adapters.

Why it exists: httpx's default transport (httpcore over anyio) costs about a millisecond of CPU
per request, and its pool re-examines every connection (polling each idle socket) whenever a
request starts or ends, so with 32 sends in flight the HTTP client, not the provider, capped the
gateway at ~300 messages/s. This transport speaks the part of HTTP/1.1 that provider APIs use over
asyncio streams: the request in one write, the answer read whole, keep-alive connections reused
newest-first. Adapters take any httpx transport (tests inject ``MockTransport`` or
``ASGITransport``); only ``create_app`` picks this one, and httpx still builds the requests and
decodes the answers (``providers/http.py``). It speaks to the provider directly, never through a
proxy: when the environment names a proxy for a provider's URL (``HTTPS_PROXY``, ``HTTP_PROXY``,
``ALL_PROXY``, minus ``NO_PROXY``, read as httpx reads them), ``for_provider`` hands that provider
httpx's own transport with the proxy instead.

Failures are raised as the httpx exceptions the adapters already classify (``providers/http.py``):

    httpx.TransportError
     ├── httpx.TimeoutException
     │    ├── PoolTimeout      every connection slot busy for the pool timeout
     │    ├── ConnectTimeout   no TCP/TLS connection within the connect timeout
     │    ├── WriteTimeout     the request could not be written within the write timeout
     │    └── ReadTimeout      no complete answer within the read timeout
     ├── httpx.NetworkError
     │    ├── ConnectError     refused, unreachable, TLS handshake failed
     │    ├── WriteError       the connection broke while writing
     │    └── ReadError        the connection broke while reading
     ├── httpx.ProtocolError
     │    └── RemoteProtocolError   closed without (a complete) answer, or not HTTP/1.x
     └── httpx.UnsupportedProtocol  neither http:// nor https://

A request is never re-sent on another connection (a POST that reached the provider may have been
acted on). A connection is reused only after a complete, length-delimited answer without
``Connection: close``, and only if the server has not closed it meanwhile.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import ssl
from collections.abc import Mapping, Sequence
from typing import Final

import httpx

Origin = tuple[str, str, int]
Headers = list[tuple[bytes, bytes]]

# A provider answer's status line and headers fit easily; a bigger head is not a provider.
MAX_HEAD: Final = 64 * 1024
# Bodies without a length are read to EOF; cap them so a broken server cannot exhaust memory.
MAX_UNDELIMITED_BODY: Final = 16 * 1024 * 1024
_NO_BODY_STATUS: Final = frozenset({204, 304})


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self) -> bool:
        # A server that closed an idle connection has fed EOF to the reader by now.
        return not (self.reader.at_eof() or self.writer.is_closing() or self.reader.exception())

    def close(self) -> None:
        self.writer.close()


class Http11Transport(httpx.AsyncBaseTransport):
    """At most ``max_connections`` requests in flight (each on its own connection), at most
    ``max_keepalive`` idle connections kept per origin for ``keepalive_expiry`` seconds."""

    def __init__(
        self,
        *,
        max_connections: int = 64,
        max_keepalive: int | None = None,
        keepalive_expiry: float = 5.0,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.max_keepalive = max_connections if max_keepalive is None else max_keepalive
        self.keepalive_expiry = keepalive_expiry
        self._slots = asyncio.Semaphore(max_connections)
        self._verify = verify
        self._ssl: ssl.SSLContext | None = None
        self._idle: dict[Origin, list[_Connection]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
        origin = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        payload = _head(request) + await _body(request)
        await self._acquire_slot(request, timeouts.get("pool"))
        connection: _Connection | None = None
        keep = False
        try:
            connection = await self._connection(request, origin, timeouts.get("connect"))
            await _write(request, connection, payload, timeouts.get("write"))
            status, reason, headers, body, keep = await _read(request, connection, timeouts.get("read"))
        finally:
            self._slots.release()
            if connection is not None:
                self._release(origin, connection, keep)
        # content=, not a stream: the body is already whole, and httpx then skips its async reads.
        return httpx.Response(
            status, headers=headers, content=body, extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason}
        )

    async def aclose(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def _acquire_slot(self, request: httpx.Request, timeout: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()
            return
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection within the pool timeout", request=request) from None

    async def _connection(self, request: httpx.Request, origin: Origin, timeout: float | None) -> _Connection:
        idle = self._idle.get(origin)
        if idle:
            now = asyncio.get_running_loop().time()
            while idle:
                connection = idle.pop()  # newest first: the one least likely to have been closed
                if now - connection.idle_since < self.keepalive_expiry and connection.usable():
                    return connection
                connection.close()
        scheme, host, port = origin
        context = self._ssl_context() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, server_hostname=host if context else None, limit=MAX_HEAD
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} in time", request=request) from None
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}", request=request) from exc
        return _Connection(reader, writer)

    def _release(self, origin: Origin, connection: _Connection, keep: bool) -> None:
        if not keep or self._closed or not connection.usable():
            connection.close()
            return
        idle = self._idle.setdefault(origin, [])
        now = asyncio.get_running_loop().time()
        connection.idle_since = now
        idle.append(connection)
        # Drop the oldest when over the keep-alive bound or expired, so idle sockets do not pile up.
        while idle and (len(idle) > self.max_keepalive or now - idle[0].idle_since >= self.keepalive_expiry):
            idle.pop(0).close()

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:  # built on first https use: loading CA certificates takes ~20 ms
            verify = self._verify
            self._ssl = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
        return self._ssl


def _head(request: httpx.Request) -> bytes:
    lines = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


async def _body(request: httpx.Request) -> bytes:
    try:
        content = request.content  # form and JSON bodies are already encoded
    except httpx.RequestNotRead:
        content = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        if "chunked" in request.headers.get("transfer-encoding", "").lower():
            return (f"{len(content):x}\r\n".encode() + content + b"\r\n" if content else b"") + b"0\r\n\r\n"
    return content


async def _write(request: httpx.Request, connection: _Connection, payload: bytes, timeout: float | None) -> None:
    try:
        connection.writer.write(payload)
        if connection.writer.transport.get_write_buffer_size():
            async with asyncio.timeout(timeout):
                await connection.writer.drain()
    except TimeoutError:
        raise httpx.WriteTimeout("the request could not be written in time", request=request) from None
    except (OSError, RuntimeError) as exc:
        raise httpx.WriteError(f"connection broke while writing: {exc}", request=request) from exc


async def _read(
    request: httpx.Request, connection: _Connection, timeout: float | None
) -> tuple[int, bytes, Headers, bytes, bool]:
    """Status, reason, headers, body, and whether the connection may be reused."""
    reader = connection.reader
    answered = False
    try:
        # One deadline for the whole answer (httpx applies its read timeout per read; provider
        # answers are a read or two, and one timer per request is cheaper than one per read).
        async with asyncio.timeout(timeout):
            head = await reader.readuntil(b"\r\n\r\n")
            answered = True
            status, reason, version, headers = _parse_head(head)
            while 100 <= status < 200 and status != 101:  # interim answers (100 Continue): skip
                status, reason, version, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
            body, delimited = await _read_body(reader, request.method, status, headers)
    except TimeoutError:
        raise httpx.ReadTimeout("no complete answer within the read timeout", request=request) from None
    except asyncio.IncompleteReadError as exc:
        if answered or exc.partial:
            raise httpx.RemoteProtocolError("the server closed the connection mid-answer", request=request) from None
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request) from None
    except asyncio.LimitOverrunError:
        raise httpx.RemoteProtocolError(f"answer head over {MAX_HEAD} bytes", request=request) from None
    except _Malformed as exc:
        raise httpx.RemoteProtocolError(str(exc), request=request) from None
    except OSError as exc:
        raise httpx.ReadError(f"connection broke while reading: {exc}", request=request) from exc
    return status, reason, headers, body, delimited and _keep_alive(version, headers)


class _Malformed(ValueError):
    pass


def _parse_head(head: bytes) -> tuple[int, bytes, bytes, Headers]:
    status_line, *lines = head[:-4].split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise _Malformed(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    headers: Headers = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise _Malformed(f"malformed header line: {line[:80]!r}")
        headers.append((name, value.strip()))
    return int(code), reason, version, headers


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [value for key, value in headers if key.lower() == name]


async def _read_body(reader: asyncio.StreamReader, method: str, status: int, headers: Headers) -> tuple[bytes, bool]:
    """The body, and whether its end was delimited (rather than the connection closing)."""
    if method == "HEAD" or status in _NO_BODY_STATUS or status < 200:
        return b"", True
    if any(b"chunked" in value.lower() for value in _header(headers, b"transfer-encoding")):
        return await _read_chunked(reader), True
    lengths = {value.strip() for value in _header(headers, b"content-length")}
    if lengths:
        if len(lengths) > 1 or not next(iter(lengths)).isdigit():
            raise _Malformed(f"bad Content-Length: {sorted(lengths)!r}")
        length = int(next(iter(lengths)))
        return (await reader.readexactly(length) if length else b""), True
    body = await reader.read(MAX_UNDELIMITED_BODY + 1)
    while len(body) <= MAX_UNDELIMITED_BODY and not reader.at_eof():
        more = await reader.read(MAX_UNDELIMITED_BODY + 1 - len(body))
        if not more:
            break
        body += more
    if len(body) > MAX_UNDELIMITED_BODY:
        raise _Malformed(f"answer body over {MAX_UNDELIMITED_BODY} bytes without a length")
    return body, False


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = (await reader.readuntil(b"\r\n"))[:-2].split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise _Malformed(f"bad chunk size: {size_line[:20]!r}") from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields, ignored
                pass
            return b"".join(chunks)
        chunk = await reader.readexactly(size + 2)
        if chunk[-2:] != b"\r\n":
            raise _Malformed("chunk not followed by CRLF")
        chunks.append(chunk[:-2])


def _keep_alive(version: bytes, headers: Headers) -> bool:
    tokens = {token.strip().lower() for value in _header(headers, b"connection") for token in value.split(b",")}
    if version == b"HTTP/1.0":
        return b"keep-alive" in tokens
    return b"close" not in tokens


# ---- choosing the transport for a provider ---------------------------------------------------------


def for_provider(
    base_url: str, environ: Mapping[str, str] = os.environ, max_connections: int = 64
) -> httpx.AsyncBaseTransport:
    """``Http11Transport``, unless the environment routes ``base_url`` through a proxy: then httpx's
    own transport, which speaks to proxies (CONNECT for https, absolute-form for http)."""
    proxy = proxy_for(base_url, environ)
    if proxy is None:
        return Http11Transport(max_connections=max_connections)
    return httpx.AsyncHTTPTransport(proxy=proxy, limits=httpx.Limits(max_connections=max_connections))


def proxy_for(url: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """The proxy the environment names for ``url``, as httpx would pick it: ``<scheme>_proxy`` else
    ``all_proxy`` (lower case first, then upper), unless ``no_proxy`` names the host."""

    def env(name: str) -> str | None:
        return environ.get(name) or environ.get(name.upper()) or None

    target = httpx.URL(url)
    proxy = env(f"{target.scheme}_proxy") or env("all_proxy")
    if proxy is None or _bypassed(target, env("no_proxy") or ""):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"  # httpx reads a bare host:port as http


def _bypassed(target: httpx.URL, no_proxy: str) -> bool:
    host = target.host.lower()
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "://" in entry:  # a URL pattern: scheme and host must both match
            scheme, _, entry = entry.partition("://")
            if scheme not in ("all", target.scheme):
                continue
        name, port = _split_port(entry)
        if port is not None and port != target.port:
            continue
        if _is_ip(name) or name == "localhost":
            if host == name:
                return True
            continue
        domain = name.removeprefix("*").removeprefix(".")
        if host == domain or host.endswith("." + domain):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    name, colon, port = entry.rpartition(":")
    if colon and port.isdecimal() and not _is_ip(entry):
        return name, int(port)
    return entry, None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True

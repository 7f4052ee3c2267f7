"""Http11Transport against tiny raw-socket servers: framing, keep-alive, and every failure mapped
to the httpx exception the adapters classify."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from lynsms.gateway.providers.transport import Http11Transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A server running ``handler`` per connection; yields its URL and a list of connection ids."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections))
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", connections
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


def answers(*responses: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for response in responses:
            await read_request(reader)
            writer.write(response)
            await writer.drain()
        await reader.read()  # hold the connection until the client closes it

    return handler


def client(timeout: float = 2.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout, transport=Http11Transport(max_connections=4))


OK = b'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"sid":"1"}'


async def test_sends_the_body_in_one_request_and_reuses_the_connection() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(3):
            head, body = await read_request(reader)
            seen.append(head.split(b"\r\n")[0] + b" " + body)
            writer.write(OK)

    async with raw_server(handler) as (url, connections), client() as http:
        for _ in range(3):
            response = await http.post(f"{url}/send?x=1", data={"To": "+1"})
            assert (response.status_code, response.json(), response.reason_phrase) == (201, {"sid": "1"}, "Created")
    assert seen == [b"POST /send?x=1 HTTP/1.1 To=%2B1"] * 3
    assert connections == [0]


async def test_reads_a_chunked_answer() -> None:
    chunked = (
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3;x=y\r\n:1}\r\n0\r\nTrailer: t\r\n\r\n'
    )
    async with raw_server(answers(chunked, chunked)) as (url, connections), client() as http:
        assert (await http.get(url)).json() == {"a": 1}
        assert (await http.get(url)).json() == {"a": 1}
    assert connections == [0]


async def test_connection_close_and_unframed_bodies_are_not_reused() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"

    async def unframed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\n\r\n[1, 2]")
        await writer.drain()

    async with raw_server(answers(closing)) as (url, connections), client() as http:
        assert (await http.get(url)).json() == {}
        assert (await http.get(url)).json() == {}
    assert connections == [0, 1]
    async with raw_server(unframed) as (url, connections), client() as http:
        assert (await http.get(url)).json() == [1, 2]
        assert (await http.get(url)).json() == [1, 2]
    assert connections == [0, 1]


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)  # keep-alive framing, then the server closes anyway (its idle timeout)
        await writer.drain()

    async with raw_server(once) as (url, connections), client() as http:
        assert (await http.post(url)).status_code == 201
        await asyncio.sleep(0.05)  # the EOF reaches the idle connection
        assert (await http.post(url)).status_code == 201
    assert connections == [0, 1]


async def test_no_answer_in_time_is_a_read_timeout() -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with raw_server(hang) as (url, _), client(timeout=0.1) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(url, json={})


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"", "Server disconnected without sending a response."),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "mid-answer"),
        (b"SMTP ready\r\n\r\n", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header"),
    ],
)
async def test_broken_answers_are_remote_protocol_errors(reply: bytes, expected: str) -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply)
        await writer.drain()

    async with raw_server(broken) as (url, _), client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match=expected):
            await http.post(url, json={})


async def test_nothing_listening_is_a_connect_error() -> None:
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("http://127.0.0.1:9/")


async def test_other_schemes_are_unsupported() -> None:
    transport = Http11Transport()
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("GET", "ftp://example.com/"))


async def test_all_slots_busy_past_the_pool_timeout_is_a_pool_timeout() -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        arrived.set()
        await release.wait()  # answers only once the second request has given up
        writer.write(OK)

    timeout = httpx.Timeout(5.0, pool=0.1)
    async with (
        raw_server(slow) as (url, _),
        httpx.AsyncClient(timeout=timeout, transport=Http11Transport(max_connections=1)) as http,
    ):
        first = asyncio.ensure_future(http.post(url))
        await asyncio.wait_for(arrived.wait(), 10)  # the one slot is taken
        with pytest.raises(httpx.PoolTimeout):
            await http.post(url)
        release.set()
        assert (await first).status_code == 201

"""httpx, sync and async: the seam is the transport (``HTTPTransport.handle_request`` and
``AsyncHTTPTransport.handle_async_request``), which every client sends through.

A provider host's request is pointed at the simulator's address (plain HTTP, original ``Host``)
for the time it is sent, on the client's own transport, so its pool, limits and timeouts apply. A transport that
talks through a proxy would carry the rewritten request to the proxy: such a request goes on a
one-off direct transport instead, closed with the response.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from typing import Any

from lynsms.simulator.harness.intercept.patch import Patch
from lynsms.simulator.harness.intercept.routing import Route, decide


def _handle_request(self: Any, request: Any) -> Any:
    import httpx

    original = SYNC.original
    route = decide(request.url.host)
    if route is None:
        return original(self, request)
    asked = request.url
    request.url = _simulator_url(asked, route)
    try:
        if not _proxied(self):
            return original(self, request)
        transport = httpx.HTTPTransport()
        response = original(transport, request)
        response.stream = _ClosingStream(response.stream, transport)
        return response
    finally:
        request.url = asked  # the caller's response.request shows the URL it asked for


async def _handle_async_request(self: Any, request: Any) -> Any:
    import httpx

    original = ASYNC.original
    route = decide(request.url.host)
    if route is None:
        return await original(self, request)
    asked = request.url
    request.url = _simulator_url(asked, route)
    try:
        if not _proxied(self):
            return await original(self, request)
        transport = httpx.AsyncHTTPTransport()
        response = await original(transport, request)
        response.stream = _AsyncClosingStream(response.stream, transport)
        return response
    finally:
        request.url = asked


def _simulator_url(url: Any, route: Route) -> Any:
    # The request's headers already hold the original Host (httpx sets it when it builds the request).
    return _moved(url, route.host, route.port)


@functools.lru_cache(maxsize=1024)
def _moved(url: Any, host: str, port: int) -> Any:
    # Building an httpx URL parses and validates it again (~35 us, a third of what intercepting
    # costs); tests send the same few URLs over and over.
    return url.copy_with(scheme="http", host=host, port=port)


def _proxied(transport: Any) -> bool:
    import httpcore

    proxies = (httpcore.HTTPProxy, httpcore.SOCKSProxy, httpcore.AsyncHTTPProxy, httpcore.AsyncSOCKSProxy)
    return isinstance(getattr(transport, "_pool", None), proxies)


class _ClosingStream:
    def __init__(self, stream: Any, transport: Any) -> None:
        self.stream, self.transport = stream, transport

    def __iter__(self) -> Iterator[bytes]:
        yield from self.stream

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            self.transport.close()


class _AsyncClosingStream:
    def __init__(self, stream: Any, transport: Any) -> None:
        self.stream, self.transport = stream, transport

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self.stream.aclose()
        finally:
            await self.transport.aclose()


SYNC = Patch("httpx", "HTTPTransport", "handle_request", _handle_request)
ASYNC = Patch("httpx", "AsyncHTTPTransport", "handle_async_request", _handle_async_request)
PATCHES = [SYNC, ASYNC]

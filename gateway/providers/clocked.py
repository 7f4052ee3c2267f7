"""Provider timeouts measured on the gateway's clock.

A transport times out in real seconds; a gateway whose clock is not the system clock (a replay
that fast-forwards, a test on a manual clock) must give up on a provider when *its* clock says
the provider's ``timeout`` has passed, or a scripted hang would cost its full length in real time
and a scripted latency would race a real-time timeout. This wrapper runs each request under the
clock's timeout and keeps the inner transport's own timeouts only as a real-time backstop. On a
fast-forward clock each request is also a ``calling`` one, so a provider's answer in flight is never
overtaken by the timeout.
"""

from __future__ import annotations

from typing import Final

import httpx

from lynsms.clock import Clock, calling, timeout

BACKSTOP: Final = 60.0  # real seconds: the inner transport's timeouts, never reached in practice


class ClockedTimeouts(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, clock: Clock) -> None:
        self.inner = inner
        self.clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        seconds = timeouts.get("read")
        request.extensions = {**request.extensions, "timeout": dict.fromkeys(timeouts or ("read",), BACKSTOP)}
        try:
            with calling(self.clock) as headers:
                request.headers.update(headers)
                async with timeout(self.clock, seconds):
                    response = await self.inner.handle_async_request(request)
                    await response.aread()  # the whole answer within the timeout, as the own transport does
        except TimeoutError:
            raise httpx.ReadTimeout(f"no complete answer within {seconds:g} s", request=request) from None
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

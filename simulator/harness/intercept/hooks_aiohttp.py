"""aiohttp (Twilio's async client): the seam is ``ClientSession._request``, where every request of a
session starts with its full URL.

A provider host's request is sent to the simulator's address instead (plain HTTP, no proxy), with
the original ``Host`` header.
"""

from __future__ import annotations

from typing import Any

from lynsms.simulator.harness.intercept.patch import Patch
from lynsms.simulator.harness.intercept.routing import authority, decide


async def _request(self: Any, method: str, str_or_url: Any, **kwargs: Any) -> Any:
    from multidict import CIMultiDict

    original = PATCH.original
    url = self._build_url(str_or_url)
    route = decide(url.host)
    if route is None:
        return await original(self, method, str_or_url, **kwargs)
    headers = CIMultiDict(kwargs.get("headers") or {})
    headers["Host"] = authority(url.host, url.explicit_port, 443 if url.scheme == "https" else 80)
    kwargs["headers"] = headers
    kwargs["proxy"] = None
    kwargs.pop("proxy_auth", None)
    simulator = url.with_scheme("http").with_host(route.host).with_port(route.port)
    return await original(self, method, simulator, **kwargs)


PATCH = Patch("aiohttp", "ClientSession", "_request", _request)
PATCHES = [PATCH]

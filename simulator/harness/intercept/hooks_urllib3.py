"""urllib3 (and so ``requests``, and every SDK built on either): the seam is ``HTTPConnectionPool.urlopen``.

Every request, whether it comes through a ``PoolManager``, a ``requests`` adapter or a pool used
directly, passes there with the pool's host. A provider host's request is sent on a keep-alive pool
to the simulator instead, with the original ``Host``; that pool never uses a proxy, so an exported
``HTTPS_PROXY`` cannot lead an intercepted request elsewhere.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from lynsms.simulator.harness.intercept.patch import Patch
from lynsms.simulator.harness.intercept.routing import Route, authority, decide


def _urlopen(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
    original = PATCH.original
    route = decide(self.host)
    if route is None:
        return original(self, method, url, *args, **kwargs)
    if not url.startswith("/"):  # an absolute URL: keep only what the pool would send
        parts = urlsplit(url)
        url = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if len(args) >= 2:  # (body, headers, ...) passed positionally
        args = (args[0], _with_host(self, args[1]), *args[2:])
    else:
        kwargs["headers"] = _with_host(self, kwargs.get("headers"))
    return original(_pool(route), method, url, *args, **kwargs)


def _with_host(pool: Any, headers: Any) -> Any:
    from urllib3 import HTTPHeaderDict

    merged = HTTPHeaderDict(headers if headers is not None else pool.headers)
    merged["Host"] = authority(pool.host, pool.port, 443 if pool.scheme == "https" else 80)
    return merged


def _pool(route: Route) -> Any:
    from urllib3.connectionpool import HTTPConnectionPool

    return route.resource("urllib3", lambda: HTTPConnectionPool(route.host, route.port, maxsize=64), _close)


def _close(pool: Any) -> None:
    pool.close()


PATCH = Patch("urllib3.connectionpool", "HTTPConnectionPool", "urlopen", _urlopen)
PATCHES = [PATCH]

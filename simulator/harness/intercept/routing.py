"""Which interception is active, and what it does with a request for a given host.

The active interceptions form one process-wide stack (like moto's mocks: a thread started by the
code under test is intercepted too). The innermost decides; leaving one removes exactly it, so
interceptions entered on different threads may leave in any order.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from lynsms.simulator.hosts import all_patterns, hostname, provider_of_host

T = TypeVar("T")
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class InterceptRefused(ConnectionRefusedError):
    """A request to a host that is neither a provider's nor allowed by ``passthrough=``.

    A ``ConnectionRefusedError``: code that copes with an unreachable network copes with this too
    (``requests`` raises it wrapped in its ``ConnectionError``)."""

    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__(
            f"lynsms.intercept() refused a request to {host}: only the providers' hosts "
            f"({', '.join(all_patterns())}) and loopback addresses are reachable while intercepting. "
            f"To let it through: lynsms.intercept(passthrough=[{host!r}])"
        )


@dataclass(eq=False)
class Route:
    """One active interception: where provider requests go, and which other hosts may pass."""

    simulator_url: str
    passthrough: tuple[str, ...] = ()
    # Per-library resources (a urllib3 pool to the simulator ...), released when the route ends.
    _resources: dict[str, Any] = field(default_factory=dict, repr=False)
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.simulator_url)
        if parts.scheme != "http" or not parts.hostname or parts.port is None:
            raise ValueError(f"the simulator URL must be http://host:port, not {self.simulator_url!r}")
        self.host: str = parts.hostname
        self.port: int = parts.port

    def passes(self, host: str) -> bool:
        name = hostname(host)
        return _is_loopback(name) or any(_matches(name, pattern) for pattern in self.passthrough)

    def resource(self, name: str, make: Callable[[], T], close: Callable[[T], None]) -> T:
        """The route's one ``name`` resource, made on first use and closed when the route ends."""
        with self._lock:
            if name not in self._resources:
                made = self._resources[name] = make()
                self._closers.append(lambda: close(made))
            found: T = self._resources[name]
            return found

    def close(self) -> None:
        with self._lock:
            closers, self._closers = self._closers, []
            self._resources.clear()
        for closer in reversed(closers):
            closer()


class _Active:
    """The process's active routes, innermost last. ``routes`` is replaced, never changed in place,
    so a request reads it once without a lock."""

    def __init__(self) -> None:
        self.routes: tuple[Route, ...] = ()
        self.lock = threading.RLock()
        # Called with True when the first interception starts and False when the last one ends.
        self.on_change: list[Callable[[bool], None]] = []


_active = _Active()


def push(route: Route) -> None:
    with _active.lock:
        _active.routes = (*_active.routes, route)
        if len(_active.routes) == 1:
            for change in _active.on_change:
                change(True)


def remove(route: Route) -> None:
    with _active.lock:
        _active.routes = tuple(active for active in _active.routes if active is not route)
        if not _active.routes:
            for change in _active.on_change:
                change(False)
    route.close()


def active() -> Route | None:
    routes = _active.routes
    return routes[-1] if routes else None


def decide(host: str | None) -> Route | None:
    """The route to send a request for ``host`` to the simulator on; None to let it go as it is.
    Raises ``InterceptRefused`` for a host nobody allowed."""
    routes = _active.routes
    if not routes or host is None:
        return None
    route = routes[-1]
    if provider_of_host(host) is not None:
        return route
    if route.passes(host):
        return None
    raise InterceptRefused(hostname(host))


def on_change(callback: Callable[[bool], None]) -> None:
    _active.on_change.append(callback)


def authority(host: str, port: int | None, default_port: int) -> str:
    """The ``Host`` header value the client would have sent to the real host."""
    return host if port in (None, default_port) else f"{host}:{port}"


def normalise_passthrough(hosts: Iterable[str]) -> tuple[str, ...]:
    if isinstance(hosts, str):
        hosts = [hosts]
    return tuple(hostname(host) if not host.startswith("*.") else "*." + hostname(host[2:]) for host in hosts)


def _matches(name: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return name.endswith(pattern[1:]) and len(name) > len(pattern) - 1
    return name == pattern


def _is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False

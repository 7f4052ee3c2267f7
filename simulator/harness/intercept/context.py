"""``intercept()``: a context manager (``with`` / ``async with``) and a decorator (sync or async).

    with lynsms.intercept() as sim:          # an in-process simulator for the block
        Client(sid, token).messages.create(...)
        assert sim.messages()

    @lynsms.intercept(passthrough=["example.com"])
    def test_signup(): ...

Without ``simulator=`` it reuses the simulator of an interception already active (nesting), else
starts one in-process on a free port for the block. ``simulator=`` takes a URL or an ``SmsSimulator``
(the pytest fixture ``sms_intercept`` passes the session's).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from lynsms.simulator.harness.intercept import hooks_aiohttp, hooks_httpx, hooks_urllib3, routing

if TYPE_CHECKING:
    from lynsms.simulator.harness.client import SmsSimulator
    from lynsms.simulator.harness.server import ServerThread

F = TypeVar("F", bound=Callable[..., Any])
HOOKS = (hooks_urllib3, hooks_httpx, hooks_aiohttp)


def _switch(on: bool) -> None:
    """Patch the client libraries when the first interception starts, restore them when the last ends."""
    for hook in HOOKS:
        for patch in hook.PATCHES:
            if on:
                patch.install()
            else:
                patch.uninstall()


routing.on_change(_switch)


class Intercept:
    """One interception; build it with ``intercept()``. Entering yields the simulator's handle."""

    def __init__(self, simulator: SmsSimulator | str | None = None, passthrough: Iterable[str] = ()) -> None:
        self.simulator = simulator
        self.passthrough = routing.normalise_passthrough(passthrough)
        self._route: routing.Route | None = None
        self._server: ServerThread | None = None
        self._handle: SmsSimulator | None = None
        self._owns_handle = False

    # ---- context manager -------------------------------------------------------------------------

    def __enter__(self) -> SmsSimulator:
        from lynsms.simulator.harness.client import SmsSimulator

        if self._route is not None:
            raise RuntimeError("this intercept() is already active: build another one to nest")
        target = self.simulator
        if target is None:
            outer = routing.active()
            target = outer.simulator_url if outer is not None else self._start()
        if isinstance(target, str):
            self._handle, self._owns_handle = SmsSimulator(target), True
        else:
            self._handle = target
        self._route = routing.Route(self._handle.url, self.passthrough)
        routing.push(self._route)
        return self._handle

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        route, self._route = self._route, None
        if route is not None:
            routing.remove(route)
        if self._owns_handle and self._handle is not None:
            self._handle.close()
        self._handle, self._owns_handle = None, False
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    async def __aenter__(self) -> SmsSimulator:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.__exit__(kind, error, trace)

    def _start(self) -> str:
        from lynsms.simulator.app import create_app
        from lynsms.simulator.harness.server import ServerThread

        self._server = ServerThread(create_app()).start()
        return self._server.url

    # ---- decorator -------------------------------------------------------------------------------

    def __call__(self, function: F) -> F:
        """Each call of ``function`` runs inside a fresh interception with these settings."""

        def fresh() -> Intercept:
            return Intercept(self.simulator, self.passthrough)

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with fresh():
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with fresh():
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]


@overload
def intercept(function: F, /) -> F: ...


@overload
def intercept(
    function: None = None, /, *, simulator: SmsSimulator | str | None = None, passthrough: Iterable[str] = ()
) -> Intercept: ...


def intercept(
    function: Callable[..., Any] | None = None,
    /,
    *,
    simulator: SmsSimulator | str | None = None,
    passthrough: Iterable[str] = (),
) -> Any:
    """Route requests for the providers' real hosts to the simulator (see the module docstring).

    ``passthrough``: host names (``"*.example.com"`` for every name below) that may be reached as
    they are; loopback addresses always may. Used bare (``@intercept``) it decorates ``function``."""
    interception = Intercept(simulator, passthrough)
    return interception(function) if function is not None else interception

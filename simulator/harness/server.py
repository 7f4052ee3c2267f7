"""Run ASGI apps on real uvicorn servers: in the foreground (the CLI) or in a thread (tests, the pytest plugin).

Port 0 picks a free port; the URL actually bound is read back from the socket, so callers never race
for a port.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import uvicorn

_log = logging.getLogger("uvicorn.error")  # where uvicorn reports its own shutdown


def bind(host: str = "127.0.0.1", port: int = 0, *, what: str = "the server") -> socket.socket:
    """A listening socket; port 0 lets the OS choose. ``what`` names the server (and its option)
    in the error when the address cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "already in use by another process" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise OSError(
            f"{what} cannot listen on {host}:{port}: {reason} (pick another port, or 0 for any free one)"
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run_loop(main: Callable[[], Coroutine[Any, Any, None]], config: uvicorn.Config) -> None:
    """Run ``main`` on the event loop uvicorn would choose (uvloop where installed).

    Not a detail: on the stock asyncio loop a keep-alive client waits ~40 ms (a delayed ACK) for
    every small response, which would make each SDK call and each gateway->provider hop slow.
    """
    factory = config.get_loop_factory()
    # ``main`` is made only now: a Ctrl-C while the loop is being set up leaves no coroutine unawaited.
    with asyncio.Runner(loop_factory=factory) as runner:
        coroutine = main()
        try:
            runner.run(coroutine)
        finally:
            coroutine.close()  # a no-op once it ran; silences "never awaited" when a Ctrl-C came first


def tune_gc_for_serving() -> None:
    """Garbage-collector settings for a process that only serves: the CLI's, not a test process
    that hosts servers on threads (its collector is its owner's business).

    A request allocates hundreds of container objects, so at CPython's default gen-0 threshold
    (700) a busy server runs a young collection every few requests, each one walking every object
    of the requests in flight. At 50,000 that happens ~70 times less often (measured on the
    gateway: ~8% less CPU per send; memory stays flat, as reference counting still frees nearly
    everything at once). Freezing what start-up built (modules, apps, config) keeps it out of
    every later full collection.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


class Server(uvicorn.Server):
    """uvicorn's server, ending the app's endless responses first when it shuts down, and at once
    when told to from another thread (``exit``).

    uvicorn waits for open responses before the app hears of the shutdown (lifespan), so an open
    event stream (the QA console) would hold every shutdown for the whole grace period. An app lists
    what ends them in ``app.state.on_stopping`` (async callables)."""

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        # uvicorn's loop, woken by ``exit`` as well as by its 0.1 s tick: a server on a thread then
        # stops in a few ms instead of up to 100 (several per replay or test session).
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await self._wake.wait()
            should_exit = await self.on_tick(counter)

    def exit(self) -> None:
        """Ask the server to stop, from any thread."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: it stopped already
                loop.call_soon_threadsafe(wake.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown, waiting exactly as long as a connection or a response is still open.

        uvicorn's own sleeps 0.1 s after asking connections to close, even when none is open, then
        checks again every 0.1 s: a tenth of a second or more per server stop, and a test session
        stops hundreds. The steps, the grace period and a second Ctrl-C's ``force_exit`` are its own.
        """
        _log.info("Shutting down")
        state = getattr(self.config.app, "state", None)
        for stopping in getattr(state, "on_stopping", ()):
            await stopping()
        for server in self.servers:
            server.close()  # no new connections
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle keep-alive ones close now; busy ones after their response
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                waited = 0
                while (self.server_state.connections or self.server_state.tasks) and not self.force_exit:
                    if waited == 20:  # 0.1 s, when uvicorn would say it too
                        _log.info("Waiting for connections to close. (CTRL+C to force quit)")
                    await asyncio.sleep(0.005)
                    waited += 1
                for server in self.servers:
                    await server.wait_closed()
        except TimeoutError:
            _log.error("Cancel %s running task(s), timeout graceful shutdown exceeded", len(self.server_state.tasks))
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()


def make_server(app: Any, **config: Any) -> Server:
    options: dict[str, Any] = {"log_level": "warning", "lifespan": "on", "timeout_graceful_shutdown": 2}
    options.update(config)
    return Server(uvicorn.Config(app, **options))


class ServerThread:
    """A uvicorn server on its own thread and event loop; ``url`` is valid once ``start`` returns."""

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, *, sock: socket.socket | None = None, **config: Any
    ) -> None:
        self.app = app
        # A socket bound beforehand lets a caller know the URL before building the app (a gateway
        # that must tell providers where to call it back).
        self.socket = sock if sock is not None else bind(host, port)
        self.url = url_of(self.socket)
        self.server = make_server(app, **config)
        self._thread = threading.Thread(target=self._run, name=f"uvicorn {self.url}", daemon=True)

    def _run(self) -> None:
        run_loop(lambda: self.server.serve(sockets=[self.socket]), self.server.config)

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        for _ in range(int(timeout / 0.01)):
            if self.server.started:
                return self
            if not self._thread.is_alive():
                break
            threading.Event().wait(0.01)
        raise RuntimeError(f"server at {self.url} did not start")

    def stop(self) -> None:
        self.server.exit()
        self._thread.join(timeout=10)
        self.socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def serving(app: Any, **config: Any) -> Iterator[str]:
    """``with serving(app) as url:`` runs ``app`` on a free port of 127.0.0.1 for the block."""
    with ServerThread(app, **config) as server:
        yield server.url

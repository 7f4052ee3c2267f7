"""The servers a scenario replays against: a simulator and a gateway started here, or running ones.

``start_stack(scenario)`` starts a real simulator and a real reference gateway on free ports of
127.0.0.1 (uvicorn in threads), the gateway configured from the scenario's ``gateway`` block with
every provider pointing at the simulator and its callbacks pointing back at itself. When a step
expects customer webhooks, a small receiver is started too and becomes the gateway's ``webhook_url``.
``Bench`` keeps those servers for many scenarios (``lynsms scenario run``), a fresh gateway each.
``external_stack(...)`` describes servers someone else runs (``--gateway URL --simulator URL``).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lynsms.clock import CALL_HEADER, SYSTEM_CLOCK, Clock, FastForwardClock
from lynsms.simulator.harness.admin import ADMIN_PATH
from lynsms.simulator.harness.gateway_host import GatewayHost
from lynsms.simulator.harness.inbound_urls import register
from lynsms.simulator.harness.replay.gateway_settings import gateway_config, setting_names
from lynsms.simulator.harness.server import ServerThread
from lynsms.simulator.scenario import Scenario
from lynsms.tls import client_tls

WEBHOOK_PATH = "/webhooks"


class WebhookReceiver:
    """Records every JSON body POSTed to it, in arrival order: a customer's webhook endpoint."""

    def __init__(self) -> None:
        self._events: list[Any] = []
        self._lock = threading.Lock()
        self.server = ServerThread(Starlette(routes=[Route(WEBHOOK_PATH, self._receive, methods=["POST"])]))
        self.url = self.server.url + WEBHOOK_PATH

    async def _receive(self, request: Request) -> Response:
        try:
            event = await request.json()
        except ValueError:
            event = {"unparsed": (await request.body()).decode("utf-8", "replace")}
        with self._lock:
            self._events.append(event)
        return JSONResponse({"received": True})

    def events(self) -> list[Any]:
        with self._lock:
            return list(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def __enter__(self) -> Self:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


RUNNER_HEADER = "LynSMS-Replay-Runner"  # marks the replay runner's own requests to the gateway
_RUNNER = RUNNER_HEADER.lower().encode()
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CALL = CALL_HEADER.lower().encode()


class Serving:
    """A server of a fast-forwarded stack. Each request holds the clock from its arrival until its
    answer starts (``FastForwardClock.serving``), except while it waits on the clock itself, so
    time cannot skip to a caller's timeout while the answer is still being worked out. An answer to
    the replay runner then holds the clock until the runner has read it
    (``FastForwardClock.hand_over``), so a report due a moment later cannot fire between the
    gateway answering a send and the runner checking that answer."""

    def __init__(self, app: Any, clock: FastForwardClock) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runner = False
        call: str | None = None
        headers = []
        for key, value in scope["headers"]:
            if key == _CALL:
                call = value.decode("latin-1")
                continue  # the app never sees the clock's bookkeeping
            runner = runner or key == _RUNNER
            headers.append((key, value))
        if call is not None:
            scope = {**scope, "headers": headers}
        # A read sets nothing off that the clock cannot follow, so its end needs no calm: a test
        # polling a message's status every few milliseconds must not keep time from skipping.
        quiet = runner or scope["method"] in _SAFE_METHODS
        serving = self.clock.serving(quiet=quiet, call=call)

        async def answer(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                if runner:
                    self.clock.hand_over()  # before the request's hold ends: no gap in between
                serving.done()
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            serving.done()


def served(app: Any, clock: Clock) -> Any:
    """``app`` as a server of a stack on ``clock``: wrapped only when the clock fast-forwards."""
    return Serving(app, clock) if isinstance(clock, FastForwardClock) else app


@dataclass(frozen=True, slots=True)
class Stack:
    gateway_url: str  # origin of the gateway, e.g. http://127.0.0.1:8000 (the API is under /api)
    simulator_url: str
    api_key: str
    managed: bool = False  # started by start_stack: the scenario's gateway settings are in effect
    webhooks: WebhookReceiver | None = None  # the gateway's webhook_url, when one was started
    clock: Clock = SYSTEM_CLOCK  # the simulator's and the gateway's, when the runner started them
    notes: tuple[str, ...] = ()  # what the report should say about this stack (settings not applied...)
    prepared: bool = False  # the simulator was reset with exactly the scenario loaded before the gateway started


class Refused(Exception):
    """The simulator did not take the scenario."""


def prepare_simulator(sim: httpx.Client, scenario: Scenario) -> None:
    """Fresh simulator state with exactly ``scenario`` loaded, so scenario files are independent."""
    sim.post("/_sim/reset").raise_for_status()
    sim.delete("/_sim/scenario", params={"all": "true"}).raise_for_status()
    if scenario.source is not None:
        text = Path(scenario.source).read_text("utf-8")
    else:
        text = json.dumps(scenario.definition, default=str)
    response = sim.put("/_sim/scenario", content=text.encode(), headers={"Content-Type": "application/yaml"})
    if response.status_code != 200:
        raise Refused(f"the simulator refused the scenario: {response.status_code} {response.text[:500]}")


def external_stack(gateway_url: str, simulator_url: str, api_key: str) -> Stack:
    """Servers that are already running; ``gateway_url`` may end in ``/api`` or not."""
    origin = gateway_url.rstrip("/").removesuffix("/api")
    return Stack(gateway_url=origin, simulator_url=simulator_url.rstrip("/"), api_key=api_key)


class Remote:
    """Servers someone else runs (``--gateway URL --simulator URL``). When the gateway serves the
    admin endpoint (``lynsms up --admin``), each scenario gets a fresh gateway with its ``gateway``
    settings and, when it expects webhooks, a receiver started here as the ``webhook_url``;
    otherwise the report names the settings that could not be applied."""

    def __init__(self, gateway_url: str, simulator_url: str, api_key: str) -> None:
        self.base = external_stack(gateway_url, simulator_url, api_key)
        self.admin: bool | None = None  # unknown until the first scenario asks
        self._servers = ExitStack()
        self._receiver: WebhookReceiver | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._servers.close()

    @contextmanager
    def stack(self, scenario: Scenario | None = None) -> Iterator[Stack]:
        settings = dict(scenario.gateway) if scenario is not None else {}
        # As on a bench, the simulator first: a fresh gateway's start-up calls land on the scenario's state.
        base = dataclasses.replace(self.base, prepared=self._prepare(scenario))
        if self.admin is False:
            yield self._unapplied(
                base, settings, "the gateway has no admin endpoint (start it with `lynsms up --admin`)"
            )
            return
        receiver = self._webhooks() if needs_webhooks(scenario) else None
        body = {"gateway": settings, "webhook_url": receiver.url if receiver else None}
        try:
            answer = httpx.put(
                self.base.gateway_url + ADMIN_PATH,
                json=body,
                headers={"Authorization": f"Bearer {self.base.api_key}"},
                timeout=30,
                trust_env=False,
                verify=client_tls(),
            )
        except httpx.HTTPError as exc:
            yield self._unapplied(base, settings, f"the admin endpoint did not answer ({type(exc).__name__})")
            return
        if answer.status_code in (404, 405):
            self.admin = False
            yield self._unapplied(
                base, settings, "the gateway has no admin endpoint (start it with `lynsms up --admin`)"
            )
            return
        if answer.status_code != 200:
            why = f"the admin endpoint answered {answer.status_code}: {answer.text[:300]}"
            yield self._unapplied(base, settings, why)
            return
        self.admin = True
        yield dataclasses.replace(base, managed=True, webhooks=receiver)

    def _prepare(self, scenario: Scenario | None) -> bool:
        """Whether the simulator is now reset with exactly ``scenario`` loaded (else the runner
        tries, and reports what went wrong)."""
        if scenario is None:
            return False
        try:
            with httpx.Client(
                base_url=self.base.simulator_url, timeout=30, trust_env=False, verify=client_tls()
            ) as sim:
                prepare_simulator(sim, scenario)
        except (Refused, httpx.HTTPError):
            return False
        return True

    def _unapplied(self, base: Stack, settings: dict[str, Any], why: str) -> Stack:
        if not settings:
            return base
        note = f"gateway settings not applied, {why}: {', '.join(setting_names(settings))}"
        return dataclasses.replace(base, notes=(note,))

    def _webhooks(self) -> WebhookReceiver:
        if self._receiver is None:
            self._receiver = self._servers.enter_context(WebhookReceiver())
        return self._receiver


def needs_webhooks(scenario: Scenario | None) -> bool:
    return scenario is not None and any(step.expect.webhooks is not None for step in scenario.steps)


class Bench:
    """The servers scenarios replay on, started once for any number of scenarios: a simulator, a
    gateway host that mounts a fresh gateway per scenario (empty store, closed circuits, that
    scenario's settings) and, once a scenario expects webhooks, a webhook receiver.

    Sharing them is safe because the runner resets the simulator and loads exactly its scenario
    before replaying; it saves the ~0.4 s that stopping two uvicorn servers costs per scenario.

    The simulator, every gateway and the runner share one clock: a ``FastForwardClock`` unless
    ``real_time``, so scripted waits take scenario time, not wall time."""

    def __init__(
        self, scenario: Scenario | None = None, *, api_key: str | None = None, real_time: bool = False
    ) -> None:
        self.startup = scenario  # loaded at the simulator's start-up, so kept across resets
        self.api_key = api_key or f"lyn_test_{secrets.token_urlsafe(18)}"
        self.clock: Clock = SYSTEM_CLOCK if real_time else FastForwardClock()
        self._servers = ExitStack()
        self._receiver: WebhookReceiver | None = None

    def __enter__(self) -> Self:
        import lynsms.simulator as sim_package

        with ExitStack() as servers:
            scenario = self.startup
            self._sim_app = sim_package.create_app(scenario=scenario, clock=self.clock)
            self._threads = [servers.enter_context(ServerThread(served(self._sim_app, self.clock)))]
            self.simulator_url = self._threads[0].url
            self._host = servers.enter_context(GatewayHost())
            self._threads.append(self._host.server)
            self._sim = servers.enter_context(
                httpx.Client(base_url=self.simulator_url, timeout=30, trust_env=False, verify=client_tls())
            )
            self._servers = servers.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        for thread in self._threads:
            thread.server.exit()  # all at once: each takes uvicorn's 0.1 s to shut down
        self._servers.close()
        if isinstance(self.clock, FastForwardClock):
            self.clock.close()

    @contextmanager
    def stack(self, scenario: Scenario | None = None) -> Iterator[Stack]:
        """A gateway configured from ``scenario``'s ``gateway`` block, mounted for the block."""
        from lynsms.gateway import create_app

        receiver = self._webhooks() if needs_webhooks(scenario) else None
        settings = scenario.gateway if scenario is not None else {}
        config = gateway_config(
            settings, self.simulator_url, self._host.url, self.api_key, receiver.url if receiver else None
        )
        # The simulator first. Reports still due from the previous scenario go before the new gateway
        # listens: it would park them, and the simulator's seeded ids make its first message match
        # one of them. And the gateway's start-up calls (ClickSend's receipt URL) land on the state
        # the scenario starts from, rather than being wiped by a reset or counted in step 1.
        prepared = False
        if scenario is None:
            self._sim.post("/_sim/reset").raise_for_status()
        else:
            try:
                prepare_simulator(self._sim, scenario)
                prepared = True
            except Refused:
                pass  # the runner prepares again and reports why
        # environ={}: a LYNSMS_API_KEY in the caller's environment must not change what is accepted.
        app = create_app(config, environ={}, clock=self.clock)
        self._host.mount(served(app, self.clock))
        self._host.call(app.state.tracking.registered())
        register(self._sim_app.state.sim.inbound, app)  # handset replies reach this gateway
        try:
            yield Stack(
                self._host.url,
                self.simulator_url,
                self.api_key,
                managed=True,
                webhooks=receiver,
                clock=self.clock,
                prepared=prepared,
            )
        finally:
            self._host.unmount()

    def _webhooks(self) -> WebhookReceiver:
        if self._receiver is None:
            self._receiver = self._servers.enter_context(WebhookReceiver())
            self._threads.append(self._receiver.server)
        return self._receiver


@contextmanager
def start_stack(
    scenario: Scenario | None = None, *, api_key: str | None = None, real_time: bool = False
) -> Iterator[Stack]:
    """A simulator (with ``scenario`` loaded, kept across resets) and a gateway configured from it,
    on a fast-forward clock unless ``real_time``."""
    with Bench(scenario, api_key=api_key, real_time=real_time) as bench, bench.stack(scenario) as stack:
        yield stack

"""The simulator application: four providers at their real paths, the /_sim control API and the QA console."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from lynsms.clock import SYSTEM_CLOCK, Clock
from lynsms.gateway.providers.names import ProviderName
from lynsms.header_limit import HeaderLimit
from lynsms.simulator import accounts, console, control, inbound_control, lookup, providers
from lynsms.simulator.decision import Scope
from lynsms.simulator.deliveries import Deliveries
from lynsms.simulator.engine import Engine, Loaded
from lynsms.simulator.faults import Faults
from lynsms.simulator.hosts import provider_of_host
from lynsms.simulator.inbound import Inbound
from lynsms.simulator.inbound import routes as inbound_routes
from lynsms.simulator.providers.base import Core, Provider
from lynsms.simulator.proxy.app import ca_routes
from lynsms.simulator.scenario import Scenario
from lynsms.simulator.scenario import load as load_scenario_file
from lynsms.simulator.scheduling import Scheduled
from lynsms.simulator.state import DEFAULT_JOURNAL_SIZE, DEFAULT_MAX_MESSAGES, SimState


class Simulator:
    """One simulator instance: its state, engine and providers. Nothing is module-global.

    ``clock`` paces everything the simulator waits for (delivery reports and callback retries,
    scripted latency, timeout caps, slow bodies) and stamps every time it writes; tests pass a
    ``lynsms.clock.ManualClock`` and advance it instead of sleeping."""

    def __init__(
        self,
        seed: int | None = None,
        journal_size: int = DEFAULT_JOURNAL_SIZE,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        state = SimState(seed=seed, journal_size=journal_size, max_messages=max_messages, clock=clock)
        # The providers hold the same Core, so its parts are read-only here: swapping one on the
        # Simulator would leave the providers on the old one. Script behaviour with scenarios.
        engine, deliveries = Engine(), Deliveries(state.journal, clock)
        scheduled = Scheduled(clock, engine, deliveries)
        self.core = Core(state, clock, engine, Faults(clock), deliveries, scheduled)
        self.providers: dict[ProviderName, Provider[Any]] = providers.build(self.core)
        self._startup: list[tuple[Scenario, Scope]] = []
        # Handsets that reply: inbound pushes, pull APIs, scripted replies once a message is delivered.
        self.inbound = Inbound(state, clock, self.core.engine)
        self.deliveries.on_delivered.append(self.inbound.delivered)
        self.console = console.Console(self)

    @property
    def clock(self) -> Clock:
        return self.core.clock

    @property
    def state(self) -> SimState:
        return self.core.state

    @property
    def engine(self) -> Engine:
        return self.core.engine

    @property
    def faults(self) -> Faults:
        return self.core.faults

    @property
    def deliveries(self) -> Deliveries:
        return self.core.deliveries

    def reset(self) -> None:
        """Back to the start, like WireMock's reset: messages, journal, counters and pending deliveries
        go; scenarios loaded at runtime are unloaded; the startup scenarios stay, with fresh counters."""
        self.state.reset()
        self.deliveries.reset()
        self.core.scheduled.reset()
        self.inbound.reset()
        self.console.reset()
        self.engine.unload_all()
        for scenario, scope in self._startup:
            self.engine.load(scenario, scope)

    def load_scenario(
        self, scenario: Scenario | str | os.PathLike[str], account: Scope = None, *, startup: bool = False
    ) -> Loaded:
        """Load a scenario (a ``Scenario`` or a file path) for ``account`` (default: what the file says,
        else every credential). Startup scenarios survive ``reset``. Raises ``ScenarioError``."""
        loaded_scenario = scenario if isinstance(scenario, Scenario) else load_scenario_file(scenario)
        scope = account if account is not None else loaded_scenario.account
        if startup:
            self._startup.append((loaded_scenario, scope))
        accounts.refill(self.state)
        return self.engine.load(loaded_scenario, scope, self.state.calls)

    def reset_scenarios(self) -> None:
        """Rule hits and generators back to their start, call numbering from now, balances full;
        scenarios stay."""
        accounts.refill(self.state)
        self.engine.reset(self.state.calls)

    def provider_for(self, path: str, host: str = "") -> Provider[Any] | None:
        """The provider the request's real host names (see ``hosts``), else the one owning the path."""
        named = provider_of_host(host)
        if named is not None:
            return self.providers[named]
        for provider in self.providers.values():
            if path.startswith(provider.prefixes):
                return provider
        return None

    def routes(self) -> list[BaseRoute]:
        # Provider routes first: they carry the load, and Starlette tries routes in order.
        routes: list[BaseRoute] = []
        for provider in self.providers.values():
            routes.extend(provider.routes())
        routes.extend(inbound_routes(self.providers, self.inbound))
        routes.extend(lookup.routes(self.providers, self.inbound.lookup_rules))
        return [
            *routes,
            *control.routes(self),
            *inbound_control.routes(self.providers, self.inbound),
            *ca_routes(),
            *console.routes(self, self.console),
        ]


def create_app(
    *,
    seed: int | None = None,
    journal_size: int = DEFAULT_JOURNAL_SIZE,
    max_messages: int = DEFAULT_MAX_MESSAGES,
    sim: Simulator | None = None,
    scenario: Scenario | str | os.PathLike[str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Starlette:
    """The simulator app; ``scenario`` (a file path or a ``Scenario``) is loaded at start and kept
    across ``POST /_sim/reset``. An invalid file raises ``simulator.scenario.ScenarioError``.
    ``clock`` (see ``Simulator``) is used when no ``sim`` is given."""
    simulator = sim or Simulator(seed=seed, journal_size=journal_size, max_messages=max_messages, clock=clock)
    if scenario is not None:
        simulator.load_scenario(scenario, startup=True)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "Internal simulator error"
        provider = simulator.provider_for(request.url.path, request.headers.get("host", ""))
        if provider is not None:
            return provider.error(status, str(detail))
        return JSONResponse({"error": str(detail), "status": status}, status_code=status)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await simulator.console.feed.close()
            await simulator.deliveries.close()
            await simulator.inbound.close()

    async def headers_too_large(request: Request) -> Response:
        return await http_error(request, HTTPException(431, "Request Header Fields Too Large"))

    app = Starlette(
        routes=simulator.routes(),
        middleware=[Middleware(HeaderLimit, too_large=headers_too_large)],
        exception_handlers={HTTPException: http_error, Exception: http_error},
        lifespan=lifespan,
    )
    app.state.sim = simulator
    app.state.on_stopping = [simulator.console.feed.close]  # open consoles' streams end first
    return app

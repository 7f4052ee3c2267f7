"""The simulator application: four providers at their real paths, the /_sim control API and the inbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from simulator import control, inbox
from simulator.deliveries import Deliveries
from simulator.engine import Engine
from simulator.faults import Faults
from simulator.providers import PROVIDER_CLASSES
from simulator.providers.base import Provider
from simulator.state import DEFAULT_JOURNAL_SIZE, SimState


class Simulator:
    """One simulator instance: its state, engine and providers. Nothing is module-global."""

    def __init__(self, seed: int = 0, journal_size: int = DEFAULT_JOURNAL_SIZE) -> None:
        self.state = SimState(seed=seed, journal_size=journal_size)
        self.engine = Engine()
        self.faults = Faults()
        self.deliveries = Deliveries()
        self.providers: dict[str, Provider] = {cls.name: cls(self) for cls in PROVIDER_CLASSES}

    def reset(self) -> None:
        self.state.reset()
        self.engine.reset()

    def provider_for(self, path: str) -> Provider | None:
        for provider in self.providers.values():
            if path.startswith(provider.prefixes):
                return provider
        return None

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [*control.routes(self), *inbox.routes]
        for provider in self.providers.values():
            routes.extend(provider.routes())
        return routes


def create_app(*, seed: int = 0, journal_size: int = DEFAULT_JOURNAL_SIZE, sim: Simulator | None = None) -> Starlette:
    simulator = sim or Simulator(seed=seed, journal_size=journal_size)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "Internal simulator error"
        provider = simulator.provider_for(request.url.path)
        if provider is not None:
            return provider.error(status, str(detail))
        return JSONResponse({"error": str(detail), "status": status}, status_code=status)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await simulator.deliveries.close()

    app = Starlette(
        routes=simulator.routes(),
        exception_handlers={HTTPException: http_error, Exception: http_error},
        lifespan=lifespan,
    )
    app.state.sim = simulator
    return app


def simulator_of(app: Any) -> Simulator:
    sim: Simulator = app.state.sim
    return sim

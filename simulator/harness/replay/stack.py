"""The servers a scenario replays against: a simulator and a gateway started here, or running ones.

``start_stack(scenario)`` starts a real simulator and a real reference gateway on free ports of
127.0.0.1 (uvicorn in threads), the gateway configured from the scenario's ``gateway`` block with
every provider pointing at the simulator and its callbacks pointing back at itself. When a step
expects customer webhooks, a small receiver is started too and becomes the gateway's ``webhook_url``.
``external_stack(...)`` describes servers someone else runs (``--gateway URL --simulator URL``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lynsms.simulator.scenario import Scenario
from lynsms.simulator.harness.server import ServerThread, bind, url_of
from lynsms.simulator.harness.replay.gateway_settings import gateway_config

WEBHOOK_PATH = "/webhooks"


class WebhookReceiver:
    """Records every JSON body POSTed to it, in arrival order: a customer's webhook endpoint."""

    def __init__(self) -> None:
        self._events: list[Any] = []
        self._lock = threading.Lock()
        self._server = ServerThread(Starlette(routes=[Route(WEBHOOK_PATH, self._receive, methods=["POST"])]))
        self.url = self._server.url + WEBHOOK_PATH

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
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


@dataclass(frozen=True, slots=True)
class Stack:
    gateway_url: str  # origin of the gateway, e.g. http://127.0.0.1:8000 (the API is under /api)
    simulator_url: str
    api_key: str
    managed: bool = False  # started by start_stack: the scenario's gateway settings are in effect
    webhooks: WebhookReceiver | None = None  # the gateway's webhook_url, when one was started


def external_stack(gateway_url: str, simulator_url: str, api_key: str) -> Stack:
    """Servers that are already running; ``gateway_url`` may end in ``/api`` or not."""
    origin = gateway_url.rstrip("/").removesuffix("/api")
    return Stack(gateway_url=origin, simulator_url=simulator_url.rstrip("/"), api_key=api_key)


def needs_webhooks(scenario: Scenario | None) -> bool:
    return scenario is not None and any(step.expect.webhooks is not None for step in scenario.steps)


@contextmanager
def start_stack(scenario: Scenario | None = None, *, api_key: str | None = None) -> Iterator[Stack]:
    """A simulator (with ``scenario`` loaded, kept across resets) and a gateway configured from it."""
    import lynsms.simulator as sim_package
    from lynsms.gateway import create_app

    key = api_key or f"lyn_test_{secrets.token_urlsafe(18)}"
    with ExitStack() as servers:
        sim_app = sim_package.create_app(scenario=scenario) if scenario is not None else sim_package.create_app()
        sim = servers.enter_context(ServerThread(sim_app))
        receiver = servers.enter_context(WebhookReceiver()) if needs_webhooks(scenario) else None
        # Bound before the app is built: the gateway must know its own URL for provider callbacks.
        sock = bind()
        gateway_url = url_of(sock)
        settings = scenario.gateway if scenario is not None else {}
        config = gateway_config(settings, sim.url, gateway_url, key, receiver.url if receiver else None)
        # environ={}: a LYNSMS_API_KEY in the caller's environment must not change what is accepted.
        servers.enter_context(ServerThread(create_app(config, environ={}), sock=sock))
        yield Stack(gateway_url=gateway_url, simulator_url=sim.url, api_key=key, managed=True, webhooks=receiver)

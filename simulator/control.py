"""The control API under /_sim/: health, reset, scenarios, what the providers accepted, and the journal."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lynsms.gateway.providers.names import PROVIDER_NAMES as PROVIDERS
from lynsms.gateway.providers.names import ProviderName
from lynsms.simulator.decision import Scope
from lynsms.simulator.engine import Engine, Loaded
from lynsms.simulator.http import WireProblem, read_body
from lynsms.simulator.scenario import Scenario, ScenarioError
from lynsms.simulator.scenario import parse as parse_scenario
from lynsms.simulator.state import SimState

DEFAULT_LIMIT = 1000


class Controlled(Protocol):
    """What the control API acts on: a simulator's state, engine and providers (the app's ``Simulator``)."""

    @property
    def state(self) -> SimState: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def providers(self) -> Mapping[ProviderName, object]: ...

    def reset(self) -> None: ...

    def load_scenario(
        self, scenario: Scenario | str | os.PathLike[str], account: Scope = None, *, startup: bool = False
    ) -> Loaded: ...

    def reset_scenarios(self) -> None: ...


def routes(sim: Controlled) -> list[Route]:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "providers": list(sim.providers)})

    async def reset(request: Request) -> Response:
        sim.reset()
        return JSONResponse({"status": "reset"})

    async def messages(request: Request) -> Response:
        provider = request.query_params.get("provider")
        if provider is not None and provider not in PROVIDERS:
            return _bad(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
        found = sim.state.find(provider=provider, to=request.query_params.get("to"))
        return JSONResponse(
            {
                "messages": [m.to_json() for m in found],
                "count": len(found),
                "max_messages": sim.state.max_messages,
                "dropped": sim.state.dropped_messages,
            }
        )

    async def requests(request: Request) -> Response:
        params = request.query_params
        provider = params.get("provider")
        if provider is not None and provider not in PROVIDERS:
            return _bad(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
        limit_text = params.get("limit", str(DEFAULT_LIMIT))
        # isascii too: "²".isdecimal() is true, yet int("²") raises.
        if not (limit_text.isascii() and limit_text.isdecimal()) or int(limit_text) < 1:
            return _bad("limit must be a positive integer")
        since_text = params.get("since", "0")
        if not (since_text.isascii() and since_text.isdecimal()):
            return _bad("since must be a journal sequence number")
        since, limit = int(since_text), int(limit_text)
        entries = [
            e.to_json() for e in sim.state.journal if e.seq > since and (provider is None or e.provider == provider)
        ]
        return JSONResponse(
            {
                "requests": entries[-limit:],
                "count": len(entries[-limit:]),
                "journal_size": sim.state.journal.size,
                "dropped": sim.state.journal.dropped,
            }
        )

    async def scenario_put(request: Request) -> Response:
        account = request.query_params.get("account")
        if account is not None and not account.strip():
            return _bad("account must not be empty")
        try:
            text = (await read_body(request)).decode("utf-8")
        except WireProblem as problem:
            return _bad(problem.detail)
        except UnicodeDecodeError as exc:
            return _bad(f"scenario body is not UTF-8 text (byte {exc.start})")
        try:
            scenario = parse_scenario(text, "<request>")
        except ScenarioError as exc:
            problems = [f"{p.line}: {p.message}" if p.line else p.message for p in exc.problems]
            return JSONResponse({"error": "invalid scenario", "problems": problems}, status_code=400)
        loaded = sim.load_scenario(scenario, account)
        return JSONResponse({"status": "loaded", "scenario": loaded.to_json()})

    async def scenario_get(request: Request) -> Response:
        return JSONResponse({"scenarios": [loaded.to_json() for loaded in sim.engine.loaded()]})

    async def scenario_delete(request: Request) -> Response:
        params = request.query_params
        if params.get("all", "").lower() in ("1", "true", "yes"):
            count = len(sim.engine.loaded())
            sim.engine.unload_all()
            return JSONResponse({"status": "unloaded", "count": count})
        found = sim.engine.unload(params.get("account"))
        return JSONResponse({"status": "unloaded" if found else "nothing loaded", "count": int(found)})

    async def scenario_reset(request: Request) -> Response:
        sim.reset_scenarios()
        return JSONResponse({"status": "reset", "scenarios": len(sim.engine.loaded())})

    return [
        Route("/_sim/scenario", scenario_put, methods=["PUT"]),
        Route("/_sim/scenario", scenario_get, methods=["GET"]),
        Route("/_sim/scenario", scenario_delete, methods=["DELETE"]),
        Route("/_sim/scenario/reset", scenario_reset, methods=["POST"]),
        Route("/_sim/health", health, methods=["GET"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/messages", messages, methods=["GET"]),
        Route("/_sim/requests", requests, methods=["GET"]),
    ]


def _bad(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)

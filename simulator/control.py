"""The control API under /_sim/: health, reset, what the providers accepted, and the journal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.model import PROVIDERS

if TYPE_CHECKING:
    from simulator.app import Simulator

DEFAULT_LIMIT = 1000


def routes(sim: Simulator) -> list[Route]:
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
        return JSONResponse({"messages": [m.to_json() for m in found], "count": len(found)})

    async def requests(request: Request) -> Response:
        params = request.query_params
        provider = params.get("provider")
        if provider is not None and provider not in PROVIDERS:
            return _bad(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
        limit_text = params.get("limit", str(DEFAULT_LIMIT))
        if not limit_text.isdigit() or int(limit_text) < 1:
            return _bad("limit must be a positive integer")
        since_text = params.get("since", "0")
        if not since_text.isdigit():
            return _bad("since must be a journal sequence number")
        since, limit = int(since_text), int(limit_text)
        entries = [
            e.to_json()
            for e in sim.state.journal
            if e.seq > since and (provider is None or e.provider == provider)
        ]
        return JSONResponse(
            {
                "requests": entries[-limit:],
                "count": len(entries[-limit:]),
                "journal_size": sim.state.journal.size,
                "dropped": sim.state.journal.dropped,
            }
        )

    return [
        Route("/_sim/health", health, methods=["GET"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/messages", messages, methods=["GET"]),
        Route("/_sim/requests", requests, methods=["GET"]),
    ]


def _bad(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)

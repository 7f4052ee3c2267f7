"""Servers the benchmarks drive, each started in its own process: ``python -m benchmarks.targets NAME``.

Every target runs on the same uvicorn settings so ratios compare applications, not servers.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.server import bind, url_of

TWILIO_ACCOUNT = "AC" + "0" * 31 + "1"
CONSTANT = {"sid": "SM" + "0" * 32, "status": "queued", "num_segments": "1"}


def bare_app() -> Starlette:
    """The baseline: a Starlette endpoint that parses the same form and returns a constant JSON."""

    async def create(request: Request) -> Response:
        form = await request.form()
        _ = (form.get("To"), form.get("From"), form.get("Body"))
        return JSONResponse(CONSTANT, status_code=201)

    return Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", create, methods=["POST"])])


def simulator_app(scenario: str | None = None) -> Any:
    from simulator import create_app

    return create_app(scenario=scenario) if scenario else create_app()


def gateway_app(simulator_url: str, api_key: str) -> Any:
    from gateway import create_app
    from gateway.config import load_config

    config = load_config(None, simulator_url=simulator_url).with_overrides(api_key=api_key)
    return create_app(config, db_path=":memory:")


def main(argv: list[str]) -> None:
    name, *args = argv
    app = {"bare": bare_app, "simulator": simulator_app, "gateway": gateway_app}[name](*args)
    sock = bind("127.0.0.1", 0)
    print(url_of(sock), flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1:])

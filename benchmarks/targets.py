"""Servers the benchmarks drive, each started in its own process: ``python -m benchmarks.targets NAME``.

Every target runs on the same uvicorn settings so ratios compare applications, not servers.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lynsms.simulator.harness.server import Server, bind, tune_gc_for_serving, url_of

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
    from lynsms.simulator import create_app

    return create_app(scenario=scenario) if scenario else create_app()


def gateway_app(simulator_url: str, api_key: str, *options: str, public_url: str | None = None) -> Any:
    """The gateway pointed at the simulator. Options: ``--db PATH`` (default ``:memory:``),
    ``--callbacks`` (send the gateway's own URL as the delivery-report URL, as ``lynsms up`` does),
    ``--webhook-url URL`` (where customer events go)."""
    from lynsms.gateway import create_app
    from lynsms.gateway.config import load_config

    db_path, callbacks, webhook_url = ":memory:", False, None
    rest = list(options)
    while rest:
        option = rest.pop(0)
        if option == "--db":
            db_path = rest.pop(0)
        elif option == "--callbacks":
            callbacks = True
        elif option == "--webhook-url":
            webhook_url = rest.pop(0)
        else:
            raise SystemExit(f"gateway target: unknown option {option!r}")
    config = load_config(None, simulator_url=simulator_url).with_api_key(api_key)
    if callbacks:
        config = dataclasses.replace(config, public_url=public_url)
    if webhook_url:
        config = dataclasses.replace(config, webhooks=dataclasses.replace(config.webhooks, url=webhook_url))
    return create_app(config, db_path=db_path)


def main(argv: list[str]) -> None:
    """``NAME ARGS...``; ``--profile FILE`` (anywhere) writes a cProfile of the server to FILE on exit."""
    profile_path = None
    if "--profile" in argv:
        at = argv.index("--profile")
        profile_path = argv[at + 1]
        argv = argv[:at] + argv[at + 2 :]
    name, *args = argv
    sock = bind("127.0.0.1", 0)
    url = url_of(sock)
    if name == "gateway":
        app = gateway_app(*args, public_url=url)
    else:
        app = {"bare": bare_app, "simulator": simulator_app}[name](*args)
    print(url, flush=True)
    # loop="auto" is uvloop when installed (it is a dependency via uvicorn[standard]); Server.run
    # uses the config's loop factory, as simulator.server.run_loop does.
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = Server(config)  # ends open event streams (the QA console) before its graceful wait
    tune_gc_for_serving()  # as the CLI serves (simulator.cli), for every target alike
    if profile_path is None:
        server.run(sockets=[sock])
        return
    import cProfile
    import signal

    profiler = cProfile.Profile()

    def dump(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(profile_path)
        sys.exit(0)

    # uvicorn shuts down on SIGTERM, then re-raises it with the previous handler in place: this one.
    signal.signal(signal.SIGTERM, dump)
    profiler.enable()
    server.run(sockets=[sock])
    dump()


if __name__ == "__main__":
    main(sys.argv[1:])

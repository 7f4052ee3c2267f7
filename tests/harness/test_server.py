"""Stopping a server: what is in flight finishes, what outlasts the grace period is cancelled, and the
app's shutdown runs last."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from lynsms.simulator.harness.server import ServerThread


def recording_app(events: list[str], arrived: threading.Event) -> Starlette:
    async def slow(request: Request) -> PlainTextResponse:
        arrived.set()
        await asyncio.sleep(0.2)
        events.append("slow answered")
        return PlainTextResponse("done")

    async def hang(request: Request) -> PlainTextResponse:
        arrived.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("hang cancelled")
            raise
        return PlainTextResponse("never")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        events.append("app shut down")

    return Starlette(routes=[Route("/slow", slow), Route("/hang", hang)], lifespan=lifespan)


def stop_while_answering(path: str, **config: Any) -> tuple[list[str], Any]:
    """Stop the server while it answers ``path``: what the app recorded, and what the client got."""
    events: list[str] = []
    arrived = threading.Event()
    server = ServerThread(recording_app(events, arrived), **config).start()
    answers: list[Any] = []

    def call() -> None:
        try:
            answers.append(httpx.get(server.url + path, timeout=10))
        except httpx.HTTPError as exc:
            answers.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert arrived.wait(10)
    server.stop()
    caller.join(10)
    (answer,) = answers
    return events, answer


def test_a_response_in_flight_is_finished_before_the_app_shuts_down() -> None:
    events, answer = stop_while_answering("/slow")
    assert events == ["slow answered", "app shut down"]
    assert isinstance(answer, httpx.Response) and (answer.status_code, answer.text) == (200, "done")


def test_a_response_outlasting_the_grace_period_is_cancelled_and_the_server_still_stops() -> None:
    events, answer = stop_while_answering("/hang", timeout_graceful_shutdown=0.2)
    assert events == ["hang cancelled", "app shut down"]
    # uvicorn answers 500 for a response the app never started
    assert isinstance(answer, httpx.Response) and answer.status_code == 500


def test_an_idle_keep_alive_connection_is_closed_not_waited_for() -> None:
    events: list[str] = []
    server = ServerThread(recording_app(events, threading.Event())).start()
    with httpx.Client(base_url=server.url) as client:
        client.get("/missing")  # leaves a keep-alive connection open
        server.stop()
        assert events == ["app shut down"]
        with pytest.raises(httpx.TransportError):
            client.get("/missing")

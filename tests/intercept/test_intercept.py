"""``lynsms.intercept()`` with the real client libraries and SDKs, unchanged: the providers' real hosts
reach the simulator, anything else is refused, and leaving restores every library."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import lynsms
from lynsms.simulator import create_app
from lynsms.simulator.harness.intercept import InterceptRefused, routing
from lynsms.simulator.harness.intercept.hooks_aiohttp import PATCH as AIOHTTP
from lynsms.simulator.harness.intercept.hooks_httpx import ASYNC, SYNC
from lynsms.simulator.harness.intercept.hooks_urllib3 import PATCH as URLLIB3
from lynsms.simulator.harness.server import ServerThread
from tests.intercept.programs import PROGRAMS, TWILIO_SID
from tests.simulator.scenario_wires import script

TWILIO_CREATE = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
FORM = {"To": "+12025550143", "From": "+12025550100", "Body": "hello"}
PATCHED = [URLLIB3, SYNC, ASYNC, AIOHTTP]


def originals() -> list[Any]:
    return [patch._owner().__dict__[patch.name] for patch in PATCHED]


@pytest.fixture(scope="module")
def unpatched() -> list[Any]:
    # Read when this file's first test starts, not at import: reading imports aiohttp, ~0.1 s of CPU
    # every xdist worker would pay while collecting, for the one worker that runs this file.
    found = originals()
    assert all(value is not patch.replacement for value, patch in zip(found, PATCHED, strict=True)), "already patched"
    return found


@pytest.fixture(autouse=True)
def restored(unpatched: list[Any]) -> Iterator[None]:
    yield
    assert routing.active() is None
    assert originals() == unpatched, "a client library was left patched"


@pytest.fixture
def second_simulator() -> Iterator[str]:
    with ServerThread(create_app()) as server:
        yield server.url


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_each_official_sdk_reaches_the_simulator_unchanged(name: str, simulator: Any) -> None:
    with lynsms.intercept(simulator=simulator.url):
        message_id = PROGRAMS[name]()
    [message] = simulator.messages()
    assert message["provider"] == name and message_id in (message["id"], message["batch_id"])
    journal = simulator.journal()  # Sinch's SDK asks auth.sinch.com for a token first
    assert journal and {entry["provider"] for entry in journal} == {name}


def test_scenarios_script_intercepted_requests_as_they_do_base_url_ones(simulator: Any) -> None:
    from twilio.base.exceptions import TwilioRestException

    script(simulator.control, simulator.url, "twilio", {"reject": "unsubscribed"})
    with lynsms.intercept(simulator=simulator.url), pytest.raises(TwilioRestException) as caught:
        PROGRAMS["twilio"]()
    assert (caught.value.status, caught.value.code) == (400, 21610)
    [entry] = simulator.journal()
    assert entry["provider"] == "twilio" and entry["status"] == 400


def test_twilio_async_client_on_aiohttp(simulator: Any) -> None:
    from twilio.http.async_http_client import AsyncTwilioHttpClient
    from twilio.rest import Client

    async def send() -> str:
        client = Client(TWILIO_SID, "token", http_client=AsyncTwilioHttpClient())
        try:
            message = await client.messages.create_async(to="+12025550143", from_="+12025550100", body="async")
        finally:
            await client.http_client.close()
        return str(message.sid)

    with lynsms.intercept(simulator=simulator.url):
        sid = asyncio.run(send())
    assert [m["id"] for m in simulator.messages()] == [sid]


def test_httpx_sync_and_async_keep_the_original_host(simulator: Any) -> None:
    async def async_send() -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.post(TWILIO_CREATE, data=FORM, auth=(TWILIO_SID, "t"))

    with lynsms.intercept(simulator=simulator.url):
        sync = httpx.post(TWILIO_CREATE, data=FORM, auth=(TWILIO_SID, "t"))
        asynchronous = asyncio.run(async_send())
    assert sync.status_code == asynchronous.status_code == 201, sync.text
    assert str(sync.request.url) == TWILIO_CREATE  # the caller sees the URL it asked for
    assert len(simulator.messages()) == 2


def test_the_host_decides_which_provider_answers(simulator: Any) -> None:
    with lynsms.intercept(simulator=simulator.url):
        # Twilio's path asked of Sinch's host: Sinch's own 404, not a Twilio answer.
        wrong = httpx.post(
            TWILIO_CREATE.replace("api.twilio.com", "us.sms.api.sinch.com"), data=FORM, auth=(TWILIO_SID, "t")
        )
        unknown = httpx.get("https://rest.clicksend.com/nowhere", auth=("u", "k"))
    assert wrong.status_code == 404 and "code" in wrong.json() and "more_info" not in wrong.json()
    assert unknown.status_code == 404
    assert simulator.messages() == []


def test_apprise_unchanged_sends_with_all_four_plugins(simulator: Any) -> None:
    import apprise

    urls = [
        f"twilio://{TWILIO_SID}:token@12025550100/12025550143",
        "sinch://a1b2c3d4:0123456789abcdef@12025550100/12025550143?region=us",
        "infobip://app-key@3g9kqx.api.infobip.com/12025550143",
        "clicksend://acme-user:API-KEY-1@12025550143",
    ]
    with lynsms.intercept(simulator=simulator.url):
        for url in urls:
            notifier = apprise.Apprise()
            assert notifier.add(url), url
            assert notifier.notify(body="Hello from apprise", title=""), url
    assert sorted(m["provider"] for m in simulator.messages()) == ["clicksend", "infobip", "sinch", "twilio"]


def test_a_foreign_host_is_refused_by_every_client_library(simulator: Any) -> None:
    import aiohttp
    import requests

    async def with_aiohttp() -> None:
        async with aiohttp.ClientSession() as session:
            await session.get("https://example.com/")

    async def with_async_httpx() -> None:
        async with httpx.AsyncClient() as client:
            await client.get("https://example.com/")

    with lynsms.intercept(simulator=simulator.url):
        with pytest.raises(requests.ConnectionError) as by_requests:
            requests.get("https://example.com/", timeout=5)
        with pytest.raises(InterceptRefused) as by_httpx:
            httpx.get("https://example.com/")
        with pytest.raises(InterceptRefused):
            asyncio.run(with_async_httpx())
        with pytest.raises(InterceptRefused):
            asyncio.run(with_aiohttp())
        assert httpx.get(f"{simulator.url}/_sim/health").status_code == 200  # loopback passes
    assert "example.com" in str(by_requests.value) and "passthrough=['example.com']" in str(by_requests.value)
    assert by_httpx.value.host == "example.com"
    assert simulator.journal() == []


def test_passthrough_names_hosts_that_may_go_out() -> None:
    route = routing.Route("http://127.0.0.1:1", routing.normalise_passthrough(["Example.com", "*.corp.test"]))
    assert route.passes("example.com:443") and route.passes("a.b.corp.test") and route.passes("[::1]:80")
    assert not route.passes("corp.test") and not route.passes("example.org")


def test_nested_interceptions_route_to_the_innermost_and_restore(simulator: Any, second_simulator: str) -> None:
    def send() -> int:
        return httpx.post(TWILIO_CREATE, data=FORM, auth=(TWILIO_SID, "t")).status_code

    with lynsms.intercept(simulator=simulator.url) as outer:
        assert send() == 201
        with lynsms.intercept(simulator=second_simulator) as inner:
            assert send() == 201
            assert len(inner.messages()) == 1
            with lynsms.intercept() as innermost:  # no simulator: the active one's
                assert innermost.url == second_simulator
        assert send() == 201
        assert len(outer.messages()) == 2
    with pytest.raises(httpx.ConnectError):  # the real host again (no network here)
        httpx.post("https://127.0.0.1:9/", timeout=2)


def test_threads_see_the_interception_and_may_leave_in_any_order(simulator: Any) -> None:
    first, second = lynsms.intercept(simulator=simulator.url), lynsms.intercept(simulator=simulator.url)
    first.__enter__()
    second.__enter__()
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(len(PROGRAMS["twilio"]()) and 201))
    worker.start()
    worker.join(30)
    first.__exit__(None, None, None)  # the outer one leaves first
    assert routing.active() is not None
    codes.append(httpx.post(TWILIO_CREATE, data=FORM, auth=(TWILIO_SID, "t")).status_code)
    second.__exit__(None, None, None)
    assert codes == [201, 201]


def test_without_a_simulator_it_runs_one_in_process() -> None:
    with lynsms.intercept() as sim:
        sid = PROGRAMS["twilio"]()
        assert [m.id for m in sim.messages()] == [sid]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.url}/_sim/health")  # stopped with the block


@lynsms.intercept
def decorated() -> list[str]:
    sim = routing.active()
    assert sim is not None
    return [PROGRAMS["sinch"]()]


@lynsms.intercept(passthrough=["example.com"])
async def decorated_async() -> bool:
    route = routing.active()
    return route is not None and route.passes("example.com")


def test_decorators_wrap_each_call() -> None:
    assert len(decorated()) == 1
    assert routing.active() is None
    assert asyncio.run(decorated_async())

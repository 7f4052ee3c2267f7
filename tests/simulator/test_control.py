"""The /_sim control API, the journal bound and the seeded ids."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import httpx
import pytest

from lynsms.clock import ManualClock
from lynsms.gateway.providers.names import PROVIDER_NAMES
from lynsms.simulator import Simulator, create_app
from lynsms.simulator.messages import SimMessage, Submission
from lynsms.simulator.state import Ids, Journal


def _message(sim: Simulator, provider: str, to: str) -> SimMessage:
    now = datetime.now(UTC)
    return SimMessage(
        id=sim.state.ids.uuid(),
        provider=provider,  # type: ignore[arg-type]
        account="acct",
        submission=Submission(to=to, sender="LynSMS", body="hi"),
        segments=1,
        encoding="GSM-7",
        status="queued",
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def sim() -> Simulator:
    return Simulator(seed=7)


@pytest.fixture
def client(sim: Simulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim=sim)), base_url="http://sim")


async def test_health_lists_the_four_providers(client: httpx.AsyncClient) -> None:
    response = await client.get("/_sim/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "providers": ["twilio", "sinch", "infobip", "clicksend"]}


async def test_messages_filter_by_provider_and_number_with_or_without_plus(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.state.add(
        [
            _message(sim, "twilio", "+12025550143"),
            _message(sim, "sinch", "12025550143"),
            _message(sim, "sinch", "+447700900100"),
        ]
    )
    by_provider = (await client.get("/_sim/messages", params={"provider": "sinch"})).json()
    assert [m["to"] for m in by_provider["messages"]] == ["12025550143", "+447700900100"]
    by_number = (await client.get("/_sim/messages", params={"to": "+12025550143"})).json()
    assert sorted(m["provider"] for m in by_number["messages"]) == ["sinch", "twilio"]


@pytest.mark.parametrize(
    ("path", "params", "fragment"),
    [
        ("/_sim/messages", {"provider": "vonage"}, "unknown provider 'vonage'"),
        ("/_sim/requests", {"provider": "nexmo"}, "unknown provider 'nexmo'"),
        ("/_sim/requests", {"limit": "-1"}, "limit must be a positive integer"),
        ("/_sim/requests", {"since": "yesterday"}, "since must be a journal sequence number"),
    ],
)
async def test_bad_control_queries_are_400_with_a_reason(
    client: httpx.AsyncClient, path: str, params: dict[str, str], fragment: str
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


async def test_reset_forgets_messages_journal_and_counters(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.state.add([_message(sim, "twilio", "+12025550143")])
    sim.state.journal.open("POST", "/x", "twilio")
    sim.state.count_call("twilio", "acct")
    assert (await client.post("/_sim/reset")).json() == {"status": "reset"}
    assert sim.state.messages == {} and len(sim.state.journal) == 0 and sim.state.calls == {}
    assert (await client.get("/_sim/requests")).json()["count"] == 0


async def test_unknown_non_provider_path_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_journal_keeps_only_the_newest_entries_and_counts_the_dropped() -> None:
    journal = Journal(size=3)
    for n in range(5):
        journal.open("POST", f"/{n}", "twilio")
    assert [e.path for e in journal] == ["/2", "/3", "/4"]
    assert [e.seq for e in journal] == [3, 4, 5]
    assert journal.dropped == 2


def test_same_seed_gives_same_ids_and_reset_restarts_the_sequence() -> None:
    a, b = Ids(42), Ids(42)
    first = [a.uuid(), a.hex(32), a.ulid(), a.digits(5)]
    assert first == [b.uuid(), b.hex(32), b.ulid(), b.digits(5)]
    assert Ids(43).uuid() != first[0]
    sim = Simulator(seed=42)
    before = sim.state.ids.uuid()
    sim.reset()
    assert sim.state.ids.uuid() == before


async def _twilio_sid(client: httpx.AsyncClient) -> str:
    account = "AC" + "0" * 31 + "1"
    answer = await client.post(
        f"/2010-04-01/Accounts/{account}/Messages.json",
        data={"To": "+12025550143", "From": "+12025550100", "Body": "hi"},
        auth=(account, "token"),
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["sid"])


async def test_without_a_seed_ids_never_repeat_across_resets_or_simulators() -> None:
    sims = [Simulator(), Simulator()]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim=s)), base_url="http://sim") for s in sims
    ]
    sids = [await _twilio_sid(clients[0])]
    sims[0].reset()
    sids.append(await _twilio_sid(clients[0]))
    sids.append(await _twilio_sid(clients[1]))
    assert len(set(sids)) == 3, sids


async def test_an_explicit_seed_gives_the_same_sids_in_every_simulator_and_after_reset() -> None:
    sims = [Simulator(seed=9), Simulator(seed=9)]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim=s)), base_url="http://sim") for s in sims
    ]
    first = await _twilio_sid(clients[0])
    sims[0].reset()
    assert await _twilio_sid(clients[0]) == first == await _twilio_sid(clients[1])


def test_id_shapes() -> None:
    ids = Ids(1)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", ids.uuid())
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", ids.ulid())
    assert re.fullmatch(r"[0-9a-f]{32}", ids.hex(32))


def test_message_store_keeps_the_newest_and_counts_the_dropped() -> None:
    sim = Simulator(seed=3, max_messages=2)
    messages = [_message(sim, "twilio", f"+1202555014{n}") for n in range(4)]
    sim.state.add(messages)
    assert list(sim.state.messages) == [messages[2].id, messages[3].id]
    assert sim.state.dropped_messages == 2
    sim.reset()
    assert sim.state.dropped_messages == 0 and sim.state.messages == {}


async def test_messages_endpoint_reports_the_bound(client: httpx.AsyncClient) -> None:
    body = (await client.get("/_sim/messages")).json()
    assert (body["max_messages"], body["dropped"]) == (20_000, 0)


def test_every_registered_provider_is_found_by_its_name(sim: Simulator) -> None:
    assert list(sim.providers) == list(PROVIDER_NAMES)
    for name in PROVIDER_NAMES:
        provider = sim.providers[name]
        assert provider.name == name and provider.routes(), name
        # Found by convention: providers/<name>/__init__.py exports PROVIDER.
        assert type(provider).__module__.startswith(f"lynsms.simulator.providers.{name}."), type(provider)


async def test_health_lists_the_registered_providers(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_sim/health")).json()["providers"] == list(PROVIDER_NAMES)


async def test_scripted_latency_and_deliveries_wait_on_the_simulator_clock() -> None:
    clock = ManualClock()
    sim = Simulator(clock=clock)
    transport = httpx.ASGITransport(app=create_app(sim=sim))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        scenario = '{"name": "slow", "providers": {"twilio": [{"latency": 5, "deliver": {"after": 2}}]}}'
        assert (await client.put("/_sim/scenario", content=scenario)).status_code == 200
        account = "AC" + "7" * 32
        sending = asyncio.create_task(
            client.post(
                f"/2010-04-01/Accounts/{account}/Messages.json",
                data={"To": "+12025550143", "From": "+12025550100", "Body": "hi"},
                auth=(account, "token"),
            )
        )
        while not clock.pending():
            await asyncio.sleep(0)
        assert not sending.done()
        clock.advance(5)
        response = await sending
        assert response.status_code == 201
        message = sim.state.messages[response.json()["sid"]]
        assert message.created_at == datetime.fromtimestamp(clock.time() - 5, UTC)
        for status in ("sent", "delivered"):
            clock.advance(1)
            for _ in range(100):
                if message.status == status:
                    break
                await asyncio.sleep(0)
            assert message.status == status

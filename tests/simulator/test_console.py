"""The QA console's server side on a real simulator: rows with one normalised status, the live
event stream, message detail and segment map, switches, marking, the library and the export."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from lynsms.simulator.console.feed import Feed
from lynsms.simulator.console.rows import normalise, segment_map
from lynsms.simulator.harness.cli import main
from lynsms.simulator.harness.server import serving
from lynsms.simulator.state import SimState
from lynsms.tls import client_tls
from tests.conftest import RunningSimulator
from tests.simulator.scenario_wires import WIRES

ALL = list(WIRES)


def rows(simulator: RunningSimulator) -> list[dict[str, Any]]:
    data = simulator.control.get("/_sim/console/rows").json()
    return [dict(zip(data["fields"], row, strict=True)) for row in data["rows"]]


def switch(simulator: RunningSimulator, **providers: dict[str, Any]) -> dict[str, Any]:
    response = simulator.control.put("/_sim/console/switches", json=providers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.mark.parametrize("provider", ALL)
def test_accepted_and_rejected_submissions_are_rows_with_one_status(simulator: RunningSimulator, provider: str) -> None:
    wire = WIRES[provider]
    client = simulator.control  # a new client would cost a TLS context
    assert wire.send(client, simulator.url, body="accepted").status_code == wire.success
    switch(simulator, **{provider: {"rejecting": "invalid_number"}})
    wire.send(client, simulator.url, body="turned down")
    listed = {r["body"]: r for r in rows(simulator)}
    assert listed["accepted"]["status"] == "sent" and listed["accepted"]["provider"] == provider
    assert listed["turned down"]["status"] == "rejected"
    # The provider's own word stays next to it: the scripted reason or the provider's refusal.
    assert listed["turned down"]["word"] in ("invalid_number", "INVALID_RECIPIENT", "REJECTED_DESTINATION")


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("delivered", "delivered"),
        ("undelivered", "undelivered"),
        ("Dispatched", "sent"),
        ("Delivered", "delivered"),
        ("Expired", "undelivered"),
        ("DELIVERED_TO_HANDSET", "delivered"),
        ("UNDELIVERABLE_NOT_DELIVERED", "undelivered"),
        ("PENDING_ENROUTE", "sent"),
        ("REJECTED_DESTINATION", "rejected"),
        ("Failed", "failed"),
        ("Aborted", "failed"),
        ("scheduled", "scheduled"),
        ("Queued", "sent"),
    ],
)
def test_one_status_for_the_four_vocabularies(word: str, status: str) -> None:
    assert normalise(word) == status


def test_segment_map_highlights_escapes_and_the_characters_that_force_ucs2() -> None:
    gsm = segment_map("Price: 5€ {promo}" + "x" * 150)
    assert gsm["encoding"] == "GSM-7" and gsm["segments"] == 2
    escapes = [run["text"] for part in gsm["parts"] for run in part["runs"] if run["kind"] == "escape"]
    assert escapes == ["€", "{", "}"]
    assert gsm["units"] == 17 + 3 + 150 and sum(p["units"] for p in gsm["parts"]) == gsm["units"]
    ucs = segment_map("Hello 😀 café")
    assert ucs["encoding"] == "UCS-2" and ucs["segments"] == 1
    assert [run for run in ucs["parts"][0]["runs"] if run["kind"] != "plain"] == [{"kind": "ucs2", "text": "😀"}]


def test_detail_has_the_raw_exchange_the_deciding_rule_and_the_segment_map(simulator: RunningSimulator) -> None:
    wire = WIRES["twilio"]
    simulator.control.put(
        "/_sim/scenario",
        content="name: reject-it\nproviders:\n  twilio:\n    - name: no-such-number\n      reject: invalid_number\n",
    ).raise_for_status()
    client = simulator.control
    wire.send(client, simulator.url, body="Ciao {amico}")
    (row,) = rows(simulator)
    detail = simulator.control.get(f"/_sim/console/messages/{row['id']}").json()
    assert detail["rule"]["name"] == "no-such-number" and detail["rule"]["hits"] == 1
    assert detail["rule"]["scenario"] == "reject-it"
    raw = detail["request"]["raw"]
    assert (
        "Body=Ciao+%7Bamico%7D" in raw["request"]
        and raw["status"] == 400
        and json.loads(raw["answer"])["code"] == 21211
    )
    assert [r["kind"] for r in detail["segment_map"]["parts"][0]["runs"]].count("escape") == 2
    for unknown in ("nope", f"r{detail['request']['seq']}-7", "r999-0"):
        assert simulator.control.get(f"/_sim/console/messages/{unknown}").status_code == 404


def test_a_switch_changes_the_next_send_and_its_yaml_is_a_scenario(simulator: RunningSimulator) -> None:
    wire = WIRES["sinch"]
    shown = switch(simulator, sinch={"down": True, "slow": False, "rejecting": None})
    assert shown["switches"]["sinch"]["down"] is True
    client = simulator.control
    assert wire.send(client, simulator.url).status_code == 503
    # The YAML shown is a scenario file on its own: loading it gives the same outcome.
    switch(simulator)
    assert wire.send(client, simulator.url).status_code == 201
    simulator.control.put("/_sim/scenario", content=shown["yaml"]).raise_for_status()
    assert wire.send(client, simulator.url).status_code == 503
    scenario = simulator.control.get("/_sim/scenario").json()["scenarios"][0]
    assert scenario["rules"]["sinch"][0]["hits"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"twilio": {"down": "yes"}},
        {"nobody": {"down": True}},
        {"twilio": {"rejecting": "because"}},
        {"twilio": {"loud": True}},
        ["twilio"],
    ],
)
def test_bad_switches_are_refused_and_change_nothing(simulator: RunningSimulator, body: Any) -> None:
    response = simulator.control.put("/_sim/console/switches", json=body)
    assert response.status_code == 400 and response.json()["error"]
    assert simulator.control.get("/_sim/scenario").json()["scenarios"] == []


class Receiver:
    def __init__(self) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()

    def wait(self, count: int, within: float = 5.0) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + within
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.got)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()

    async def record(request: Request) -> Response:
        with receiver.lock:
            receiver.got.append((request.url.path, await request.body()))
        return PlainTextResponse("ok")

    with serving(Starlette(routes=[Route("/{path:path}", record, methods=["POST"])])) as url:
        yield receiver, url


def test_marking_a_message_sends_the_providers_own_callback(
    simulator: RunningSimulator, receiver: tuple[Receiver, str]
) -> None:
    got, url = receiver
    got.got.clear()
    switch(simulator, sinch={"slow": False})  # no switch on: default delivery would take a second
    simulator.control.put("/_sim/scenario", content="name: hold\ndefaults:\n  deliver: false\n").raise_for_status()
    client = simulator.control
    WIRES["sinch"].send(client, simulator.url, callback=f"{url}/sinch").raise_for_status()
    (row,) = rows(simulator)
    answer = simulator.control.post(f"/_sim/console/messages/{row['id']}/mark", json={"status": "delivered"})
    assert answer.status_code == 200
    (callback,) = got.wait(1)
    assert callback[0] == "/sinch" and json.loads(callback[1])["status"] == "Delivered"
    (row,) = rows(simulator)
    assert row["status"] == "delivered" and row["word"] == "Delivered"
    bad = simulator.control.post(f"/_sim/console/messages/{row['id']}/mark", json={"status": "lost"})
    assert bad.status_code == 400


def test_the_event_stream_pushes_new_rows_and_journal_entries(simulator: RunningSimulator) -> None:
    with (
        httpx.Client(timeout=5, verify=client_tls()) as client,
        client.stream("GET", f"{simulator.url}/_sim/events") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(line for line in lines if line.startswith("event:")) == "event: hello"
        hello = json.loads(next(line for line in lines if line.startswith("data:"))[6:])
        # Journal entries only once the console asks for them (it shows the journal).
        asked = client.post(f"{simulator.url}/_sim/events/{hello['stream']}", json={"journal": True})
        assert asked.json() == {"stream": hello["stream"], "journal": True}
        WIRES["infobip"].send(client, simulator.url, body="pushed")
        events: dict[str, Any] = {}
        event = None
        for line in lines:
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event:
                events[event] = json.loads(line[6:])
            if "rows" in events and "journal" in events:
                break
        unknown = client.post(f"{simulator.url}/_sim/events/{hello['stream'] + 100}", json={"journal": True})
        wrong = client.post(f"{simulator.url}/_sim/events/{hello['stream']}", json={"journal": "yes"})
    assert [dict(zip(hello["fields"], r, strict=True))["body"] for r in events["rows"]["rows"]] == ["pushed"]
    assert "/sms/3/messages" in events["journal"]["entries"][0]
    assert unknown.status_code == 404 and wrong.status_code == 400 and "journal" in wrong.json()["error"]


def test_the_first_screen_is_the_newest_rows_of_the_snapshot(simulator: RunningSimulator) -> None:
    client = simulator.control
    for i in range(4):
        WIRES["sinch"].send(client, simulator.url, body=f"m{i}")
    switch(simulator, sinch={"rejecting": "invalid_number"})
    WIRES["sinch"].send(client, simulator.url, body="turned down")
    switch(simulator)
    WIRES["sinch"].send(client, simulator.url, body="last")
    full = simulator.control.get("/_sim/console/rows").json()["rows"]
    newest = simulator.control.get("/_sim/console/rows", params={"last": 3}).json()["rows"]
    assert [r[6] for r in newest] == ["m3", "turned down", "last"] and newest == full[-3:]
    assert simulator.control.get("/_sim/console/rows", params={"last": "x"}).status_code == 400


def test_the_feed_builds_journal_entries_only_for_the_streams_that_show_them() -> None:
    state = SimState()
    feed = Feed(state)

    async def run() -> bytes:
        plain, journal = feed.stream(), feed.stream(journal=True)
        await anext(plain), await anext(journal)  # their hellos
        entry = state.journal.open("POST", "/callback", None)
        entry.outcome, entry.status = {"kind": "callback"}, 200
        feed.tick()
        got = await anext(journal)
        pending = asyncio.ensure_future(anext(plain))
        await asyncio.sleep(0.01)
        assert not pending.done()  # nothing for the stream that does not show the journal
        pending.cancel()
        await feed.close()
        return got

    got = asyncio.run(run())
    assert got.startswith(b"event: journal\n") and b'"/callback"' in got
    assert feed.collect(journal=False) == (b"", b"")  # nothing new since the tick


def test_the_console_page_and_its_files_are_served(simulator: RunningSimulator) -> None:
    page = simulator.control.get("/_sim/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '"twilio", "sinch", "infobip", "clicksend"' in page.text.replace('","', '", "')
    assert simulator.control.get("/_sim/static/console.js").headers["content-type"].startswith("text/javascript")
    assert simulator.control.get("/_sim/static/nothing.js").status_code == 404


def test_library_scenarios_are_listed_and_loaded_by_name(simulator: RunningSimulator) -> None:
    listed = simulator.control.get("/_sim/console/library").json()["scenarios"]
    names = {s["name"] for s in listed}
    assert "all-providers-down" in names
    loaded = simulator.control.post("/_sim/console/library/all-providers-down")
    assert loaded.status_code == 200 and loaded.json()["scenario"]["name"] == "all-providers-down"
    client = simulator.control
    assert WIRES["twilio"].send(client, simulator.url).status_code == 503
    assert simulator.control.post("/_sim/console/library/no-such").status_code == 404


def test_the_exported_journal_replays_green(simulator: RunningSimulator, tmp_path: Path) -> None:
    client = simulator.control
    WIRES["twilio"].send(client, simulator.url, body="Hello {there} [x]* €")
    switch(simulator, sinch={"rejecting": "invalid_number"}, infobip={"down": True})
    WIRES["sinch"].send(client, simulator.url, body="no such number")
    WIRES["infobip"].send(client, simulator.url, body="infobip is down")
    switch(simulator)
    WIRES["clicksend"].send(client, simulator.url, body="Ciao 😀")
    exported = simulator.control.get("/_sim/console/export.scenario.yaml")
    assert exported.headers["content-disposition"].endswith('.scenario.yaml"')
    path = tmp_path / "exported.scenario.yaml"
    path.write_text(exported.text, "utf-8")
    assert exported.text.count("- name: m") == 8  # four rules, four steps
    assert main(["scenario", "run", str(path)]) == 0
    dump = simulator.control.get("/_sim/console/export.json").json()
    assert len(dump["rows"]) == 4 and len(dump["messages"]) == 2


def test_clicksend_delivered_is_told_from_sent_by_its_receipt_code(simulator: RunningSimulator) -> None:
    simulator.control.put("/_sim/scenario", content="name: hold\ndefaults:\n  deliver: false\n").raise_for_status()
    client = simulator.control
    WIRES["clicksend"].send(client, simulator.url).raise_for_status()
    (row,) = rows(simulator)
    simulator.control.post(f"/_sim/console/messages/{row['id']}/mark", json={"status": "delivered"})
    deadline = time.monotonic() + 5
    while rows(simulator)[0]["status"] != "delivered" and time.monotonic() < deadline:
        time.sleep(0.02)
    (row,) = rows(simulator)
    assert (row["status"], row["word"]) == ("delivered", "Sent (201)")


def test_inbound_pushes_in_the_journal_are_received_rows(simulator: RunningSimulator) -> None:
    # Two-way SMS journals each push of an inbound message as an INBOUND entry (one per attempt).
    journal = simulator.sim.state.journal
    for attempt in (1, 2):
        entry = journal.open("INBOUND", "http://127.0.0.1:9/inbound", "twilio")
        entry.message_ids = ["SMin1"]
        entry.messages = [{"id": "SMin1", "from": "+12025550143", "to": "+15005550006", "body": "STOP", "segments": 1}]
        entry.outcome = {"kind": "inbound", "attempt": attempt, "attempts": 2, "result": "delivered"}
        entry.status = 200
    (row,) = rows(simulator)
    assert (row["id"], row["dir"], row["status"], row["from"], row["body"]) == (
        "SMin1",
        "in",
        "received",
        "+12025550143",
        "STOP",
    )
    detail = simulator.control.get("/_sim/console/messages/SMin1").json()
    assert [p["outcome"]["attempt"] for p in detail["pushes"]] == [1, 2]

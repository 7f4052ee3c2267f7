"""Under ``lynsms up`` the console shows the gateway's side of a simulator message, read from the
gateway API: a real gateway sending to a real simulator. The simulator's clock moves when the
test says: its delivery report comes without the default second of waiting."""

from __future__ import annotations

import dataclasses
import time

import httpx

from lynsms.clock import ManualClock
from lynsms.gateway import create_app as create_gateway
from lynsms.gateway.config import load_config
from lynsms.simulator import Simulator, create_app
from lynsms.simulator.console.gateway import GatewayLink
from lynsms.simulator.harness.server import ServerThread, bind, url_of
from lynsms.tls import client_tls

KEY = "lyn_test_console_gateway"


def test_the_console_reads_the_gateways_side_of_a_message() -> None:
    clock = ManualClock(start=time.time())
    sim = Simulator(seed=3, clock=clock)
    with ServerThread(create_app(sim=sim)) as simulator:
        sock = bind()
        config = load_config(None, simulator_url=simulator.url).with_api_key(KEY, name="test")
        config = dataclasses.replace(config, public_url=url_of(sock))
        with (
            ServerThread(create_gateway(config, db_path=":memory:"), sock=sock) as gateway,
            httpx.Client(verify=client_tls()) as client,
        ):
            headers = {"Authorization": f"Bearer {KEY}"}
            sent = client.post(
                f"{gateway.url}/api/v1/messages/send",
                json={"to": "+12025550143", "from": "LynSMS", "body": "Hello"},
                headers=headers,
            ).json()["data"]
            detail_url = f"{simulator.url}/_sim/console/messages/{sent['provider_message_id']}/gateway"
            assert client.get(detail_url).status_code == 404  # no gateway linked yet: said so
            sim.console.gateway = GatewayLink(gateway.url, KEY)
            deadline = time.monotonic() + 30  # a bound for a loaded machine
            side = client.get(detail_url).json()
            while side["message"]["status"] != "delivered" and time.monotonic() < deadline:
                clock.advance(0.5)  # the report's intermediate step, then its final one
                time.sleep(0.01)
                side = client.get(detail_url).json()
    assert side["message"]["id"] == sent["id"] and side["message"]["status"] == "delivered"
    assert [a["provider"] for a in side["message"]["attempt_log"]] == ["twilio"]
    assert {"queued", "sent"} <= {e["type"] for e in side["events"]}

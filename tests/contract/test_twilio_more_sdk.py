"""Twilio details through the official SDK: Smart Encoding's segment counts and error_message."""

from __future__ import annotations

from typing import Any

from tests.contract.test_accounts_sdk import TO, twilio
from tests.simulator.scenario_wires import script

SENDER = "+15005550006"


def test_smart_encoded_quotes_count_as_gsm(simulator: Any) -> None:
    client = twilio(simulator)
    body = "\u201chello\u201d " + "a" * 100
    plain = client.messages.create(to=TO, from_=SENDER, body=body)
    smart = client.messages.create(to=TO, from_=SENDER, body=body, smart_encoded=True)
    assert (plain.num_segments, smart.num_segments) == ("2", "1")
    assert smart.body == '"hello" ' + "a" * 100


def test_error_message_names_the_error_code(clocked_simulator: Any) -> None:
    sim = clocked_simulator
    script(sim.control, sim.url, "twilio", {"deliver": {"status": "undelivered", "error_code": "30003", "after": 1}})
    client = twilio(sim)
    message = client.messages.create(to=TO, from_=SENDER, body="hi")
    assert message.error_message is None
    sim.advance_until(lambda: sim.sim.state.messages[message.sid].status == "undelivered")
    fetched = client.messages(message.sid).fetch()
    assert (fetched.error_code, fetched.error_message) == (30003, "Unreachable destination handset")

"""Twilio details through the official SDK: Smart Encoding's segment counts, error_message, and
which status changes are called back (with and without a Messaging Service)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.test_accounts_sdk import TO, twilio
from tests.contract.test_scheduling_sdk import SERVICE, Receiver, scheduled_in_ten_minutes
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


def _statuses(bodies: list[bytes]) -> list[str]:
    from urllib.parse import parse_qsl

    return [dict(parse_qsl(body.decode()))["MessageStatus"] for body in bodies]


@pytest.mark.parametrize(
    ("sender", "created", "called_back"),
    [
        ({"from_": SENDER}, "queued", ["sent", "delivered"]),
        ({"messaging_service_sid": SERVICE}, "accepted", ["queued", "sent", "delivered"]),
    ],
    ids=["from", "messaging-service"],
)
def test_status_callbacks_follow_twilios_documented_sequence(
    clocked_simulator: Any, sender: dict[str, str], created: str, called_back: list[str]
) -> None:
    """No callback for the status the create answers; one for every change after it (with a
    Messaging Service, `accepted` -> `queued` is such a change)."""
    from urllib.parse import parse_qsl

    sim = clocked_simulator
    script(sim.control, sim.url, "twilio", {"deliver": {"status": "delivered", "after": 2}})
    client = twilio(sim)
    with Receiver() as receiver:
        message = client.messages.create(to=TO, body="hi", status_callback=receiver.url, **sender)
        assert message.status == created
        sim.advance_until(lambda: len(receiver.bodies) == len(called_back), step=0.5)
        sim.clock.advance(5)
    assert _statuses(receiver.bodies) == called_back
    for body in receiver.bodies:
        fields = dict(parse_qsl(body.decode()))
        assert fields["MessageSid"] == message.sid
        assert fields.get("MessagingServiceSid") == sender.get("messaging_service_sid")


def test_a_scheduled_messaging_service_message_is_called_back_from_queued(clocked_simulator: Any) -> None:
    sim = clocked_simulator
    script(sim.control, sim.url, "twilio", {"deliver": {"status": "undelivered", "after": 2}})
    client = twilio(sim)
    with Receiver() as receiver:
        message = scheduled_in_ten_minutes(client, sim, receiver.url)
        assert message.status == "scheduled"
        sim.clock.advance(599)
        assert receiver.bodies == []
        sim.advance_until(lambda: len(receiver.bodies) == 3, step=0.5)
    assert _statuses(receiver.bodies) == ["queued", "sent", "undelivered"]

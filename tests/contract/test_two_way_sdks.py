"""The official SDKs' two-way calls against a real simulator, only the base URL changed: number
lookup (Twilio Lookup v2, Sinch number_lookup), inbound URL registration (Twilio
IncomingPhoneNumbers, ClickSend inbound automations) and the inbound pull APIs (Infobip inbox,
ClickSend inbound). SDKs are imported inside each test: importing them costs seconds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.simulator.receiver import Receiver

AC = "AC" + "7c" * 16
TOKEN = "sdk-token"
HANDSET = "+447700900123"
NUMBER = "+12025550100"
LOOKUPS = """
name: sdk-lookups
lookups:
  - {match: "+442071838750", outcome: landline}
  - {match: "+447700900601", outcome: ported, carrier: "Blue Mobile"}
"""


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as found:
        yield found


@pytest.fixture(autouse=True)
def clean(simulator: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("TWILIO_REGION", "TWILIO_EDGE", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    receiver.clear()
    yield
    simulator.control.delete("/_sim/inbound/urls").raise_for_status()


def twilio(url: str) -> Any:
    from twilio.rest import Client

    client = Client(AC, TOKEN)
    client.api.base_url = url
    client.lookups.base_url = url
    return client


def test_twilio_lookup_v2_fetch_parses_line_type_intelligence(simulator: Any) -> None:
    simulator.control.put("/_sim/scenario", content=LOOKUPS).raise_for_status()
    client = twilio(simulator.url)
    found = client.lookups.v2.phone_numbers("+442071838750").fetch(fields="line_type_intelligence")
    assert found.valid is True and found.country_code == "GB" and found.phone_number == "+442071838750"
    assert found.line_type_intelligence["type"] == "landline"
    assert found.calling_country_code == "44" and found.national_format == "020 7183 8750"
    invalid = client.lookups.v2.phone_numbers("+1202555").fetch()
    assert invalid.valid is False and invalid.validation_errors == ["TOO_SHORT"]


def test_twilio_incoming_phone_numbers_create_list_update_and_route_inbound(simulator: Any, receiver: Receiver) -> None:
    from twilio.request_validator import RequestValidator

    client = twilio(simulator.url)
    number = client.incoming_phone_numbers.create(phone_number=NUMBER, sms_url=f"{receiver.url}/first")
    assert number.sid.startswith("PN") and number.phone_number == NUMBER and number.sms_url.endswith("/first")
    listed = client.incoming_phone_numbers.list(phone_number=NUMBER)
    assert [n.sid for n in listed] == [number.sid]
    updated = client.incoming_phone_numbers(number.sid).update(sms_url=f"{receiver.url}/second")
    assert updated.sms_url.endswith("/second")
    sent = simulator.control.post(
        "/_sim/inbound", json={"provider": "twilio", "from": HANDSET, "to": NUMBER, "body": "STOP"}
    )
    assert sent.status_code == 202
    (push,) = receiver.wait(1)
    assert push.path == "/second"
    form = dict(parse_qsl(push.body.decode()))
    assert form["AccountSid"] == AC
    assert RequestValidator(TOKEN).validate(f"{receiver.url}/second", form, push.headers["x-twilio-signature"])
    assert client.incoming_phone_numbers(number.sid).delete() is True
    assert client.incoming_phone_numbers.list() == []


def test_sinch_number_lookup_parses_into_the_typed_response(simulator: Any) -> None:
    from sinch import SinchClient

    simulator.control.put("/_sim/scenario", content=LOOKUPS).raise_for_status()
    client = SinchClient(project_id="project-1", key_id="key-id", key_secret="key-secret", sms_region="us")
    client.configuration.auth_origin = simulator.url
    client.configuration.number_lookup_origin = simulator.url
    found = client.number_lookup.lookup("+447700900601", features=["LineType"])
    assert found.number == "+447700900601" and found.country_code == "GB"
    assert found.line is not None and found.line.type == "Mobile"
    assert found.line.ported is True and found.line.carrier == "Blue Mobile"


def test_infobip_inbound_pull_parses_the_inbox(simulator: Any, receiver: Receiver) -> None:
    from infobip_api_client import ApiClient, Configuration, SmsApi

    simulator.control.post(
        "/_sim/inbound/urls", json={"provider": "infobip", "url": f"{receiver.url}/ib", "account": "sdk-key"}
    ).raise_for_status()
    simulator.control.post("/_sim/inbound", json={"provider": "infobip", "from": HANDSET, "to": NUMBER, "body": "Yes"})
    api = SmsApi(ApiClient(Configuration(host=simulator.url, api_key="sdk-key")))
    inbox = api.get_inbound_sms_messages(limit=10)
    assert inbox.message_count == 1 and inbox.pending_message_count == 0
    assert inbox.results is not None
    (message,) = inbox.results
    assert message.var_from == HANDSET[1:] and message.text == "Yes" and message.sms_count == 1


def test_clicksend_inbound_automation_and_inbound_list(simulator: Any, receiver: Receiver) -> None:
    import clicksend
    from clicksend.models.create_sms_inbound_automation_request import CreateSmsInboundAutomationRequest

    configuration = clicksend.Configuration(host=simulator.url, username="sdk-user", password="sdk-key")
    with clicksend.ApiClient(configuration) as client:
        api = clicksend.SmsApi(client)
        rule = CreateSmsInboundAutomationRequest(
            dedicated_number="*",
            rule_name="to the app",
            message_search_type=0,
            message_search_term="",
            action="URL",
            action_address=f"{receiver.url}/cs",
            enabled=1,
        )
        created = api.create_sms_inbound_automation(create_sms_inbound_automation_request=rule)
        assert created.data is not None and created.data.inbound_rule_id == 1
        simulator.control.post(
            "/_sim/inbound", json={"provider": "clicksend", "from": HANDSET, "to": NUMBER, "body": "Hi"}
        ).raise_for_status()
        assert receiver.wait(1)[0].path == "/cs"
        inbox = api.view_inbound_sms()
        assert inbox.data is not None and inbox.data.total == 1 and inbox.data.data is not None
        assert inbox.data.data[0].var_from == HANDSET and inbox.data.data[0].body == "Hi"

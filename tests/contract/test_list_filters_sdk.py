"""List filters through the official SDKs: each documented filter narrows the answer, a bad or
unknown one is refused in the provider's own format, so "nothing was sent to X" is answered right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.simulator.scenario_wires import QUIET, load

A, B = "+12025550143", "+12025550144"


@pytest.fixture(autouse=True)
def quiet(simulator: Any) -> None:
    load(simulator.control, simulator.url, QUIET)


# ---- Sinch batches.list -----------------------------------------------------------------------------


def test_sinch_batch_list_honours_dates_senders_and_references(simulator: Any) -> None:
    from tests.contract.test_sinch_sdk import plan_client

    client = plan_client(simulator.url)
    first = client.sms.batches.send_sms(to=[A], from_="+12025550100", body="one", client_reference="r1")
    client.sms.batches.send_sms(to=[B], from_="Acme", body="two", client_reference="r2")

    def ids(**query: Any) -> list[str]:
        return [b.id for b in client.sms.batches.list(**query).content()]

    assert len(ids()) == 2
    assert ids(from_=["+12025550100"]) == [first.id]
    assert ids(client_reference="r1") == [first.id]
    assert ids(client_reference="r3") == []
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert ids(start_date=later) == []
    assert len(ids(end_date=later)) == 2


def test_sinch_batch_list_refuses_an_unknown_filter(simulator: Any) -> None:
    answer = httpx.get(
        f"{simulator.url}/xms/v1/plan-1/batches", params={"to": A}, headers={"Authorization": "Bearer token"}
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "syntax_invalid_parameter_format"


# ---- Infobip get_outbound_sms_message_logs -------------------------------------------------------------


def test_infobip_logs_honour_every_filter(simulator: Any) -> None:
    from infobip_api_client.models.message_general_status import MessageGeneralStatus

    from tests.contract.test_infobip_sdk import request, sms_api

    api = sms_api(simulator.url)
    sent = api.send_sms_messages(sms_request=request(A.lstrip("+"), B.lstrip("+")))
    other = api.send_sms_messages(sms_request=request(A.lstrip("+"), text="another"))

    def ids(**query: Any) -> list[str]:
        return [log.message_id or "" for log in api.get_outbound_sms_message_logs(**query).results or []]

    assert len(ids()) == 3
    assert len(ids(destination=A.lstrip("+"))) == 2
    assert ids(bulk_id=[other.bulk_id or ""]) == [m.message_id for m in other.messages or []]
    assert len(ids(sender="InfoSMS")) == 3 and ids(sender="Nobody") == []
    assert len(ids(general_status=MessageGeneralStatus.PENDING)) == 3
    assert ids(general_status=MessageGeneralStatus.DELIVERED) == []
    first_id = (sent.messages or [])[0].message_id or ""
    assert ids(message_id=[first_id]) == [first_id]
    soon = datetime.now(UTC) + timedelta(minutes=1)
    assert ids(sent_since=soon) == [] and len(ids(sent_until=soon)) == 3


def test_infobip_status_filter_follows_delivery_whether_few_or_most_match(simulator: Any) -> None:
    """Few matches are read from the status index, most from the account's timeline: same answers."""
    from infobip_api_client.models.message_general_status import MessageGeneralStatus

    from tests.contract.test_infobip_sdk import request, sms_api

    api = sms_api(simulator.url)
    numbers = [f"1202555{n:04d}" for n in range(8)]
    sent = [m.message_id or "" for m in api.send_sms_messages(sms_request=request(*numbers)).messages or []]
    provider = simulator.sim.providers["infobip"]

    def deliver(*message_ids: str) -> None:
        for message_id in message_ids:
            stored = provider.message(message_id)
            stored.reports.append(provider.delivery_report(stored, "delivered", None))

    def ids(status: MessageGeneralStatus) -> list[str]:
        logs = api.get_outbound_sms_message_logs(general_status=status).results or []
        return sorted(log.message_id or "" for log in logs)

    deliver(sent[1], sent[5])  # 2 of 8: the index
    assert ids(MessageGeneralStatus.DELIVERED) == sorted([sent[1], sent[5]])
    assert ids(MessageGeneralStatus.PENDING) == sorted(set(sent) - {sent[1], sent[5]})
    deliver(*sent[2:5])  # 5 of 8: the timeline
    assert ids(MessageGeneralStatus.DELIVERED) == sorted(sent[1:6])
    assert ids(MessageGeneralStatus.PENDING) == sorted([sent[0], sent[6], sent[7]])


def test_infobip_logs_refuse_unknown_and_bad_filters(simulator: Any) -> None:

    auth = {"Authorization": "App sdk-key"}
    unknown = httpx.get(f"{simulator.url}/sms/3/logs", params={"recipient": A}, headers=auth)
    assert unknown.status_code == 400
    assert unknown.json()["violations"] == [{"property": "recipient", "violation": "unknown parameter"}]
    bad = httpx.get(f"{simulator.url}/sms/1/logs", params={"sentSince": "yesterday"}, headers=auth)
    assert bad.status_code == 400 and "sentSince" in bad.json()["requestError"]["serviceException"]["validationErrors"]


# ---- Twilio messages.list and ClickSend view_sms_history ------------------------------------------------


def test_twilio_list_honours_to_from_and_date_sent(simulator: Any) -> None:
    from tests.contract.test_accounts_sdk import twilio

    client = twilio(simulator)
    client.messages.create(to=A, from_="+15005550006", body="one")
    client.messages.create(to=B, from_="+15005550007", body="two")
    assert [m.to for m in client.messages.list(to=A)] == [A]
    assert [m.to for m in client.messages.list(from_="+15005550007")] == [B]
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert client.messages.list(date_sent_after=tomorrow) == []


def test_clicksend_history_honours_dates_and_query(simulator: Any) -> None:
    from tests.contract.test_clicksend_sdk import message, send, sms_api

    api = next(sms_api(simulator.url))
    send(api, message(to=A, body="one"), message(to=B, body="two"))

    def recipients(**query: Any) -> list[str | None]:
        data = api.view_sms_history(**query).data
        return [row.to for row in (data.data if data is not None else None) or []]

    assert recipients(q=f"to:{A}") == [A]
    assert recipients(q="to:+12025550999") == []
    future = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
    assert recipients(date_from=future) == []

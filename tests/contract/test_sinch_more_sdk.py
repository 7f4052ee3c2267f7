"""More of Sinch's batch API through the official SDK: dry runs, the delivery reports list,
delivery feedback, binary batches and the part count in recipient reports."""

from __future__ import annotations

from base64 import b64encode
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.contract.test_sinch_sdk import account_of, plan_client

A, B = "+12025550143", "+12025550144"


def test_dry_run_counts_parts_per_recipient_and_stores_nothing(simulator: Any) -> None:
    from sinch.domains.sms.models.v1.response.dry_run_response import DryRunResponse

    client = plan_client(simulator.url)
    answer = client.sms.batches.dry_run_sms(
        to=[A, B],
        from_="+12025550100",
        body="${greeting} " + "a" * 160,
        parameters={"greeting": {A: "Hi", "default": "Hé ✓"}},
        per_recipient=True,
    )
    assert type(answer) is DryRunResponse
    assert (answer.number_of_recipients, answer.number_of_messages) == (2, 2 + 3)
    details = {d.recipient: (d.number_of_parts, d.encoding) for d in answer.per_recipient or []}
    assert details == {A.lstrip("+"): (2, "GSM"), B.lstrip("+"): (3, "UNICODE")}
    assert simulator.sim.state.messages == {}


def test_dry_run_validates_like_a_send(simulator: Any) -> None:
    from sinch.domains.sms.api.v1.exceptions import SmsException

    client = plan_client(simulator.url)
    with pytest.raises(SmsException) as caught:
        client.sms.batches.dry_run_sms(to=["123"], from_="+12025550100", body="x")
    assert (caught.value.response_status_code, caught.value.http_response.body["code"]) == (
        400,
        "syntax_invalid_parameter_format",
    )
    plain = client.sms.batches.dry_run_sms(to=[A], from_="+12025550100", body="x")
    assert plain.per_recipient is None and plain.number_of_messages == 1


def test_delivery_reports_list_filters_by_status_and_code(clocked_simulator: Any) -> None:
    from sinch.domains.sms.models.v1.response import RecipientDeliveryReport

    from tests.simulator.scenario_wires import script

    sim = clocked_simulator
    script(
        sim.control,
        sim.url,
        "sinch",
        {"match": {"to": A}, "deliver": {"status": "delivered", "after": 1}},
        {"match": {"to": B}, "deliver": {"status": "failed", "after": 1}},
    )
    client = plan_client(sim.url)
    client.sms.batches.send_sms(to=[A, B], from_="+12025550100", body="hi")
    sim.advance_until(lambda: all(len(m.reports) >= 1 for m in sim.sim.state.messages.values()), step=0.5)
    sim.clock.advance(2)

    def listed(**query: Any) -> list[tuple[str, str]]:
        reports = list(client.sms.delivery_reports.list(**query).iterator())
        assert all(type(r) is RecipientDeliveryReport for r in reports)
        return sorted((r.recipient, r.status) for r in reports)

    assert listed() == [(A.lstrip("+"), "Delivered"), (B.lstrip("+"), "Aborted")]
    assert listed(status=["Delivered"]) == [(A.lstrip("+"), "Delivered")]
    assert listed(code=[0]) == [(A.lstrip("+"), "Delivered")]


def sms_error(call: Any) -> tuple[int, str]:
    from sinch.domains.sms.api.v1.exceptions import SmsException

    with pytest.raises(SmsException) as caught:
        call()
    return caught.value.response_status_code, caught.value.http_response.body["code"]


def test_delivery_feedback_is_recorded_for_a_batch_that_enabled_it(simulator: Any) -> None:
    client = plan_client(simulator.url)
    batch = client.sms.batches.send_sms(to=[A, B], from_="+12025550100", body="hi", feedback_enabled=True)
    assert client.sms.batches.send_delivery_feedback(batch_id=batch.id, recipients=[B]) is None
    stored = {m.to: m.extra.get("delivery_feedback") for m in simulator.sim.state.messages.values()}
    assert stored[A] is None and isinstance(stored[B], str)
    [entry] = [e for e in simulator.journal() if e["path"].endswith("/delivery_feedback")]
    assert (entry["status"], entry["outcome"]) == (202, {"kind": "delivery_feedback", "recipients": [B.lstrip("+")]})
    # An empty list confirms the whole batch.
    client.sms.batches.send_delivery_feedback(batch_id=batch.id, recipients=[])
    assert all(m.extra.get("delivery_feedback") for m in simulator.sim.state.messages.values())


def test_delivery_feedback_refusals_use_sinchs_error_format(simulator: Any) -> None:
    client = plan_client(simulator.url)
    plain = client.sms.batches.send_sms(to=[A], from_="+12025550100", body="hi")
    enabled = client.sms.batches.send_sms(to=[A], from_="+12025550100", body="hi", feedback_enabled=True)
    feedback = client.sms.batches.send_delivery_feedback
    assert sms_error(lambda: feedback(batch_id=plain.id, recipients=[A])) == (400, "syntax_constraint_violation")
    assert sms_error(lambda: feedback(batch_id=enabled.id, recipients=[B])) == (400, "syntax_constraint_violation")
    assert sms_error(lambda: feedback(batch_id=enabled.id, recipients=["12"])) == (
        400,
        "syntax_invalid_parameter_format",
    )
    assert sms_error(lambda: feedback(batch_id="01NOSUCHBATCH0000000000000", recipients=[])) == (404, "not_found")
    path = f"/xms/v1/{account_of(client)}/batches/{enabled.id}/delivery_feedback"
    for body, code in [({"recipients": "x"}, "syntax_invalid_json"), ({}, "syntax_constraint_violation")]:
        raw = simulator.control.post(path, json=body, headers={"Authorization": "Bearer token"})
        assert (raw.status_code, raw.json()["code"]) == (400, code)
    raw = simulator.control.post(path, content=b"[", headers={"Authorization": "Bearer token"})
    assert (raw.status_code, raw.json()["code"]) == (400, "syntax_invalid_json")


UDH = "050003cc0201"  # a concatenation header: 6 octets


def test_binary_batch_is_sent_fetched_and_dry_run_as_one_part(simulator: Any) -> None:
    from sinch.domains.sms.models.v1.shared.binary_response import BinaryResponse

    client = plan_client(simulator.url)
    body = b64encode(bytes(range(134))).decode()  # 134 + 6 = 140 octets: the most one SMS holds
    sent = client.sms.batches.send_binary(to=[A], from_="+12025550100", body=body, udh=UDH)
    assert type(sent) is BinaryResponse and (sent.body, sent.udh, sent.type) == (body, UDH, "mt_binary")
    fetched = client.sms.batches.get(sent.id)
    assert type(fetched) is BinaryResponse and fetched.udh == UDH
    [message] = simulator.sim.state.messages.values()
    assert (message.segments, message.encoding) == (1, "binary")
    dry = client.sms.batches.dry_run_binary(to=[A, B], from_="+12025550100", body=body, udh=UDH, per_recipient=True)
    assert (dry.number_of_recipients, dry.number_of_messages) == (2, 2)
    assert {(d.number_of_parts, d.encoding) for d in dry.per_recipient or []} == {(1, "BINARY")}
    too_big = b64encode(bytes(135)).decode()
    assert sms_error(lambda: client.sms.batches.send_binary(to=[A], from_="+12025550100", body=too_big, udh=UDH)) == (
        400,
        "syntax_constraint_violation",
    )
    assert sms_error(lambda: client.sms.batches.send_binary(to=[A], from_="+1202555", body="%%", udh=UDH)) == (
        400,
        "syntax_invalid_parameter_format",
    )


def test_scheduled_binary_batch_waits_and_can_be_updated(clocked_simulator: Any) -> None:
    sim = clocked_simulator
    client = plan_client(sim.url)
    due = datetime.fromtimestamp(sim.clock.time(), UTC) + timedelta(hours=1)
    batch = client.sms.batches.send_binary(to=[A], from_="+12025550100", body="AAE=", udh=UDH, send_at=due)
    updated = client.sms.batches.update_binary(batch_id=batch.id, udh="0500030a0201", body="AAI=")
    assert (updated.type, updated.udh, updated.body) == ("mt_binary", "0500030a0201", "AAI=")
    sim.clock.advance(3599)
    assert client.sms.delivery_reports.get_for_number(batch.id, A).status == "Queued"
    sim.advance_until(lambda: client.sms.delivery_reports.get_for_number(batch.id, A).status == "Delivered")
    [message] = sim.sim.state.messages.values()
    assert (message.submission.body, message.submission.extra["udh"]) == ("AAI=", "0500030a0201")
    later = client.sms.batches.send_binary(
        to=[A], from_="+12025550100", body="AAE=", udh=UDH, send_at=due + timedelta(days=1)
    )
    swapped = client.sms.batches.replace_binary(
        batch_id=later.id, to=[B], from_="+12025550100", body="AAM=", udh=UDH, send_at=due + timedelta(days=1)
    )
    assert (swapped.id, swapped.type, swapped.to, swapped.body) == (later.id, "mt_binary", [B], "AAM=")


def test_recipient_report_counts_parts_only_when_the_batch_limits_them(simulator: Any) -> None:
    client = plan_client(simulator.url)
    limited = client.sms.batches.send_sms(to=[A], from_="+12025550100", body="ж" * 71, max_number_of_message_parts=3)
    plain = client.sms.batches.send_sms(to=[A], from_="+12025550100", body="ж" * 71)
    one = client.sms.delivery_reports.get_for_number(limited.id, A)
    assert (one.number_of_message_parts, one.encoding) == (2, None)
    other = client.sms.delivery_reports.get_for_number(plain.id, A)
    assert (other.number_of_message_parts, other.encoding) == (None, None)


def test_inbounds_list_and_get_with_sinchs_filters(simulator: Any) -> None:
    from sinch.domains.sms.models.v1.types.inbound_message import MOTextMessage

    from tests.simulator.receiver import Receiver

    client = plan_client(simulator.url)
    account = account_of(client)
    with Receiver() as receiver:
        registered = {"provider": "sinch", "url": f"{receiver.url}/mo", "account": account}
        made = simulator.control.post("/_sim/inbound/urls", json=registered).json()
        try:
            for to in (A, B):
                texted = {"provider": "sinch", "from": "+447700900123", "to": to, "body": f"to {to}"}
                simulator.control.post("/_sim/inbound", json=texted).raise_for_status()
            receiver.wait(2)
        finally:  # registrations outlive a reset
            simulator.control.delete(f"/_sim/inbound/urls/{made['id']}").raise_for_status()
    inbounds = client.sms.inbounds
    listed = list(inbounds.list(to=[B]).iterator())
    assert [(type(m), m.to, m.body) for m in listed] == [(MOTextMessage, B.lstrip("+"), f"to {B}")]
    assert inbounds.get(listed[0].id).body == f"to {B}"
    assert len(list(inbounds.list().iterator())) == 2
    later = datetime.now(UTC) + timedelta(hours=1)
    assert list(inbounds.list(start_date=later).iterator()) == []
    assert sms_error(lambda: inbounds.list(client_reference="r").content()) == (400, "syntax_invalid_parameter_format")
    assert sms_error(lambda: inbounds.get("01ARZ3NDEKTSV4RRFFQ69G5FAV")) == (404, "not_found")


def test_a_text_over_its_part_limit_is_not_delivered_and_reports_411(clocked_simulator: Any) -> None:
    sim = clocked_simulator
    client = plan_client(sim.url)
    over = client.sms.batches.send_sms(to=[A], from_="+12025550100", body="a" * 161, max_number_of_message_parts=1)
    cut = client.sms.batches.send_sms(
        to=[A], from_="+12025550100", body="a" * 161, max_number_of_message_parts=1, truncate_concat=True
    )
    reports = client.sms.delivery_reports
    sim.advance_until(lambda: reports.get_for_number(cut.id, A).status == "Delivered")
    sim.advance_until(lambda: reports.get_for_number(over.id, A).status != "Queued")
    one = reports.get_for_number(over.id, A)
    assert (one.status, one.code, one.number_of_message_parts) == ("Aborted", 411, 2)


def test_changing_a_batch_already_sent_is_batch_already_dispatched(simulator: Any) -> None:
    client = plan_client(simulator.url)
    batch = client.sms.batches.send_sms(to=[A], from_="+12025550100", body="now")
    assert sms_error(lambda: client.sms.batches.update_sms(batch_id=batch.id, body="later")) == (
        403,
        "batch_already_dispatched",
    )
    assert sms_error(
        lambda: client.sms.batches.replace_sms(batch_id=batch.id, to=[A], from_="+12025550100", body="x")
    ) == (403, "batch_already_dispatched")

"""More of Sinch's batch API through the official SDK: dry runs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.test_sinch_sdk import plan_client

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

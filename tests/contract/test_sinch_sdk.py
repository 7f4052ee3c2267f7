"""The official ``sinch`` SDK (2.3.0) against the simulator, in both authentication modes.

The SDK degrades to a ``SinchRawResponse`` (with only a logged warning) when a response does not fit
its models, so every call here asserts the exact model class, not just the values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.simulator.harness.server import ServerThread
from lynsms.simulator.messages import SimMessage
from tests.simulator.scenario_wires import QUIET, load, script

if TYPE_CHECKING:
    # The SDK costs a second of import: only the tests that use it import it (see each function).
    from sinch import SinchClient
    from sinch.domains.sms.models.v1.shared import TextResponse

TO = "+12025550143"
SENDER = "+12025550100"
PROJECT = "project-1"
PLAN = "plan-1"


@pytest.fixture
def engine(simulator: Any) -> Any:
    """Script Sinch sends with one scenario rule, for the first call (or every call with ``always``);
    plain acceptance without deliveries otherwise, and by default."""

    def install(rule: dict[str, Any], always: bool = False) -> None:
        script(simulator.control, simulator.url, "sinch", rule if always else {"times": 1, **rule})

    load(simulator.control, simulator.url, QUIET)
    return install


def project_client(url: str) -> SinchClient:
    from sinch import SinchClient

    client = SinchClient(project_id=PROJECT, key_id="key-id", key_secret="key-secret", sms_region="us")
    client.configuration.auth_origin = url
    client.configuration.sms_domain = url
    return client


def plan_client(url: str) -> SinchClient:
    from sinch import SinchClient

    client = SinchClient(service_plan_id=PLAN, sms_api_token="0123456789abcdef", sms_region="us")
    client.configuration.sms_domain_with_service_plan_id = url
    return client


@pytest.fixture(params=["project", "service_plan"])
def client(request: pytest.FixtureRequest, simulator: Any, engine: Any) -> SinchClient:
    make = project_client if request.param == "project" else plan_client
    return make(simulator.url)


def account_of(client: SinchClient) -> str:
    return PROJECT if client.configuration.project_id else PLAN


def send(client: SinchClient, **fields: Any) -> TextResponse:
    from sinch.domains.sms.models.v1.shared import TextResponse

    options: dict[str, Any] = {"to": [TO], "from_": SENDER, "body": "Hello from LynSMS", **fields}
    response = client.sms.batches.send_sms(**options)
    assert type(response) is TextResponse, response
    return response


def members(simulator: Any, batch_id: str) -> list[SimMessage]:
    return [m for m in simulator.sim.state.messages.values() if m.batch_id == batch_id]


def test_send_parses_into_the_typed_batch(simulator: Any, client: SinchClient) -> None:
    batch = send(
        client,
        to=[TO, "+12025550144"],
        delivery_report="per_recipient",
        event_destination_target="http://127.0.0.1:9/dlr",
        client_reference="ref-1",
    )
    assert len(batch.id or "") == 26
    assert batch.to == [TO, "+12025550144"]
    assert (batch.from_, batch.body, batch.type) == (SENDER, "Hello from LynSMS", "mt_text")
    assert batch.canceled is False
    assert (batch.delivery_report, batch.event_destination_target, batch.client_reference) == (
        "per_recipient",
        "http://127.0.0.1:9/dlr",
        "ref-1",
    )
    assert isinstance(batch.created_at, datetime) and batch.created_at.tzinfo is not None
    assert batch.expire_at is not None and batch.expire_at - batch.created_at == timedelta(days=3)
    stored = simulator.messages(provider="sinch")
    assert [(m["to"], m["batch_id"], m["account"]) for m in stored] == [
        (TO, batch.id, account_of(client)),
        ("+12025550144", batch.id, account_of(client)),
    ]


def test_get_list_and_cancel(client: SinchClient) -> None:
    from sinch.domains.sms.models.v1.shared import TextResponse

    first = send(client, client_reference="a")
    second = send(client, client_reference="b")
    fetched = client.sms.batches.get(first.id or "")
    assert type(fetched) is TextResponse and fetched.id == first.id and fetched.client_reference == "a"
    listed = list(client.sms.batches.list(page_size=1).iterator())
    assert [type(b) for b in listed] == [TextResponse, TextResponse]
    assert [b.id for b in listed] == [second.id, first.id]
    canceled = client.sms.batches.cancel(second.id or "")
    assert type(canceled) is TextResponse and canceled.canceled is True


def test_delivery_reports_batch_and_per_recipient(simulator: Any, client: SinchClient) -> None:
    from sinch.domains.sms.models.v1.response import BatchDeliveryReport, RecipientDeliveryReport
    from sinch.domains.sms.models.v1.shared import MessageDeliveryStatus

    batch = send(client, to=[TO, "+12025550144"], client_reference="ref-2", body="ж" * 71)
    provider = simulator.sim.providers["sinch"]
    for message, status in zip(members(simulator, batch.id or ""), ("delivered", "undelivered"), strict=True):
        message.reports.append(provider.delivery_report(message, status, None))
    report = client.sms.delivery_reports.get(batch.id or "", report_type="full")
    assert type(report) is BatchDeliveryReport
    assert (report.batch_id, report.total_message_count, report.client_reference) == (batch.id, 2, "ref-2")
    assert report.statuses == [
        MessageDeliveryStatus(code=0, count=1, recipients=["12025550143"], status="Delivered"),
        MessageDeliveryStatus(code=27, count=1, recipients=["12025550144"], status="Failed"),
    ]
    one = client.sms.delivery_reports.get_for_number(batch.id or "", "+12025550144")
    assert type(one) is RecipientDeliveryReport
    assert (one.recipient, one.status, one.code, one.client_reference) == ("12025550144", "Failed", 27, "ref-2")
    # Sinch sends these only for a batch with max_number_of_message_parts / with smart encoding.
    assert (one.encoding, one.number_of_message_parts) == (None, None)
    assert isinstance(one.at, datetime) and isinstance(one.operator_status_at, datetime)


def test_validation_errors_raise_sms_exception_with_the_code(client: SinchClient) -> None:
    from sinch.domains.sms.api.v1.exceptions import SmsException

    cases: list[tuple[dict[str, Any], str]] = [
        ({"to": ["12345"]}, "syntax_invalid_parameter_format"),
        ({"body": "x" * 2001}, "syntax_constraint_violation"),
        ({"from_": "ThisSenderIsTooLong"}, "syntax_invalid_parameter_format"),
    ]
    for fields, code in cases:
        with pytest.raises(SmsException) as raised:
            send(client, **fields)
        assert (raised.value.response_status_code, raised.value.http_response.body["code"]) == (400, code)


def test_scripted_rejections_raise_sms_exception(simulator: Any, client: SinchClient, engine: Any) -> None:
    from sinch.domains.sms.api.v1.exceptions import SmsException

    cases = [
        ("insufficient_funds", 403, "blocked_account"),
        ("unsubscribed", 403, "illegal_number_type"),
        ("invalid_number", 400, "syntax_invalid_parameter_format"),
        ("auth_failed", 401, "unauthorized"),
    ]
    for reason, status, code in cases:
        engine({"reject": reason}, always=True)
        with pytest.raises(SmsException) as raised:
            send(client)
        assert (raised.value.response_status_code, raised.value.http_response.body["code"]) == (status, code)
    # None of them, not even the scripted auth failure, sends the SDK into a retry or a token renewal.
    sends = [e for e in simulator.journal() if e["path"] == f"/xms/v1/{account_of(client)}/batches"]
    assert len(sends) == len(cases)


def test_unknown_batch_raises_404(client: SinchClient) -> None:
    from sinch.domains.sms.api.v1.exceptions import SmsException

    with pytest.raises(SmsException) as raised:
        client.sms.batches.get("01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert (raised.value.response_status_code, raised.value.http_response.body["code"]) == (404, "not_found")


def test_batches_of_another_credential_are_invisible(simulator: Any, engine: Any) -> None:
    from sinch.domains.sms.api.v1.exceptions import SmsException

    batch = send(project_client(simulator.url))
    other = plan_client(simulator.url)
    with pytest.raises(SmsException) as raised:
        other.sms.batches.get(batch.id or "")
    assert raised.value.response_status_code == 404
    assert list(other.sms.batches.list().iterator()) == []


def test_sdk_retries_a_429_and_the_retry_lands_in_the_journal(simulator: Any, client: SinchClient, engine: Any) -> None:
    engine({"http_error": {"status": 429, "retry_after": 0}})
    batch = send(client)
    path = f"/xms/v1/{account_of(client)}/batches"
    posts = [e["status"] for e in simulator.journal() if e["path"] == path]
    assert posts == [429, 201]
    assert [m["batch_id"] for m in simulator.messages(provider="sinch")] == [batch.id]


def test_project_mode_fetches_one_token_and_renews_it_when_expired(simulator: Any, engine: Any) -> None:
    client = project_client(simulator.url)
    send(client)
    send(client)
    tokens = simulator.sim.state.extra("sinch")["tokens"]
    assert len(tokens) == 1
    (issued,) = tokens.values()
    assert (issued.key_id, issued.project) == ("key-id", PROJECT)
    issued.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    send(client)  # 401 "expired" -> the SDK fetches a new token and resends once
    calls = [(e["method"], e["path"], e["status"]) for e in simulator.journal()]
    batches = f"/xms/v1/{PROJECT}/batches"
    assert calls == [
        ("POST", "/oauth2/token", 200),
        ("POST", batches, 201),
        ("POST", batches, 201),
        ("POST", batches, 401),
        ("POST", "/oauth2/token", 200),
        ("POST", batches, 201),
    ]
    assert len(tokens) == 1  # the expired token is forgotten once a new one is issued


@pytest.mark.parametrize("mode", ["per_recipient", "full"])
def test_callback_bodies_parse_with_the_sdks_event_parser(simulator: Any, engine: Any, mode: str) -> None:
    from sinch.domains.sms.models.v1.response import BatchDeliveryReport, RecipientDeliveryReport

    client = plan_client(simulator.url)
    batch = send(client, delivery_report=mode, event_destination_target="http://127.0.0.1:9/dlr", client_reference="r")
    provider = simulator.sim.providers["sinch"]
    (message,) = members(simulator, batch.id or "")
    report = provider.delivery_report(message, "delivered", None)
    message.reports.append(report)
    callback = provider.callback(message, report)
    assert callback is not None and callback.url == "http://127.0.0.1:9/dlr"
    event = client.sms.sinch_events("unused-secret").parse_event(callback.body, callback.headers)
    expected = RecipientDeliveryReport if mode == "per_recipient" else BatchDeliveryReport
    assert type(event) is expected
    assert event.batch_id == batch.id and event.client_reference == "r"
    assert json.loads(callback.body)["type"] == (
        "recipient_delivery_report_sms" if mode == "per_recipient" else "delivery_report_sms"
    )


def test_scheduled_deliveries_reach_a_real_receiver_and_parse_with_the_sdk(clocked_simulator: Any) -> None:
    from sinch.domains.sms.models.v1.response import RecipientDeliveryReport

    simulator = clocked_simulator
    received: list[bytes] = []

    async def receive(request: Request) -> Response:
        received.append(await request.body())
        return Response(status_code=204)

    script(simulator.control, simulator.url, "sinch", {"deliver": {"status": "delivered", "after": 0.2}})
    client = plan_client(simulator.url)
    with ServerThread(Starlette(routes=[Route("/dlr", receive, methods=["POST"])])) as receiver:
        batch = send(client, delivery_report="per_recipient", event_destination_target=f"{receiver.url}/dlr")
        simulator.advance_until(lambda: len(received) == 2, step=0.1)
    events = [client.sms.sinch_events("unused-secret").parse_event(body) for body in received]
    assert [(type(e), e.status, e.code) for e in events] == [
        (RecipientDeliveryReport, "Dispatched", 401),
        (RecipientDeliveryReport, "Delivered", 0),
    ]
    report = client.sms.delivery_reports.get_for_number(batch.id or "", TO)
    assert (report.status, report.code) == ("Delivered", 0)

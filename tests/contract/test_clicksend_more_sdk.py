"""More of ClickSend's SMS API through the official SDK: pricing a send without sending it,
marking receipts and inbound SMS read, exporting the history."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest

from tests.contract.test_clicksend_sdk import present, sms_api
from tests.simulator.receiver import Receiver


def test_price_answers_like_a_send_and_sends_nothing(simulator: Any) -> None:
    from clicksend.models.calculate_sms_price import CalculateSmsPrice
    from clicksend.models.calculate_sms_price_request import CalculateSmsPriceRequest
    from clicksend.models.calculate_sms_price_request_messages_inner import CalculateSmsPriceRequestMessagesInner

    def message(to: str = "+12025550143", body: str = "Hello") -> CalculateSmsPriceRequestMessagesInner:
        return CalculateSmsPriceRequestMessagesInner(to=to, body=body)

    api = next(sms_api(simulator.url))
    request = CalculateSmsPriceRequest(messages=[message(body="a" * 161), message(to="not-a-number")])
    answer = api.calculate_sms_price(calculate_sms_price_request=request)
    assert type(answer) is CalculateSmsPrice and answer.data is not None
    data = answer.data
    assert (data.total_count, data.queued_count, data.blocked_count) == (2, 1, 1)
    assert data.total_price == round(2 * 0.0792, 4)
    assert [m.status for m in data.messages or []] == ["SUCCESS", "INVALID_RECIPIENT"]
    assert simulator.sim.state.messages == {}


def _receipt(simulator: Any, message_id: str, at: float) -> None:
    """A delivery receipt for ``message_id`` stamped ``at`` (unix seconds)."""
    provider = simulator.sim.providers["clicksend"]
    stored = provider.message(message_id)
    report = provider.delivery_report(stored, "delivered", None)
    stored.reports.append({**report, "timestamp": int(at)})


def test_receipts_marked_read_leave_the_receipts_list_but_not_the_single_receipt(simulator: Any) -> None:
    from clicksend.models.mark_sms_receipt_as_read import MarkSmsReceiptAsRead
    from clicksend.models.mark_sms_receipt_as_read_request import MarkSmsReceiptAsReadRequest

    from tests.contract.test_clicksend_sdk import message, send, sent_messages

    api = next(sms_api(simulator.url))
    old, new = (present(m.message_id) for m in sent_messages(send(api, message(), message(to="+12025550144"))))
    _receipt(simulator, old, 1_000)
    _receipt(simulator, new, 2_000)

    marked = api.mark_sms_receipt_as_read(
        mark_sms_receipt_as_read_request=MarkSmsReceiptAsReadRequest(date_before=1_500)
    )
    assert type(marked) is MarkSmsReceiptAsRead and (marked.http_code, marked.response_code) == (200, "SUCCESS")
    assert [r.message_id for r in present(present(api.view_sms_receipts().data).data)] == [new]
    assert present(api.view_specific_sms_receipt(message_id=old).data).message_id == old

    api.mark_sms_receipt_as_read()  # no date_before: every receipt
    assert present(api.view_sms_receipts().data).total == 0
    _receipt(simulator, new, 3_000)  # a receipt arriving later is unread
    assert [r.timestamp for r in present(present(api.view_sms_receipts().data).data)] == [3_000]


def test_inbound_marked_read_leaves_the_inbound_list(simulator: Any) -> None:
    from clicksend.exceptions import NotFoundException
    from clicksend.models.mark_specific_inbound_sms_message_as_read import MarkSpecificInboundSmsMessageAsRead

    api = next(sms_api(simulator.url))
    with Receiver() as receiver:
        simulator.control.post("/_sim/inbound/urls", json={"provider": "clicksend", "url": receiver.url})
        try:
            for body in ("one", "two", "three"):
                simulator.control.post(
                    "/_sim/inbound",
                    json={"provider": "clicksend", "from": "+61411111111", "to": "+61400000000", "body": body},
                ).raise_for_status()
            receiver.wait(3)
        finally:
            simulator.control.delete("/_sim/inbound/urls").raise_for_status()
    listed = present(present(api.view_inbound_sms().data).data)
    assert [m.body for m in listed] == ["three", "two", "one"]

    one = api.mark_specific_inbound_sms_message_as_read(message_id=present(listed[0].message_id))
    assert type(one) is MarkSpecificInboundSmsMessageAsRead and one.data == 1
    assert [m.body for m in present(present(api.view_inbound_sms().data).data)] == ["two", "one"]
    api.mark_inbound_sms_as_read()
    assert present(api.view_inbound_sms().data).total == 0
    with pytest.raises(NotFoundException) as caught:
        api.mark_specific_inbound_sms_message_as_read(message_id="00000000-0000-4000-8000-000000000000")
    assert json.loads(present(caught.value.body))["response_code"] == "NOT_FOUND"


def test_history_export_links_a_csv_of_the_filtered_history(simulator: Any) -> None:
    from clicksend.models.export_sms_history import ExportSmsHistory

    from tests.contract.test_clicksend_sdk import message, send

    api = next(sms_api(simulator.url))
    send(api, message(to="+61411111111", custom_string="a"), message(to="+61422222222", custom_string="b"))
    answer = api.export_sms_history(filename="sent.csv", q="to:+61422222222")
    assert type(answer) is ExportSmsHistory and answer.response_msg == "Download your file here."
    url = present(present(answer.data).url)
    assert url.startswith(f"{simulator.url}/files/") and url.endswith("?filename=sent.csv")

    download = httpx.get(url)
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert 'filename="sent.csv"' in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["to"], r["custom_string"], r["status"]) for r in rows] == [("+61422222222", "b", "Queued")]


@pytest.mark.parametrize(
    ("call", "status"),
    [
        (lambda api: api.export_sms_history(), 400),
        (lambda api: api.export_sms_history(filename="sent.txt"), 400),
        (lambda api: api.export_sms_history(filename="a.csv", q="x", date_from=-1), 400),
        (lambda api: api.mark_sms_receipt_as_read(_content_type="application/json", _headers={}), 200),
    ],
    ids=["no-filename", "not-csv", "bad-date", "empty-body"],
)
def test_new_calls_answer_bad_input_in_clicksends_envelope(simulator: Any, call: Any, status: int) -> None:
    from clicksend.exceptions import ApiException

    api = next(sms_api(simulator.url))
    if status == 200:
        assert call(api).response_code == "SUCCESS"
        return
    with pytest.raises(ApiException) as caught:
        call(api)
    body = json.loads(present(caught.value.body))
    assert (caught.value.status, body["http_code"], body["response_code"], body["data"]) == (
        400,
        400,
        "BAD_REQUEST",
        None,
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v3/sms/receipts-read", {"date_before": "yesterday"}),
        ("PUT", "/v3/sms/receipts-read", {"date_before": True}),
        ("PUT", "/v3/sms/inbound-read", {"date_before": -5}),
        ("PUT", "/v3/sms/inbound-read", [1]),
        ("GET", "/v3/sms/history/export?filename=..%2Fx.csv", None),
        ("GET", "/v3/sms/history/export?filename=a.csv&page=0", None),
    ],
)
def test_bad_input_on_the_wire_is_a_400_envelope(simulator: Any, method: str, path: str, body: Any) -> None:
    answer = httpx.request(method, simulator.url + path, json=body, auth=("u", "k"))
    assert answer.status_code == 400
    assert answer.json()["response_code"] == "BAD_REQUEST" and answer.json()["data"] is None


def test_an_unknown_export_file_is_a_404_envelope(simulator: Any) -> None:
    answer = httpx.get(f"{simulator.url}/files/00000000-0000-4000-8000-000000000000?filename=x.csv")
    assert answer.status_code == 404 and answer.json()["response_code"] == "NOT_FOUND"


def test_a_receipt_rule_is_read_updated_and_deleted_and_stops_the_pushes(simulator: Any) -> None:
    from clicksend.exceptions import NotFoundException
    from clicksend.models.create_sms_delivery_receipt_rule_request import CreateSmsDeliveryReceiptRuleRequest
    from clicksend.models.delete_sms_delivery_receipt_rule import DeleteSmsDeliveryReceiptRule

    api = next(sms_api(simulator.url))
    settings = simulator.sim.providers["clicksend"].settings("acme-user")

    def rule(**fields: Any) -> CreateSmsDeliveryReceiptRuleRequest:
        base = {
            "rule_name": "hook",
            "match_type": 0,
            "action": "URL",
            "action_address": "http://a.test/r",
            "enabled": 1,
        }
        return CreateSmsDeliveryReceiptRuleRequest(**{**base, **fields})

    created = present(api.create_sms_delivery_receipt_rule(create_sms_delivery_receipt_rule_request=rule()).data)
    rule_id = str(present(created.receipt_rule_id))
    assert present(api.view_sms_delivery_receipt_rule(receipt_rule_id=rule_id).data) == created
    assert settings["receipt_url"] == "http://a.test/r"

    updated = api.update_sms_delivery_receipt_rule(
        receipt_rule_id=rule_id, create_sms_delivery_receipt_rule_request=rule(action_address="http://b.test/r")
    )
    assert present(updated.data).action_address == "http://b.test/r" and settings["receipt_url"] == "http://b.test/r"
    deleted = api.delete_sms_delivery_receipt_rule(receipt_rule_id=rule_id)
    assert type(deleted) is DeleteSmsDeliveryReceiptRule and deleted.data == []
    assert settings["receipt_url"] is None and present(api.view_sms_delivery_receipt_rules().data).total == 0
    with pytest.raises(NotFoundException):
        api.view_sms_delivery_receipt_rule(receipt_rule_id=rule_id)


def test_an_inbound_rule_is_read_updated_and_deleted(simulator: Any) -> None:
    from clicksend.models.create_sms_inbound_automation_request import CreateSmsInboundAutomationRequest
    from clicksend.models.delete_sms_inbound_automation import DeleteSmsInboundAutomation
    from clicksend.models.update_sms_inbound_automation_request import UpdateSmsInboundAutomationRequest

    api = next(sms_api(simulator.url))
    request = CreateSmsInboundAutomationRequest(
        dedicated_number="*",
        rule_name="to the app",
        message_search_type=0,
        message_search_term="",
        action="POLL",
        action_address="",
        enabled=1,
    )
    rule_id = str(
        present(
            present(
                api.create_sms_inbound_automation(create_sms_inbound_automation_request=request).data
            ).inbound_rule_id
        )
    )
    assert present(api.view_sms_inbound_automation(inbound_rule_id=rule_id).data).rule_name == "to the app"
    change = UpdateSmsInboundAutomationRequest(rule_name="renamed")
    updated = api.update_sms_inbound_automation(inbound_rule_id=rule_id, update_sms_inbound_automation_request=change)
    assert present(updated.data).rule_name == "renamed"
    assert [r.rule_name for r in present(present(api.view_sms_inbound_automations().data).data)] == ["renamed"]
    deleted = api.delete_sms_inbound_automation(inbound_rule_id=rule_id)
    assert type(deleted) is DeleteSmsInboundAutomation and deleted.data == []
    assert present(api.view_sms_inbound_automations().data).total == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/v3/automations/sms/receipts/99", None, 404),
        ("PUT", "/v3/automations/sms/receipts/99", {"enabled": 0}, 404),
        ("DELETE", "/v3/automations/sms/receipts/x", None, 404),
        ("POST", "/v3/automations/sms/receipts", {"rule_name": "r"}, 400),
        ("POST", "/v3/automations/sms/receipts", "not json", 400),
    ],
)
def test_receipt_rule_bad_input_is_clicksends_envelope(
    simulator: Any, method: str, path: str, body: Any, status: int
) -> None:
    answer = httpx.request(method, simulator.url + path, json=body, auth=("u", "k"))
    assert answer.status_code == status
    assert answer.json()["response_code"] == {400: "BAD_REQUEST", 404: "NOT_FOUND"}[status]


def test_sms_templates_are_created_listed_read_updated_and_deleted(simulator: Any) -> None:
    from clicksend.exceptions import NotFoundException
    from clicksend.models.create_sms_template_request import CreateSmsTemplateRequest
    from clicksend.models.delete_sms_template import DeleteSmsTemplate

    api = next(sms_api(simulator.url))
    created = api.create_sms_template(
        create_sms_template_request=CreateSmsTemplateRequest(template_name="otp", body="Your code is {code}")
    )
    template_id = str(present(present(created.data).template_id))
    assert created.response_msg == "New template has been saved."
    assert present(api.view_a_specific_sms_template(template_id=template_id).data).body == "Your code is {code}"
    updated = api.update_sms_template(
        template_id=template_id, create_sms_template_request=CreateSmsTemplateRequest(body="Code: {code}")
    )
    assert (present(updated.data).template_name, present(updated.data).body) == ("otp", "Code: {code}")
    listed = present(api.view_sms_templates().data)
    assert listed.total == 1 and [t.template_name for t in present(listed.data)] == ["otp"]
    deleted = api.delete_sms_template(template_id=template_id)
    assert type(deleted) is DeleteSmsTemplate and deleted.data == []
    with pytest.raises(NotFoundException):
        api.view_a_specific_sms_template(template_id=template_id)
    other = next(sms_api(simulator.url, username="someone-else"))
    assert present(other.view_sms_templates().data).total == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v3/sms/templates", {"template_name": "x"}, 400),
        ("POST", "/v3/sms/templates", {"template_name": "x", "body": 5}, 400),
        ("PUT", "/v3/sms/templates/1", {"body": "b"}, 404),
        ("GET", "/v3/sms/templates/one", None, 404),
        ("DELETE", "/v3/sms/templates/99999999999999999999", None, 404),
    ],
)
def test_template_bad_input_is_clicksends_envelope(
    simulator: Any, method: str, path: str, body: Any, status: int
) -> None:
    answer = httpx.request(method, simulator.url + path, json=body, auth=("u", "k"))
    assert answer.status_code == status
    assert answer.json()["response_code"] == {400: "BAD_REQUEST", 404: "NOT_FOUND"}[status]

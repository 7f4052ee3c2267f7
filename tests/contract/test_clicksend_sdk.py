"""The official ClickSend SDK (``clicksend-client`` 6.0.2) against a real simulator: only the host changes.

The SDK's pydantic models are strict: a string where it wants an int (or the reverse) raises instead
of parsing, and a non-200 success makes it raise. So a typed, populated answer here means the wire
types are right.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from tests.simulator.scenario_wires import QUIET, load, script

if TYPE_CHECKING:
    # The SDK costs seconds of import: only the tests that use it import it (see each function).
    import clicksend
    from clicksend.models.send_sms import SendSms
    from clicksend.models.send_sms_request_messages_inner import SendSmsRequestMessagesInner
    from clicksend.models.sms_send_sms import SmsSendSms

USER, KEY = "acme-user", "API-KEY-1"
UUID_UPPER = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")


T = TypeVar("T")


def present(value: T | None) -> T:
    """An optional field of the SDK's models that this answer must carry."""
    assert value is not None
    return value


def sent_messages(answer: SendSms) -> list[SmsSendSms]:
    """The messages of a send answer."""
    return present(present(answer.data).messages)


def sms_api(url: str, username: str = USER, password: str = KEY) -> Iterator[clicksend.SmsApi]:
    import clicksend

    configuration = clicksend.Configuration(host=url, username=username, password=password)
    with clicksend.ApiClient(configuration) as client:
        yield clicksend.SmsApi(client)


@pytest.fixture(autouse=True)
def no_scripted_delivery(simulator: Any) -> None:
    """Accept without the engine's default delivery, so receipts appear only when a test makes them."""
    load(simulator.control, simulator.url, QUIET)


@pytest.fixture
def api(simulator: Any) -> Iterator[clicksend.SmsApi]:
    yield from sms_api(simulator.url)


def message(to: str = "+12025550143", body: str = "Hello from the SDK", **fields: Any) -> SendSmsRequestMessagesInner:
    from clicksend.models.send_sms_request_messages_inner import SendSmsRequestMessagesInner

    return SendSmsRequestMessagesInner(to=to, body=body, **fields)


def send(api: clicksend.SmsApi, *messages: SendSmsRequestMessagesInner) -> SendSms:
    from clicksend.models.send_sms_request import SendSmsRequest

    return api.send_sms(send_sms_request=SendSmsRequest(messages=list(messages)))


def test_send_parses_into_the_typed_model(api: clicksend.SmsApi, simulator: Any) -> None:
    from clicksend.models.send_sms import SendSms
    from clicksend.models.sms_send_sms import SmsSendSms

    answer = send(api, message(var_from="Acme", custom_string="cs-123"))

    assert isinstance(answer, SendSms)
    assert (answer.http_code, answer.response_code) == (200, "SUCCESS")
    assert answer.response_msg == "Messages queued for delivery."
    data = present(answer.data)
    assert (data.total_count, data.queued_count, data.blocked_count) == (1, 1, 0)
    assert data.total_price == pytest.approx(0.0792)
    assert present(data.currency).currency_name_short == "USD"
    sent = present(data.messages)[0]
    assert isinstance(sent, SmsSendSms)
    assert UUID_UPPER.fullmatch(present(sent.message_id))
    assert (sent.status, sent.direction, sent.to, sent.var_from) == ("SUCCESS", "out", "+12025550143", "Acme")
    assert (sent.message_parts, sent.message_price, sent.custom_string) == (1, "0.0792", "cs-123")
    assert sent.country == "US"
    assert isinstance(sent.var_date, int) and sent.schedule == sent.var_date
    assert isinstance(sent.user_id, int) and isinstance(sent.subaccount_id, int)
    stored = simulator.messages(provider="clicksend")
    assert [m["id"] for m in stored] == [sent.message_id]


def test_send_reports_segment_counts(api: clicksend.SmsApi) -> None:
    answer = send(api, message(body="a" * 161), message(body="é" * 10 + "😀" * 31))

    assert [m.message_parts for m in sent_messages(answer)] == [2, 2]
    assert [m.message_price for m in sent_messages(answer)] == ["0.1584", "0.1584"]


def test_invalid_recipient_rides_inside_the_200(api: clicksend.SmsApi) -> None:
    answer = send(api, message(), message(to="not-a-number"))

    assert answer.response_code == "SUCCESS"
    assert (present(answer.data).queued_count, present(answer.data).blocked_count) == (1, 1)
    failed = sent_messages(answer)[1]
    assert (failed.status, failed.message_parts, failed.message_price) == ("INVALID_RECIPIENT", 0, "0.0000")
    assert failed.schedule is None and UUID_UPPER.fullmatch(present(failed.message_id))


def test_missing_credentials_raise_unauthorized(simulator: Any) -> None:
    from clicksend.exceptions import UnauthorizedException

    for api in sms_api(simulator.url, password=""):
        with pytest.raises(UnauthorizedException) as caught:
            send(api, message())
    assert caught.value.status == 401
    assert '"response_code":"UNAUTHORIZED"' in present(caught.value.body).replace(" ", "")


def test_scripted_auth_failure_raises_unauthorized(api: clicksend.SmsApi, simulator: Any) -> None:
    from clicksend.exceptions import UnauthorizedException

    script(simulator.control, simulator.url, "clicksend", {"reject": "auth_failed"})
    with pytest.raises(UnauthorizedException) as caught:
        send(api, message())
    assert caught.value.status == 401 and "UNAUTHORIZED" in present(caught.value.body)


def test_scripted_insufficient_credit_is_a_message_status(api: clicksend.SmsApi, simulator: Any) -> None:
    script(simulator.control, simulator.url, "clicksend", {"reject": "insufficient_funds"})
    answer = send(api, message())
    assert (answer.response_code, present(answer.data).queued_count, present(answer.data).blocked_count) == (
        "SUCCESS",
        0,
        1,
    )
    assert sent_messages(answer)[0].status == "INSUFFICIENT_CREDIT"


def test_history_lists_the_accounts_messages(api: clicksend.SmsApi, simulator: Any) -> None:
    from clicksend.models.view_sms_history import ViewSmsHistory

    first = sent_messages(send(api, message(custom_string="one")))[0]
    for other in sms_api(simulator.url, username="someone-else"):
        send(other, message(to="+61411111111"))

    history = api.view_sms_history()

    assert isinstance(history, ViewSmsHistory)
    page = present(history.data)
    assert (page.total, page.current_page, page.last_page, page.var_from, page.to) == (1, 1, 1, 1, 1)
    row = present(page.data)[0]
    assert (row.message_id, row.status, row.custom_string, row.message_parts) == (first.message_id, "Queued", "one", 1)
    assert row.schedule == str(first.schedule)


def test_history_pages_with_limit(api: clicksend.SmsApi) -> None:
    send(api, *(message(body=f"n{i}") for i in range(20)))

    second = present(api.view_sms_history(page=2, limit=15).data)

    assert (second.total, second.current_page, second.last_page, second.var_from, second.to) == (20, 2, 2, 16, 20)
    assert [row.body for row in present(second.data)] == [f"n{i}" for i in range(15, 20)]
    assert second.next_page_url is None and "page=1" in present(second.prev_page_url)


def test_receipts_are_polled_with_int_codes(api: clicksend.SmsApi, simulator: Any) -> None:
    from clicksend.models.sms_receipt import SmsReceipt
    from clicksend.models.view_sms_receipts import ViewSmsReceipts
    from clicksend.models.view_specific_sms_receipt import ViewSpecificSmsReceipt

    sent = sent_messages(send(api, message(custom_string="r-1")))[0]
    provider = simulator.sim.providers["clicksend"]
    stored = provider.message(sent.message_id)
    stored.reports.append(provider.delivery_report(stored, "undelivered", "15"))

    receipts = api.view_sms_receipts()
    one = api.view_specific_sms_receipt(message_id=present(sent.message_id))

    assert isinstance(receipts, ViewSmsReceipts) and isinstance(one, ViewSpecificSmsReceipt)
    receipt = present(present(receipts.data).data)[0]
    assert isinstance(receipt, SmsReceipt)
    assert (receipt.message_id, receipt.status_code, receipt.error_code) == (sent.message_id, 301, 15)
    assert (receipt.custom_string, receipt.message_type) == ("r-1", "sms")
    assert one.data == receipt
    history_row = present(present(api.view_sms_history().data).data)[0]
    assert (history_row.status, history_row.status_code, history_row.error_code) == ("Failed", "301", "15")


def test_unknown_receipt_raises_not_found(api: clicksend.SmsApi) -> None:
    from clicksend.exceptions import ApiException

    with pytest.raises(ApiException) as caught:
        api.view_specific_sms_receipt(message_id="00000000-0000-4000-8000-000000000000")
    assert caught.value.status == 404


def test_registering_a_receipt_url(api: clicksend.SmsApi, simulator: Any) -> None:
    from clicksend.models.create_test_sms_receipt import CreateTestSmsReceipt
    from clicksend.models.create_test_sms_receipt_request import CreateTestSmsReceiptRequest

    answer = api.create_test_sms_receipt(
        create_test_sms_receipt_request=CreateTestSmsReceiptRequest(url="http://127.0.0.1:9/receipts")
    )

    assert isinstance(answer, CreateTestSmsReceipt)
    assert (answer.response_code, answer.response_msg) == ("SUCCESS", "Receipt has been added")
    assert (present(answer.data).status_code, present(answer.data).message_type) == (201, "sms")
    sent = sent_messages(send(api, message()))[0]
    provider = simulator.sim.providers["clicksend"]
    stored = provider.message(sent.message_id)
    push = provider.callback(stored, provider.delivery_report(stored, "delivered", None))
    assert push is not None and push.url == "http://127.0.0.1:9/receipts"


def test_registering_a_receipt_rule(api: clicksend.SmsApi, simulator: Any) -> None:
    from clicksend.models.create_sms_delivery_receipt_rule import CreateSmsDeliveryReceiptRule
    from clicksend.models.create_sms_delivery_receipt_rule_request import CreateSmsDeliveryReceiptRuleRequest

    rule = CreateSmsDeliveryReceiptRuleRequest(
        rule_name="hooks", match_type=0, action="URL", action_address="http://127.0.0.1:9/dlr", enabled=1
    )

    answer = api.create_sms_delivery_receipt_rule(create_sms_delivery_receipt_rule_request=rule)

    assert isinstance(answer, CreateSmsDeliveryReceiptRule)
    assert (present(answer.data).receipt_rule_id, present(answer.data).action_address) == (1, "http://127.0.0.1:9/dlr")
    assert present(present(api.view_sms_delivery_receipt_rules().data).data)[0].rule_name == "hooks"

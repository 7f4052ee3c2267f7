"""The official Infobip SDK (infobip-api-python-client 6.0.0) against a real simulator."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest

from lynsms.simulator.messages import SimMessage
from tests.simulator.scenario_wires import QUIET, load, script

if TYPE_CHECKING:
    # The SDK costs seconds of import: only the tests that use it import it (see each function).
    from infobip_api_client import SmsApi
    from infobip_api_client.models.sms_request import SmsRequest

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def sms_api(url: str, key: str | None = "sdk-key") -> SmsApi:
    from infobip_api_client import ApiClient, Configuration, SmsApi

    return SmsApi(ApiClient(Configuration(host=url, api_key=key)))


def request(*destinations: str, text: str = "Hello from the SDK", **message: Any) -> SmsRequest:
    from infobip_api_client.models.sms_destination import SmsDestination
    from infobip_api_client.models.sms_message import SmsMessage
    from infobip_api_client.models.sms_message_content import SmsMessageContent
    from infobip_api_client.models.sms_message_request_options import SmsMessageRequestOptions
    from infobip_api_client.models.sms_request import SmsRequest
    from infobip_api_client.models.sms_text_content import SmsTextContent

    return SmsRequest(
        messages=[
            SmsMessage(
                sender="InfoSMS",
                destinations=[SmsDestination(to=d) for d in destinations],
                content=SmsMessageContent(SmsTextContent(text=text)),
                **message,
            )
        ],
        options=SmsMessageRequestOptions(includeSmsCountInResponse=True),
    )


@pytest.fixture
def api(simulator: Any) -> SmsApi:
    return sms_api(simulator.url)


@pytest.fixture
def scripted(simulator: Any) -> Any:
    """Script every Infobip send for one test (a scenario rule); plain accept (no deliveries) by default."""

    def install(rule: dict[str, Any]) -> None:
        script(simulator.control, simulator.url, "infobip", rule)

    load(simulator.control, simulator.url, QUIET)
    return install


def stored(simulator: Any, message_id: str | None) -> SimMessage:
    assert message_id is not None
    found = simulator.sim.providers["infobip"].message(message_id)
    assert isinstance(found, SimMessage)
    return found


def test_send_returns_the_typed_response_not_none(simulator: Any, api: SmsApi, scripted: Any) -> None:
    from infobip_api_client.models.message_general_status import MessageGeneralStatus
    from infobip_api_client.models.sms_response import SmsResponse

    response = api.send_sms_messages(request("41793026727"))
    # A 201 (or any status but 200) makes this SDK return None: guard the exact status.
    assert isinstance(response, SmsResponse)
    assert response.bulk_id is not None and response.bulk_id.isdigit()
    (message,) = response.messages
    assert message.message_id is not None and UUID.match(message.message_id)
    assert message.destination == "41793026727"
    assert message.status is not None
    assert (message.status.group_id, message.status.group_name, message.status.id, message.status.name) == (
        1,
        MessageGeneralStatus.PENDING,
        26,
        "PENDING_ACCEPTED",
    )
    assert message.details is not None and message.details.message_count == 1
    assert stored(simulator, message.message_id).account == "sdk-key"


def test_many_destinations_and_messages_each_get_an_entry_under_one_bulk(api: SmsApi, scripted: Any) -> None:
    from infobip_api_client.models.sms_destination import SmsDestination
    from infobip_api_client.models.sms_message import SmsMessage
    from infobip_api_client.models.sms_message_content import SmsMessageContent
    from infobip_api_client.models.sms_message_request_options import SmsMessageRequestOptions
    from infobip_api_client.models.sms_request_scheduling_settings import SmsRequestSchedulingSettings
    from infobip_api_client.models.sms_text_content import SmsTextContent

    body = request("41793026727", "41793026834")
    body.messages.append(
        SmsMessage(
            destinations=[SmsDestination(to="41793026835", messageId="mine-1")],
            content=SmsMessageContent(SmsTextContent(text="ж" * 71)),
        )
    )
    body.options = SmsMessageRequestOptions(schedule=SmsRequestSchedulingSettings(bulkId="BULK-ID-123-xyz"))
    response = api.send_sms_messages(body)
    assert response.bulk_id == "BULK-ID-123-xyz"
    assert [m.destination for m in response.messages] == ["41793026727", "41793026834", "41793026835"]
    assert response.messages[2].message_id == "mine-1"
    assert [m.details.message_count for m in response.messages if m.details] == [1, 1, 2]


@pytest.mark.parametrize(
    ("text", "parts"),
    [("a" * 160, 1), ("a" * 161, 2), ("ж" * 70, 1), ("ж" * 71, 2)],
    ids=["gsm-160", "gsm-161", "ucs2-70", "ucs2-71"],
)
def test_segment_counts_reach_the_sdk_model(api: SmsApi, scripted: Any, text: str, parts: int) -> None:
    details = api.send_sms_messages(request("41793026727", text=text)).messages[0].details
    assert details is not None and details.message_count == parts


def test_a_host_with_a_trailing_slash_still_works(simulator: Any, scripted: Any) -> None:
    from infobip_api_client.models.sms_response import SmsResponse

    assert isinstance(sms_api(simulator.url + "/").send_sms_messages(request("41793026727")), SmsResponse)


def test_an_unroutable_number_comes_back_rejected_inside_the_200(api: SmsApi, scripted: Any) -> None:
    from infobip_api_client.models.message_general_status import MessageGeneralStatus

    bad, good = api.send_sms_messages(request("not-a-number", "41793026727")).messages
    assert bad.status is not None and bad.status.group_name == MessageGeneralStatus.REJECTED
    assert (bad.status.id, bad.status.name) == (52, "REJECTED_DESTINATION")
    assert good.status is not None and good.status.group_name == MessageGeneralStatus.PENDING


@pytest.mark.parametrize(
    ("reason", "status_id", "name"),
    [
        ("invalid_number", 52, "REJECTED_DESTINATION"),
        ("unsubscribed", 10, "REJECTED_DND"),
        ("insufficient_funds", 12, "REJECTED_NOT_ENOUGH_CREDITS"),
        ("invalid_sender", 11, "REJECTED_SOURCE"),
        ("body_too_long", 25, "REJECTED_MESSAGE_TOO_LONG"),
    ],
)
def test_scripted_rejections_parse_as_rejected_statuses(
    api: SmsApi, scripted: Any, reason: Any, status_id: int, name: str
) -> None:
    scripted({"reject": reason})
    (message,) = api.send_sms_messages(request("41793026727")).messages
    assert message.status is not None and message.status.group_id == 5
    assert (message.status.id, message.status.name) == (status_id, name)


def test_validation_errors_raise_bad_request_with_the_infobip_code(api: SmsApi) -> None:
    from infobip_api_client.exceptions import BadRequestException
    from infobip_api_client.models.api_error import ApiError

    with pytest.raises(BadRequestException) as caught:
        api.send_sms_messages(request(" "))
    assert caught.value.status == 400
    error = caught.value.data
    assert isinstance(error, ApiError) and error.error_code == "E400"
    assert [(v.var_property, v.violation) for v in error.violations] == [
        ("messages[0].destinations[0].to", "must not be blank")
    ]


def test_missing_credentials_raise_unauthorized(simulator: Any) -> None:
    from infobip_api_client.exceptions import UnauthorizedException
    from infobip_api_client.models.api_error import ApiError

    with pytest.raises(UnauthorizedException) as caught:
        sms_api(simulator.url, key=None).send_sms_messages(request("41793026727"))
    assert isinstance(caught.value.data, ApiError) and caught.value.data.error_code == "E401"


def test_scripted_auth_failure_raises_unauthorized(api: SmsApi, scripted: Any) -> None:
    from infobip_api_client.exceptions import UnauthorizedException
    from infobip_api_client.models.api_error import ApiError

    scripted({"reject": "auth_failed"})
    with pytest.raises(UnauthorizedException) as caught:
        api.send_sms_messages(request("41793026727"))
    assert isinstance(caught.value.data, ApiError) and caught.value.data.error_code == "E401"


def test_scripted_server_error_raises_service_exception(api: SmsApi, scripted: Any) -> None:
    from infobip_api_client.exceptions import ServiceException
    from infobip_api_client.models.api_error import ApiError

    scripted({"http_error": 500})
    with pytest.raises(ServiceException) as caught:
        api.send_sms_messages(request("41793026727"))
    assert isinstance(caught.value.data, ApiError) and caught.value.data.error_code == "E500"


def test_scripted_rate_limit_raises_api_exception_with_retry_after(api: SmsApi, scripted: Any) -> None:
    from infobip_api_client.exceptions import ApiException

    scripted({"http_error": {"status": 429, "retry_after": 7}})
    with pytest.raises(ApiException) as caught:
        api.send_sms_messages(request("41793026727"))
    assert caught.value.status == 429 and caught.value.headers is not None
    assert caught.value.headers["Retry-After"] == "7"
    assert json.loads(caught.value.body or "")["errorCode"] == "E429"


def test_delivery_reports_parse_and_are_returned_once(simulator: Any, api: SmsApi, scripted: Any) -> None:
    from infobip_api_client.models.message_error_group import MessageErrorGroup
    from infobip_api_client.models.message_general_status import MessageGeneralStatus
    from infobip_api_client.models.sms_delivery_result import SmsDeliveryResult
    from infobip_api_client.models.sms_message_delivery_reporting import SmsMessageDeliveryReporting
    from infobip_api_client.models.sms_webhooks import SmsWebhooks

    hooks = SmsWebhooks(delivery=SmsMessageDeliveryReporting(url="http://127.0.0.1:9/dlr"), callbackData="cb-7")
    sent = api.send_sms_messages(request("41793026727", "41793026834", webhooks=hooks))
    infobip = simulator.sim.providers["infobip"]
    for entry, status in zip(sent.messages, ("delivered", "undelivered"), strict=True):
        message = stored(simulator, entry.message_id)
        message.reports.append(infobip.delivery_report(message, status, None))
    reports = api.get_outbound_sms_message_delivery_reports(bulk_id=sent.bulk_id)
    assert isinstance(reports, SmsDeliveryResult) and reports.results is not None
    delivered, undelivered = reports.results
    assert delivered.message_id == sent.messages[0].message_id and delivered.bulk_id == sent.bulk_id
    assert delivered.status is not None and delivered.status.group_name == MessageGeneralStatus.DELIVERED
    assert delivered.error is not None and delivered.error.group_name == MessageErrorGroup.OK
    assert delivered.callback_data == "cb-7" and delivered.message_count == 1 and delivered.sent_at is not None
    assert undelivered.status is not None and undelivered.status.name == "UNDELIVERABLE_NOT_DELIVERED"
    assert undelivered.error is not None and undelivered.error.permanent is False
    assert undelivered.error.group_name == MessageErrorGroup.HANDSET_ERRORS
    assert api.get_outbound_sms_message_delivery_reports(bulk_id=sent.bulk_id).results == []


def test_logs_parse_into_the_typed_model(simulator: Any, api: SmsApi, scripted: Any) -> None:
    from infobip_api_client.models.sms_logs_response import SmsLogsResponse
    from infobip_api_client.models.sms_text_content import SmsTextContent

    sent = api.send_sms_messages(request("41793026727"))
    logs = api.get_outbound_sms_message_logs(bulk_id=[sent.bulk_id or ""], limit=10)
    assert isinstance(logs, SmsLogsResponse) and logs.results is not None
    (log,) = logs.results
    assert log.message_id == sent.messages[0].message_id and log.destination == "41793026727"
    assert log.content is not None and isinstance(log.content.actual_instance, SmsTextContent)
    assert log.status is not None and log.status.name == "PENDING_ACCEPTED"


def test_reports_are_isolated_by_api_key(simulator: Any, api: SmsApi, scripted: Any) -> None:
    sent = api.send_sms_messages(request("41793026727"))
    message = stored(simulator, sent.messages[0].message_id)
    message.reports.append(simulator.sim.providers["infobip"].delivery_report(message, "delivered", None))
    assert sms_api(simulator.url, key="someone-else").get_outbound_sms_message_delivery_reports().results == []
    assert len(api.get_outbound_sms_message_delivery_reports().results or []) == 1


def test_the_default_engine_delivers_and_the_sdk_can_poll_it(clocked_simulator: Any) -> None:
    """No scenario: the simulator's own delivery flow, polled through the SDK until the report lands."""
    api = sms_api(clocked_simulator.url)
    sent = api.send_sms_messages(request("41793026727"))
    results: list[Any] = []

    def reported() -> bool:
        found = api.get_outbound_sms_message_delivery_reports(message_id=sent.messages[0].message_id).results
        results.extend(found or [])
        return bool(results)

    clocked_simulator.advance_until(reported)
    assert [r.status.name for r in results if r.status] == ["DELIVERED_TO_HANDSET"]

"""Every scripted outcome through every provider, over real HTTP: the wire (status, body shape,
provider code) and, where it decides what a client does, what the official SDK raises."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lynsms.simulator.messages import REJECT_REASONS
from lynsms.tls import client_tls
from tests.clocked import answered_after
from tests.simulator.scenario_wires import (
    HTTP_ERRORS,
    REJECTS,
    TO,
    TWILIO_AC,
    TWILIO_TOKEN,
    WIRES,
    Wire,
    load,
    one_rule,
    outcomes,
)

# No keep-alive: a fresh connection per request avoids delayed-ACK stalls, and a fault that kills
# a connection can never poison the next request.
http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=10, verify=client_tls())
PROVIDERS = list(WIRES)


# Closed when the session ends, not the module: a scheduler may run this module's tests in pieces.
@pytest.fixture(scope="session", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    http.close()


@pytest.fixture(params=PROVIDERS)
def wire(request: pytest.FixtureRequest) -> Wire:
    return WIRES[request.param]


def script(simulator: Any, wire: Wire, rule: dict[str, Any]) -> None:
    load(http, simulator.url, one_rule(wire.name, rule))


def stored(simulator: Any, wire: Wire) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = simulator.messages(provider=wire.name)
    return messages


# ---- reject ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", REJECT_REASONS)
def test_a_scripted_rejection_carries_the_providers_own_code(simulator: Any, wire: Wire, reason: str) -> None:
    script(simulator, wire, {"reject": reason})
    response = wire.send(http, simulator.url)
    status, code = REJECTS[wire.name][reason]
    assert (response.status_code, wire.code(response)) == (status, code)
    assert stored(simulator, wire) == []  # a rejected message is never accepted
    assert outcomes(http, simulator.url)[-1]["reason"] == reason


def test_twilio_sdk_raises_its_exception_with_the_scripted_code(simulator: Any) -> None:
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

    script(simulator, WIRES["twilio"], {"reject": "unsubscribed"})
    client = Client(TWILIO_AC, TWILIO_TOKEN)
    client.api.base_url = simulator.url
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=TO, from_="+12025550100", body="Hello")
    assert (raised.value.status, raised.value.code) == (400, 21610)


def test_infobip_sdk_sees_a_per_destination_rejection_in_a_200(simulator: Any) -> None:
    from infobip_api_client import ApiClient, Configuration
    from infobip_api_client.api.sms_api import SmsApi
    from infobip_api_client.models import SmsDestination, SmsMessage, SmsMessageContent, SmsRequest, SmsTextContent

    script(simulator, WIRES["infobip"], {"reject": "insufficient_funds"})
    api = SmsApi(ApiClient(Configuration(host=simulator.url, api_key=WIRES["infobip"].account)))
    message = SmsMessage(
        sender="InfoSMS", destinations=[SmsDestination(to=TO)], content=SmsMessageContent(SmsTextContent(text="Hello"))
    )
    answer = api.send_sms_messages(SmsRequest(messages=[message]))
    assert answer is not None and answer.messages is not None
    status = answer.messages[0].status
    assert status is not None
    assert (status.group_name, status.name) == (
        "REJECTED",
        "REJECTED_NOT_ENOUGH_CREDITS",
    )


# ---- http_error --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
def test_http_trouble_is_the_providers_error_with_retry_after(simulator: Any, wire: Wire, status: int) -> None:
    script(simulator, wire, {"http_error": {"status": status, "retry_after": 7}})
    response = wire.send(http, simulator.url)
    assert response.status_code == status
    assert wire.code(response) == HTTP_ERRORS[wire.name][status]
    assert response.headers["retry-after"] == "7"
    assert stored(simulator, wire) == []


def test_any_status_with_a_raw_body_is_sent_verbatim(simulator: Any, wire: Wire) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    script(simulator, wire, {"http_error": {"status": 502, "body": page, "content_type": "text/html"}})
    response = wire.send(http, simulator.url)
    assert (response.status_code, response.text) == (502, page)
    assert response.headers["content-type"].startswith("text/html")


INFOBIP_APIS = [
    ("/sms/3/messages", {"messages": [{"sender": "InfoSMS", "destinations": [{"to": TO}], "content": {"text": "Hi"}}]}),
    ("/sms/2/text/advanced", {"messages": [{"from": "InfoSMS", "destinations": [{"to": TO}], "text": "Hi"}]}),
]


@pytest.mark.parametrize(("path", "body"), INFOBIP_APIS)
def test_infobip_scripted_trouble_answers_in_the_error_format_of_the_api_called(
    simulator: Any, path: str, body: dict[str, Any]
) -> None:
    # v3 answers ApiError bodies; the v1/v2 endpoints the older requestError, as for their own errors.
    account = WIRES["infobip"].account
    script(simulator, WIRES["infobip"], {"http_error": {"status": 429, "retry_after": 9}})
    response = http.post(simulator.url + path, json=body, headers={"Authorization": f"App {account}"})
    assert response.status_code == 429 and response.headers["Retry-After"] == "9"
    if path.startswith("/sms/3"):
        assert response.json()["errorCode"] == "E429"
    else:
        assert response.json()["requestError"]["serviceException"]["messageId"] == "TOO_MANY_REQUESTS"


@pytest.mark.parametrize(("path", "body"), INFOBIP_APIS)
def test_infobip_timeout_cap_answers_in_the_error_format_of_the_api_called(
    clocked_simulator: Any, path: str, body: dict[str, Any]
) -> None:
    account = WIRES["infobip"].account
    script(clocked_simulator, WIRES["infobip"], {"fault": {"kind": "timeout", "seconds": 0.1}})

    def send() -> httpx.Response:
        return http.post(clocked_simulator.url + path, json=body, headers={"Authorization": f"App {account}"})

    capped = answered_after(clocked_simulator, send, 0.1)
    assert capped.status_code == 504
    assert ("errorCode" in capped.json()) == path.startswith("/sms/3")


def test_infobip_sdk_raises_service_exception_on_a_5xx(simulator: Any) -> None:
    from infobip_api_client import ApiClient, Configuration
    from infobip_api_client.api.sms_api import SmsApi
    from infobip_api_client.exceptions import ServiceException
    from infobip_api_client.models import SmsDestination, SmsMessage, SmsMessageContent, SmsRequest, SmsTextContent

    script(simulator, WIRES["infobip"], {"http_error": 503})
    api = SmsApi(ApiClient(Configuration(host=simulator.url, api_key=WIRES["infobip"].account)))
    message = SmsMessage(
        sender="InfoSMS", destinations=[SmsDestination(to=TO)], content=SmsMessageContent(SmsTextContent(text="Hello"))
    )
    with pytest.raises(ServiceException) as raised:
        api.send_sms_messages(SmsRequest(messages=[message]))
    assert raised.value.status == 503


def test_twilio_sdk_raises_on_a_scripted_503(simulator: Any) -> None:
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

    script(simulator, WIRES["twilio"], {"http_error": {"status": 503, "retry_after": 30}})
    client = Client(TWILIO_AC, TWILIO_TOKEN)
    client.api.base_url = simulator.url
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=TO, from_="+12025550100", body="Hello")
    assert (raised.value.status, raised.value.code) == (503, 20503)


# ---- network faults ------------------------------------------------------------------------------------


def test_connection_reset_aborts_without_a_response(simulator: Any, wire: Wire) -> None:
    script(simulator, wire, {"fault": "connection_reset", "times": 1})
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        wire.send(http, simulator.url)
    assert wire.send(http, simulator.url).status_code == wire.success  # the simulator keeps serving
    first = simulator.journal()[0]
    assert (first["status"], first["outcome"]["fault"]) == (None, "connection_reset")


def test_empty_reply_closes_the_connection_without_a_byte(simulator: Any, wire: Wire) -> None:
    script(simulator, wire, {"fault": "empty_reply"})
    with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
        wire.send(http, simulator.url)
    assert simulator.journal()[-1]["status"] is None


def test_timeout_holds_until_the_client_gives_up_while_other_requests_flow(clocked_simulator: Any, wire: Wire) -> None:
    # The clock never moves: the 10 s hold can only end by the client giving up (its read timeout).
    simulator = clocked_simulator
    script(simulator, wire, {"match": {"body": "hang"}, "fault": {"kind": "timeout", "seconds": 10}})
    normal: list[float] = []

    def others() -> None:
        for _ in range(5):
            started = time.perf_counter()
            assert wire.send(http, simulator.url, body="fine").status_code == wire.success
            normal.append(time.perf_counter() - started)

    started = time.perf_counter()
    flowing = threading.Thread(target=others)
    flowing.start()
    with pytest.raises(httpx.ReadTimeout):
        wire.send(http, simulator.url, body="hang", timeout=httpx.Timeout(10, read=0.1))
    flowing.join()
    # Held until the client gives up (at 0.1 s); the others are not held at all. The bounds sit far
    # from both, so a loaded machine cannot fail them.
    assert time.perf_counter() - started < 5
    assert len(normal) == 5 and max(normal) < 5
    held = _wait_for(
        lambda: next(e for e in simulator.journal() if e["outcome"].get("fault") == "timeout"),
        lambda e: "client_gave_up" in e["outcome"],
    )
    assert (held["status"], held["outcome"]["client_gave_up"]) == (None, True)


def test_timeout_answers_the_providers_504_at_its_cap(clocked_simulator: Any, wire: Wire) -> None:
    script(clocked_simulator, wire, {"fault": {"kind": "timeout", "seconds": 0.3}})
    response = answered_after(clocked_simulator, lambda: wire.send(http, clocked_simulator.url), 0.3, step=0.1)
    assert response.status_code == 504
    assert wire.code(response)  # the provider's own error body, with its code
    held = clocked_simulator.journal()[-1]
    assert held["outcome"]["client_gave_up"] is False and held["duration_ms"] >= 300


def test_malformed_body_truncates_a_real_success_and_the_message_is_accepted(simulator: Any, wire: Wire) -> None:
    script(simulator, wire, {"fault": "malformed_body"})
    response = wire.send(http, simulator.url)
    assert response.status_code == wire.success
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(ValueError, match=r"."):  # whatever the JSON parser says: the body is not JSON
        response.json()
    assert len(stored(simulator, wire)) == 1  # the provider took it: a blind retry sends it twice


def test_slow_body_dribbles_a_valid_success_over_the_given_time(clocked_simulator: Any, wire: Wire) -> None:
    script(clocked_simulator, wire, {"fault": {"kind": "slow_body", "seconds": 0.6}})
    # The body is not whole before the scripted time: its last byte leaves at 0.6 s.
    response = answered_after(clocked_simulator, lambda: wire.send(http, clocked_simulator.url), 0.6, step=0.03)
    assert response.status_code == wire.success
    accepted = stored(clocked_simulator, wire)[0]
    assert wire.message_id(response.json()) in (accepted["id"], accepted["batch_id"])  # Sinch answers a batch
    # The response ends (and is journaled) at the scripted time.
    clocked_simulator.advance_until(lambda: clocked_simulator.journal()[-1]["duration_ms"] > 0, step=0.03)
    assert clocked_simulator.journal()[-1]["duration_ms"] >= 600


# ---- latency -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [{"reject": "invalid_number"}, {"http_error": 500}, {"accept": True}])
def test_latency_delays_any_outcome(clocked_simulator: Any, wire: Wire, rule: dict[str, Any]) -> None:
    script(clocked_simulator, wire, {**rule, "latency": "300ms"})
    answered_after(clocked_simulator, lambda: wire.send(http, clocked_simulator.url), 0.3, step=0.1)
    assert clocked_simulator.journal()[-1]["duration_ms"] >= 300
    assert outcomes(http, clocked_simulator.url)[-1]["latency"] == 0.3


def _wait_for(get: Any, ready: Any, within: float = 30.0) -> Any:  # a bound, not a window
    deadline = time.monotonic() + within
    while True:
        value = get()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.02)

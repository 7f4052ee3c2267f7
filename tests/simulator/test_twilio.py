"""Twilio's wire, checked over real HTTP: resource shape and types, codes, paging, callbacks, bad input."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from twilio.request_validator import RequestValidator

from lynsms.simulator.messages import REJECT_REASONS, RejectReason, Submission
from lynsms.tls import client_tls
from tests.simulator.scenario_wires import QUIET, REJECTS, load, script

AC = "AC" + "1f" * 16
OTHER_AC = "AC" + "2e" * 16
SK = "SK" + "3d" * 16
TOKEN = "auth-token-1"
SENDER = "+15005550006"
TO = "+12025550143"
CALLBACK = "http://127.0.0.1:9/twilio/status?tenant=7"
RFC2822 = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000")
RESOURCE_KEYS = {
    "body",
    "num_segments",
    "direction",
    "from",
    "to",
    "date_updated",
    "price",
    "error_message",
    "uri",
    "account_sid",
    "num_media",
    "status",
    "messaging_service_sid",
    "sid",
    "date_sent",
    "date_created",
    "error_code",
    "price_unit",
    "api_version",
    "subresource_uris",
}
ERROR_KEYS = {"code", "message", "more_info", "status"}
# One pooled client: httpx.get() and friends build a fresh client (and SSL context) per call.
# verify: the process's one TLS context (a new one costs ~30 ms of CPU in every worker).
http = httpx.Client(timeout=10, verify=client_tls())


# Closed when the session ends, not the module: a scheduler may run this module's tests in pieces.
@pytest.fixture(scope="session", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    http.close()


@pytest.fixture(autouse=True)
def no_scripted_delivery(simulator: Any) -> None:
    """Accept without a delivery plan, so a message's status stays where each test puts it."""
    load(simulator.control, simulator.url, QUIET)


def stored_messages(sim: Any, **filters: str) -> Any:
    return http.get(f"{sim.url}/_sim/messages", params=filters).json()["messages"]


def journal(sim: Any) -> Any:
    return http.get(f"{sim.url}/_sim/requests").json()["requests"]


def messages_url(sim: Any, account: str = AC) -> str:
    return f"{sim.url}/2010-04-01/Accounts/{account}/Messages.json"


def message_url(sim: Any, sid: str, account: str = AC) -> str:
    return f"{sim.url}/2010-04-01/Accounts/{account}/Messages/{sid}.json"


def send(sim: Any, account: str = AC, auth: tuple[str, str] = (AC, TOKEN), **fields: Any) -> httpx.Response:
    data: dict[str, Any] = {"To": TO, "From": SENDER, "Body": "Hello from the bench"}
    data.update(fields)
    return http.post(messages_url(sim, account), data={k: v for k, v in data.items() if v is not None}, auth=auth)


def basic(user_and_password: str) -> str:
    return "Basic " + base64.b64encode(user_and_password.encode()).decode()


def assert_error(response: httpx.Response, status: int, code: int) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert (body["status"], body["code"]) == (status, code)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    return body


# ---- create ------------------------------------------------------------------------------------


def test_create_answers_201_with_the_full_message_resource(simulator: Any) -> None:
    response = send(simulator, StatusCallback=CALLBACK)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == RESOURCE_KEYS
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert body["status"] == "queued"
    assert (body["to"], body["from"], body["body"]) == (TO, SENDER, "Hello from the bench")
    assert (body["num_segments"], body["num_media"]) == ("1", "0")
    assert (body["direction"], body["api_version"], body["price_unit"]) == ("outbound-api", "2010-04-01", "USD")
    assert body["price"] is None and body["error_code"] is None and body["error_message"] is None
    assert body["date_sent"] is None and body["messaging_service_sid"] is None
    assert body["account_sid"] == AC
    assert body["uri"] == f"/2010-04-01/Accounts/{AC}/Messages/{body['sid']}.json"
    assert body["subresource_uris"] == {"media": f"/2010-04-01/Accounts/{AC}/Messages/{body['sid']}/Media.json"}
    for key in ("date_created", "date_updated"):
        assert RFC2822.fullmatch(body[key]), body[key]
        assert abs(parsedate_to_datetime(body[key]) - datetime.now(UTC)) < timedelta(seconds=5)
    (stored,) = stored_messages(simulator, provider="twilio")
    assert (stored["id"], stored["callback_url"], stored["to"]) == (body["sid"], CALLBACK, TO)


def test_the_same_seed_gives_the_same_sids(simulator: Any) -> None:
    first = send(simulator).json()["sid"]
    http.post(f"{simulator.url}/_sim/reset").raise_for_status()
    assert send(simulator).json()["sid"] == first


@pytest.mark.parametrize(
    ("body", "segments"),
    [("a" * 160, "1"), ("a" * 161, "2"), ("€" * 80, "1"), ("€" * 81, "2"), ("你" * 70, "1"), ("你" * 71, "2")],
)
def test_num_segments_follows_gsm7_and_ucs2_limits(simulator: Any, body: str, segments: str) -> None:
    assert send(simulator, Body=body).json()["num_segments"] == segments


def test_a_number_without_plus_is_echoed_in_e164(simulator: Any) -> None:
    assert send(simulator, To="12025550143").json()["to"] == TO


def test_messaging_service_sends_start_accepted_without_from(simulator: Any) -> None:
    service = "MG" + "4c" * 16
    by_field = send(simulator, From=None, MessagingServiceSid=service).json()
    in_from = send(simulator, From=service).json()
    for body in (by_field, in_from):
        assert (body["status"], body["from"], body["messaging_service_sid"]) == ("accepted", None, service)


def test_every_media_url_is_kept_and_body_may_be_empty_with_media(simulator: Any) -> None:
    urls = ["https://example.com/a.png", "https://example.com/b.png"]
    response = send(simulator, Body="", MediaUrl=urls)
    assert response.status_code == 201
    assert response.json()["num_media"] == "2"
    (entry,) = journal(simulator)
    assert entry["messages"][0]["extra"]["media_urls"] == urls


def test_an_api_key_may_send_for_the_account_in_the_path(simulator: Any) -> None:
    assert send(simulator, auth=(SK, "secret")).status_code == 201


def test_create_is_journaled_with_account_and_sid(simulator: Any) -> None:
    sid = send(simulator).json()["sid"]
    (entry,) = journal(simulator)
    assert (entry["provider"], entry["account"], entry["message_ids"], entry["status"]) == ("twilio", AC, [sid], 201)
    assert entry["outcome"]["kind"] == "accept"


# ---- auth and validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": basic(f"{AC}:")},
        {"Authorization": basic("someone:pw")},
        {"Authorization": basic(f"{OTHER_AC}:pw")},
    ],
    ids=["none", "bearer", "not-base64", "no-password", "not-a-sid", "other-account"],
)
def test_bad_credentials_answer_20003(simulator: Any, headers: dict[str, str]) -> None:
    for response in (
        http.post(messages_url(simulator), data={"To": TO, "From": SENDER, "Body": "x"}, headers=headers),
        http.get(messages_url(simulator), headers=headers),
        http.get(message_url(simulator, "SM" + "0" * 32), headers=headers),
    ):
        body = assert_error(response, 401, 20003)
        assert body["message"] == "Authenticate"
        assert response.headers["www-authenticate"] == 'Basic realm="Twilio API"'
    assert stored_messages(simulator) == []


def test_a_path_account_that_is_not_an_ac_sid_is_not_found(simulator: Any) -> None:
    assert_error(send(simulator, account="AC123", auth=(SK, "secret")), 404, 20404)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"To": None}, 21604),
        ({"To": ""}, 21604),
        ({"To": "abc"}, 21211),
        ({"To": "+1234"}, 21211),
        ({"To": "123"}, 21211),
        ({"From": None}, 21603),
        ({"From": "not valid!!"}, 21212),
        ({"From": "ThisIsTooLongAlpha"}, 21212),
        ({"From": None, "MessagingServiceSid": "MG123"}, 21212),
        ({"Body": None}, 21602),
        ({"Body": ""}, 21602),
        ({"Body": "a" * 1601}, 21617),
        ({"Body": "😀" * 801}, 21617),
        ({"StatusCallback": "ftp://example.com/x"}, 21609),
        ({"ScheduleType": "fixed", "MessagingServiceSid": "MG" + "4c" * 16}, 35111),
        ({"ScheduleType": "fixed", "SendAt": "tomorrow", "MessagingServiceSid": "MG" + "4c" * 16}, 35114),
        ({"ScheduleType": "fixed", "SendAt": "2001-01-01T00:00:00Z", "MessagingServiceSid": "MG" + "4c" * 16}, 35114),
        ({"ScheduleType": "fixed", "SendAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, 35118),
        ({"ScheduleType": "later"}, 20400),
    ],
)
def test_validation_errors_carry_twilio_codes(simulator: Any, fields: dict[str, Any], code: int) -> None:
    assert_error(send(simulator, **fields), 400, code)
    assert stored_messages(simulator) == []
    assert journal(simulator)[-1]["outcome"]["kind"] == "invalid_request"


@pytest.mark.parametrize("sender", ["+15005550006", "15005550006", "12345", "LynSMS", "My Shop 24"])
def test_numbers_short_codes_and_alphanumeric_senders_are_accepted(simulator: Any, sender: str) -> None:
    assert send(simulator, From=sender).status_code == 201


def test_a_body_of_exactly_1600_characters_is_accepted(simulator: Any) -> None:
    assert send(simulator, Body="a" * 1600).json()["num_segments"] == "11"


# ---- fetch, update, delete ---------------------------------------------------------------------


def test_fetch_returns_the_resource_and_respects_the_account(simulator: Any) -> None:
    created = send(simulator).json()
    fetched = http.get(message_url(simulator, created["sid"]), auth=(AC, TOKEN))
    assert fetched.status_code == 200 and fetched.json() == created
    assert http.get(message_url(simulator, created["sid"]), auth=(SK, "s")).status_code == 200
    elsewhere = http.get(message_url(simulator, created["sid"], OTHER_AC), auth=(OTHER_AC, TOKEN))
    assert_error(elsewhere, 404, 20404)
    assert_error(http.get(message_url(simulator, "SM" + "0" * 32), auth=(AC, TOKEN)), 404, 20404)


def schedule(simulator: Any, **fields: Any) -> Any:
    send_at = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = send(simulator, MessagingServiceSid="MG" + "4c" * 16, ScheduleType="fixed", SendAt=send_at, **fields)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_scheduled_message_can_be_canceled_once(simulator: Any) -> None:
    created = schedule(simulator)
    assert created["status"] == "scheduled"
    url = message_url(simulator, created["sid"])
    canceled = http.post(url, data={"Status": "canceled"}, auth=(AC, TOKEN))
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert_error(http.post(url, data={"Status": "canceled"}, auth=(AC, TOKEN)), 400, 30409)


def test_a_canceled_message_stays_canceled_whatever_is_scripted(simulator: Any) -> None:
    sid = schedule(simulator, StatusCallback=CALLBACK)["sid"]
    http.post(message_url(simulator, sid), data={"Status": "canceled"}, auth=(AC, TOKEN)).raise_for_status()
    message = simulator.sim.state.messages[sid]
    report = simulator.sim.providers["twilio"].delivery_report(message, "delivered", None)
    assert report is not None
    assert report["MessageStatus"] == "canceled" and message.status == "canceled"


def test_only_scheduled_messages_can_be_canceled(simulator: Any) -> None:
    sid = send(simulator).json()["sid"]
    assert_error(http.post(message_url(simulator, sid), data={"Status": "canceled"}, auth=(AC, TOKEN)), 400, 30409)


@pytest.mark.parametrize("data", [{}, {"Status": "sent"}, {"Body": "new text"}, {"Status": "canceled", "Body": ""}])
def test_an_update_must_cancel_or_redact(simulator: Any, data: dict[str, str]) -> None:
    sid = schedule(simulator)["sid"]
    assert_error(http.post(message_url(simulator, sid), data=data, auth=(AC, TOKEN)), 400, 30400)


def test_an_empty_body_redacts_the_message(simulator: Any) -> None:
    sid = send(simulator).json()["sid"]
    redacted = http.post(message_url(simulator, sid), data={"Body": ""}, auth=(AC, TOKEN))
    assert redacted.status_code == 200 and redacted.json()["body"] == ""
    assert http.get(message_url(simulator, sid), auth=(AC, TOKEN)).json()["body"] == ""


def test_delete_answers_204_and_the_message_is_gone(simulator: Any) -> None:
    sid = send(simulator).json()["sid"]
    assert_error(http.delete(message_url(simulator, sid, OTHER_AC), auth=(OTHER_AC, TOKEN)), 404, 20404)
    deleted = http.delete(message_url(simulator, sid), auth=(AC, TOKEN))
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(http.get(message_url(simulator, sid), auth=(AC, TOKEN)), 404, 20404)


# ---- list --------------------------------------------------------------------------------------


def test_list_pages_newest_first_with_twilio_paging_keys(simulator: Any) -> None:
    sids = [send(simulator, Body=f"m{i}").json()["sid"] for i in range(5)]
    send(simulator, account=OTHER_AC, auth=(OTHER_AC, TOKEN))
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    url: str | None = messages_url(simulator) + "?PageSize=2"
    while url:
        response = http.get(url, auth=(AC, TOKEN))
        assert response.status_code == 200
        page = response.json()
        assert set(page) == {
            "messages",
            "first_page_uri",
            "next_page_uri",
            "previous_page_uri",
            "page",
            "page_size",
            "uri",
            "start",
            "end",
        }
        pages.append(page)
        seen += [m["sid"] for m in page["messages"]]
        url = simulator.url + page["next_page_uri"] if page["next_page_uri"] else None
    assert seen == sids[::-1]
    assert [(p["page"], p["start"], p["end"], len(p["messages"])) for p in pages] == [
        (0, 0, 1, 2),
        (1, 2, 3, 2),
        (2, 4, 4, 1),
    ]
    assert pages[0]["previous_page_uri"] is None
    assert pages[0]["first_page_uri"] == f"/2010-04-01/Accounts/{AC}/Messages.json?PageSize=2&Page=0"
    back = http.get(simulator.url + pages[2]["previous_page_uri"], auth=(AC, TOKEN)).json()
    assert [m["sid"] for m in back["messages"]] == [m["sid"] for m in pages[1]["messages"]]


def test_list_filters_by_to_from_and_date_sent(simulator: Any) -> None:
    send(simulator, To="+12025550100")
    kept = send(simulator, To="+12025550199", From="LynSMS").json()["sid"]
    url = messages_url(simulator)
    today = datetime.now(UTC).date()

    def sids(**params: str) -> list[str]:
        response = http.get(url, params=params, auth=(AC, TOKEN))
        assert response.status_code == 200, response.text
        return [m["sid"] for m in response.json()["messages"]]

    assert sids(To="+12025550199") == [kept]
    assert sids(To="12025550199") == [kept]
    assert sids(From="LynSMS") == [kept]
    assert len(sids(DateSent=str(today))) == 2
    assert sids(DateSent=str(today - timedelta(days=1))) == []
    assert len(sids(**{"DateSent<": f"{today + timedelta(days=1)}T00:00:00Z"})) == 2
    assert sids(**{"DateSent>": str(today + timedelta(days=1))}) == []
    filtered = http.get(url, params={"To": "+12025550199", "PageSize": "1"}, auth=(AC, TOKEN)).json()
    assert filtered["uri"].startswith(f"/2010-04-01/Accounts/{AC}/Messages.json?To=%2B12025550199&PageSize=1")


def test_page_size_is_capped_at_1000(simulator: Any) -> None:
    assert http.get(messages_url(simulator), params={"PageSize": "5000"}, auth=(AC, TOKEN)).json()["page_size"] == 1000


@pytest.mark.parametrize(
    "params", [{"PageSize": "abc"}, {"PageSize": "0"}, {"Page": "-1"}, {"PageToken": "PAnope"}, {"DateSent": "May 5"}]
)
def test_bad_list_parameters_answer_400(simulator: Any, params: dict[str, str]) -> None:
    assert_error(http.get(messages_url(simulator), params=params, auth=(AC, TOKEN)), 400, 20400)


# ---- scripted outcomes -------------------------------------------------------------------------

# (HTTP status, Twilio code) per reason: the one table the scenario tests check too.
REJECTIONS = {reason: (status, int(code)) for reason, (status, code) in REJECTS["twilio"].items()}


@pytest.mark.parametrize("reason", REJECT_REASONS)
def test_reject_renders_each_reason_with_its_twilio_code(simulator: Any, reason: RejectReason) -> None:
    twilio = simulator.sim.providers["twilio"]
    response = twilio.reject(reason, Submission(to=TO, sender=SENDER, body="x"))
    status, code = REJECTIONS[reason]
    assert_error(
        httpx.Response(response.status_code, content=response.body, headers=dict(response.headers)), status, code
    )


@pytest.mark.parametrize("reason", REJECT_REASONS)
def test_a_scripted_rejection_reaches_the_wire(simulator: Any, reason: RejectReason) -> None:
    script(simulator.control, simulator.url, "twilio", {"reject": reason})
    assert_error(send(simulator), *REJECTIONS[reason])
    assert stored_messages(simulator) == []


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (500, 20500), (503, 20503)])
def test_http_error_speaks_twilio(simulator: Any, status: int, code: int) -> None:
    response = simulator.sim.providers["twilio"].http_error(status, retry_after=7)
    assert response.status_code == status and response.headers["retry-after"] == "7"
    assert httpx.Response(status, content=response.body).json()["code"] == code


# ---- delivery reports and status callbacks -----------------------------------------------------


@pytest.mark.parametrize(
    ("scripted", "code", "status", "error_code", "price"),
    [
        ("sent", None, "sent", None, "-0.00790"),
        ("delivered", None, "delivered", None, "-0.00790"),
        ("undelivered", None, "undelivered", 30003, "-0.00790"),
        ("undelivered", "30007", "undelivered", 30007, "-0.00790"),
        ("failed", None, "failed", 30001, None),
        ("expired", None, "failed", 30036, None),
    ],
)
def test_delivery_report_moves_the_message_and_signs_the_callback(
    simulator: Any, scripted: str, code: str | None, status: str, error_code: int | None, price: str | None
) -> None:
    twilio = simulator.sim.providers["twilio"]
    sid = send(simulator, StatusCallback=CALLBACK).json()["sid"]
    message = simulator.sim.state.messages[sid]
    report = twilio.delivery_report(message, scripted, code)
    assert message.reports == []  # the caller appends
    expected = {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": AC,
        "From": SENDER,
        "To": TO,
        "ApiVersion": "2010-04-01",
    }
    assert {k: v for k, v in report.items() if k in expected} == expected
    assert report.get("ErrorCode") == (str(error_code) if error_code else None)
    assert ("RawDlrDoneDate" in report) == (status in ("delivered", "undelivered"))
    fetched = http.get(message_url(simulator, sid), auth=(AC, TOKEN)).json()
    assert (fetched["status"], fetched["error_code"], fetched["price"]) == (status, error_code, price)
    assert (fetched["date_sent"] is not None) == (price is not None)
    callback = twilio.callback(message, report)
    assert callback.url == CALLBACK
    assert callback.headers["Content-Type"] == "application/x-www-form-urlencoded"
    params = dict(parse_qsl(callback.body.decode()))
    assert params == report
    assert RequestValidator(TOKEN).validate(CALLBACK, params, callback.headers["X-Twilio-Signature"])
    assert not RequestValidator("other-token").validate(CALLBACK, params, callback.headers["X-Twilio-Signature"])


def test_a_callback_sent_with_an_api_key_is_signed_with_its_secret(simulator: Any) -> None:
    twilio = simulator.sim.providers["twilio"]
    sid = send(simulator, auth=(SK, "key-secret"), StatusCallback=CALLBACK).json()["sid"]
    message = simulator.sim.state.messages[sid]
    callback = twilio.callback(message, twilio.delivery_report(message, "delivered", None))
    params = dict(parse_qsl(callback.body.decode()))
    assert RequestValidator("key-secret").validate(CALLBACK, params, callback.headers["X-Twilio-Signature"])


def test_the_engine_default_delivery_shows_on_fetch(clocked_simulator: Any) -> None:
    sid = send(clocked_simulator).json()["sid"]
    seen: list[str] = []

    def delivered() -> bool:
        seen.append(http.get(message_url(clocked_simulator, sid), auth=(AC, TOKEN)).json()["status"])
        return seen[-1] == "delivered"

    clocked_simulator.advance_until(delivered)
    assert set(seen) <= {"queued", "sent", "delivered"}, seen


def test_without_status_callback_a_report_only_moves_the_message(simulator: Any) -> None:
    # Twilio lists no reports, so with nobody to call back there is no report to build or keep.
    twilio = simulator.sim.providers["twilio"]
    sid = send(simulator).json()["sid"]
    message = simulator.sim.state.messages[sid]
    assert twilio.delivery_report(message, "delivered", None) is None
    assert message.status == "delivered" and message.reports == []
    assert http.get(message_url(simulator, sid), auth=(AC, TOKEN)).json()["status"] == "delivered"


# ---- bad input battery -------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"
BAD_BODIES = [
    ({"Content-Type": FORM}, b"To=%ff%fe&Body=x"),
    ({"Content-Type": FORM}, b"To=\xff\xfe&From=\xc3&Body=\x80"),
    ({"Content-Type": "application/json"}, b'{"To": 123, "messages": "x"}'),
    ({"Content-Type": "text/plain"}, b"hello"),
    ({}, b""),
    ({"Content-Type": FORM}, b"&&&===%%%"),
    ({"Content-Type": FORM}, b"To=123&From=456&Body=" + b"a" * 10),
    ({"Content-Type": FORM}, b"To=" + b"a" * (2 * 1024 * 1024)),
]


def assert_twilio_voice(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    if response.status_code != 204:
        assert set(response.json()) >= ERROR_KEYS or "sid" in response.json() or "messages" in response.json()


def test_bad_input_never_breaks_any_endpoint(simulator: Any) -> None:
    sid = send(simulator).json()["sid"]
    auth = httpx.BasicAuth(AC, TOKEN)
    with httpx.Client(auth=auth, timeout=10) as client:
        for headers, content in BAD_BODIES:
            for url in (messages_url(simulator), message_url(simulator, sid)):
                assert_twilio_voice(client.post(url, content=content, headers=headers))
        for query in ("To=%ff%fe&From=%C3", "PageSize=1e9", "Page=x", "PageToken=", "DateSent%3C=x", "%%%&&=="):
            assert_twilio_voice(client.get(f"{messages_url(simulator)}?{query}"))
        for path in (
            "/2010-04-01/Accounts",
            f"/2010-04-01/Accounts/{AC}/Calls.json",
            f"/2010-04-01/Accounts/{AC}/Messages",
            f"/2010-04-01/Accounts/{AC}/Messages/{sid}.xml",
        ):
            assert_error(client.get(simulator.url + path), 404, 20404)
        for method, url in (
            ("PUT", messages_url(simulator)),
            ("DELETE", messages_url(simulator)),
            ("PATCH", message_url(simulator, sid)),
            ("PUT", message_url(simulator, sid)),
        ):
            assert_error(client.request(method, url), 405, 20405)
        too_large = client.post(
            messages_url(simulator), content=b"a" * (2 * 1024 * 1024), headers={"Content-Type": FORM}
        )
        assert_error(too_large, 413, 20413)
        assert_error(
            client.post(messages_url(simulator), content=b"To=%ff", headers={"Content-Type": FORM}), 400, 20400
        )
        assert_error(client.post(messages_url(simulator), json={"To": TO}), 400, 20400)
    assert send(simulator).status_code == 201
    assert http.get(message_url(simulator, sid), auth=(AC, TOKEN)).json()["body"] == "Hello from the bench"

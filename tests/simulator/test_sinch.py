"""Sinch's SMS REST API on the wire: shapes, types, codes, auth and bad input, over real HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from lynsms.simulator.messages import SimMessage, Submission
from lynsms.simulator.providers.sinch import Sinch
from lynsms.tls import client_tls
from tests.simulator.scenario_wires import QUIET, load

# One client for the module, without keep-alive: a fresh connection per request answers in ~2 ms where
# a reused one waits ~40 ms on delayed ACKs, and a new client per request costs ~50 ms of TLS setup.
# verify: the process's one TLS context (a new one costs ~30 ms of CPU in every worker).
http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=10, verify=client_tls())

PLAN = "plan-a"
OTHER = "plan-b"
API_TOKEN = {"Authorization": "Bearer 0123456789abcdef0123456789abcdef"}
BATCH_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
TO = "+12025550143"


# Closed when the session ends, not the module: a scheduler may run this module's tests in pieces.
@pytest.fixture(scope="session", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    http.close()


@pytest.fixture(autouse=True)
def quiet(simulator: Any) -> None:
    """Accept everything and schedule no delivery, so each test issues the reports it checks."""
    load(simulator.control, simulator.url, QUIET)


def send(url: str, body: Any, account: str = PLAN, headers: dict[str, str] | None = None) -> httpx.Response:
    return http.post(f"{url}/xms/v1/{account}/batches", json=body, headers=headers or API_TOKEN)


def batch(**fields: Any) -> dict[str, Any]:
    return {"to": [TO], "from": "+12025550100", "body": "Hello from LynSMS", **fields}


def sent(url: str, **fields: Any) -> dict[str, Any]:
    response = send(url, batch(**fields))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def get(url: str, path: str, account: str = PLAN, **params: str) -> httpx.Response:
    return http.get(f"{url}/xms/v1/{account}/{path}", params=params, headers=API_TOKEN)


def sinch(simulator: Any) -> Sinch:
    provider = simulator.sim.providers["sinch"]
    assert isinstance(provider, Sinch)
    return provider


def members(simulator: Any, batch_id: str) -> list[SimMessage]:
    return [m for m in simulator.sim.state.messages.values() if m.batch_id == batch_id]


def parse(when: str) -> datetime:
    return datetime.fromisoformat(when)


# ---- send ------------------------------------------------------------------------------------------


def test_send_answers_201_with_the_batch_in_exact_types(simulator: Any) -> None:
    body = sent(simulator.url, client_reference="ref-1", callback_url="http://127.0.0.1:9/cb", delivery_report="full")
    assert BATCH_ID.fullmatch(body["id"])
    assert body["to"] == [TO]
    assert body["from"] == "+12025550100"
    assert body["body"] == "Hello from LynSMS"
    assert body["type"] == "mt_text"
    assert body["canceled"] is False
    assert body["delivery_report"] == "full"
    assert body["callback_url"] == "http://127.0.0.1:9/cb"
    assert body["client_reference"] == "ref-1"
    assert body["flash_message"] is False
    for key in ("created_at", "modified_at", "expire_at"):
        assert TIMESTAMP.fullmatch(body[key]), key
    assert parse(body["expire_at"]) - parse(body["created_at"]) == timedelta(days=3)
    assert "send_at" not in body


def test_defaults_and_optional_fields_are_echoed(simulator: Any) -> None:
    body = sent(
        simulator.url,
        send_at="2030-01-01T10:00:00Z",
        expire_at="2030-01-02T10:00:00+00:00",
        feedback_enabled=True,
        max_number_of_message_parts=3,
    )
    assert body["delivery_report"] == "none"
    assert body["send_at"] == "2030-01-01T10:00:00.000Z"
    assert body["expire_at"] == "2030-01-02T10:00:00.000Z"
    assert body["feedback_enabled"] is True
    assert body["max_number_of_message_parts"] == 3


def test_each_recipient_is_one_message_sharing_the_batch_id(simulator: Any) -> None:
    to = ["+12025550143", "12025550144", "+447700900123"]
    body = sent(simulator.url, to=to)
    assert body["to"] == to
    stored = simulator.messages(provider="sinch")
    assert [m["to"] for m in stored] == to
    assert {m["batch_id"] for m in stored} == {body["id"]}
    assert len({m["id"] for m in stored}) == 3
    assert all(m["status"] == "Queued" and m["account"] == PLAN for m in stored)


def test_a_thousand_recipients_are_accepted(simulator: Any) -> None:
    to = [f"+1202555{n:04d}" for n in range(1000)]
    assert len(sent(simulator.url, to=to)["to"]) == 1000


@pytest.mark.parametrize(
    ("text", "parts"),
    [("a" * 160, 1), ("a" * 161, 2), ("ж" * 70, 1), ("ж" * 71, 2)],
    ids=["gsm-160", "gsm-161", "ucs2-70", "ucs2-71"],
)
def test_recipient_report_counts_parts_when_the_batch_limits_them(simulator: Any, text: str, parts: int) -> None:
    body = sent(simulator.url, body=text, max_number_of_message_parts=5)
    report = get(simulator.url, f"batches/{body['id']}/delivery_report/{TO}").json()
    assert report["number_of_message_parts"] == parts
    assert "encoding" not in report  # Sinch: only with smart encoding, an account feature
    assert (report["status"], report["code"]) == ("Queued", 400)


def test_recipient_report_has_no_part_count_unless_the_batch_limits_parts(simulator: Any) -> None:
    body = sent(simulator.url, body="a" * 161)
    report = get(simulator.url, f"batches/{body['id']}/delivery_report/{TO}").json()
    assert "number_of_message_parts" not in report and "encoding" not in report


def test_parameters_fill_each_recipients_body(simulator: Any) -> None:
    parameters = {"name": {TO: "Ada", "default": "there"}}
    body = sent(simulator.url, to=[TO, "+12025550144"], body="Hi ${name}!", parameters=parameters)
    assert body["body"] == "Hi ${name}!" and body["parameters"] == parameters
    assert [m["body"] for m in simulator.messages(provider="sinch")] == ["Hi Ada!", "Hi there!"]


# ---- validation --------------------------------------------------------------------------------------


INVALID_BATCHES: list[tuple[dict[str, Any], str]] = [
    ({"to": None}, "syntax_constraint_violation"),
    ({"to": []}, "syntax_constraint_violation"),
    ({"to": [f"+1202555{n:04d}" for n in range(1001)]}, "syntax_constraint_violation"),
    ({"to": "+12025550143"}, "syntax_invalid_json"),
    ({"to": 123}, "syntax_invalid_json"),
    ({"to": [12025550143]}, "syntax_invalid_json"),
    ({"to": ["12345"]}, "syntax_invalid_parameter_format"),
    ({"to": ["+1 202 555 0143"]}, "syntax_invalid_parameter_format"),
    ({"to": ["not-a-number"]}, "syntax_invalid_parameter_format"),
    ({"body": None}, "syntax_constraint_violation"),
    ({"body": ""}, "syntax_constraint_violation"),
    ({"body": "x" * 2001}, "syntax_constraint_violation"),
    ({"body": "😀" * 1001}, "syntax_constraint_violation"),  # @Size counts UTF-16 units: 2,002
    ({"body": 5}, "syntax_invalid_json"),
    ({"from": "ThisSenderIsTooLong"}, "syntax_invalid_parameter_format"),
    ({"from": 12025550100}, "syntax_invalid_json"),
    ({"type": "mt_media"}, "syntax_invalid_json"),
    ({"type": "mt_binary", "body": "AAE="}, "syntax_constraint_violation"),  # no udh
    ({"type": "mt_binary", "body": "not base64!", "udh": "00"}, "syntax_invalid_parameter_format"),
    ({"type": "mt_binary", "body": "AAE=", "udh": "0g"}, "syntax_invalid_parameter_format"),
    ({"type": "mt_binary", "body": "AAE=", "udh": "000"}, "syntax_invalid_parameter_format"),
    ({"type": "mt_binary", "body": "AAE=", "udh": 6}, "syntax_invalid_json"),
    ({"type": "mt_binary", "body": "A" * 188, "udh": "00"}, "syntax_constraint_violation"),  # 141 octets
    (
        {"type": "mt_binary", "body": "AAE=", "udh": "00", "parameters": {"n": {"default": "x"}}},
        "syntax_constraint_violation",
    ),
    ({"delivery_report": "sometimes"}, "syntax_invalid_json"),
    ({"delivery_report": ""}, "syntax_invalid_json"),
    ({"callback_url": "not a url"}, "syntax_invalid_parameter_format"),
    ({"send_at": "tomorrow"}, "syntax_invalid_parameter_format"),
    ({"send_at": "9999-12-31T23:59:59Z"}, "syntax_invalid_parameter_format"),  # no room for the expiry
    ({"send_at": "0001-01-01T00:00:00+05:00"}, "syntax_invalid_parameter_format"),  # before year 1 in UTC
    ({"send_at": "2030-01-02T00:00:00Z", "expire_at": "2030-01-01T00:00:00Z"}, "syntax_constraint_violation"),
    ({"flash_message": "yes"}, "syntax_invalid_json"),
    ({"max_number_of_message_parts": True}, "syntax_invalid_json"),
    ({"max_number_of_message_parts": 0}, "syntax_constraint_violation"),
    ({"parameters": {"name": "Ada"}}, "syntax_invalid_json"),
    ({"client_reference": "r" * 2049}, "syntax_constraint_violation"),
]


def test_invalid_batches_get_sinchs_400_codes(simulator: Any) -> None:
    # One test over the table: every case is stateless, and a reset per case would triple the run time.
    for fields, code in INVALID_BATCHES:
        body = {k: v for k, v in batch(**fields).items() if v is not None}
        response = send(simulator.url, body)
        assert (response.status_code, response.json()["code"]) == (400, code), fields
        assert isinstance(response.json()["text"], str)
    assert simulator.messages(provider="sinch") == []


def test_invalid_number_text_names_the_number(simulator: Any) -> None:
    response = send(simulator.url, batch(to=[TO, "12345"]))
    assert response.json() == {"code": "syntax_invalid_parameter_format", "text": "Invalid number: 12345"}


# ---- auth --------------------------------------------------------------------------------------------


def token(url: str, key: str = "key-id") -> str:
    response = http.post(f"{url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(key, "secret"))
    assert response.status_code == 200, response.text
    value: str = response.json()["access_token"]
    return value


def test_token_endpoint_answers_all_four_fields(simulator: Any) -> None:
    response = http.post(
        f"{simulator.url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=("key-id", "secret")
    )
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert isinstance(body["access_token"], str) and body["access_token"].count(".") == 2
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert (body["scope"], body["token_type"]) == ("", "bearer")


TOKEN_ERRORS: list[tuple[dict[str, Any], int, str]] = [
    ({"data": {"grant_type": "client_credentials"}}, 401, "invalid_client"),
    ({"data": {"grant_type": "password"}, "auth": ("k", "s")}, 400, "unsupported_grant_type"),
    ({"data": {}, "auth": ("k", "s")}, 400, "invalid_request"),
    ({"json": {"grant_type": "client_credentials"}, "auth": ("k", "s")}, 400, "invalid_request"),
    (
        {
            "content": b"grant_type=\xff",
            "auth": ("k", "s"),
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
        400,
        "invalid_request",
    ),
]


def test_token_errors_use_the_oauth_format(simulator: Any) -> None:
    for kwargs, status, error in TOKEN_ERRORS:
        response = http.post(f"{simulator.url}/oauth2/token", **kwargs)
        assert (response.status_code, response.json()["error"]) == (status, error), kwargs
        assert isinstance(response.json()["error_description"], str)


def test_issued_tokens_are_remembered_with_their_project(simulator: Any) -> None:
    value = token(simulator.url)
    assert (
        send(simulator.url, batch(), account="project-1", headers={"Authorization": f"Bearer {value}"}).status_code
        == 201
    )
    issued = simulator.sim.state.extra("sinch")["tokens"][value]
    assert (issued.key_id, issued.project) == ("key-id", "project-1")
    # The token is for project-1 only.
    other = send(simulator.url, batch(), account="project-2", headers={"Authorization": f"Bearer {value}"})
    assert other.status_code == 401 and other.json()["code"] == "unauthorized"


def test_missing_or_malformed_credentials_get_401(simulator: Any) -> None:
    for header in (None, "Basic a2V5OnNlY3JldA==", "Bearer", "Token abc"):
        headers = {"Authorization": header} if header is not None else {}
        response = http.post(f"{simulator.url}/xms/v1/{PLAN}/batches", json=batch(), headers=headers)
        assert (response.status_code, response.json()["code"]) == (401, "unauthorized"), header
        assert "expired" not in response.headers["WWW-Authenticate"]


def test_unknown_oauth_token_gets_401_without_expired(simulator: Any) -> None:
    value = token(simulator.url)
    http.post(f"{simulator.url}/_sim/reset").raise_for_status()  # the simulator forgets the token
    response = send(simulator.url, batch(), headers={"Authorization": f"Bearer {value}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert "expired" not in response.headers["WWW-Authenticate"]


def test_expired_token_gets_401_saying_expired(simulator: Any) -> None:
    value = token(simulator.url)
    simulator.sim.state.extra("sinch")["tokens"][value].expires_at = datetime.now().astimezone() - timedelta(seconds=1)
    response = send(simulator.url, batch(), headers={"Authorization": f"Bearer {value}"})
    assert response.status_code == 401
    assert "expired" in response.headers["WWW-Authenticate"]


def test_expired_tokens_are_forgotten_and_still_read_as_expired(clocked_simulator: Any) -> None:
    sim = clocked_simulator
    first = token(sim.url)
    sim.clock.advance(3601)
    token(sim.url)
    assert first not in sim.sim.state.extra("sinch")["tokens"]  # the store stays bounded
    response = send(sim.url, batch(), headers={"Authorization": f"Bearer {first}"})
    assert response.status_code == 401 and "expired" in response.headers["WWW-Authenticate"]


# ---- read endpoints ------------------------------------------------------------------------------------


def test_get_batch_returns_what_send_returned(simulator: Any) -> None:
    body = sent(simulator.url, client_reference="ref-2")
    response = get(simulator.url, f"batches/{body['id']}")
    assert response.status_code == 200
    assert response.json() == body


def test_list_pages_newest_first(simulator: Any) -> None:
    ids = [sent(simulator.url, client_reference=f"r{n}")["id"] for n in range(5)]
    first = get(simulator.url, "batches", page_size="2").json()
    assert (first["count"], first["page"], first["page_size"]) == (5, 0, 2)
    assert [b["id"] for b in first["batches"]] == ids[::-1][:2]
    last = get(simulator.url, "batches", page="2", page_size="2").json()
    assert (last["page"], last["page_size"], [b["id"] for b in last["batches"]]) == (2, 1, ids[:1])
    filtered = get(simulator.url, "batches", client_reference="r3").json()
    assert [b["id"] for b in filtered["batches"]] == [ids[3]]
    assert get(simulator.url, "batches", **{"from": "+19999999999"}).json()["count"] == 0


def test_list_rejects_bad_paging(simulator: Any) -> None:
    for params in ({"page": "-1"}, {"page": "x"}, {"page_size": "0"}, {"page_size": "101"}):
        response = get(simulator.url, "batches", **params)
        assert (response.status_code, response.json()["code"]) == (400, "syntax_invalid_parameter_format"), params


def test_batches_are_visible_only_under_their_account(simulator: Any) -> None:
    batch_id = sent(simulator.url)["id"]
    for path in (
        f"batches/{batch_id}",
        f"batches/{batch_id}/delivery_report",
        f"batches/{batch_id}/delivery_report/{TO}",
    ):
        response = get(simulator.url, path, account=OTHER)
        assert response.status_code == 404 and response.json()["code"] == "not_found", path
    assert http.delete(f"{simulator.url}/xms/v1/{OTHER}/batches/{batch_id}", headers=API_TOKEN).status_code == 404
    assert get(simulator.url, "batches", account=OTHER).json() == {"count": 0, "page": 0, "page_size": 0, "batches": []}


def test_unknown_batch_is_404(simulator: Any) -> None:
    response = get(simulator.url, "batches/01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "text": "Batch 01ARZ3NDEKTSV4RRFFQ69G5FAV not found"}


def test_cancel_marks_the_batch_and_cancels_pending_recipients(simulator: Any) -> None:
    body = sent(simulator.url, to=[TO, "+12025550144"])
    delivered = next(m for m in members(simulator, body["id"]) if m.to == TO)
    delivered.reports.append(sinch(simulator).delivery_report(delivered, "delivered", None))
    response = http.delete(f"{simulator.url}/xms/v1/{PLAN}/batches/{body['id']}", headers=API_TOKEN)
    assert response.status_code == 200
    assert response.json()["canceled"] is True
    assert parse(response.json()["modified_at"]) >= parse(body["modified_at"])
    report = get(simulator.url, f"batches/{body['id']}/delivery_report", type="full").json()
    assert sorted((s["status"], s["code"], tuple(s["recipients"])) for s in report["statuses"]) == [
        ("Cancelled", 407, ("12025550144",)),
        ("Delivered", 0, ("12025550143",)),
    ]
    assert get(simulator.url, f"batches/{body['id']}").json()["canceled"] is True


def test_batch_report_summarises_by_status_and_code(simulator: Any) -> None:
    body = sent(simulator.url, to=[TO, "+12025550144", "+12025550145"], client_reference="ref-3")
    provider = sinch(simulator)
    outcomes = {TO: "delivered", "+12025550144": "delivered", "+12025550145": "undelivered"}
    for message in members(simulator, body["id"]):
        message.reports.append(provider.delivery_report(message, outcomes[message.to], None))
    summary = get(simulator.url, f"batches/{body['id']}/delivery_report").json()
    assert summary == {
        "type": "delivery_report_sms",
        "batch_id": body["id"],
        "total_message_count": 3,
        "statuses": [{"code": 0, "status": "Delivered", "count": 2}, {"code": 27, "status": "Failed", "count": 1}],
        "client_reference": "ref-3",
    }
    full = get(simulator.url, f"batches/{body['id']}/delivery_report", type="full", status="Failed").json()
    assert full["statuses"] == [{"code": 27, "status": "Failed", "count": 1, "recipients": ["12025550145"]}]
    by_code = get(simulator.url, f"batches/{body['id']}/delivery_report", code="0,400").json()
    assert [s["count"] for s in by_code["statuses"]] == [2]


def test_batch_report_rejects_bad_filters(simulator: Any) -> None:
    batch_id = sent(simulator.url)["id"]
    for params in ({"type": "everything"}, {"code": "abc"}):
        response = get(simulator.url, f"batches/{batch_id}/delivery_report", **params)
        assert (response.status_code, response.json()["code"]) == (400, "syntax_invalid_parameter_format"), params


def test_recipient_report_serves_the_latest_report(simulator: Any) -> None:
    body = sent(simulator.url)
    message = members(simulator, body["id"])[0]
    provider = sinch(simulator)
    for status in ("sent", "delivered"):
        message.reports.append(provider.delivery_report(message, status, None))
    for msisdn in (TO, TO.lstrip("+")):
        report = get(simulator.url, f"batches/{body['id']}/delivery_report/{msisdn}").json()
        assert report == message.reports[-1]
    assert get(simulator.url, f"batches/{body['id']}/delivery_report/+19999999999").status_code == 404


# ---- scripted outcomes, called on the provider object ----------------------------------------------------


REJECTIONS = {
    "invalid_number": (400, "syntax_invalid_parameter_format", f"Invalid number: {TO}"),
    "unsubscribed": (403, "illegal_number_type", f"Recipient {TO} has opted out and cannot receive messages"),
    "insufficient_funds": (403, "blocked_account", "Account is blocked: insufficient credit"),
    "invalid_sender": (400, "syntax_invalid_parameter_format", "Invalid from address: +12025550100"),
    "body_too_long": (400, "syntax_constraint_violation", "body: size must be between 1 and 2000"),
    "auth_failed": (401, "unauthorized", "Invalid credentials"),
}


def test_reject_renders_each_reason_as_a_whole_request_error(simulator: Any) -> None:
    for reason, (status, code, text) in REJECTIONS.items():
        response = sinch(simulator).reject(reason, Submission(to=TO, sender="+12025550100", body="hi"))  # type: ignore[arg-type]
        assert response is not None
        assert (response.status_code, json.loads(bytes(response.body))) == (status, {"code": code, "text": text}), (
            reason
        )
    auth = sinch(simulator).reject("auth_failed", Submission(to=TO, sender=None, body="hi"))
    assert auth is not None
    assert 'error="invalid_token"' in auth.headers["WWW-Authenticate"]
    assert "expired" not in auth.headers["WWW-Authenticate"]


@pytest.fixture
def script(simulator: Any) -> Any:
    """Loads a scenario whose one rule answers the first call, then accepts."""

    def install(first: dict[str, Any]) -> None:
        scenario = {"name": "first-call", **QUIET, "providers": {"sinch": [{"times": 1, **first}]}}
        load(simulator.control, simulator.url, scenario)

    return install


def test_a_scripted_rejection_reaches_the_wire_and_stores_nothing(simulator: Any, script: Any) -> None:
    script({"reject": "insufficient_funds"})
    response = send(simulator.url, batch())
    assert response.status_code == 403 and response.json()["code"] == "blocked_account"
    assert simulator.messages(provider="sinch") == []
    assert send(simulator.url, batch()).status_code == 201


def test_http_error_429_carries_retry_after(simulator: Any) -> None:
    response = sinch(simulator).http_error(429, retry_after=7)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert json.loads(bytes(response.body)) == {"code": "too_many_requests", "text": "Too Many Requests"}


def test_scripted_429_on_the_wire(simulator: Any, script: Any) -> None:
    script({"http_error": {"status": 429, "retry_after": 3}})
    response = send(simulator.url, batch())
    assert (response.status_code, response.headers["Retry-After"]) == (429, "3")
    assert response.json()["code"] == "too_many_requests"


DELIVERY_WORDS = {
    "delivered": ("Delivered", 0),
    "undelivered": ("Failed", 27),
    "failed": ("Aborted", 408),
    "expired": ("Expired", 406),
    "sent": ("Dispatched", 401),
}


def test_delivery_report_moves_the_message_into_sinch_words(simulator: Any) -> None:
    for status, words in DELIVERY_WORDS.items():
        body = sent(simulator.url, client_reference="ref-4")
        message = members(simulator, body["id"])[0]
        report = sinch(simulator).delivery_report(message, status, None)
        assert (report["status"], report["code"]) == words, status
        assert (message.status, message.error_code) == (words[0], str(words[1]))
        assert message.reports == []  # the caller appends
        assert report["type"] == "recipient_delivery_report_sms"
        assert (report["batch_id"], report["recipient"], report["client_reference"]) == (
            body["id"],
            "12025550143",
            "ref-4",
        )
        assert TIMESTAMP.fullmatch(report["at"])
        assert ("operator_status_at" in report) == (words[0] in ("Delivered", "Failed", "Expired"))


def test_delivery_report_uses_a_scripted_code_and_refuses_unknown_statuses(simulator: Any) -> None:
    message = members(simulator, sent(simulator.url)["id"])[0]
    assert sinch(simulator).delivery_report(message, "failed", "412")["code"] == 412
    with pytest.raises(ValueError, match="no delivery status"):
        sinch(simulator).delivery_report(message, "vanished", None)
    with pytest.raises(ValueError, match="integers"):
        sinch(simulator).delivery_report(message, "failed", "EC_ABSENT")


def test_a_cancelled_recipient_stays_cancelled(simulator: Any) -> None:
    body = sent(simulator.url)
    http.delete(f"{simulator.url}/xms/v1/{PLAN}/batches/{body['id']}", headers=API_TOKEN)
    message = members(simulator, body["id"])[0]
    report = sinch(simulator).delivery_report(message, "delivered", None)
    assert (report["status"], report["code"], message.status) == ("Cancelled", 407, "Cancelled")


def deliver(simulator: Any, message: SimMessage, status: str) -> Any:
    provider = sinch(simulator)
    report = provider.delivery_report(message, status, None)
    message.reports.append(report)
    return provider.callback(message, report)


def test_per_recipient_callbacks_follow_every_status_change(simulator: Any) -> None:
    body = sent(simulator.url, delivery_report="per_recipient", callback_url="http://127.0.0.1:9/dlr")
    message = members(simulator, body["id"])[0]
    for status in ("sent", "delivered"):
        callback = deliver(simulator, message, status)
        assert callback.url == "http://127.0.0.1:9/dlr"
        assert callback.headers == {"Content-Type": "application/json"}  # not signed
        assert json.loads(callback.body) == message.reports[-1]


def test_per_recipient_final_skips_intermediate_reports(simulator: Any) -> None:
    body = sent(simulator.url, delivery_report="per_recipient_final", callback_url="http://127.0.0.1:9/dlr")
    message = members(simulator, body["id"])[0]
    assert deliver(simulator, message, "sent") is None
    assert json.loads(deliver(simulator, message, "expired").body)["status"] == "Expired"


@pytest.mark.parametrize("mode", ["summary", "full"])
def test_batch_callbacks_wait_for_the_whole_batch(simulator: Any, mode: str) -> None:
    body = sent(simulator.url, to=[TO, "+12025550144"], delivery_report=mode, callback_url="http://127.0.0.1:9/dlr")
    first, second = members(simulator, body["id"])
    assert deliver(simulator, first, "delivered") is None
    report = json.loads(deliver(simulator, second, "failed").body)
    assert report["type"] == "delivery_report_sms" and report["total_message_count"] == 2
    assert [("recipients" in s) for s in report["statuses"]] == [mode == "full"] * 2


def test_no_callback_without_a_mode_or_a_url(simulator: Any) -> None:
    for fields in (
        {"delivery_report": "none", "callback_url": "http://127.0.0.1:9/x"},
        {"delivery_report": "per_recipient"},
    ):
        message = members(simulator, sent(simulator.url, **fields)["id"])[0]
        assert deliver(simulator, message, "delivered") is None, fields


# ---- bad input battery -------------------------------------------------------------------------------------


def endpoints(batch_id: str) -> list[tuple[str, str]]:
    base = f"/xms/v1/{PLAN}/batches"
    return [
        ("POST", base),
        ("GET", base),
        ("GET", f"{base}/{batch_id}"),
        ("DELETE", f"{base}/{batch_id}"),
        ("GET", f"{base}/{batch_id}/delivery_report"),
        ("GET", f"{base}/{batch_id}/delivery_report/{TO}"),
        ("POST", "/oauth2/token"),
    ]


BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("malformed json", b'{"to": ["+12025550143"], "body": ', "application/json"),
    ("form body", b"to=%2B12025550143&body=hi", "application/x-www-form-urlencoded"),
    ("text body", b"hello", "text/plain"),
    ("json array", b'["+12025550143"]', "application/json"),
    ("wrong types", b'{"to": 123, "body": ["x"], "messages": "x"}', "application/json"),
    ("invalid utf-8", b'{"to": ["+12025550143"], "body": "\xff\xfe"}', "application/json"),
    ("2 MiB", b'{"body": "' + b"a" * (2 * 1024 * 1024) + b'"}', "application/json"),
    ("null", b"null", "application/json"),
]


def assert_sinch_voice(response: httpx.Response) -> None:
    """Never a 500 or a traceback; every error in Sinch's ``{code, text}`` (or OAuth's) format."""
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    body = response.json()
    if response.status_code >= 400:
        assert ("code" in body and "text" in body) or ("error" in body and "error_description" in body), body


def test_bad_bodies_on_every_endpoint_answer_in_sinchs_voice(simulator: Any) -> None:
    batch_id = sent(simulator.url)["id"]
    for label, content, content_type in BAD_BODIES:
        for method, path in endpoints(batch_id):
            headers = {**API_TOKEN, "Content-Type": content_type}
            if path.startswith("/oauth2"):
                headers = {"Authorization": "Basic a2V5OnNlY3JldA==", "Content-Type": content_type}
            response = http.request(method, f"{simulator.url}{path}", content=content, headers=headers)
            assert_sinch_voice(response)
            if method == "POST":
                assert response.status_code in (400, 413), (label, path, response.text)
    assert send(simulator.url, batch()).status_code == 201


WRONG_ROUTES = [
    ("GET", f"/xms/v1/{PLAN}/nothing", 404),
    ("GET", "/xms/v2/batches", 404),
    ("GET", f"/xms/v1/{PLAN}/batches/x/y/z/w", 404),
    ("GET", "/oauth2/authorize", 404),
    ("PUT", f"/xms/v1/{PLAN}/batches", 405),
    ("PATCH", f"/xms/v1/{PLAN}/batches/01ARZ3NDEKTSV4RRFFQ69G5FAV", 405),
    ("POST", f"/xms/v1/{PLAN}/batches/01ARZ3NDEKTSV4RRFFQ69G5FAV/delivery_report", 405),
    ("GET", "/oauth2/token", 405),
]


def test_unknown_paths_and_wrong_methods_answer_in_sinchs_voice(simulator: Any) -> None:
    for method, path, status in WRONG_ROUTES:
        response = http.request(method, f"{simulator.url}{path}", headers=API_TOKEN)
        assert response.status_code == status, (method, path)
        assert_sinch_voice(response)
    assert send(simulator.url, batch()).status_code == 201


def test_bad_input_is_journaled_and_the_simulator_keeps_serving(simulator: Any) -> None:
    http.post(
        f"{simulator.url}/xms/v1/{PLAN}/batches",
        content=b"{",
        headers={**API_TOKEN, "Content-Type": "application/json"},
    )
    entry = simulator.journal()[-1]
    assert (entry["provider"], entry["status"], entry["outcome"]["kind"]) == ("sinch", 400, "invalid_request")
    assert send(simulator.url, batch()).status_code == 201


async def test_batches_are_forgotten_with_their_evicted_messages() -> None:
    from lynsms.simulator import Simulator, create_app

    sim = Simulator(seed=5, max_messages=3)
    transport = httpx.ASGITransport(app=create_app(sim=sim))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        ids = []
        for n in range(4):
            body = {"to": [TO, "+12025550144"], "from": "+12025550100", "body": f"n{n}", "client_reference": f"r{n}"}
            answer = await client.post(f"/xms/v1/{PLAN}/batches", json=body, headers={"Authorization": "Bearer t"})
            ids.append(answer.json()["id"])
        batches = sim.state.extra("sinch")["batches"]
        # 3 messages kept: the newest batch and one recipient of the one before; older batches go.
        assert list(batches) == ids[2:]
        assert sorted(sim.state.extra("sinch")["by_reference"]) == ["r2", "r3"]
        gone = await client.get(f"/xms/v1/{PLAN}/batches/{ids[0]}", headers={"Authorization": "Bearer t"})
        assert (gone.status_code, gone.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"callback_url": "not a url"}, "syntax_invalid_parameter_format"),
        ({"max_number_of_message_parts": 0}, "syntax_constraint_violation"),
        ({"client_reference": "r" * 2049}, "syntax_constraint_violation"),
        ({"expire_at": "2098-01-01T00:00:00Z"}, "syntax_constraint_violation"),  # before send_at
        ({"feedback_enabled": "yes"}, "syntax_invalid_json"),
        ({"udh": "00"}, "syntax_invalid_json"),  # a text batch has no UDH
        ({"type": "mt_binary"}, "syntax_invalid_json"),
    ],
)
def test_a_bad_update_is_refused_and_leaves_the_batch_as_it_was(
    simulator: Any, change: dict[str, Any], code: str
) -> None:
    body = sent(simulator.url, send_at="2099-01-01T00:00:00Z")
    before = get(simulator.url, f"batches/{body['id']}").json()
    answer = http.post(f"{simulator.url}/xms/v1/{PLAN}/batches/{body['id']}", json=change, headers=API_TOKEN)
    assert (answer.status_code, answer.json()["code"]) == (400, code)
    assert get(simulator.url, f"batches/{body['id']}").json() == before


def test_a_bad_binary_update_is_refused(simulator: Any) -> None:
    body = sent(simulator.url, type="mt_binary", body="AAE=", udh="00", send_at="2099-01-01T00:00:00Z")
    for change in ({"body": "A" * 188}, {"udh": "zz"}, {"body": "%%"}):
        answer = http.post(f"{simulator.url}/xms/v1/{PLAN}/batches/{body['id']}", json=change, headers=API_TOKEN)
        assert answer.status_code == 400 and answer.json()["code"].startswith("syntax_"), change
    assert get(simulator.url, f"batches/{body['id']}").json()["body"] == "AAE="

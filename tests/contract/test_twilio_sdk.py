"""The official twilio SDK (9.13.0) against a real simulator: only its base URL changes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import pytest

from lynsms.simulator.messages import REJECT_REASONS, RejectReason
from tests.simulator.scenario_wires import QUIET, load, script

if TYPE_CHECKING:
    # Only the tests that use the SDK import it (see each function), not every xdist worker that collects this file.
    from twilio.rest import Client

    Connect = Callable[..., Client]

AC = "AC" + "5a" * 16
TOKEN = "sdk-token"
SENDER = "+15005550006"
TO = "+12025550143"
SERVICE = "MG" + "6b" * 16
CALLBACK = "https://example.com/twilio/status"


@pytest.fixture(autouse=True)
def no_scripted_delivery(simulator: Any) -> None:
    """Accept without a delivery plan, so a message's status stays where each test puts it."""
    load(simulator.control, simulator.url, QUIET)


@pytest.fixture
def connect(simulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Connect]:
    """Builds SDK clients aimed at the simulator, and closes their HTTP sessions afterwards."""
    for name in ("TWILIO_REGION", "TWILIO_EDGE", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    clients: list[Client] = []

    def make(username: str = AC, password: str = TOKEN, account_sid: str | None = None) -> Client:
        from twilio.rest import Client

        client = Client(username, password, account_sid=account_sid)
        client.api.base_url = simulator.url
        clients.append(client)
        return client

    yield make
    for client in clients:
        session = getattr(client.http_client, "session", None)
        if session is not None:
            session.close()


@pytest.fixture
def client(connect: Connect) -> Client:
    return connect()


def test_create_parses_into_a_message_instance(client: Client) -> None:
    from twilio.rest.api.v2010.account.message import MessageInstance

    message = client.messages.create(to=TO, from_=SENDER, body="Hello", status_callback=CALLBACK)
    assert isinstance(message, MessageInstance)
    assert message.sid is not None and message.sid.startswith("SM") and len(message.sid) == 34
    assert (message.status, message.direction, message.api_version) == ("queued", "outbound-api", "2010-04-01")
    assert (message.to, message.from_, message.body, message.account_sid) == (TO, SENDER, "Hello", AC)
    assert (message.num_segments, message.num_media) == ("1", "0")  # strings, as on the real wire
    assert message.price is None and message.error_code is None and message.date_sent is None
    assert isinstance(message.date_created, datetime) and message.date_created.tzinfo == UTC
    assert abs(message.date_created - datetime.now(UTC)) < timedelta(seconds=5)
    assert message.subresource_uris == {"media": f"/2010-04-01/Accounts/{AC}/Messages/{message.sid}/Media.json"}


@pytest.mark.parametrize(("body", "segments"), [("a" * 161, "2"), ("héllo ✓" * 11, "2"), ("😀" * 35, "1")])
def test_segments_arrive_as_strings(client: Client, body: str, segments: str) -> None:
    assert client.messages.create(to=TO, from_=SENDER, body=body).num_segments == segments


def test_an_api_key_sends_for_its_account(connect: Connect) -> None:
    keyed = connect("SK" + "7c" * 16, "key-secret", account_sid=AC)
    assert keyed.messages.create(to=TO, messaging_service_sid=SERVICE, body="hi").status == "accepted"


def test_fetch_follows_the_delivery_report(simulator: Any, client: Client) -> None:
    from twilio.request_validator import RequestValidator

    sid = client.messages.create(to=TO, from_=SENDER, body="Hello", status_callback=CALLBACK).sid
    twilio = simulator.sim.providers["twilio"]
    message = simulator.sim.state.messages[sid]
    report = twilio.delivery_report(message, "undelivered", None)
    fetched = client.messages(sid).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)  # an int, as the SDK declares
    assert Decimal(fetched.price) == Decimal("-0.00790") and fetched.price_unit == "USD"
    assert isinstance(fetched.date_sent, datetime)
    callback = twilio.callback(message, report)
    params = dict(parse_qsl(callback.body.decode()))
    assert params["MessageStatus"] == "undelivered" and params["ErrorCode"] == "30003"
    assert RequestValidator(TOKEN).validate(CALLBACK, params, callback.headers["X-Twilio-Signature"])


def test_list_walks_every_page(client: Client) -> None:
    from twilio.base.page import Page
    from twilio.rest.api.v2010.account.message import MessagePage

    sids = [client.messages.create(to=TO, from_=SENDER, body=f"m{i}").sid for i in range(5)]
    other = client.messages.create(to="+12025550100", from_=SENDER, body="other").sid
    assert [m.sid for m in client.messages.list(to=TO, page_size=2)] == sids[::-1]
    assert [m.sid for m in client.messages.list(limit=3)] == [other, *sids[:2:-1]]
    assert [m.sid for m in client.messages.stream(from_=SENDER, limit=4, page_size=3)] == [other, *sids[:1:-1]]
    assert [m.sid for m in client.messages.list(date_sent=datetime.now(UTC))][-1] == sids[0]
    page = client.messages.page(page_size=4)
    assert isinstance(page, MessagePage) and isinstance(page, Page)
    second = page.next_page()
    assert second is not None and [m.sid for m in second] == sids[1::-1]
    assert second.next_page() is None
    assert client.messages.list(to="+12025550111") == []


def test_a_scheduled_message_is_canceled(client: Client) -> None:
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest.api.v2010.account.message import MessageInstance

    scheduled = client.messages.create(
        to=TO,
        messaging_service_sid=SERVICE,
        body="later",
        schedule_type="fixed",
        send_at=datetime.now(UTC) + timedelta(hours=1),
    )
    assert scheduled.status == "scheduled"
    canceled = client.messages(scheduled.sid).update(status="canceled")
    assert isinstance(canceled, MessageInstance) and canceled.status == "canceled"
    with pytest.raises(TwilioRestException) as caught:
        client.messages(scheduled.sid).update(status="canceled")
    assert (caught.value.status, caught.value.code) == (400, 30409)


def test_redact_then_delete(client: Client) -> None:
    from twilio.base.exceptions import TwilioRestException

    sid = client.messages.create(to=TO, from_=SENDER, body="secret").sid
    assert client.messages(sid).update(body="").body == ""
    assert client.messages(sid).delete() is True
    with pytest.raises(TwilioRestException) as caught:
        client.messages(sid).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"to": "", "from_": SENDER, "body": "x"}, 21604),
        ({"to": "not-a-number", "from_": SENDER, "body": "x"}, 21211),
        ({"to": TO, "body": "x"}, 21603),
        ({"to": TO, "from_": "bad sender!", "body": "x"}, 21212),
        ({"to": TO, "from_": SENDER}, 21602),
        ({"to": TO, "from_": SENDER, "body": "a" * 1601}, 21617),
        (
            {
                "to": TO,
                "from_": SENDER,
                "body": "x",
                "schedule_type": "fixed",
                "send_at": datetime.now(UTC) + timedelta(hours=1),
            },
            35118,
        ),
    ],
)
def test_validation_errors_raise_with_twilio_codes(client: Client, fields: dict[str, Any], code: int) -> None:
    from twilio.base.exceptions import TwilioRestException

    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(**fields)
    assert (caught.value.status, caught.value.code) == (400, code)


def test_media_without_body_is_accepted(client: Client) -> None:
    message = client.messages.create(
        to=TO, from_=SENDER, media_url=["https://example.com/a.png", "https://example.com/b.png"]
    )
    assert message.num_media == "2"


def test_malformed_credentials_raise_401(connect: Connect) -> None:
    from twilio.base.exceptions import TwilioRestException

    bad = connect("AC-not-a-sid", TOKEN)
    with pytest.raises(TwilioRestException) as caught:
        bad.messages.create(to=TO, from_=SENDER, body="x")
    assert (caught.value.status, caught.value.code) == (401, 20003)


def test_another_accounts_message_is_not_found(connect: Connect, client: Client) -> None:
    from twilio.base.exceptions import TwilioRestException

    sid = client.messages.create(to=TO, from_=SENDER, body="mine").sid
    stranger = connect("AC" + "9f" * 16, "their-token")
    with pytest.raises(TwilioRestException) as caught:
        stranger.messages(sid).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)
    assert stranger.messages.list() == []


REJECTIONS = {
    "invalid_number": (400, 21211),
    "unsubscribed": (400, 21610),
    "insufficient_funds": (401, 10001),
    "invalid_sender": (400, 21606),
    "body_too_long": (400, 21617),
    "auth_failed": (401, 20003),
}


@pytest.mark.parametrize("reason", REJECT_REASONS)
def test_scripted_rejections_raise_with_twilio_codes(simulator: Any, client: Client, reason: RejectReason) -> None:
    from twilio.base.exceptions import TwilioRestException

    script(simulator.control, simulator.url, "twilio", {"reject": reason})
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=TO, from_=SENDER, body="x")
    assert (caught.value.status, caught.value.code) == REJECTIONS[reason]


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (500, 20500), (503, 20503)])
def test_scripted_http_errors_raise_with_twilio_codes(simulator: Any, client: Client, status: int, code: int) -> None:
    from twilio.base.exceptions import TwilioRestException

    script(simulator.control, simulator.url, "twilio", {"http_error": {"status": status, "retry_after": 7}})
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=TO, from_=SENDER, body="x")
    assert (caught.value.status, caught.value.code) == (status, code)


def test_list_answers_exactly_200_with_one_data_key(simulator: Any, client: Client) -> None:
    """The SDK's Page refuses anything but 200 and finds the records as the one non-paging key."""
    from twilio.base.page import Page

    client.messages.create(to=TO, from_=SENDER, body="x")
    response = client.request(
        "GET", f"{simulator.url}/2010-04-01/Accounts/{AC}/Messages.json", params={"PageSize": "1"}
    )
    assert response.status_code == 200
    assert set(json.loads(response.text)) - Page.META_KEYS == {"messages"}

"""Scheduled sends through each provider's official SDK, on a simulator whose clock the test moves:
a scheduled message waits until due, is listed as scheduled, can be cancelled or rescheduled with
the provider's own calls, and meets the scenario engine only when it falls due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lynsms.simulator.harness.server import ServerThread
from tests.simulator.scenario_wires import load, script

TO = "+12025550143"
SENDER = "+12025550100"
TWILIO_AC = "AC" + "5a" * 16
SERVICE = "MG" + "6b" * 16


def now(sim: Any) -> datetime:
    """The simulator's time to the millisecond, as the providers' APIs write times (the shared
    clock may stand at any fraction of a second after earlier tests)."""
    exact = datetime.fromtimestamp(sim.clock.time(), UTC)
    return exact.replace(microsecond=exact.microsecond // 1000 * 1000)


def status_of(sim: Any, message_id: str) -> str:
    status: str = sim.sim.state.messages[message_id].status
    return status


class Receiver:
    """A real HTTP server collecting callback bodies."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

        async def receive(request: Request) -> Response:
            self.bodies.append(await request.body())
            return Response(status_code=204)

        self.server = ServerThread(Starlette(routes=[Route("/hook", receive, methods=["POST"])]))

    def __enter__(self) -> Receiver:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(None, None, None)

    @property
    def url(self) -> str:
        return f"{self.server.url}/hook"


# ---- Twilio: ScheduleType=fixed + SendAt, cancel with Status=canceled ------------------------------


def twilio(sim: Any) -> Any:
    from twilio.rest import Client

    client = Client(TWILIO_AC, "sdk-token")
    client.api.base_url = sim.url
    return client


def test_twilio_scheduled_message_waits_until_due_then_is_delivered(clocked_simulator: Any) -> None:
    sim = clocked_simulator
    client = twilio(sim)
    message = client.messages.create(
        to=TO, messaging_service_sid=SERVICE, body="later", schedule_type="fixed", send_at=now(sim) + timedelta(hours=1)
    )
    assert message.status == "scheduled"
    sim.clock.advance(3599)
    assert [m.status for m in client.messages.list()] == ["scheduled"]
    sim.advance_until(lambda: status_of(sim, message.sid) == "delivered", step=0.5)
    fetched = client.messages(message.sid).fetch()
    assert fetched.status == "delivered" and fetched.date_sent is not None


def scheduled_in_ten_minutes(client: Any, sim: Any, status_callback: str) -> Any:
    """A message through a Messaging Service, scheduled ten minutes ahead on the simulator's clock."""
    return client.messages.create(
        to=TO,
        messaging_service_sid=SERVICE,
        body="later",
        schedule_type="fixed",
        send_at=now(sim) + timedelta(minutes=10),
        status_callback=status_callback,
    )


def test_twilio_cancel_stops_the_send_and_reports_canceled(clocked_simulator: Any) -> None:
    from urllib.parse import parse_qsl

    sim = clocked_simulator
    client = twilio(sim)
    with Receiver() as receiver:
        message = scheduled_in_ten_minutes(client, sim, receiver.url)
        assert client.messages(message.sid).update(status="canceled").status == "canceled"
        sim.advance_until(lambda: len(receiver.bodies) == 1, step=0.1)
        sim.clock.advance(3600)
    callback = dict(parse_qsl(receiver.bodies[0].decode()))
    assert (callback["MessageSid"], callback["MessageStatus"]) == (message.sid, "canceled")
    assert client.messages(message.sid).fetch().status == "canceled"
    assert len(receiver.bodies) == 1  # nothing after the cancel: the message never went out


def test_twilio_scheduled_message_meets_the_scenario_when_due(clocked_simulator: Any) -> None:
    sim = clocked_simulator
    client = twilio(sim)
    message = client.messages.create(
        to=TO, messaging_service_sid=SERVICE, body="later", schedule_type="fixed", send_at=now(sim) + timedelta(hours=1)
    )
    # Loaded after the send was accepted: only the engine's answer when the message falls due counts.
    script(sim.control, sim.url, "twilio", {"deliver": {"status": "undelivered", "error_code": "30005", "after": 1}})
    sim.clock.advance(3600)
    sim.advance_until(lambda: status_of(sim, message.sid) == "undelivered", step=0.5)
    fetched = client.messages(message.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30005)


def test_a_rule_with_times_counts_a_scheduled_message_once(clocked_simulator: Any) -> None:
    """Accepted to wait, then decided when due: the rule's one hit is the decision when due."""
    from twilio.base.exceptions import TwilioRestException

    sim = clocked_simulator
    rules: list[dict[str, Any]] = [
        {"name": "refuse-once", "match": {"to": "+12025550199"}, "times": 1, "reject": "invalid_number"},
        {"name": "undelivered-once", "match": {"to": TO}, "times": 1, "deliver": {"status": "undelivered", "after": 1}},
        {"name": "rest", "deliver": {"status": "delivered", "after": 1}},
    ]
    script(sim.control, sim.url, "twilio", *rules)
    client = twilio(sim)

    def later(to: str) -> Any:
        return client.messages.create(
            to=to,
            messaging_service_sid=SERVICE,
            body="later",
            schedule_type="fixed",
            send_at=now(sim) + timedelta(hours=1),
        )

    first, second = later(TO), later(TO)
    with pytest.raises(TwilioRestException) as refused:
        later("+12025550199")  # ended at the request: counted there
    assert refused.value.code == 21211
    refused_later = later("+12025550199")
    sim.clock.advance(3600)
    sim.advance_until(lambda: all(status_of(sim, m.sid) in ("delivered", "undelivered") for m in (first, second)))
    assert [status_of(sim, m.sid) for m in (first, second)] == ["undelivered", "delivered"]
    assert status_of(sim, refused_later.sid) == "delivered"
    [active] = sim.control.get("/_sim/scenario").json()["scenarios"]
    hits = [(r["name"], r["hits"]) for r in active["rules"]["twilio"]]
    assert hits == [("refuse-once", 1), ("undelivered-once", 1), ("rest", 2)]


def test_twilio_refuses_a_send_at_outside_its_window(clocked_simulator: Any) -> None:
    from twilio.base.exceptions import TwilioRestException

    client = twilio(clocked_simulator)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(
            to=TO,
            messaging_service_sid=SERVICE,
            body="later",
            schedule_type="fixed",
            send_at=now(clocked_simulator) + timedelta(days=36),
        )
    assert (caught.value.status, caught.value.code) == (400, 35114)


__all__ = ["Receiver", "load", "now", "status_of"]


# ---- Sinch: send_at, then batches.update_sms / replace_sms / cancel -------------------------------


def sinch(sim: Any) -> Any:
    from tests.contract.test_sinch_sdk import plan_client

    return plan_client(sim.url)


def test_sinch_scheduled_batch_waits_and_can_be_rescheduled(clocked_simulator: Any) -> None:
    sim = clocked_simulator
    client = sinch(sim)
    batch = client.sms.batches.send_sms(to=[TO], from_=SENDER, body="later", send_at=now(sim) + timedelta(hours=2))
    assert batch.send_at == now(sim) + timedelta(hours=2)
    moved = client.sms.batches.update_sms(batch_id=batch.id, send_at=now(sim) + timedelta(hours=1), body="sooner")
    assert (moved.id, moved.body, moved.send_at) == (batch.id, "sooner", now(sim) + timedelta(hours=1))
    sim.clock.advance(3599)
    report = client.sms.delivery_reports.get_for_number(batch.id, TO)
    assert report.status == "Queued"
    sim.advance_until(lambda: client.sms.delivery_reports.get_for_number(batch.id, TO).status == "Delivered")
    assert [m.submission.body for m in sim.sim.state.messages.values()] == ["sooner"]


def test_sinch_update_adds_and_removes_recipients_of_a_waiting_batch(clocked_simulator: Any) -> None:
    sim = clocked_simulator
    client = sinch(sim)
    other, third = "+12025550144", "+12025550145"
    batch = client.sms.batches.send_sms(to=[TO, other], from_=SENDER, body="hi", send_at=now(sim) + timedelta(hours=1))
    updated = client.sms.batches.update_sms(batch_id=batch.id, to_add=[third], to_remove=[other])
    assert sorted(updated.to) == sorted([TO, third])
    assert sorted(client.sms.batches.get(batch.id).to) == sorted([TO, third])


def test_sinch_replace_swaps_the_content_under_the_same_id(clocked_simulator: Any) -> None:
    sim = clocked_simulator
    client = sinch(sim)
    batch = client.sms.batches.send_sms(to=[TO], from_=SENDER, body="first", send_at=now(sim) + timedelta(hours=1))
    new = client.sms.batches.replace_sms(
        batch_id=batch.id, to=["+12025550199"], from_=SENDER, body="second", send_at=now(sim) + timedelta(hours=3)
    )
    assert (new.id, new.to, new.body) == (batch.id, ["+12025550199"], "second")
    assert [m.to for m in sim.sim.state.messages.values()] == ["+12025550199"]


def test_sinch_cancel_stops_a_scheduled_batch(clocked_simulator: Any) -> None:
    from sinch.domains.sms.api.v1.exceptions import SmsException

    sim = clocked_simulator
    client = sinch(sim)
    batch = client.sms.batches.send_sms(to=[TO], from_=SENDER, body="later", send_at=now(sim) + timedelta(minutes=5))
    assert client.sms.batches.cancel(batch.id).canceled is True
    sim.clock.advance(600)
    assert client.sms.delivery_reports.get_for_number(batch.id, TO).status == "Cancelled"
    with pytest.raises(SmsException) as caught:
        client.sms.batches.update_sms(batch_id=batch.id, body="too late")
    assert (caught.value.response_status_code, caught.value.http_response.body["code"]) == (
        400,
        "syntax_constraint_violation",
    )


# ---- Infobip: options.schedule.sendAt / v2 sendAt, then /sms/1/bulks and /sms/1/bulks/status --------


def infobip(sim: Any) -> Any:
    from tests.contract.test_infobip_sdk import sms_api

    return sms_api(sim.url)


def infobip_send(api: Any, send_at: datetime, bulk_id: str) -> Any:
    from infobip_api_client.models.sms_message_request_options import SmsMessageRequestOptions
    from infobip_api_client.models.sms_request_scheduling_settings import SmsRequestSchedulingSettings

    from tests.contract.test_infobip_sdk import request

    sms_request = request(TO.lstrip("+"), text="later")
    sms_request.options = SmsMessageRequestOptions(
        schedule=SmsRequestSchedulingSettings(bulkId=bulk_id, sendAt=send_at)
    )
    return api.send_sms_messages(sms_request=sms_request)


def test_infobip_scheduled_bulk_waits_and_is_rescheduled(clocked_simulator: Any) -> None:
    from infobip_api_client.models.sms_bulk_request import SmsBulkRequest
    from infobip_api_client.models.sms_bulk_status import SmsBulkStatus

    sim = clocked_simulator
    api = infobip(sim)
    sent = infobip_send(api, now(sim) + timedelta(hours=2), "bulk-later")
    assert sent.bulk_id == "bulk-later"
    schedule = api.get_scheduled_sms_messages(bulk_id="bulk-later")
    assert (schedule.bulk_id, schedule.send_at) == ("bulk-later", now(sim) + timedelta(hours=2))
    assert api.get_scheduled_sms_messages_status(bulk_id="bulk-later").status == SmsBulkStatus.PENDING
    moved = api.reschedule_sms_messages(
        bulk_id="bulk-later", sms_bulk_request=SmsBulkRequest(sendAt=now(sim) + timedelta(hours=1))
    )
    assert moved.send_at == now(sim) + timedelta(hours=1)
    sim.clock.advance(3599)
    (message,) = sim.sim.state.messages.values()
    assert message.status == "PENDING_ACCEPTED" and not message.reports
    sim.advance_until(lambda: bool(message.reports) and message.status == "DELIVERED_TO_HANDSET")
    assert api.get_scheduled_sms_messages_status(bulk_id="bulk-later").status == SmsBulkStatus.FINISHED


def test_infobip_paused_then_canceled_bulk_is_never_sent(clocked_simulator: Any) -> None:
    from infobip_api_client.models.sms_bulk_status import SmsBulkStatus
    from infobip_api_client.models.sms_update_status_request import SmsUpdateStatusRequest

    sim = clocked_simulator
    api = infobip(sim)
    infobip_send(api, now(sim) + timedelta(minutes=10), "bulk-stop")
    paused = api.update_scheduled_sms_messages_status(
        bulk_id="bulk-stop", sms_update_status_request=SmsUpdateStatusRequest(status=SmsBulkStatus.PAUSED)
    )
    assert paused.status == SmsBulkStatus.PAUSED
    sim.clock.advance(1200)
    (message,) = sim.sim.state.messages.values()
    assert not message.reports  # paused past its time: still waiting
    canceled = api.update_scheduled_sms_messages_status(
        bulk_id="bulk-stop", sms_update_status_request=SmsUpdateStatusRequest(status=SmsBulkStatus.CANCELED)
    )
    assert canceled.status == SmsBulkStatus.CANCELED
    sim.clock.advance(3600)
    assert not message.reports


def test_infobip_unknown_bulk_is_a_404_in_infobips_format(clocked_simulator: Any) -> None:
    from infobip_api_client.exceptions import NotFoundException

    api = infobip(clocked_simulator)
    with pytest.raises(NotFoundException) as caught:
        api.get_scheduled_sms_messages_status(bulk_id="nope")
    assert '"serviceException"' in (caught.value.body or "")


def test_infobip_v2_send_at_holds_the_message(clocked_simulator: Any) -> None:
    import httpx

    sim = clocked_simulator
    send_at = (now(sim) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    body = {"bulkId": "v2-later", "messages": [{"destinations": [{"to": TO}], "text": "x", "sendAt": send_at}]}
    answer = httpx.post(f"{sim.url}/sms/2/text/advanced", json=body, headers={"Authorization": "App k"})
    assert answer.status_code == 200, answer.text
    status = httpx.get(
        f"{sim.url}/sms/1/bulks/status", params={"bulkId": "v2-later"}, headers={"Authorization": "App k"}
    )
    assert status.json() == {"bulkId": "v2-later", "status": "PENDING"}


# ---- ClickSend: messages[].schedule, then cancel one / cancel all -------------------------------------


def clicksend(sim: Any) -> Any:
    from tests.contract.test_clicksend_sdk import sms_api

    return next(sms_api(sim.url))


def clicksend_send(api: Any, sim: Any, after: timedelta, custom: str | None = None) -> str:
    from tests.contract.test_clicksend_sdk import message, send, sent_messages

    when = int((now(sim) + after).timestamp())
    (sent,) = sent_messages(send(api, message(schedule=when, custom_string=custom)))
    assert sent.schedule == when
    message_id = sent.message_id
    assert message_id is not None
    return message_id


def history_statuses(api: Any) -> list[str]:
    rows = api.view_sms_history().data.data
    return [row.status for row in rows]


def test_clicksend_scheduled_message_waits_then_is_sent(clocked_simulator: Any) -> None:
    sim = clocked_simulator
    api = clicksend(sim)
    message_id = clicksend_send(api, sim, timedelta(hours=1))
    sim.clock.advance(3599)
    assert history_statuses(api) == ["Scheduled"]
    sim.advance_until(lambda: len(sim.sim.state.messages[message_id].reports) == 2)
    receipt = api.view_specific_sms_receipt(message_id=message_id)
    assert receipt.data.status_code == 201  # received on the handset


def test_clicksend_cancel_one_and_cancel_all(clocked_simulator: Any) -> None:
    from clicksend.exceptions import BadRequestException
    from clicksend.models.cancel_all_sms_request import CancelAllSmsRequest

    sim = clocked_simulator
    api = clicksend(sim)
    first = clicksend_send(api, sim, timedelta(hours=1))
    clicksend_send(api, sim, timedelta(hours=1), custom="campaign-a")
    clicksend_send(api, sim, timedelta(hours=1), custom="campaign-b")
    assert api.cancel_sms(message_id=first).response_code == "SUCCESS"
    with pytest.raises(BadRequestException):
        api.cancel_sms(message_id=first)
    only_a = api.cancel_all_sms(cancel_all_sms_request=CancelAllSmsRequest(custom_string="campaign-a"))
    assert only_a.data.count == 1
    assert api.cancel_all_sms().data.count == 1
    sim.clock.advance(7200)
    assert history_statuses(api) == ["Cancelled"] * 3

"""Provider delivery reports read into one shape, their signatures, and the status state machine."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from lynsms.clock import ManualClock
from lynsms.gateway import signing
from lynsms.gateway.delivery.status import ReportApplier, transition
from lynsms.gateway.providers import clicksend, infobip, registry, sinch, twilio
from lynsms.gateway.providers.reports import Report, ReportError
from lynsms.gateway.store import Store
from tests.gateway.helpers import stored_sent_message

# ---- Twilio ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("queued", None),
        ("accepted", None),
        ("sending", None),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "failed"),
        ("canceled", "failed"),
        ("something-new", None),
    ],
)
def test_twilio_callback_statuses(word: str, status: str | None) -> None:
    [report] = twilio.parse_reports({"MessageSid": "SM1", "MessageStatus": word, "SmsStatus": word})
    assert (report.provider_message_id, report.status, report.provider_status) == ("SM1", status, word)


def test_twilio_error_code_gets_its_catalogue_text_and_the_done_date() -> None:
    [report] = twilio.parse_reports(
        {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003", "RawDlrDoneDate": "2605121134"}
    )
    assert (report.error_code, report.error_text, report.at) == (
        "30003",
        "Unreachable destination handset",
        "2026-05-12T11:34:00+00:00",
    )


def test_twilio_delivered_carries_no_error_and_sms_sid_is_enough() -> None:
    [report] = twilio.parse_reports({"SmsSid": "SM2", "SmsStatus": "delivered", "ErrorCode": "0"})
    assert (report.provider_message_id, report.error_code, report.error_text) == ("SM2", None, None)


def test_twilio_resource_reads_a_polled_message() -> None:
    [report] = twilio.parse_resource(
        {
            "sid": "SM3",
            "status": "failed",
            "error_code": 30001,
            "error_message": None,
            "date_updated": "Tue, 12 May 2026 11:34:21 +0000",
        }
    )
    assert (report.status, report.error_code, report.error_text, report.at) == (
        "failed",
        "30001",
        "Queue overflow",
        "2026-05-12T11:34:21+00:00",
    )


# ---- Sinch ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "code", "status", "error"),
    [
        ("Queued", 400, None, None),
        ("Dispatched", 401, "sent", None),
        ("Delivered", 0, "delivered", None),
        ("Failed", 27, "undelivered", ("27", "Absent subscriber")),
        ("Expired", 406, "undelivered", ("406", "Internal expiry")),
        ("Aborted", 408, "failed", ("408", "Internal reject")),
        ("Rejected", 55, "failed", ("55", "Operator error 55")),
        ("Cancelled", 407, "failed", ("407", "Cancelled")),
    ],
)
def test_sinch_recipient_report(word: str, code: int, status: str | None, error: tuple[str, str] | None) -> None:
    [report] = sinch.parse_reports(
        {
            "type": "recipient_delivery_report_sms",
            "batch_id": "B1",
            "recipient": "12025550143",
            "code": code,
            "status": word,
            "at": "2026-05-12T11:34:21.120Z",
        }
    )
    assert report.provider_message_id == "B1:+12025550143"
    assert (report.status, (report.error_code, report.error_text) if error else (None, None)) == (
        status,
        error or (None, None),
    )
    assert report.at == "2026-05-12T11:34:21+00:00"


def test_sinch_full_batch_report_names_each_recipient() -> None:
    found = sinch.parse_reports(
        {
            "type": "delivery_report_sms",
            "batch_id": "B2",
            "total_message_count": 3,
            "statuses": [
                {"code": 0, "status": "Delivered", "count": 2, "recipients": ["12025550143", "+447700900100"]},
                {"code": 27, "status": "Failed", "count": 1, "recipients": ["4748640969"]},
            ],
        }
    )
    assert [(r.provider_message_id, r.status) for r in found] == [
        ("B2:+12025550143", "delivered"),
        ("B2:+447700900100", "delivered"),
        ("B2:+4748640969", "undelivered"),
    ]


def test_sinch_summary_applies_to_the_batch_only_when_one_status_covers_everyone() -> None:
    whole = {
        "type": "delivery_report_sms",
        "batch_id": "B3",
        "total_message_count": 2,
        "statuses": [{"code": 0, "status": "Delivered", "count": 2}],
    }
    [report] = sinch.parse_reports(whole)
    assert (report.provider_message_id, report.batch_id, report.status) == (None, "B3", "delivered")
    mixed = {
        **whole,
        "statuses": [{"code": 0, "status": "Delivered", "count": 1}, {"code": 27, "status": "Failed", "count": 1}],
    }
    assert sinch.parse_reports(mixed) == []


# ---- Infobip ----------------------------------------------------------------------------------------


def infobip_result(group: str, name: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "messageId": "msg_1",
        "status": {"groupName": group, "name": name},
        "doneAt": "2026-05-12T11:34:21.000+0000",
        "error": error or {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR"},
    }


@pytest.mark.parametrize(
    ("group", "name", "status"),
    [
        ("PENDING", "PENDING_ENROUTE", "sent"),
        ("DELIVERED", "DELIVERED_TO_HANDSET", "delivered"),
        ("UNDELIVERABLE", "UNDELIVERABLE_NOT_DELIVERED", "undelivered"),
        ("EXPIRED", "EXPIRED_EXPIRED", "undelivered"),
        ("UNDELIVERABLE", "UNDELIVERABLE_REJECTED_OPERATOR", "failed"),
        ("REJECTED", "REJECTED_DND", "failed"),
        ("ACCEPTED", "ACCEPTED", None),
    ],
)
def test_infobip_status_groups(group: str, name: str, status: str | None) -> None:
    [report] = infobip.parse_reports({"results": [infobip_result(group, name)]})
    assert (report.provider_message_id, report.status, report.provider_status, report.error_code) == (
        "msg_1",
        status,
        name,
        None,
    )
    assert report.at == "2026-05-12T11:34:21+00:00"


def test_infobip_error_and_several_results() -> None:
    error = {
        "groupId": 1,
        "groupName": "HANDSET_ERRORS",
        "id": 27,
        "name": "EC_ABSENT_SUBSCRIBER",
        "description": "Absent Subscriber",
        "permanent": False,
    }
    found = infobip.parse_reports(
        {
            "results": [
                infobip_result("UNDELIVERABLE", "UNDELIVERABLE_NOT_DELIVERED", error),
                infobip_result("DELIVERED", "DELIVERED_TO_HANDSET"),
            ]
        }
    )
    assert [(r.status, r.error_code, r.error_text) for r in found] == [
        ("undelivered", "27", "Absent Subscriber"),
        ("delivered", None, None),
    ]


# ---- ClickSend --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error", "status"),
    [
        ("200", "", "sent"),
        ("201", "", "delivered"),
        ("300", "16", "sent"),
        ("301", "12", "undelivered"),
        ("301", "20", "undelivered"),
        ("301", "8", "failed"),
        ("301", "19", "failed"),
    ],
)
def test_clicksend_receipts_pushed_as_forms(code: str, error: str, status: str) -> None:
    form = {
        "message_id": "BF7AD270",
        "status_code": code,
        "status_text": "x",
        "error_code": error,
        "error_text": "why" if error else "",
        "custom_string": "msg_1",
        "timestamp": "1778585661",
    }
    [report] = clicksend.parse_reports(form)
    assert (report.provider_message_id, report.status) == ("BF7AD270", status)
    assert report.error_code == (error or None)
    assert report.at == "2026-05-12T11:34:21+00:00"


def test_clicksend_polled_receipt_keeps_ints_and_lists_work() -> None:
    receipt = {
        "message_id": "A",
        "status_code": 301,
        "error_code": 12,
        "error_text": "Absent Subscriber",
        "timestamp": 1,
    }
    [report] = clicksend.parse_reports([receipt])
    assert (report.status, report.error_code, report.error_text) == ("undelivered", "12", "Absent Subscriber")


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("twilio", {"MessageStatus": "delivered"}),
        ("sinch", {"type": "recipient_delivery_report_sms"}),
        ("sinch", {"type": "mo_text", "batch_id": "B"}),
        ("sinch", []),
        ("infobip", {"results": "no"}),
        ("infobip", {"results": [{"status": {"groupName": "DELIVERED"}}]}),
        ("clicksend", {"status_code": 201}),
        ("clicksend", "text"),
    ],
)
def test_a_body_that_is_not_the_providers_report_is_an_error(provider: str, body: Any) -> None:
    with pytest.raises(ReportError):
        registry.provider(provider).parse_reports(body)


# ---- signatures -------------------------------------------------------------------------------------


def test_signature_round_trip_and_what_breaks_it() -> None:
    body = b'{"id":"evt_1"}'
    header = signing.sign("whsec_x", body, timestamp=int(time.time()))
    assert signing.verify("whsec_x", body, header)
    assert not signing.verify("whsec_y", body, header)
    assert not signing.verify("whsec_x", body + b" ", header)
    assert not signing.verify("whsec_x", body, signing.sign("whsec_x", body, timestamp=int(time.time()) - 301))
    assert not signing.verify("whsec_x", body, "garbage")


def test_derived_secret_is_stable_and_not_the_key() -> None:
    assert signing.derive_secret("key-1") == signing.derive_secret("key-1") != signing.derive_secret("key-2")
    assert signing.derive_secret("key-1").startswith("whsec_") and "key-1" not in signing.derive_secret("key-1")


def test_twilio_signature_matches_the_twilio_sdk() -> None:
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+12025550143", "ErrorCode": ""}
    url = "https://gateway.example.com/api/v1/webhooks/twilio?x=1"
    expected = RequestValidator("token").compute_signature(url, params)
    assert signing.twilio_signature("token", url, params.items()) == expected
    assert signing.twilio_valid(["other", "token"], url, list(params.items()), expected)
    assert not signing.twilio_valid(["other"], url, list(params.items()), expected)
    assert not signing.twilio_valid(["token"], url, list(params.items()), None)


# ---- the state machine ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "incoming", "new"),
    [
        ("sent", "delivered", "delivered"),
        ("sent", "failed", "failed"),
        ("sent", "sent", None),
        ("delivered", "sent", None),
        ("delivered", "undelivered", None),
        ("failed", "delivered", None),
        ("undelivered", "delivered", None),
        ("sent", None, None),
        ("queued", "delivered", "delivered"),
    ],
)
def test_transition_only_moves_forward_once(current: str, incoming: str | None, new: str | None) -> None:
    assert transition(current, incoming)[0] == new


def test_reports_are_applied_recorded_and_parked_until_their_message_is_known() -> None:
    store = Store()
    clock = ManualClock()
    tracker = ReportApplier(store, park_seconds=60, clock=clock)
    message_id = stored_sent_message(store)
    undelivered = Report("twilio", "SM1", "undelivered", "undelivered", "30003", "Unreachable destination handset")
    late = Report("twilio", "SM1", "sent", "sent")
    applied = tracker.apply([undelivered, late, Report("twilio", "SM404", "delivered", "delivered")], "webhook")
    assert applied.to_json() == {"reports": 3, "changed": 1, "recorded": 1, "parked": 1}
    message = store.get(message_id)
    assert message is not None and message.status == "undelivered"
    assert message.error is not None and (message.error.code, message.error.provider_code) == ("undelivered", "30003")
    kinds = [(e.type, e.status, (e.detail or {}).get("applied")) for e in store.events(message_id)]
    assert kinds[-2:] == [("delivery_report", "undelivered", True), ("delivery_report", "undelivered", False)]
    # The parked report applies the moment its provider id is recorded; one never claimed is dropped later.
    later_id = stored_sent_message(store, pmid="SM404")
    assert tracker.parked == 0
    assert (store.get(later_id) or message).status == "delivered"
    tracker.apply([Report("twilio", "SM-never", "delivered", "delivered")], "webhook")
    assert tracker.expire() == 1
    clock.advance(61)
    assert tracker.expire() == 0
    assert store.db.execute("SELECT COUNT(*) FROM parked_reports").fetchone()[0] == 0


def test_a_parked_report_applies_in_the_same_call_that_records_its_provider_id_without_polling() -> None:
    store = Store()
    tracker = ReportApplier(store, park_seconds=60)
    tracker.apply([Report("sinch", None, "delivered", "Delivered", batch_id="B1")], "webhook")  # a batch summary
    tracker.apply([Report("twilio", "SM7", "failed", "failed", "30001")], "webhook")
    assert tracker.parked == 2
    twilio = stored_sent_message(store, pmid="SM7")
    sinch = stored_sent_message(store, "sinch", "B1:+12025550143")
    statuses = [message.status for message in map(store.get, (twilio, sinch)) if message is not None]
    assert statuses == ["failed", "delivered"]
    assert tracker.parked == 0


def test_parking_is_capped_per_provider() -> None:
    store = Store()
    tracker = ReportApplier(store, park_seconds=60, park_max=2)
    flood = [Report("infobip", f"msg_{n}", "delivered", "DELIVERED") for n in range(5)]
    assert tracker.apply(flood, "webhook").to_json() == {"reports": 5, "changed": 0, "recorded": 0, "parked": 2}
    assert tracker.apply([Report("twilio", "SM1", "delivered", "delivered")], "webhook").parked == 1
    assert store.db.execute("SELECT COUNT(*) FROM parked_reports").fetchone()[0] == 3
    assert tracker.expire() == 3 and not tracker.refused  # the drops were logged and forgotten


def test_parked_reports_are_found_through_an_index() -> None:
    store = Store()
    plan = " ".join(
        row[-1]
        for row in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT seq FROM parked_reports WHERE provider=? AND match_key=?", ("a", "b")
        )
    )
    assert "parked_reports_match" in plan, plan


def test_sinch_batch_summary_reaches_every_recipient_of_the_batch() -> None:
    store = Store()
    tracker = ReportApplier(store, park_seconds=60)
    ids = [stored_sent_message(store, "sinch", f"BATCH:+1202555014{i}") for i in range(2)]
    other = stored_sent_message(store, "sinch", "BATCHX:+12025550149")
    [report] = sinch.parse_reports(
        {
            "type": "delivery_report_sms",
            "batch_id": "BATCH",
            "total_message_count": 2,
            "statuses": [{"code": 0, "status": "Delivered", "count": 2}],
        }
    )
    assert tracker.apply([report], "webhook").changed == 2
    assert [getattr(store.get(i), "status", None) for i in [*ids, other]] == ["delivered", "delivered", "sent"]
    assert json.loads(json.dumps(report.to_json()))["report_status"] == "delivered"

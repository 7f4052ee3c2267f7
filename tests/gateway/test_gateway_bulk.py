"""Bulk sends: independent messages, per-item failures, duplicates, batching and fallback."""

from __future__ import annotations

import pytest

from lynsms.gateway.providers.base import Accepted, Failed, Outbound, SendResult
from tests.gateway.helpers import BULK, Client, FakeAdapter, failing, make_client, make_config, total_sent


def numbers(count: int, start: int = 0) -> list[str]:
    # +1 202 555 01xx is fictional; these are valid US numbers in phonenumbers' metadata.
    return [f"+1202{2000000 + start + i:07d}" for i in range(count)]


def test_bulk_returns_the_spec_bulk_result(client: Client) -> None:
    response = client.post("/api/v1/messages/bulk", json=BULK)
    assert response.status_code == 201
    data = response.json()["data"]
    assert (data["object"], data["total"], data["sent"], data["failed"]) == ("bulk_result", 3, 3, 0)
    assert [item["to"] for item in data["messages"]] == BULK["recipients"]
    for item in data["messages"]:
        assert item["id"].startswith("msg_") and item["status"] == "sent" and item["error"] is None
    # Each item is a full message of its own, with the body's segmentation.
    stored = client.get(f"/api/v1/messages/{data['messages'][0]['id']}").json()["data"]
    assert (stored["encoding"], stored["segments"], stored["body"]) == ("UCS-2", 1, BULK["body"])


def test_invalid_recipient_fails_alone_and_the_rest_are_sent(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    recipients = ["+12025550143", "02079460123", "+1", "not a number", "+4748640969"]
    data = client.post("/api/v1/messages/bulk", json={**BULK, "recipients": recipients}).json()["data"]
    assert (data["total"], data["sent"], data["failed"]) == (5, 2, 3)
    statuses = [(item["to"], item["status"], (item["error"] or {}).get("code")) for item in data["messages"]]
    assert statuses == [
        ("+12025550143", "sent", None),
        ("02079460123", "failed", "invalid_recipient"),
        ("+1", "failed", "invalid_recipient"),
        ("not a number", "failed", "invalid_recipient"),
        ("+4748640969", "sent", None),
    ]
    assert sorted(m.to for m in fakes["twilio"].sent) == ["+12025550143", "+4748640969"]
    invalid = client.get(f"/api/v1/messages/{data['messages'][1]['id']}").json()["data"]
    assert invalid["status"] == "failed" and invalid["attempts"] == 0 and invalid["cost"] == 0


def test_duplicate_recipient_is_sent_once_and_reported_as_failed(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    recipients = ["+12025550143", "+4748640969", "+12025550143"]
    data = client.post("/api/v1/messages/bulk", json={**BULK, "recipients": recipients}).json()["data"]
    assert [item["status"] for item in data["messages"]] == ["sent", "sent", "failed"]
    assert data["messages"][2]["error"]["code"] == "duplicate_recipient"
    assert [m.to for m in fakes["twilio"].sent].count("+12025550143") == 1


def test_thousand_recipients_to_a_batch_provider_take_one_request(
    client: Client, fakes: dict[str, FakeAdapter]
) -> None:
    recipients = numbers(1000)
    response = client.post("/api/v1/messages/bulk", json={**BULK, "recipients": recipients, "provider": "sinch"})
    assert response.status_code == 201
    assert response.json()["data"]["sent"] == 1000
    assert len(fakes["sinch"].requests) == 1 and len(fakes["sinch"].requests[0]) == 1000
    assert total_sent(fakes) == 1000


def test_thousand_recipients_to_twilio_are_one_request_each(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    data = client.post("/api/v1/messages/bulk", json={**BULK, "recipients": numbers(1000)}).json()["data"]
    assert data["sent"] == 1000
    assert len(fakes["twilio"].requests) == 1000


def test_batches_are_chunked_at_the_providers_max_batch(fakes: dict[str, FakeAdapter]) -> None:
    fakes["infobip"].max_batch = 100
    with make_client(make_config(), fakes) as client:
        client.post("/api/v1/messages/bulk", json={**BULK, "recipients": numbers(250), "provider": "infobip"})
    assert [len(request) for request in fakes["infobip"].requests] == [100, 100, 50]


def test_retryable_recipients_move_to_the_next_provider_and_hard_ones_stop(
    client: Client, fakes: dict[str, FakeAdapter]
) -> None:
    recipients = numbers(6)

    def sinch(message: Outbound) -> SendResult:
        index = recipients.index(message.to)
        if index < 2:
            return Failed(kind="retryable", reason="server_error", message="502 from sinch", http_status=502)
        if index < 4:
            return Failed(kind="hard", reason="unsubscribed", message="recipient opted out", provider_code="403")
        return Accepted(provider_message_id=f"batch-{index}")

    fakes["sinch"].script = sinch
    data = client.post("/api/v1/messages/bulk", json={**BULK, "recipients": recipients, "route_id": 1}).json()["data"]
    assert [item["status"] for item in data["messages"]] == ["sent", "sent", "failed", "failed", "sent", "sent"]
    assert {item["error"]["code"] for item in data["messages"][2:4]} == {"provider_rejected"}
    assert sorted(m.to for m in fakes["infobip"].sent) == recipients[:2]
    first = client.get(f"/api/v1/messages/{data['messages'][0]['id']}").json()["data"]
    assert [a["provider"] for a in first["attempt_log"]] == ["sinch", "infobip"] and first["provider"] == "infobip"


def test_bulk_where_every_provider_fails_reports_each_item_failed(
    client: Client, fakes: dict[str, FakeAdapter]
) -> None:
    for fake in fakes.values():
        fake.script = failing("retryable")
    response = client.post("/api/v1/messages/bulk", json=BULK)
    assert response.status_code == 201  # the request was valid: per-item results tell the story
    data = response.json()["data"]
    assert (data["sent"], data["failed"]) == (0, 3)
    assert {item["error"]["code"] for item in data["messages"]} == {"routing_exhausted"}


def test_bulk_items_are_priced_per_recipient_country(client: Client) -> None:
    data = client.post("/api/v1/messages/bulk", json=BULK).json()["data"]
    assert [item["cost"] for item in data["messages"]] == [0.05, 0.04, 0.05]


@pytest.mark.parametrize("count", [0, 1001])
def test_recipient_count_outside_1_to_1000_is_rejected(
    client: Client, fakes: dict[str, FakeAdapter], count: int
) -> None:
    response = client.post("/api/v1/messages/bulk", json={**BULK, "recipients": numbers(count)})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "recipients"
    assert total_sent(fakes) == 0


def test_reference_is_shared_by_every_bulk_message(client: Client) -> None:
    data = client.post("/api/v1/messages/bulk", json={**BULK, "reference": "campaign-7"}).json()["data"]
    listed = client.get("/api/v1/messages?reference=campaign-7").json()["data"]["messages"]
    assert sorted(m["id"] for m in listed) == sorted(item["id"] for item in data["messages"])

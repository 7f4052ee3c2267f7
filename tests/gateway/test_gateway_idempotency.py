"""Idempotency-Key: a repeat returns the first result and sends nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

from lynsms.gateway.providers.base import Outbound, SendResult
from tests.gateway.helpers import (
    AUTH,
    BULK,
    SEND,
    Client,
    FakeAdapter,
    failing,
    make_client,
    make_config,
    make_fakes,
    total_sent,
)

URL = "/api/v1/messages/send"


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def test_repeat_with_same_key_and_body_returns_the_first_result_and_sends_nothing(
    client: Client, fakes: dict[str, FakeAdapter]
) -> None:
    first = client.post(URL, json=SEND, headers=key("k-1"))
    second = client.post(URL, json=SEND, headers=key("k-1"))
    assert first.status_code == second.status_code == 201
    assert second.json()["data"] == first.json()["data"]
    assert second.json()["meta"]["request_id"] != first.json()["meta"]["request_id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert total_sent(fakes) == 1
    assert len(client.get("/api/v1/messages").json()["data"]["messages"]) == 1


def test_same_body_with_keys_in_another_order_is_the_same_request(
    client: Client, fakes: dict[str, FakeAdapter]
) -> None:
    client.post(URL, json=SEND, headers=key("k-order"))
    reordered = dict(reversed(list(SEND.items())))
    assert client.post(URL, json=reordered, headers=key("k-order")).status_code == 201
    assert total_sent(fakes) == 1


def test_same_key_with_a_different_body_is_409_idempotency_key_reused(
    client: Client, fakes: dict[str, FakeAdapter]
) -> None:
    client.post(URL, json=SEND, headers=key("k-2"))
    response = client.post(URL, json={**SEND, "body": "another"}, headers=key("k-2"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert total_sent(fakes) == 1


def test_same_key_on_send_then_bulk_is_409(client: Client) -> None:
    client.post(URL, json=SEND, headers=key("k-3"))
    response = client.post("/api/v1/messages/bulk", json=BULK, headers=key("k-3"))
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_bulk_repeat_sends_nothing_twice(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    first = client.post("/api/v1/messages/bulk", json=BULK, headers=key("bulk-1"))
    second = client.post("/api/v1/messages/bulk", json=BULK, headers=key("bulk-1"))
    assert second.json()["data"] == first.json()["data"]
    assert total_sent(fakes) == 3


def test_failed_send_is_replayed_as_the_same_error_without_retrying(
    client: Client, fakes: dict[str, FakeAdapter]
) -> None:
    fakes["twilio"].script = failing("hard", "insufficient_funds")
    first = client.post(URL, json=SEND, headers=key("k-fail"))
    fakes["twilio"].script = fakes["twilio"].accept
    second = client.post(URL, json=SEND, headers=key("k-fail"))
    assert first.status_code == second.status_code == 422
    assert second.json()["error"] == first.json()["error"]
    assert total_sent(fakes) == 1


def test_invalid_request_does_not_burn_the_key(client: Client, fakes: dict[str, FakeAdapter]) -> None:
    assert client.post(URL, json={**SEND, "to": "bad"}, headers=key("k-fix")).status_code == 422
    assert client.post(URL, json=SEND, headers=key("k-fix")).status_code == 201
    assert total_sent(fakes) == 1


def test_keys_are_scoped_per_api_key(fakes: dict[str, FakeAdapter]) -> None:
    config = make_config(api_keys=[{"key": "alpha-key", "name": "a"}, {"key": "beta-key", "name": "b"}])
    with make_client(config, fakes) as client:
        for api_key in ("alpha-key", "beta-key"):
            headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": "shared"}
            assert client.post(URL, json=SEND, headers=headers).status_code == 201
    assert total_sent(fakes) == 2


class GatedAdapter(FakeAdapter):
    """Holds every send until ``release`` is set, so a duplicate can arrive mid-flight."""

    def __init__(self) -> None:
        super().__init__("twilio")
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, message: Outbound) -> SendResult:
        self.started.set()
        await self.release.wait()
        return await super().send(message)

    async def send_many(self, messages: Sequence[Outbound]) -> list[SendResult]:
        raise AssertionError("twilio sends one by one")


def test_concurrent_duplicate_is_409_idempotency_key_in_progress() -> None:
    fakes = make_fakes()
    gated = GatedAdapter()
    fakes["twilio"] = gated
    with make_client(make_config(), fakes) as client:

        async def race() -> tuple[httpx.Response, httpx.Response]:
            headers = {**AUTH, "Idempotency-Key": "k-race"}
            first = asyncio.create_task(client.http.post(URL, json=SEND, headers=headers))
            await gated.started.wait()
            second = await client.http.post(URL, json=SEND, headers=headers)
            gated.release.set()
            return await first, second

        first, second = client.run(race())
        assert first.status_code == 201
        assert second.status_code == 409
        assert second.json()["error"]["code"] == "idempotency_key_in_progress"
        assert len(gated.sent) == 1
        # Once finished, the key replays the first result.
        third = client.post(URL, json=SEND, headers=key("k-race"))
        assert third.json()["data"]["id"] == first.json()["data"]["id"]

"""More of ClickSend's SMS API through the official SDK: pricing a send without sending it."""

from __future__ import annotations

from typing import Any

from tests.contract.test_clicksend_sdk import sms_api


def test_price_answers_like_a_send_and_sends_nothing(simulator: Any) -> None:
    from clicksend.models.calculate_sms_price import CalculateSmsPrice
    from clicksend.models.calculate_sms_price_request import CalculateSmsPriceRequest
    from clicksend.models.calculate_sms_price_request_messages_inner import CalculateSmsPriceRequestMessagesInner

    def message(to: str = "+12025550143", body: str = "Hello") -> CalculateSmsPriceRequestMessagesInner:
        return CalculateSmsPriceRequestMessagesInner(to=to, body=body)

    api = next(sms_api(simulator.url))
    request = CalculateSmsPriceRequest(messages=[message(body="a" * 161), message(to="not-a-number")])
    answer = api.calculate_sms_price(calculate_sms_price_request=request)
    assert type(answer) is CalculateSmsPrice and answer.data is not None
    data = answer.data
    assert (data.total_count, data.queued_count, data.blocked_count) == (2, 1, 1)
    assert data.total_price == round(2 * 0.0792, 4)
    assert [m.status for m in data.messages or []] == ["SUCCESS", "INVALID_RECIPIENT"]
    assert simulator.sim.state.messages == {}

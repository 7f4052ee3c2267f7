"""More of Infobip's SMS API through the official SDK: preview and binary content."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.contract.test_infobip_sdk import sms_api

TO = "12025550143"


def test_preview_counts_parts_and_remaining_characters(simulator: Any) -> None:
    from infobip_api_client.models.sms_preview_request import SmsPreviewRequest
    from infobip_api_client.models.sms_preview_response import SmsPreviewResponse

    api = sms_api(simulator.url)
    answer = api.preview_sms_message(sms_preview_request=SmsPreviewRequest(text="a" * 161))
    assert type(answer) is SmsPreviewResponse and answer.original_text == "a" * 161
    (preview,) = answer.previews or []
    assert (preview.message_count, preview.characters_remaining) == (2, 306 - 161)
    unicode = api.preview_sms_message(sms_preview_request=SmsPreviewRequest(text="✓" * 10))
    assert [(p.message_count, p.characters_remaining) for p in unicode.previews or []] == [(1, 60)]
    assert simulator.sim.state.messages == {}


def test_preview_refuses_what_it_cannot_emulate(simulator: Any) -> None:
    from infobip_api_client.exceptions import BadRequestException
    from infobip_api_client.models.sms_preview_request import SmsPreviewRequest

    with pytest.raises(BadRequestException):
        sms_api(simulator.url).preview_sms_message(sms_preview_request=SmsPreviewRequest(text="x", languageCode="TR"))


def test_binary_content_is_refused_with_400(simulator: Any) -> None:
    auth = {"Authorization": "App sdk-key"}
    v3 = {"messages": [{"destinations": [{"to": TO}], "content": {"hex": "0f c2 4a bf", "dataCoding": 0}}]}
    answer = httpx.post(f"{simulator.url}/sms/3/messages", json=v3, headers=auth)
    assert answer.status_code == 400
    assert answer.json()["violations"][0]["property"] == "messages[0].content"
    v2 = {"messages": [{"destinations": [{"to": TO}], "binary": {"hex": "0f c2"}}]}
    legacy = httpx.post(f"{simulator.url}/sms/2/binary/advanced", json=v2, headers=auth)
    assert legacy.status_code == 400 and "requestError" in legacy.json()
    assert simulator.sim.state.messages == {}

"""Twilio's Media subresource through the official SDK: an MMS lists one Media per MediaUrl."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.test_accounts_sdk import TO, TWILIO_AC, twilio

SENDER = "+15005550006"
URLS = ["https://example.com/cat.jpg", "https://example.com/clip.mp4"]


def test_media_list_fetch_and_delete(simulator: Any) -> None:
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest.api.v2010.account.message.media import MediaInstance

    client = twilio(simulator)
    message = client.messages.create(to=TO, from_=SENDER, media_url=URLS)
    media = client.messages(message.sid).media.list()
    assert all(isinstance(m, MediaInstance) for m in media)
    assert [(m.content_type, m.parent_sid, m.account_sid) for m in media] == [
        ("image/jpeg", message.sid, TWILIO_AC),
        ("video/mp4", message.sid, TWILIO_AC),
    ]
    assert all(m.sid is not None and m.sid.startswith("ME") and len(m.sid) == 34 for m in media)
    first = client.messages(message.sid).media(media[0].sid).fetch()
    assert first.uri == f"/2010-04-01/Accounts/{TWILIO_AC}/Messages/{message.sid}/Media/{media[0].sid}.json"
    assert client.messages(message.sid).media(media[0].sid).delete() is True
    assert [m.sid for m in client.messages(message.sid).media.list()] == [media[1].sid]
    with pytest.raises(TwilioRestException) as caught:
        client.messages(message.sid).media(media[0].sid).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_an_sms_has_no_media_and_bad_filters_are_refused(simulator: Any) -> None:
    from twilio.base.exceptions import TwilioException

    client = twilio(simulator)
    message = client.messages.create(to=TO, from_=SENDER, body="text only")
    assert client.messages(message.sid).media.list() == []
    with pytest.raises(TwilioException) as caught:  # a list page that fails is a plain TwilioException
        client.messages(message.sid).media.list(date_created_before="not-a-date")
    assert '"code":20400' in str(caught.value)

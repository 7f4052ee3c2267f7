"""Which provider a request's Host names: exact hosts, wildcards below a domain, never lookalikes."""

from __future__ import annotations

import pytest

from lynsms.simulator.hosts import provider_of_host


@pytest.mark.parametrize(
    ("host", "provider"),
    [
        ("api.twilio.com", "twilio"),
        ("API.Twilio.com.", "twilio"),
        ("lookups.twilio.com:443", "twilio"),
        ("us.sms.api.sinch.com", "sinch"),
        ("zt.eu.sms.api.sinch.com", "sinch"),
        ("auth.sinch.com", "sinch"),
        ("lookup.api.sinch.com", "sinch"),
        ("3g9kqx.api.infobip.com", "infobip"),
        ("api.infobip.com", "infobip"),
        ("rest.clicksend.com", "clicksend"),
        ("sms.api.sinch.com", None),
        ("evilapi.twilio.com", None),
        ("api.twilio.com.example.org", None),
        ("x.api.infobip.com.example.org", None),
        ("127.0.0.1:8900", None),
        ("[::1]:8900", None),
        ("", None),
    ],
)
def test_provider_of_host(host: str, provider: str | None) -> None:
    assert provider_of_host(host) == provider

"""Inbound payloads whose numbers no parser should trust are read as absent, never as a crash."""

from __future__ import annotations

import pytest

from lynsms.gateway.providers import inbound

PUSH = {"message_id": "m1", "from": "61491570156", "to": "61411111111", "body": "STOP"}


@pytest.mark.parametrize("stamp", ["\N{SUPERSCRIPT TWO}", "9" * 40, "-5", "", 1733212800])
def test_a_clicksend_timestamp_that_is_no_unix_time_is_left_out(stamp: object) -> None:
    (message,) = inbound.clicksend({**PUSH, "timestamp": stamp})
    assert message.sender == "+61491570156"
    if stamp == 1733212800:
        assert message.received_at == "2024-12-03T08:00:00+00:00"
    else:
        assert message.received_at is None

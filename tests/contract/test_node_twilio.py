"""The ``twilio`` Node SDK (pinned in ``node/package-lock.json``) beyond sends and fetches:
``node/twilio.cjs`` lists with filters and cancels a scheduled message, checking each answer with
``node:assert`` in one Node process. Skipped only when Node is not installed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.test_node_sdks import NODE, run_script
from tests.simulator.scenario_wires import QUIET, load


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed: the Node SDK contract tests need `node` on PATH")
def test_twilio_node_sdk_filters_lists_and_cancels_a_scheduled_message(simulator: Any) -> None:
    load(simulator.control, simulator.url, QUIET)
    result = run_script("twilio.cjs", simulator.url)
    assert (result["to_a"], result["from"], result["to_b_since"], result["before"]) == (2, 2, 1, 0)
    assert result["canceled"] == "canceled"
    assert result["second_cancel"] == {"status": 400, "code": 30409}
    assert (result["media"], result["account"]) == (1, "active")
    [scheduled] = [m for m in simulator.messages() if m["body"] == "later"]
    assert scheduled["status"] == "canceled"

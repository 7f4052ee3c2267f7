"""The ``twilio`` Node SDK (pinned in ``node/package-lock.json``) beyond sends and fetches:
``node/twilio.cjs`` lists with filters and cancels a scheduled message, checking each answer with
``node:assert`` in the one Node process of the session. Skipped only when Node is not installed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.node_runner import NO_NODE, NODE, Runner
from tests.simulator.scenario_wires import QUIET, load


@pytest.mark.skipif(NODE is None, reason=NO_NODE)
def test_twilio_node_sdk_filters_lists_and_cancels_a_scheduled_message(simulator: Any, node: Runner) -> None:
    load(simulator.control, simulator.url, QUIET)
    result = node.script("twilio.cjs", simulator.url)
    assert (result["to_a"], result["from"], result["to_b_since"], result["before"]) == (2, 2, 1, 0)
    assert result["canceled"] == "canceled"
    assert result["second_cancel"] == {"status": 400, "code": 30409}
    assert (result["media"], result["account"]) == (1, "active")
    [scheduled] = [m for m in simulator.messages() if m["body"] == "later"]
    assert scheduled["status"] == "canceled"

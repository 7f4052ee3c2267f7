"""``node/sinch.cjs``: the calls an application makes around a Sinch send, through the
official Node SDK (``@sinch/sdk-core``, pinned in ``node/package-lock.json``), in the one Node process of the session
against a real simulator. Skipped only when Node is not installed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.node_runner import NO_NODE, NODE, Runner
from tests.simulator.receiver import Receiver
from tests.simulator.scenario_wires import QUIET, load

A, B = "12025550143", "12025550144"


@pytest.mark.skipif(NODE is None, reason=NO_NODE)
def test_sinch_node_sdk_calls_around_the_send(simulator: Any, node: Runner) -> None:
    load(simulator.control, simulator.url, QUIET)
    with Receiver() as receiver:  # an inbound message for inbounds.list / get
        registered = {"provider": "sinch", "url": f"{receiver.url}/mo", "account": "plan-node"}
        made = simulator.control.post("/_sim/inbound/urls", json=registered).json()
        try:
            texted = {"provider": "sinch", "from": "+447700900123", "to": "+12025550100", "body": "MO"}
            inbound = simulator.control.post("/_sim/inbound", json=texted).json()
            receiver.wait(1)
        finally:  # registrations outlive a reset
            simulator.control.delete(f"/_sim/inbound/urls/{made['id']}").raise_for_status()
    result = node.script("sinch.cjs", simulator.url, inbound["id"])
    assert result["dry"] == [1, 2, "UNICODE"]
    assert result["byReference"] == [result["first"]]
    assert result["bySender"] == [result["second"]]
    assert result["canceled"] is True
    assert result["report"] == [["Cancelled", 2]]
    assert result["one"] == [A, "Cancelled", 407]
    assert result["reports"] == [A, B]
    assert result["binary"] == ["mt_binary", "050003cc0201"]
    assert result["group"] == [2, [A, B], True]
    assert result["missing"]  # the SDK raised on the 404
    assert result["groupCalls"] == ["Node group", "Renamed", 2, "Replaced", 1]
    assert result["scheduled"] == ["sooner", ["+12025550143", "+12025550144"], True, "replaced", ["+12025550144"]]
    assert (result["inbounds"], result["inbound"]) == ([inbound["id"]], "MO")
    feedback = [m for m in simulator.sim.state.messages.values() if m.batch_id == result["second"]]
    assert [bool(m.extra.get("delivery_feedback")) for m in feedback] == [True]

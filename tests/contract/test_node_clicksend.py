"""The ``clicksend`` Node SDK (pinned in ``node/package-lock.json``) beyond sends and fetches:
``node/clicksend.cjs`` prices a send, cancels scheduled messages (one, then all), filters the
history, marks receipts read and exports the history, in the one Node process of the session. Skipped only when
Node is not installed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.node_runner import NO_NODE, NODE, Runner
from tests.simulator.scenario_wires import QUIET, load


@pytest.mark.skipif(NODE is None, reason=NO_NODE)
def test_clicksend_node_sdk_prices_cancels_filters_and_exports(simulator: Any, node: Runner) -> None:
    load(simulator.control, simulator.url, QUIET)
    result = node.script("clicksend.cjs", simulator.url)
    assert result["price"] == {"total": round(2 * 0.0792, 4), "queued": 1, "blocked": 1}
    assert result["cancel_again"] == {"status": 400, "code": "BAD_REQUEST"}
    assert result["cancel_all"] == 2
    history = result["history"]
    assert history["to_a"] == ["n-1"] and history["cancelled"] == ["l-1", "l-2", "l-3"]
    assert (history["dated"], history["future"]) == (4, 0)
    assert result["receipts"] == 0 and result["inbound"] == 0
    assert result["export_lines"] == 1 + 4  # the header and one row per message
    assert simulator.messages() and not simulator.sim.core.scheduled

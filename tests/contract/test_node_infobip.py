"""The ``@infobip-api/sdk`` Node SDK (pinned in ``node/package-lock.json``) beyond sends and
fetches: ``node/infobip.cjs`` previews a text, reschedules, pauses and cancels a scheduled bulk and
filters the outbound logs, checking each answer with ``node:assert`` in the one Node process of the session. Skipped
only when Node is not installed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.node_runner import NO_NODE, NODE, Runner
from tests.simulator.scenario_wires import QUIET, load


@pytest.mark.skipif(NODE is None, reason=NO_NODE)
def test_infobip_node_sdk_previews_manages_a_scheduled_bulk_and_filters_logs(simulator: Any, node: Runner) -> None:
    load(simulator.control, simulator.url, QUIET)
    result = node.script("infobip.cjs", simulator.url)
    assert result["preview"] == {"count": 2, "remaining": 306 - 161}
    assert result["rescheduled"] is True
    assert result["paused"] == ["PAUSED", "PAUSED"] and result["canceled"] == "CANCELED"
    logs = result["logs"]
    assert logs["destination"] == ["447700900002"] and logs["bulk"] == 2 and logs["since"] == 2
    assert logs["pending"] == ["447700900002", "447700900003"]
    assert (result["reports"], result["inbox"]) == (0, 0)  # nothing delivered or received yet: empty, well-formed
    assert result["refused"] == {"status": 400, "error": "BAD_REQUEST"}
    assert len(simulator.sim.core.scheduled) == 0  # canceled: nothing waits to go out any more

"""The contract tests' shared Node process (tests/contract/node_runner.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.node_runner import Runner, running


@pytest.fixture(scope="session")
def node() -> Iterator[Runner]:
    """``node/runner.cjs``, started by the first Node SDK test of the session (none without one)."""
    with running() as runner:
        yield runner

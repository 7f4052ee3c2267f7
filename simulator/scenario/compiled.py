"""``Scenario``: a scenario file compiled, what ``load`` returns and the simulator's engine runs.

The provider rules are for the simulator; ``gateway`` and ``steps`` are for the replay runner
(``lynsms scenario run``), which the simulator ignores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lynsms.simulator.accounts import AccountScript
from lynsms.simulator.decision import Scope
from lynsms.simulator.scenario.rules import Defaults, Rule
from lynsms.simulator.scenario.steps import Step
from lynsms.simulator.scenario.twoway import TwoWay


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str = ""
    seed: int = 0
    account: Scope = None  # the credential the file asks to be loaded for, if any
    defaults: Defaults = Defaults()
    rules: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)  # provider name -> rules
    source: str | None = None  # file path, or None for a scenario sent over HTTP
    definition: Mapping[str, Any] | None = None  # the document as written, for GET /_sim/scenario
    # For the replay runner: the `gateway` block as written (settings of the gateway it starts), and its steps.
    gateway: Mapping[str, Any] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    accounts: Mapping[str, AccountScript] = field(default_factory=dict)  # provider name -> its accounts' script
    twoway: TwoWay = field(default_factory=TwoWay)  # scripted lookups, handset replies, inbound push failures

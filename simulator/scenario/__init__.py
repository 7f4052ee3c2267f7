"""The scenario language: load and check scenario files, and the values they compile to.

The simulator core loads scenarios through this package; the harness (replay runner, pytest plugin,
CLI) reads steps and expectations from it. It imports only the core's plain values (``decision``,
``numbers``, ``model``) and the provider registry, never the harness or the gateway.
"""

from lynsms.simulator.scenario.compiled import Scenario
from lynsms.simulator.scenario.load import (
    SUFFIXES,
    Check,
    Problem,
    ScenarioError,
    check_paths,
    check_text,
    is_scenario_file,
    load,
    load_paths,
    parse,
    scenario_files,
)
from lynsms.simulator.scenario.schema import SCHEMA

__all__ = [
    "SCHEMA",
    "SUFFIXES",
    "Check",
    "Problem",
    "Scenario",
    "ScenarioError",
    "check_paths",
    "check_text",
    "is_scenario_file",
    "load",
    "load_paths",
    "parse",
    "scenario_files",
]

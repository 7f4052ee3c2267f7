"""Scenario replay: run a scenario's steps against a gateway and the simulator, and report.

The API the CLI (``lynsms scenario run``) and the pytest plugin share::

    from lynsms.simulator.harness.replay import start_stack, run_scenario, format_report
    from lynsms.simulator.scenario import load

    scenario = load("scenarios/twilio-503-outage.yaml")
    with start_stack(scenario) as stack:          # or external_stack(gateway_url, simulator_url, api_key)
        result = run_scenario(scenario, stack)
    print(format_report(result))                  # exactly what the CLI prints for this scenario
    assert result.passed
"""

from lynsms.simulator.harness.replay.command import run_command, scenario_files
from lynsms.simulator.harness.replay.report import format_report, junit_xml
from lynsms.simulator.harness.replay.runner import Failure, ScenarioResult, StepResult, run_scenario
from lynsms.simulator.harness.replay.stack import Stack, WebhookReceiver, external_stack, start_stack

__all__ = [
    "Failure",
    "ScenarioResult",
    "Stack",
    "StepResult",
    "WebhookReceiver",
    "external_stack",
    "format_report",
    "junit_xml",
    "run_command",
    "run_scenario",
    "scenario_files",
    "start_stack",
]

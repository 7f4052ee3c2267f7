"""Scenario replay: run a scenario's steps against a gateway and the simulator, and report.

The API the CLI (``lynsms scenario run``) and the pytest plugin share::

    from lynsms.simulator.harness.replay import CHECKS, format_report, run_scenario, start_stack
    from lynsms.simulator.scenario import load

    scenario = load("scenarios/twilio-503-outage.scenario.yaml", checks=CHECKS)
    with start_stack(scenario) as stack:          # or external_stack(gateway_url, simulator_url, api_key)
                                                  # many scenarios: with Bench() as b, b.stack(scenario) as stack
        result = run_scenario(scenario, stack)
    print(format_report(result))                  # exactly what the CLI prints for this scenario
    assert result.passed
"""

from lynsms.simulator.harness.replay.command import run_command
from lynsms.simulator.harness.replay.gateway_settings import CHECKS
from lynsms.simulator.harness.replay.report import format_report, junit_xml
from lynsms.simulator.harness.replay.runner import Failure, ScenarioResult, StepResult, run_scenario
from lynsms.simulator.harness.replay.stack import Bench, Remote, Stack, WebhookReceiver, external_stack, start_stack

__all__ = [
    "CHECKS",
    "Bench",
    "Failure",
    "Remote",
    "ScenarioResult",
    "Stack",
    "StepResult",
    "WebhookReceiver",
    "external_stack",
    "format_report",
    "junit_xml",
    "run_command",
    "run_scenario",
    "start_stack",
]

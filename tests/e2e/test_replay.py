"""``lynsms scenario run``: the library replays green, every kind of expectation fails readably,
JUnit XML counts right, and a scenario drives servers someone else started."""

from __future__ import annotations

import io
import textwrap
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from lynsms import simulator
from lynsms.gateway import create_app
from lynsms.gateway.config import load_config
from lynsms.simulator.harness.cli import main
from lynsms.simulator.harness.replay import external_stack, format_report, run_scenario, start_stack
from lynsms.simulator.harness.server import ServerThread
from lynsms.simulator.scenario import load

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"
SEND = '{to: "+12025550143", from: LynSMS, body: "Your code is 482194", reference: ref-1}'
OUTAGE = """
name: {name}
providers:
  twilio:
    - http_error: 503
gateway:
  timeout: 1s
steps:
  - name: first
    send: {send}
    expect:
{expect}
"""


def scenario_file(tmp_path: Path, name: str, expect: str, *, extra_steps: str = "") -> Path:
    body = OUTAGE.format(name=name, send=SEND, expect=textwrap.indent(textwrap.dedent(expect).strip(), " " * 6))
    path = tmp_path / f"{name}.scenario.yaml"
    path.write_text(body + textwrap.indent(textwrap.dedent(extra_steps), "  "), "utf-8")
    return path


def test_the_whole_library_replays_green(capsys: pytest.CaptureFixture[str]) -> None:
    # How shards split a folder is checked on step-less files (test_replay_external.py).
    code = main(["scenario", "run", str(LIBRARY)])
    out = capsys.readouterr().out
    assert code == 0, out
    names = [p.name.removesuffix(".scenario.yaml") for p in sorted(LIBRARY.glob("*.scenario.yaml"))]
    assert names
    for name in names:
        assert f"✓ {name}  (" in out
    assert "✗" not in out
    assert f"{len(names)} scenario(s): {len(names)} passed, 0 failed" in out


def test_fast_forward_waits_for_a_server_still_working_on_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    # Work the clock cannot see (here a slow lookup in the simulator, as a first-use import makes it)
    # must not let time skip to the gateway's provider timeout: the lookup answers, nothing times out.
    from lynsms.simulator import lookup

    resolve = lookup.resolve

    def slow(number: str, rules: Iterable[lookup.LookupRule] = ()) -> lookup.NumberFacts:
        # Each lookup 2.5 times the calm after which time may skip to the gateway's provider timeout
        # (0.02 s, a timeout inside a request): without the request's hold the scenario fails.
        time.sleep(0.05)
        return resolve(number, rules)

    monkeypatch.setattr(lookup, "resolve", slow)
    scenario = load(LIBRARY / "bulk-lookup-drops-landlines-and-dead-numbers.scenario.yaml")
    with start_stack(scenario) as stack:
        result = run_scenario(scenario, stack)
    assert result.passed, format_report(result)


# One deliberately failing expectation per kind: (expect block, what the report must say).
FAILING = {
    "status": ("status: 200", ["expect.status: expected 200", "got 201"]),
    "json": ("json: {data: {provider: twilio}}", ['data.provider: expected "twilio", got "sinch"']),
    "json-regex": ("json: {data: {id: {regex: '^sms_'}}}", ['data.id: expected a string matching /^sms_/, got "msg_']),
    "json-approx": (
        "json: {data: {cost: {approx: 0.5, tolerance: 0.01}}}",
        ["data.cost: expected 0.5 ± 0.01, got 0.05"],
    ),
    "json-any": ("json: {data: {carrier: any}}", ["data.carrier: expected any value, got nothing (no such key)"]),
    "message-status": ("message: {status: delivered}", ['status: expected "delivered", got "sent"']),
    "message-attempts": ("message: {attempts: 1}", ["attempts: expected 1, got 2"]),
    "message-provider": ("message: {provider: twilio}", ['provider: expected "twilio", got "sinch"']),
    "simulator": (
        "simulator: {twilio: {requests: 0}, sinch: {accepted: 2}}",
        ["twilio.requests: expected 0, got 1", "sinch.accepted: expected 2, got 1"],
    ),
    "webhooks": (
        "webhooks: [{type: message.delivered}]",
        ['[0].type: expected "message.delivered", got "message.sent"'],
    ),
}


@dataclass
class Replayed:
    """One ``scenario run`` over a folder of scenarios that each fail in their own way."""

    folder: Path
    code: int
    out: str

    def report(self, name: str) -> str:
        """The lines reported for scenario ``name``, up to the next scenario's."""
        lines = self.out.splitlines()
        starts = [n for n, line in enumerate(lines) if line.startswith(f"✗ {name}  (")]
        assert starts, f"no failed scenario {name} in:\n{self.out}"
        start = starts[0]
        end = next(
            (n for n in range(start + 1, len(lines)) if lines[n][:2] in ("✗ ", "✓ ") or "scenario(s):" in lines[n]),
            len(lines),
        )
        return "\n".join(lines[start:end])


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    # One run for all of them: each scenario's report is its own, and the servers start once.
    folder = tmp_path_factory.mktemp("failing")
    for kind, (expect, _) in FAILING.items():
        scenario_file(folder, f"fails-{kind}", expect)
    steps = """
      - wait_for: {message: first, status: delivered, timeout: 300ms}
    """
    path = scenario_file(folder, "never-delivered", "status: 201", extra_steps=steps)
    path.write_text(path.read_text().replace("gateway:", "defaults:\n  deliver: false\ngateway:"))
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["scenario", "run", str(folder)])
    return Replayed(folder, code, out.getvalue())


@pytest.mark.parametrize("kind", sorted(FAILING))
def test_a_failing_expectation_names_the_step_the_expectation_and_the_actual_value(
    failing: Replayed, kind: str
) -> None:
    _, says = FAILING[kind]
    assert failing.code == 1, failing.out
    assert f"{len(FAILING) + 1} scenario(s): 0 passed, {len(FAILING) + 1} failed" in failing.out
    out = failing.report(f"fails-{kind}")
    path = failing.folder / f"fails-{kind}.scenario.yaml"
    assert f"FAILED {path}:9: step 1 'first' (send)" in out
    assert f"expect.{kind.split('-', maxsplit=1)[0]}" in out
    for text in says:
        assert text in out, out
    # QA sees what each provider was asked and answered during the step.
    assert "simulator journal of this step:" in out
    assert "twilio POST /2010-04-01/Accounts/" in out and "-> 503  http_error 503" in out


def test_wait_for_that_times_out_reports_the_last_status(failing: Replayed) -> None:
    assert failing.code == 1, failing.out
    out = failing.report("never-delivered")
    assert "step 2 (wait_for)" in out
    assert "wait_for: expected status delivered within 0.3 s" in out and "got sent" in out


def test_a_failed_step_stops_the_scenario_and_later_steps_are_counted_not_run(tmp_path: Path) -> None:
    steps = """
      - get: first
        expect: {status: 200}
    """
    path = scenario_file(tmp_path, "stops", "status: 500", extra_steps=steps)
    scenario = load(path)
    with start_stack(scenario) as stack:
        result = run_scenario(scenario, stack)
    assert not result.passed and len(result.steps) == 1
    [failure] = result.failures
    assert (failure.step, failure.expectation, failure.expected) == (0, "expect.status", "500")
    assert failure.actual.startswith("201: ")
    assert any("sinch POST" in line and "-> 201" in line for line in failure.journal)
    assert "- 1 later step(s) not run" in format_report(result)


def test_references_to_earlier_steps_and_idempotent_replays(tmp_path: Path) -> None:
    steps = """
      - name: again
        send: {to: "+12025550143", from: LynSMS, body: "Your code is 482194", reference: ref-1}
        headers: {Idempotency-Key: "${steps.first.data.id}"}
      - name: replay
        send: {to: "+12025550143", from: LynSMS, body: "Your code is 482194", reference: ref-1}
        headers: {Idempotency-Key: "${steps.first.data.id}"}
        expect:
          json: {data: {id: "${steps.again.data.id}"}}
          simulator: {total: {requests: 0}}
      - get: "${steps.replay.data.id}"
        expect: {message: {reference: ref-1, attempts: 2}}
    """
    path = scenario_file(tmp_path, "refs", "status: 201", extra_steps=steps)
    assert main(["scenario", "run", str(path)]) == 0


def test_junit_xml_has_one_testcase_per_scenario_and_counts_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario_file(tmp_path, "passes", "status: 201")
    scenario_file(tmp_path, "fails", "message: {provider: twilio}")
    # A folder is searched for *.scenario.yaml: other YAML beside them, even with steps, is no scenario.
    (tmp_path / "azure-pipelines.yml").write_text("steps:\n  - script: make test\n", "utf-8")
    report = tmp_path / "out" / "report.xml"
    report.parent.mkdir()
    code = main(["scenario", "run", str(tmp_path), "--junit-xml", str(report)])
    capsys.readouterr()
    assert code == 1
    root = ET.parse(report).getroot()
    [suite] = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {"passes", "fails"}
    assert cases["passes"].find("failure") is None
    failure = cases["fails"].find("failure")
    assert failure is not None and failure.get("message") == "step 1 'first' (send): expect.message"
    assert 'provider: expected "twilio", got "sinch"' in (failure.text or "")


def test_a_scenario_drives_servers_started_elsewhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ServerThread(simulator.create_app()) as sim:
        config = load_config(None, sim.url).with_api_key("external-key")
        with ServerThread(create_app(config, environ={})) as gateway:
            path = scenario_file(tmp_path, "external", "status: 201\nmessage: {provider: sinch, attempts: 2}")
            code = main(
                [
                    "scenario",
                    "run",
                    str(path),
                    "--gateway",
                    f"{gateway.url}/api",
                    "--simulator",
                    sim.url,
                    "--api-key",
                    "external-key",
                ]
            )
            out = capsys.readouterr().out
            assert code == 0, out
            assert "note: gateway settings not applied, the gateway has no admin endpoint" in out
            assert "timeout=1s" in out
            # The same API the pytest plugin uses.
            result = run_scenario(load(path), external_stack(gateway.url, sim.url, "external-key"))
            assert result.passed, format_report(result)


def test_invalid_files_and_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nsteps:\n  - send: {to: '+12025550143'}\n    expect: {stauts: 201}\n", "utf-8")
    assert main(["scenario", "run", str(broken)]) == 2
    out = capsys.readouterr().out
    assert f"{broken}:4: steps[0].expect.stauts: unknown key 'stauts' (did you mean 'status'?)" in out
    assert main(["scenario", "run", str(LIBRARY), "--gateway", "http://127.0.0.1:1"]) == 2
    assert "--gateway and --simulator go together" in capsys.readouterr().err
    for shard in ("0/4", "5/4", "1of4"):
        with pytest.raises(SystemExit) as exited:
            main(["scenario", "run", str(LIBRARY), "--shard", shard])
        assert exited.value.code == 2
    assert "a shard is K/N with 1 <= K <= N" in capsys.readouterr().err

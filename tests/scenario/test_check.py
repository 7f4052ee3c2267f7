"""``lynsms scenario check``: one broken file per class of error, each with its exact
``file:line: message``; and every file of the shipped library validates."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from lynsms.simulator.harness.cli import main
from lynsms.simulator.scenario import SCHEMA, check_paths, load

LIBRARY = Path(__file__).parents[2] / "scenarios"
REQUIRED = {
    "twilio-503-outage",
    "twilio-timeout",
    "connection-reset",
    "malformed-response",
    "rate-limited-retry-after",
    "fail-3-times-then-recover",
    "error-rate-20-percent-seeded",
    "invalid-number-hard-error",
    "unsubscribed-recipient-hard-error",
    "insufficient-funds-hard-error",
    "all-providers-down",
    "slow-provider-lognormal-latency",
    "uk-numbers-fail-on-sinch",
    "delivered-after-2s",
    "undelivered-carrier-error",
}

BROKEN = {
    "unknown-key.scenario.yaml": (
        "name: unknown-key\nseed: 1\nproviders:\n  twilio:\n    - http_error: 503\n      tims: 3\n",
        ["unknown-key.scenario.yaml:6: providers.twilio[0].tims: unknown key 'tims' (did you mean 'times'?)"],
    ),
    "wrong-type.scenario.yaml": (
        "name: wrong-type\nseed: forty-two\nproviders:\n  twilio:\n    - times: '3'\n      http_error: 500\n",
        [
            "wrong-type.scenario.yaml:2: seed: expected an integer, got a string",
            "wrong-type.scenario.yaml:5: providers.twilio[0].times: expected an integer, got a string",
        ],
    ),
    "unknown-provider.scenario.yaml": (
        "name: unknown-provider\nproviders:\n  twillio:\n    - http_error: 503\n",
        [
            (
                "unknown-provider.scenario.yaml:3: providers.twillio: "
                "unknown provider 'twillio'; expected one of twilio, sinch, infobip, clicksend"
            )
        ],
    ),
    "unknown-reason.scenario.yaml": (
        "name: unknown-reason\nproviders:\n  sinch:\n    - reject: no_money\n",
        [
            "unknown-reason.scenario.yaml:4: providers.sinch[0].reject: "
            "unknown reject reason 'no_money'; expected one of "
            "invalid_number, unsubscribed, insufficient_funds, invalid_sender, body_too_long, auth_failed"
        ],
    ),
    "bad-regex.scenario.yaml": (
        "name: bad-regex\nproviders:\n  infobip:\n    - match:\n        to: '/^\\+44(7/'\n      http_error: 500\n",
        [
            "bad-regex.scenario.yaml:5: providers.infobip[0].match.to: invalid regular expression /^\\+44(7/: "
            "missing ), unterminated subpattern at position 5"
        ],
    ),
    "impossible.scenario.yaml": (
        "name: impossible\nproviders:\n  twilio:\n"
        "    - match: {calls: 5-3}\n      http_error: 503\n"
        "    - times: 3\n      probability: 0\n      http_error: 500\n"
        "    - reject: unsubscribed\n      deliver: delivered\n"
        "    - http_error: 503\n      fault: timeout\n",
        [
            (
                "impossible.scenario.yaml:4: providers.twilio[0].match.calls: "
                "calls '5-3' matches no call: calls are numbered from 1 and the range is empty"
            ),
            (
                "impossible.scenario.yaml:7: providers.twilio[1].probability: "
                "probability 0 with times: this rule can never fire"
            ),
            (
                "impossible.scenario.yaml:10: providers.twilio[2].deliver: "
                "deliver on a reject outcome: only accepted messages are delivered"
            ),
            (
                "impossible.scenario.yaml:12: providers.twilio[3].fault: "
                "a rule has one outcome; this one has http_error and fault"
            ),
        ],
    ),
    "unreachable.scenario.yaml": (
        (
            "name: unreachable\nproviders:\n  clicksend:\n    - http_error: "
            "503\n    - match: {country: UK}\n      reject: invalid_number\n"
        ),
        [
            (
                "unreachable.scenario.yaml:5: providers.clicksend[1].match.country: "
                "unknown country code 'UK' (the United Kingdom is 'GB')"
            ),
            (
                "unreachable.scenario.yaml:5: providers.clicksend[1]: "
                "unreachable: rule 'clicksend[0]' above it fires on every request"
            ),
        ],
    ),
    "syntax.scenario.yaml": (
        "name: syntax\nproviders:\n  twilio:\n    - http_error: 503\n   reject: invalid_number\n",
        [
            (
                "syntax.scenario.yaml:5: YAML syntax error: "
                "expected <block end>, but found '<block mapping start>' (while parsing a block mapping)"
            )
        ],
    ),
    "unquoted-number.scenario.yaml": (
        "name: unquoted-number\nproviders:\n  twilio:\n    - match: {to: +447700900123}\n      reject: unsubscribed\n",
        [
            "unquoted-number.scenario.yaml:4: providers.twilio[0].match.to: must be a string or a list of strings "
            "(exact, glob like '+44*', or /regex/), got an integer 447700900123 (quote phone numbers: '+447700900123')"
        ],
    ),
    "duplicate.scenario.json": (
        '{\n  "name": "duplicate",\n  "seed": 1,\n  "seed": 2\n}\n',
        ["duplicate.scenario.json:4: seed: duplicate key 'seed'"],
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_class_of_error_is_reported_with_file_line_and_key_path(tmp_path: Path, name: str) -> None:
    text, expected = BROKEN[name]
    (tmp_path / name).write_text(text)
    problems = check_paths([str(tmp_path / name)])
    assert [str(p).replace(f"{tmp_path}/", "") for p in problems] == expected


def test_the_cli_prints_every_problem_of_a_folder_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, (text, _) in BROKEN.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "notes.txt").write_text("not a scenario")
    (tmp_path / "azure-pipelines.yml").write_text("steps:\n  - script: make\n")  # YAML, not named a scenario
    assert main(["scenario", "check", str(tmp_path)]) == 1
    printed = capsys.readouterr().out.replace(f"{tmp_path}/", "").splitlines()
    assert printed == [line for name in sorted(BROKEN) for line in BROKEN[name][1]]


def test_missing_files_and_empty_folders_are_problems(tmp_path: Path) -> None:
    assert [str(p) for p in check_paths([str(tmp_path / "gone.yaml"), str(tmp_path)])] == [
        f"{tmp_path}/gone.yaml: no such file",
        f"{tmp_path}: no scenario files (*.scenario.yaml, *.scenario.yml, *.scenario.json) in this folder",
    ]


def test_json_scenarios_get_lines_too(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "j", "providers": {"twilio": [{"http_error": 700}]}}, indent=2))
    [problem] = check_paths([str(path)])
    assert problem.line == 6 and "http_error: must be an HTTP status (400-599)" in problem.message


def test_every_library_scenario_validates_and_says_what_it_demonstrates(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_paths([str(LIBRARY)]) == []
    assert main(["scenario", "check", str(LIBRARY)]) == 0
    files = sorted(LIBRARY.glob("*.scenario.yaml"))
    assert {f.name.removesuffix(".scenario.yaml") for f in files} >= REQUIRED
    for file in files:
        scenario = load(file)
        assert (
            scenario.name == file.name.removesuffix(".scenario.yaml")
            and len(scenario.description) > 40
            and scenario.seed
        )
        # Library timeouts stay short so the whole library replays in under a minute.
        held = [
            r.decision.fault_seconds
            for rules in scenario.rules.values()
            for r in rules
            if r.decision.fault == "timeout"
        ]
        assert all(s is not None and s <= 5 for s in held)


def test_the_shipped_schema_is_itself_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)

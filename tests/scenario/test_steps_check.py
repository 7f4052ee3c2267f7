"""``lynsms scenario check`` on steps and gateway settings: each problem with its file:line: key path."""

from __future__ import annotations

from pathlib import Path

from lynsms.simulator.harness.replay import CHECKS
from lynsms.simulator.scenario import check_paths
from lynsms.simulator.scenario.expect import differences

BROKEN = """\
name: broken-steps
gateway:
  timeout: 1s
  default_chain: [twilio, twilio]
steps:
  - name: first
    send: {to: "+12025550143", from: LynSMS, body: hi}
    get: first
  - name: first
    get: nope
    expect:
      json: {data: {id: {regex: "(unclosed"}}}
  - name: fanout
    bulk: {recipients: ["+12025550143"], from: X, body: b}
    expect: {message: {status: sent}}
  - wait_for: {message: fanout, status: delivered}
  - get: "${steps.later.data.id}"
  - sleep: 1s
    expect: {status: 200, stauts: 1}
  - {}
"""


def test_steps_problems_are_reported_with_line_and_key_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, "utf-8")
    # The schema's problem (line 19) and the semantic ones, in one run.
    found = [str(p).removeprefix(f"{path}:") for p in check_paths([str(path)], checks=CHECKS)]
    assert "19: steps[5].expect.stauts: unknown key 'stauts' (did you mean 'status'?)" in found
    found.remove("19: steps[5].expect.stauts: unknown key 'stauts' (did you mean 'status'?)")
    path.write_text(BROKEN.replace(", stauts: 1", ""), "utf-8")
    assert found == [str(p).removeprefix(f"{path}:") for p in check_paths([str(path)], checks=CHECKS)]
    assert found == [
        "4: gateway.default_chain[1]: 'twilio' appears twice",
        "8: steps[0].get: a step has one action; this one has send and get",
        "9: steps[1].name: duplicate step name 'first'",
        "10: steps[1].get: 'nope' is not an earlier step's name, a message id (msg_...) or ${steps.NAME...}",
        (
            "12: steps[1].expect.json.data.id.regex: invalid regular expression /(unclosed/: "
            "missing ), unterminated subpattern at position 0"
        ),
        "15: steps[2].expect.message: message cannot be expected after bulk (use messages: a list, one per recipient)",
        (
            "16: steps[3].wait_for.message: step 'fanout' is a bulk, not one message: "
            "name one message, e.g. ${steps.fanout.data.messages[0].id}"
        ),
        "17: steps[4].get: ${steps.later.data.id} refers to step 'later', which is not an earlier named step",
        "19: steps[5].expect.status: status cannot be expected after sleep",
        "20: steps[6]: a step needs an action: send, bulk, get, wait_for, sleep or reply",
    ]


def test_the_scenario_language_leaves_the_gateway_block_to_the_harness_checks(tmp_path: Path) -> None:
    path = tmp_path / "chain.yaml"
    path.write_text("name: chain\ngateway:\n  routes:\n    '7': {chain: [sinch, sinch]}\n", "utf-8")
    assert check_paths([str(path)]) == []
    assert [str(p).removeprefix(f"{path}:") for p in check_paths([str(path)], checks=CHECKS)] == [
        "4: gateway.routes.7.chain[1]: 'sinch' appears twice"
    ]


def test_matchers_subset_any_regex_approx_length_and_equals() -> None:
    actual = {"id": "msg_1", "cost": 0.0501, "tags": ["a", "b"], "error": None, "word": "any", "n": 1}
    assert (
        differences(
            {
                "id": {"regex": "^msg_"},
                "cost": {"approx": 0.05, "tolerance": 0.001},
                "error": "any",
                "tags": {"length": 2},
                "word": {"equals": "any"},
            },
            actual,
        )
        == []
    )
    found = [str(d) for d in differences({"id": "msg_2", "tags": ["a"], "missing": "any", "n": True}, actual)]
    assert found == [
        'id: expected "msg_2", got "msg_1"',
        'tags: expected 1 item(s), got 2: ["a", "b"]',
        "missing: expected any value, got nothing (no such key)",
        "n: expected true, got 1",
    ]
    assert [str(d) for d in differences({"equals": {"a": 1}}, {"a": 1, "b": 2})] == [
        'expected {"a": 1}, got {"a": 1, "b": 2}'
    ]

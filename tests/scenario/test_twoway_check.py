"""The scenario blocks of two-way SMS (lookups, replies, inbound) and the reply step: what loads,
and what ``check`` reports with its line."""

from __future__ import annotations

import pytest

from lynsms.simulator.scenario import check_text, parse

GOOD = """
name: two-way
lookups:
  - {match: "+442071838750", outcome: landline}
  - {match: ["+4477009006*", "/^\\\\+1202555019/"], outcome: ported, carrier: Blue Mobile}
replies:
  - {to: "+447700900123", body: STOP, after: 2s}
  - {body: "thanks"}
inbound: {fail: 2, status: 503, backoff: 100ms}
steps:
  - reply: {provider: sinch, from: "+447700900123", to: "+12025550100", body: STOP}
    expect: {status: 202, json: {delivery: delivered}}
"""


def test_the_blocks_compile_into_rules() -> None:
    scenario = parse(GOOD)
    two_way = scenario.twoway
    landline, ported = two_way.lookups
    assert landline.matches("+442071838750") and not landline.matches("+442071838751")
    assert ported.matches("+447700900650") and ported.matches("12025550190") and ported.carrier == "Blue Mobile"
    stop, thanks = two_way.replies
    assert (stop.body, stop.after, stop.matches("+447700900123"), stop.matches("+447700900124")) == (
        "STOP",
        2.0,
        True,
        False,
    )
    assert thanks.matches("+4748640969")
    assert two_way.inbound is not None and (two_way.inbound.fail, two_way.inbound.backoff) == (2, 0.1)
    assert scenario.steps[0].action == "reply" and scenario.steps[0].body == {
        "provider": "sinch",
        "from": "+447700900123",
        "to": "+12025550100",
        "body": "STOP",
    }


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("name: x\nlookups:\n  - {match: '/(/', outcome: landline}\n", 3, "regular expression"),
        ("name: x\nlookups:\n  - {match: '+1', outcome: fax}\n", 3, "outcome"),
        ("name: x\nreplies:\n  - {to: '+1'}\n", 3, "body"),
        ("name: x\ninbound: {fail: -1}\n", 2, "fail"),
        ("name: x\nsteps:\n  - reply: {provider: nokia, from: '+1', to: '+2', body: hi}\n", 3, "provider"),
        (
            "name: x\nsteps:\n  - reply: {provider: sinch, from: '+1', to: '+2', body: x}\n    expect: {message: {}}\n",
            4,
            "reply",
        ),
    ],
)
def test_problems_name_their_line(text: str, line: int, words: str) -> None:
    problems = check_text(text)
    assert problems, text
    assert any(p.line == line and words in p.message for p in problems), [str(p) for p in problems]

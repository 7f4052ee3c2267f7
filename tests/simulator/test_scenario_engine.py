"""Rule matching, sequencing, seeded determinism, per-credential isolation and the /_sim/scenario API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from lynsms.simulator import Simulator, create_app
from lynsms.simulator.decision import Facts
from lynsms.simulator.harness.server import serving
from lynsms.simulator.messages import Submission
from lynsms.simulator.scenario import ScenarioError, parse
from lynsms.tls import client_tls
from tests.simulator.scenario_wires import TWILIO_AC, WIRES, load, one_rule, outcomes

http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=10, verify=client_tls())
twilio = WIRES["twilio"]
LIBRARY = Path(__file__).parents[2] / "scenarios"


# Closed when the session ends, not the module: a scheduler may run this module's tests in pieces.
@pytest.fixture(scope="session", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    http.close()


def codes(simulator: Any, *sends: dict[str, Any]) -> list[int]:
    return [twilio.send(http, simulator.url, **s).status_code for s in sends]


# ---- matching ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "hit", "miss"),
    [
        ({"to": "+447700900123"}, {"to": "447700900123"}, {"to": "+447700900124"}),  # "+" optional on the wire
        ({"to": "+44*"}, {"to": "+447700900123"}, {"to": "+12025550143"}),
        ({"to": "/^\\+1202555/"}, {"to": "+12025550143"}, {"to": "+13125550143"}),
        ({"to": ["+33*", "+44*"]}, {"to": "+33612345678"}, {"to": "+4915112345678"}),
        ({"body": "STOP"}, {"body": "please STOP now"}, {"body": "please stop now"}),
        ({"body": "/^\\d{6}$/"}, {"body": "482194"}, {"body": "code 482194"}),
        ({"country": "GB"}, {"to": "+447700900123"}, {"to": "+12025550143"}),
        ({"country": ["CA", "US"]}, {"to": "+14165550123"}, {"to": "+447700900123"}),
    ],
)
def test_a_rule_matches_on_the_submission(
    simulator: Any, match: dict[str, Any], hit: dict[str, Any], miss: dict[str, Any]
) -> None:
    load(http, simulator.url, one_rule("twilio", {"match": match, "http_error": 503}))
    assert codes(simulator, hit, miss) == [503, 201]


def test_a_rule_matches_on_the_sender() -> None:
    scenario = parse(
        json.dumps(one_rule("twilio", {"match": {"from": ["InfoSMS", "+1202*"]}, "reject": "invalid_sender"}))
    )
    rule = scenario.rules["twilio"][0]
    assert rule.match.test(Facts.of(Submission(to="+1", sender="InfoSMS", body="")), 1)
    assert rule.match.test(Facts.of(Submission(to="+1", sender="12025550100", body="")), 1)
    assert not rule.match.test(Facts.of(Submission(to="+1", sender="+447700900123", body="")), 1)


def test_the_first_matching_rule_wins_and_no_match_accepts(simulator: Any) -> None:
    load(
        http,
        simulator.url,
        {
            "name": "order",
            "providers": {
                "twilio": [
                    {"match": {"to": "+44*"}, "http_error": 500},
                    {"match": {"to": "+447700900123"}, "http_error": 503},
                ]
            },
        },
    )
    assert codes(simulator, {"to": "+447700900123"}, {"to": "+12025550143"}) == [500, 201]


def test_fail_3_times_then_recover_is_one_rule_with_times(simulator: Any) -> None:
    load(http, simulator.url, one_rule("twilio", {"times": 3, "http_error": 500}))
    assert codes(simulator, *[{}] * 5) == [500, 500, 500, 201, 201]


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        (2, [201, 503, 201, 201, 201]),
        ("2-3", [201, 503, 503, 201, 201]),
        (">3", [201, 201, 201, 503, 503]),
        ("<=2", [503, 503, 201, 201, 201]),
    ],
)
def test_calls_pick_the_nth_calls_to_the_provider(simulator: Any, calls: Any, expected: list[int]) -> None:
    load(http, simulator.url, one_rule("twilio", {"match": {"calls": calls}, "http_error": 503}))
    assert codes(simulator, *[{}] * 5) == expected


def test_calls_are_counted_from_when_the_scenario_was_loaded(simulator: Any) -> None:
    codes(simulator, {}, {})
    load(http, simulator.url, one_rule("twilio", {"match": {"calls": 1}, "http_error": 503}))
    assert codes(simulator, {}, {}) == [503, 201]


def test_same_seed_and_requests_give_identical_journals(simulator: Any) -> None:
    scenario = {
        "name": "coin",
        "seed": 42,
        "providers": {
            "twilio": [
                {"probability": 0.3, "http_error": 500},
                {"probability": 0.5, "latency": {"uniform": [0, 0.01]}, "reject": "invalid_number"},
                {"latency": {"lognormal": {"median": 0.002, "sigma": 1, "cap": 0.01}}},
            ]
        },
    }
    runs = []
    for _ in range(2):
        http.post(f"{simulator.url}/_sim/reset")
        load(http, simulator.url, scenario)
        statuses = codes(simulator, *[{}] * 30)
        runs.append((statuses, outcomes(http, simulator.url)))
    assert runs[0] == runs[1]
    assert {500, 400, 201} <= set(runs[0][0])  # the draws really vary within a run


def test_a_different_seed_gives_a_different_sequence(simulator: Any) -> None:
    seen = []
    for seed in (1, 2):
        http.post(f"{simulator.url}/_sim/reset")
        load(
            http,
            simulator.url,
            {"name": "coin", "seed": seed, "providers": {"twilio": [{"probability": 0.5, "http_error": 500}]}},
        )
        seen.append(codes(simulator, *[{}] * 20))
    assert seen[0] != seen[1]


# ---- isolation by credential ----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", list(WIRES))
def test_a_scenario_for_one_credential_never_touches_another_under_concurrency(simulator: Any, provider: str) -> None:
    wire = WIRES[provider]
    load(http, simulator.url, one_rule(provider, {"times": 10, "http_error": 503}), account=wire.account)
    load(
        http,
        simulator.url,
        one_rule(provider, {"match": {"calls": "<=5"}, "reject": "auth_failed"}),
        account=wire.other,
    )

    def send(account: str) -> tuple[str, int]:
        return account, wire.send(http, simulator.url, account=account).status_code

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(send, [wire.account, wire.other] * 20))
    mine = [code for account, code in results if account == wire.account]
    theirs = [code for account, code in results if account == wire.other]
    assert sorted(mine) == sorted([503] * 10 + [wire.success] * 10)
    assert sorted(theirs) == sorted([401] * 5 + [wire.success] * 15)


def test_a_credential_scenario_wins_over_the_global_one(simulator: Any) -> None:
    load(http, simulator.url, one_rule("twilio", {"http_error": 500}))
    load(http, simulator.url, one_rule("twilio", {"reject": "unsubscribed"}), account=TWILIO_AC)
    assert codes(simulator, {}, {"account": "AC" + "9" * 32}) == [400, 500]


def test_a_file_may_name_its_credential_per_provider(simulator: Any) -> None:
    load(
        http,
        simulator.url,
        {"name": "mine", "account": {"twilio": TWILIO_AC}, "providers": {"twilio": [{"http_error": 503}]}},
    )
    assert codes(simulator, {}, {"account": "AC" + "9" * 32}) == [503, 201]
    assert http.delete(f"{simulator.url}/_sim/scenario", params={"account": TWILIO_AC}).json()["count"] == 1
    assert codes(simulator, {}) == [201]


# ---- control API and reset ---------------------------------------------------------------------------------


def test_get_shows_each_rules_hit_count(simulator: Any) -> None:
    load(
        http,
        simulator.url,
        {
            "name": "counted",
            "seed": 9,
            "providers": {
                "twilio": [
                    {"name": "first-two", "times": 2, "http_error": 500},
                    {"name": "uk", "match": {"to": "+44*"}, "reject": "invalid_number"},
                ]
            },
        },
    )
    codes(simulator, {}, {}, {}, {"to": "+447700900123"})
    [active] = http.get(f"{simulator.url}/_sim/scenario").json()["scenarios"]
    rules = active["rules"]["twilio"]
    assert [(r["name"], r["hits"]) for r in rules] == [("first-two", 2), ("uk", 1)]
    assert rules[0]["remaining"] == 0 and active["seed"] == 9 and active["account"] is None


def test_an_invalid_scenario_is_refused_with_line_numbered_problems(simulator: Any) -> None:
    body = "name: broken\nproviders:\n  twilio:\n    - http_error: 503\n      tims: 3\n"
    response = http.put(f"{simulator.url}/_sim/scenario", content=body)
    assert response.status_code == 400
    assert response.json()["problems"] == ["5: providers.twilio[0].tims: unknown key 'tims' (did you mean 'times'?)"]
    assert http.get(f"{simulator.url}/_sim/scenario").json()["scenarios"] == []


def test_reset_unloads_runtime_scenarios_and_clears_counters(simulator: Any) -> None:
    load(http, simulator.url, one_rule("twilio", {"times": 1, "http_error": 500}))
    assert codes(simulator, {}) == [500]
    http.post(f"{simulator.url}/_sim/reset").raise_for_status()
    assert http.get(f"{simulator.url}/_sim/scenario").json()["scenarios"] == []
    assert codes(simulator, {}) == [201]


def test_scenario_reset_keeps_the_scenario_but_restarts_its_counters(simulator: Any) -> None:
    load(http, simulator.url, one_rule("twilio", {"times": 1, "http_error": 500}))
    assert codes(simulator, {}, {}) == [500, 201]
    http.post(f"{simulator.url}/_sim/scenario/reset").raise_for_status()
    assert codes(simulator, {}, {}) == [500, 201]


def test_delete_unloads_the_global_scenario(simulator: Any) -> None:
    load(http, simulator.url, one_rule("twilio", {"http_error": 500}))
    assert http.delete(f"{simulator.url}/_sim/scenario").json() == {"status": "unloaded", "count": 1}
    assert codes(simulator, {}) == [201]


def test_a_startup_scenario_survives_reset_with_fresh_counters() -> None:
    app = create_app(sim=Simulator(seed=5), scenario=LIBRARY / "fail-3-times-then-recover.scenario.yaml")
    with serving(app) as url:

        def statuses(n: int) -> list[int]:
            return [twilio.send(http, url).status_code for _ in range(n)]

        assert statuses(4) == [500, 500, 500, 201]
        http.post(f"{url}/_sim/reset").raise_for_status()
        assert statuses(4) == [500, 500, 500, 201]
        [active] = http.get(f"{url}/_sim/scenario").json()["scenarios"]
        assert active["name"] == "fail-3-times-then-recover" and active["source"].endswith(".yaml")


def test_create_app_refuses_an_invalid_scenario_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nprovider: {}\n")
    with pytest.raises(
        ScenarioError, match=r"broken.yaml:2: provider: unknown key 'provider' \(did you mean 'providers'\?\)"
    ):
        create_app(scenario=broken)

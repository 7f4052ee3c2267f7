"""Number lookup at the providers' real paths: plausible facts for any number, scripted outcomes
per number or pattern, each provider's own answer shape and errors."""

from __future__ import annotations

from typing import Any

import pytest

from lynsms.simulator.lookup import LookupRule, plausible, resolve
from lynsms.simulator.scenario.rules import pattern

AC = "AC" + "5a" * 16
SCRIPT = """
name: lookups
lookups:
  - {match: "+12025550180", outcome: landline}
  - {match: "+4477009006*", outcome: unreachable}
  - {match: "/^\\\\+1202555019/", outcome: ported, carrier: "Blue Mobile"}
  - {match: "+12025550170", outcome: voip}
  - {match: "+12025550171", outcome: invalid}
"""


def test_unscripted_numbers_get_country_type_and_a_stable_carrier() -> None:
    us = plausible("+12025550143")
    assert (us.valid, us.country, us.type, us.calling_code) == (True, "US", "mobile", "1")
    assert us.carrier and plausible("+12025550143").carrier == us.carrier
    london = plausible("+442071838750")
    assert (london.valid, london.country, london.type) == (True, "GB", "landline")
    assert plausible("+4748640969").carrier == "telia"  # phonenumbers' own carrier data, where it has some
    assert plausible("12").valid is False


def test_the_first_matching_rule_wins() -> None:
    rules = [
        LookupRule("landline", (pattern("+1202*", phone=True),)),
        LookupRule("voip", (pattern("+1*", phone=True),)),
    ]
    assert resolve("+12025550143", rules).type == "landline"
    assert resolve("+13125550143", rules).type == "voip"
    assert resolve("+447700900100", rules).type == "mobile"


@pytest.fixture
def scripted(simulator: Any) -> Any:
    assert simulator.control.put("/_sim/scenario", content=SCRIPT).status_code == 200
    return simulator


def twilio(simulator: Any, number: str, fields: str = "line_type_intelligence,line_status") -> Any:
    return simulator.control.get(f"/v2/PhoneNumbers/{number}", params={"Fields": fields}, auth=(AC, "token"))


def test_twilio_lookup_v2_answers_with_line_type_and_status(scripted: Any) -> None:
    body = twilio(scripted, "+12025550143").json()
    assert body["valid"] is True and body["country_code"] == "US" and body["phone_number"] == "+12025550143"
    assert body["line_type_intelligence"]["type"] == "mobile" and body["line_status"]["status"] == "active"
    assert body["caller_name"] is None and body["validation_errors"] == []
    assert twilio(scripted, "+12025550180").json()["line_type_intelligence"]["type"] == "landline"
    assert twilio(scripted, "+12025550170").json()["line_type_intelligence"]["type"] == "nonFixedVoip"
    assert twilio(scripted, "+447700900600").json()["line_status"]["status"] == "unreachable"
    invalid = twilio(scripted, "+12025550171").json()
    assert invalid["valid"] is False and invalid["line_type_intelligence"] is None
    only_type = twilio(scripted, "+12025550143", "line_type_intelligence").json()
    assert only_type["line_status"] is None


def test_twilio_lookup_refuses_unknown_fields_and_missing_credentials(simulator: Any) -> None:
    assert twilio(simulator, "+12025550143", "shoe_size").status_code == 400
    answer = simulator.control.get("/v2/PhoneNumbers/+12025550143")
    assert answer.status_code == 401 and answer.json()["code"] == 20003


def test_infobip_number_query_answers_many_numbers_in_one_request(scripted: Any) -> None:
    numbers = ["12025550143", "447700900600", "12025550180", "12025550190"]
    answer = scripted.control.post("/number/1/query", json={"to": numbers}, headers={"Authorization": "App key"})
    assert answer.status_code == 200
    results = {r["to"]: r for r in answer.json()["results"]}
    assert results["12025550143"]["status"]["name"] == "DELIVERED_TO_HANDSET"
    assert results["447700900600"]["error"]["name"] == "EC_ABSENT_SUBSCRIBER"
    assert results["12025550180"]["error"] == {
        **results["12025550180"]["error"],
        "name": "EC_UNKNOWN_SUBSCRIBER",
        "permanent": True,
    }
    ported = results["12025550190"]
    assert ported["ported"] is True and ported["portedNetwork"]["networkName"] == "Blue Mobile"
    lookups = [e for e in scripted.journal() if e["path"] == "/number/1/query"]
    assert len(lookups) == 1


@pytest.mark.parametrize("body", [{}, {"to": []}, {"to": "12025550143"}, {"to": [1]}])
def test_infobip_number_query_refuses_bad_bodies(simulator: Any, body: dict[str, Any]) -> None:
    answer = simulator.control.post("/number/1/query", json=body, headers={"Authorization": "App key"})
    assert answer.status_code == 400


def test_sinch_number_lookup_answers_line_facts_and_refuses_invalid_numbers(scripted: Any) -> None:
    def lookup(number: str) -> Any:
        return scripted.control.post(
            "/v2/projects/p1/lookups",
            json={"number": number, "features": ["LineType"]},
            headers={"Authorization": "Bearer t"},
        )

    body = lookup("+12025550190").json()
    assert body["line"]["type"] == "Mobile" and body["line"]["ported"] is True and body["countryCode"] == "US"
    assert lookup("+12025550180").json()["line"]["type"] == "Landline"
    invalid = lookup("+12025550171")
    assert invalid.status_code == 400 and invalid.json()["error"]["status"] == "INVALID_ARGUMENT"

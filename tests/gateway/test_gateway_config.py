"""Configuration files, the built-in default, pricing and number rules."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from lynsms.gateway.config import (
    ConfigError,
    default_config,
    effective_api_keys,
    load_config,
    parse_config,
)
from lynsms.gateway.pricing import PriceTable, country_of
from lynsms.gateway.providers import registry
from lynsms.gateway.providers.names import PROVIDER_NAMES
from lynsms.gateway.validation import e164_problem


def test_default_config_points_every_provider_at_the_simulator() -> None:
    config = load_config(None, "http://127.0.0.1:9999/")
    assert list(config.providers) == ["twilio", "sinch", "infobip", "clicksend"]
    assert config.default_chain == ("twilio", "sinch", "infobip", "clicksend")
    for provider in config.providers.values():
        assert provider.settings.base_url == "http://127.0.0.1:9999"
        assert provider.settings.timeout == 10.0 and provider.price == Decimal("0.05")
    twilio = config.providers["twilio"].settings.credentials
    assert twilio["account_sid"].startswith("AC") and len(twilio["account_sid"]) == 34
    assert len(config.providers["sinch"].settings.credentials["service_plan_id"]) == 32
    assert config.breaker.failure_threshold == 5 and config.breaker.cooldown_seconds == 30


def test_default_simulator_url_is_port_8900() -> None:
    assert load_config(None).providers["sinch"].settings.base_url == "http://127.0.0.1:8900"


def test_every_registered_provider_has_a_module_whose_batch_size_is_the_config_default() -> None:
    config = default_config()
    for name in PROVIDER_NAMES:
        provider = registry.provider(name)
        assert provider.name == name and provider.max_batch == provider.adapter.limit  # type: ignore[attr-defined]
        assert config.providers[name].settings.max_batch == provider.max_batch


FULL = """
public_url: https://gw.example.com/
default_chain: [sinch, twilio]
providers:
  twilio:
    base_url: https://api.twilio.com
    credentials: {account_sid: AC00000000000000000000000000000002, auth_token: secret}
    timeout: 5
    price: 0.0079
    prices: {GB: 0.04, NO: 0.06}
  sinch:
    price: 0.03
    max_batch: 500
routes:
  1: {name: nordics, chain: [sinch]}
  "2": {chain: [twilio, sinch]}
api_keys:
  - {key: live-key, name: prod}
  - bare-key
breaker: {failure_threshold: 2, cooldown_seconds: 5}
"""


def test_full_config_file_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(FULL)
    config = load_config(str(path), "http://sim:1")
    assert config.public_url == "https://gw.example.com"
    assert config.default_chain == ("sinch", "twilio")
    twilio = config.providers["twilio"]
    assert twilio.settings.base_url == "https://api.twilio.com" and twilio.settings.timeout == 5
    assert twilio.settings.credentials["auth_token"] == "secret"
    assert twilio.prices == {"GB": Decimal("0.04"), "NO": Decimal("0.06")}
    sinch = config.providers["sinch"]
    assert sinch.settings.base_url == "http://sim:1" and sinch.settings.max_batch == 500
    assert sinch.settings.credentials["api_token"] == "lynsms-local-api-token"  # defaults fill the gaps
    assert set(config.providers) == {"twilio", "sinch"}
    assert config.routes[1].chain == ("sinch",) and config.routes[2].name == "route-2"
    assert [(k.name, k.key) for k in config.api_keys] == [("prod", "live-key"), ("key-2", "bare-key")]
    assert (config.breaker.failure_threshold, config.breaker.cooldown_seconds) == (2, 5.0)


def test_api_keys_never_appear_in_reprs(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(FULL)
    assert "live-key" not in repr(load_config(str(path)))


def test_env_key_is_added_to_config_keys() -> None:
    config = parse_config({"api_keys": ["file-key"]})
    keys = effective_api_keys(config, {"LYNSMS_API_KEY": " env-key "})
    assert [k.key for k in keys] == ["file-key", "env-key"]
    assert effective_api_keys(config, {}) == config.api_keys


@pytest.mark.parametrize(
    ("yaml_text", "where"),
    [
        ("providers: {nexmo: {}}", "providers.nexmo"),
        ("providers: {twilio: {price: -1}}", "providers.twilio.price"),
        ("providers: {twilio: {price: cheap}}", "providers.twilio.price"),
        ("providers: {twilio: {prices: {uk: 0.1}}}", "providers.twilio.prices.uk"),
        ("providers: {twilio: {timeout: 0}}", "providers.twilio.timeout"),
        ("providers: {twilio: {base_url: ftp://x}}", "providers.twilio.base_url"),
        ("providers: {twilio: {max_batch: 1.5}}", "providers.twilio.max_batch"),
        ("providers: {twilio: {colour: red}}", "providers.twilio.colour"),
        ("providers: {}", "providers"),
        ("default_chain: [twilio, twilio]", "default_chain[1]"),
        ("default_chain: []", "default_chain"),
        ("providers: {twilio: {}}\ndefault_chain: [sinch]", "default_chain[0]"),
        ("routes: {x: {chain: [twilio]}}", "routes.x"),
        ("routes: {1: {name: a}}", "routes.1.chain"),
        ("routes: {1: {chain: [nexmo]}}", "routes.1.chain[0]"),
        ("api_keys: {key: x}", "api_keys"),
        ("api_keys: [{name: x}]", "api_keys[0].key"),
        ("api_keys: [{key: 'a b'}]", "api_keys[0].key"),
        ("breaker: {failure_threshold: 0}", "breaker.failure_threshold"),
        ("public_url: not-a-url", "public_url"),
        ("webhook: x", "webhook"),
        ("- a list", ""),
    ],
)
def test_bad_config_names_file_and_key_path(tmp_path: Path, yaml_text: str, where: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    # file:line: key.path, as the scenario checker says it (no line for the document as a whole)
    assert re.match(rf"{re.escape(str(path))}(:\d+)?: {re.escape(where)}", str(info.value)), str(info.value)


def test_unreadable_and_invalid_yaml_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.yaml"))
    (tmp_path / "broken.yaml").write_text("providers: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(tmp_path / "broken.yaml"))


def test_empty_file_is_the_default_config(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    assert list(load_config(str(tmp_path / "empty.yaml")).providers) == list(PROVIDER_NAMES)


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("+12025550143", "US"),
        ("+447700900100", "GB"),
        ("+4748640969", "NO"),
        ("+14165550123", "CA"),
        ("+61491570156", "AU"),
    ],
)
def test_country_of_numbers_including_fictional_ranges(number: str, country: str) -> None:
    assert country_of(number) == country


def test_prices_use_the_country_override_then_the_provider_price() -> None:
    config = parse_config({"providers": {"twilio": {"price": 0.0475, "prices": {"GB": 0.04}}, "sinch": {}}})
    table = PriceTable.from_config(config.providers)
    assert table.cost("twilio", "GB", 3) == Decimal("0.1200")
    assert table.cost("twilio", "US", 3) == Decimal("0.1425")  # exact, no float drift
    assert table.cost("sinch", None, 2) == Decimal("0.1000")
    assert table.cost("twilio", "US", 1) == Decimal("0.0475")


def test_costs_round_half_up_to_four_decimals() -> None:
    table = PriceTable(base={"twilio": Decimal("0.00005")}, by_country={})
    assert table.cost("twilio", None, 1) == Decimal("0.0001")


@pytest.mark.parametrize("number", ["+12025550143", "+447700900100", "+4748640969", "+441632960001", "+13105550100"])
def test_accepted_numbers(number: str) -> None:
    assert e164_problem(number) is None


@pytest.mark.parametrize(
    "number",
    [
        "12025550143",
        "+012025550143",
        "+1 2025550143",
        "+1-202-555-0143",
        "+1202555014",
        "+4470000000000",
        "+",
        "+99912345",
    ],
)
def test_rejected_numbers(number: str) -> None:
    assert e164_problem(number) is not None


def test_norway_country_code_is_a_string_not_yaml_false(tmp_path: Path) -> None:
    path = tmp_path / "no.yaml"
    path.write_text("providers: {sinch: {prices: {NO: 0.07, ON: 0.02}}}")
    assert load_config(str(path)).providers["sinch"].prices == {"NO": Decimal("0.07"), "ON": Decimal("0.02")}


def test_config_error_lists_its_problems_with_key_paths() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"providers": {"twilio": {"price": "free"}}}, source="gw.yaml")
    (problem,) = info.value.problems
    assert (problem.source, problem.path, problem.where) == (
        "gw.yaml",
        ("providers", "twilio", "price"),
        "providers.twilio.price",
    )
    assert str(info.value) == str(problem) == f"gw.yaml: providers.twilio.price: {problem.message}"


def test_config_problems_name_list_positions_and_route_ids() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"routes": {7: {"chain": ["twilio", "twilio"]}}}, source="gw.yaml")
    (problem,) = info.value.problems
    assert problem.path == ("routes", "7", "chain", 1)
    assert problem.where == "routes.7.chain[1]"


def test_config_errors_give_the_line_and_a_near_miss(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("default_chain: [twilio]\nproviders:\n  twilio:\n    timout: 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value).startswith(f"{path}:4: providers.twilio.timout: unknown key (did you mean 'timeout'?)")
    assert info.value.problems[0].line == 4
    path.write_text("providers:\n  twilio: {}\n  sinch: {}\ndefault_chain:\n  - sinch\n  - twilo\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value).startswith(f"{path}:6: default_chain[1]: 'twilo' is not a configured provider (did you mean")
    path.write_text("providers:\n  twillio: {}\n")
    with pytest.raises(ConfigError, match=r":2: providers.twillio: unknown provider \(did you mean 'twilio'\?\)"):
        load_config(str(path))

"""Bytes no provider's parser accepts get that provider's own 400, store nothing, and leave the
journal and message views answering; a fuzzer then throws arbitrary bodies at every send endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx
import pytest

from lynsms.tls import client_tls
from tests.conftest import RunningSimulator
from tests.simulator.scenario_wires import WIRES, Wire

if TYPE_CHECKING:
    # Hypothesis is imported by the fuzz test itself: imported here, every xdist worker would pay
    # ~0.1 s of CPU for it while collecting, and only the worker running this file uses it.
    from hypothesis.strategies import SearchStrategy

http = httpx.Client(timeout=10, verify=client_tls())


@pytest.fixture(scope="session", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    http.close()


# What each provider's parser refuses, as the raw body of a send: JSON for three, a form for Twilio.
LONE_SURROGATE = {
    "twilio": b"To=%2B12025550143&From=%2B12025550100&Body=%ED%A0%80",
    "sinch": b'{"to": ["+12025550143"], "from": "+12025550100", "body": "\\ud800"}',
    "infobip": b'{"messages": [{"destinations": [{"to": "+12025550143"}], "content": {"text": "\\ud800"}}]}',
    "clicksend": b'{"messages": [{"to": "+12025550143", "body": "\\ud800", "source": "x"}]}',
}
SURROGATE_KEY = {
    "sinch": b'{"to": ["+12025550143"], "body": "hi", "\\udc00": 1}',
    "infobip": b'{"messages": [{"destinations": [{"to": "+12025550143"}], "content": {"text": "hi"}, "\\udc00": 1}]}',
    "clicksend": b'{"messages": [{"to": "+12025550143", "body": "hi", "\\udc00": 1}]}',
}
DEEP = b"[" * 100_000 + b"]" * 100_000


def _post(simulator: RunningSimulator, wire: Wire, content: bytes) -> httpx.Response:
    path, request = wire.request(simulator.url)
    form = "data" in request
    headers = {
        **request.get("headers", {}),
        "Content-Type": "application/x-www-form-urlencoded" if form else "application/json",
    }
    auth = request.get("auth")
    return http.post(path, content=content, headers=headers, **({"auth": auth} if auth else {}))


def _still_answering(simulator: RunningSimulator) -> None:
    for view in ("/_sim/messages", "/_sim/requests"):
        response = simulator.control.get(view)
        assert response.status_code == 200, (view, response.text)


def _provider_error(wire: Wire, response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert wire.code(response)  # the provider's own error body, with its own code field


CASES = [
    *((name, "lone surrogate", body) for name, body in LONE_SURROGATE.items()),
    *((name, "surrogate key", body) for name, body in SURROGATE_KEY.items()),
    *((name, "nested 100k deep", DEEP) for name in ("sinch", "infobip", "clicksend")),
]


@pytest.mark.parametrize(("provider", "content"), [(c[0], c[2]) for c in CASES], ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_unparseable_send_is_the_providers_400_and_stores_nothing(
    simulator: RunningSimulator, provider: str, content: bytes
) -> None:
    wire = WIRES[provider]
    _provider_error(wire, _post(simulator, wire, content))
    _still_answering(simulator)
    assert simulator.messages() == []
    (entry,) = simulator.journal()
    assert entry["status"] == 400 and entry["outcome"]["kind"] == "invalid_request"


@pytest.mark.parametrize("query", ["limit=%C2%B2", "since=%C2%B2", "limit=0", "limit=x"])
def test_bad_journal_paging_is_400(simulator: RunningSimulator, query: str) -> None:
    response = simulator.control.get(f"/_sim/requests?{query}")
    assert response.status_code == 400, response.text


# Valid-looking keys with arbitrary values find type confusions; raw bytes find parser crashes.
_FIELDS = {
    "twilio": ["To", "From", "Body", "StatusCallback", "MediaUrl", "ValidityPeriod", "SendAt"],
    "sinch": ["to", "from", "body", "type", "delivery_report", "send_at", "parameters", "callback_url"],
    "infobip": ["messages", "destinations", "content", "text", "sender", "webhooks", "bulkId"],
    "clicksend": ["messages", "to", "from", "body", "source", "schedule", "custom_string"],
}


def _bodies(provider: str) -> SearchStrategy[bytes]:
    from hypothesis import strategies as st

    # Any code point, lone surrogates included: json.dumps escapes them as "\udXXX".
    text = st.text(st.characters(exclude_categories=()), max_size=12)
    if provider == "twilio":
        # What a form can carry: every code point but lone surrogates. The same alphabet as
        # ``st.text()``, whose default "utf-8" codec has Hypothesis list what UTF-8 encodes (~1.5 s
        # of CPU in a fresh checkout, as on CI, where its cache is empty).
        form_text = st.text(st.characters(exclude_categories=["Cs"]))
        pairs = st.lists(st.tuples(st.sampled_from(_FIELDS["twilio"]) | form_text, form_text), max_size=6)
        encoded = pairs.map(lambda items: urlencode(items).encode())
        return encoded | st.binary(max_size=200)
    leaves = st.none() | st.booleans() | st.integers() | st.floats() | text
    values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4))
    keys = st.sampled_from(_FIELDS[provider]) | text
    shaped = st.dictionaries(keys, values, max_size=5)
    nested = shaped.map(lambda value: {"messages": [value]})
    return (shaped | nested).map(lambda value: json.dumps(value).encode()) | st.binary(max_size=200)


@pytest.mark.parametrize("provider", list(WIRES))
def test_no_fuzzed_send_body_gets_a_5xx_or_breaks_the_views(simulator: RunningSimulator, provider: str) -> None:
    from hypothesis import HealthCheck, given, settings

    wire = WIRES[provider]

    @settings(
        max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(_bodies(provider))
    def send_anything(content: bytes) -> None:
        response = _post(simulator, wire, content)
        assert response.status_code < 500, (content, response.text)

    send_anything()
    _still_answering(simulator)


@pytest.mark.parametrize("provider", [*WIRES, None])
def test_oversized_headers_are_431_in_the_providers_format(simulator: RunningSimulator, provider: str | None) -> None:
    url = WIRES[provider].request(simulator.url)[0] if provider else f"{simulator.url}/_sim/requests"
    response = http.post(url, headers={"Idempotency-Key": "k" * 64 * 1024})
    assert response.status_code == 431, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert simulator.messages() == []


LIST_PATHS = {
    "twilio": ("/2010-04-01/Accounts/{account}/Messages.json?Page={n}", "Page"),
    "sinch": ("/xms/v1/{account}/batches?page={n}", "page"),
    "infobip": ("/sms/1/logs?limit={n}", "limit"),
    "clicksend": ("/v3/sms/history?page={n}", "page"),
}


@pytest.mark.parametrize("number", ["99999999999999999999999999", "%C2%B2", "2147483648"])
@pytest.mark.parametrize("provider", list(WIRES))
def test_a_paging_number_past_32_bits_is_the_providers_400(
    simulator: RunningSimulator, provider: str, number: str
) -> None:
    wire = WIRES[provider]
    _, request = wire.request(simulator.url)
    path, _param = LIST_PATHS[provider]
    auth = request.get("auth")
    response = http.get(
        simulator.url + path.format(account=wire.account, n=number),
        headers=request.get("headers", {}),
        **({"auth": auth} if auth else {}),
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("code", ["%C2%B2", "-" + "9" * 5000])
def test_a_sinch_report_code_that_is_no_integer_is_sinchs_400(simulator: RunningSimulator, code: str) -> None:
    wire = WIRES["sinch"]
    _, request = wire.request(simulator.url)
    response = http.get(
        f"{simulator.url}/xms/v1/{wire.account}/delivery_reports?code={code}", headers=request.get("headers", {})
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "syntax_invalid_parameter_format"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"name": "\\ud800", "steps": []}', "unpaired UTF-16 surrogate"),
        (b'name: x\n"\\udc00": 1\n', "unpaired UTF-16 surrogate"),
        (b'{"a": ' * 2_000 + b"1" + b"}" * 2_000, "nested too deeply"),
        (b"- " * 5_000 + b"x", "nested too deeply"),
    ],
    ids=["json surrogate", "yaml surrogate key", "json 5k deep", "yaml 5k deep"],
)
def test_a_scenario_no_response_could_carry_is_refused_and_the_views_still_answer(
    simulator: RunningSimulator, content: bytes, problem: str
) -> None:
    response = simulator.control.put("/_sim/scenario", content=content)
    assert response.status_code == 400, response.text
    assert problem in response.json()["problems"][0]
    assert simulator.control.get("/_sim/scenario").json()["scenarios"] == []
    _still_answering(simulator)

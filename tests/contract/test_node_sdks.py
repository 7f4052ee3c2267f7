"""The README's Node snippets, run as written with the official Node SDKs (pinned in
``tests/contract/node/package-lock.json``) against a real simulator, its URL swapped in for
``http://127.0.0.1:8900``. Skipped only when Node is not installed; with Node but without the
SDKs installed (``npm ci`` in ``tests/contract/node``, which ``.ci/run`` does) they fail."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.contract.node_runner import NO_NODE, NODE, Runner
from tests.contract.test_readme_snippets import README_URL, section

SECTION = "Pointing an official Node SDK at the simulator"
PACKAGES = {"twilio": "twilio", "@sinch/sdk-core": "sinch", "@infobip-api/sdk": "infobip", "clicksend": "clicksend"}


def js_blocks(text: str) -> list[str]:
    return re.findall(r"^```js\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def provider_of(code: str) -> str:
    required = re.search(r'require\("([^"]+)"\)', code)
    assert required is not None, f"a README Node snippet requires no SDK:\n{code}"
    return PACKAGES[required.group(1)]


SNIPPETS = js_blocks(section(SECTION))


def test_the_readme_has_a_node_snippet_per_provider() -> None:
    assert sorted(provider_of(code) for code in SNIPPETS) == ["clicksend", "infobip", "sinch", "twilio"]
    assert all(README_URL in code for code in SNIPPETS)


@pytest.mark.skipif(NODE is None, reason=NO_NODE)
@pytest.mark.parametrize("code", SNIPPETS, ids=[provider_of(c) for c in SNIPPETS])
def test_node_snippet_sends_through_the_simulator(code: str, simulator: Any, node: Runner) -> None:
    # Run as written (a module beside node_modules), until it prints; an error in it fails the ask.
    printed = node.ask(snippet=code.replace(README_URL, simulator.url))["printed"]
    assert printed and printed[0].strip(), "the snippet printed nothing"
    [message] = simulator.messages()
    assert message["provider"] == provider_of(code)
    assert message["body"].startswith("Hello from ")


@pytest.mark.skipif(NODE is None, reason=NO_NODE)
@pytest.mark.parametrize(
    ("provider", "status"),
    [("twilio", "queued"), ("sinch", "sent"), ("infobip", "PENDING"), ("clicksend", "Queued")],
)
def test_node_sdk_reads_back_what_it_sent(provider: str, status: str, simulator: Any, node: Runner) -> None:
    """``node/fetches.cjs``: a send, then the SDK's own fetch (Twilio message and balance, Sinch
    batch, Infobip scheduled bulk and its status, ClickSend history) parsed by the Node SDK."""
    from tests.simulator.scenario_wires import QUIET, load

    load(simulator.control, simulator.url, QUIET)
    result = node.script("fetches.cjs", provider, simulator.url)
    assert result["id"] and result["fetched"] == result["id"]
    assert result["status"] == status
    if provider == "twilio":
        assert result["currency"] == "USD"

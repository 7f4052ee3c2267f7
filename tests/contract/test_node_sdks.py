"""The README's Node snippets, run as written with the official Node SDKs (pinned in
``tests/contract/node/package-lock.json``) against a real simulator, its URL swapped in for
``http://127.0.0.1:8900``. Skipped only when Node is not installed; with Node but without the
SDKs installed (``npm ci`` in ``tests/contract/node``, which ``.ci/run`` does) they fail.

The checks of this module share one Node process (``node/runner.cjs``): loading an SDK costs more
than the check that uses it."""

from __future__ import annotations

import json
import re
import select
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.test_readme_snippets import README_URL, section

NODE_DIR = Path(__file__).resolve().parent / "node"
SECTION = "Pointing an official Node SDK at the simulator"
PACKAGES = {"twilio": "twilio", "@sinch/sdk-core": "sinch", "@infobip-api/sdk": "infobip", "clicksend": "clicksend"}
NODE = shutil.which("node")
NOT_INSTALLED = "the Node SDKs are not installed: run `npm ci` in tests/contract/node"
# How long one check may take: a bound for a loaded machine, not a measurement.
WITHIN = 60


def run_script(script: str, *args: str) -> dict[str, Any]:
    """Run ``node/<script>`` (one Node process for all its calls) and return the JSON line it prints last."""
    assert NODE is not None
    assert (NODE_DIR / "node_modules").is_dir(), NOT_INSTALLED
    done = subprocess.run([NODE, script, *args], check=False, capture_output=True, text=True, timeout=60, cwd=NODE_DIR)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


class Runner:
    """``node/runner.cjs``: one Node process answering one JSON line per request."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def ask(self, **request: Any) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        assert select.select([stdout], [], [], WITHIN)[0], f"node gave no answer in {WITHIN} s"
        line = stdout.readline()
        assert line, "node ended"
        reply: dict[str, Any] = json.loads(line)
        assert reply["ok"], reply["error"]
        return reply


@pytest.fixture(scope="module")
def node() -> Iterator[Runner]:
    assert NODE is not None
    assert (NODE_DIR / "node_modules").is_dir(), NOT_INSTALLED
    with subprocess.Popen(
        [NODE, "runner.cjs"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=NODE_DIR
    ) as process:
        try:
            yield Runner(process)
        finally:
            assert process.stdin is not None
            process.stdin.close()  # the runner ends with its input
            process.wait(timeout=WITHIN)


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


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed: the Node SDK snippets need `node` on PATH")
@pytest.mark.parametrize("code", SNIPPETS, ids=[provider_of(c) for c in SNIPPETS])
def test_node_snippet_sends_through_the_simulator(code: str, simulator: Any, node: Runner) -> None:
    # Run as written (a module beside node_modules), until it prints; an error in it fails the ask.
    printed = node.ask(snippet=code.replace(README_URL, simulator.url))["printed"]
    assert printed and printed[0].strip(), "the snippet printed nothing"
    [message] = simulator.messages()
    assert message["provider"] == provider_of(code)
    assert message["body"].startswith("Hello from ")


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed: the Node SDK contract tests need `node` on PATH")
@pytest.mark.parametrize(
    ("provider", "status"),
    [("twilio", "queued"), ("sinch", "sent"), ("infobip", "PENDING"), ("clicksend", "Queued")],
)
def test_node_sdk_reads_back_what_it_sent(provider: str, status: str, simulator: Any, node: Runner) -> None:
    """``node/fetches.cjs``: a send, then the SDK's own fetch (Twilio message and balance, Sinch
    batch, Infobip scheduled bulk and its status, ClickSend history) parsed by the Node SDK."""
    from tests.simulator.scenario_wires import QUIET, load

    load(simulator.control, simulator.url, QUIET)
    result: dict[str, Any] = node.ask(script="fetches.cjs", args=[provider, simulator.url])["result"]
    assert result["id"] and result["fetched"] == result["id"]
    assert result["status"] == status
    if provider == "twilio":
        assert result["currency"] == "USD"

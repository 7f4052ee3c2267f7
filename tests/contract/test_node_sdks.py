"""The README's Node snippets, run as written with the official Node SDKs (pinned in
``tests/contract/node/package-lock.json``) against a real simulator, its URL swapped in for
``http://127.0.0.1:8900``. Skipped only when Node is not installed; with Node but without the
SDKs installed (``npm ci`` in ``tests/contract/node``, which ``.ci/run`` does) they fail."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.contract.test_readme_snippets import README_URL, section

NODE_DIR = Path(__file__).resolve().parent / "node"
SECTION = "Pointing an official Node SDK at the simulator"
PACKAGES = {"twilio": "twilio", "@sinch/sdk-core": "sinch", "@infobip-api/sdk": "infobip", "clicksend": "clicksend"}
NODE = shutil.which("node")


def run_script(script: str, *args: str) -> dict[str, Any]:
    """Run ``node/<script>`` (one Node process for all its calls) and return the JSON line it prints last."""
    import json

    assert NODE is not None
    assert (NODE_DIR / "node_modules").is_dir(), "the Node SDKs are not installed: run `npm ci` in tests/contract/node"
    done = subprocess.run([NODE, script, *args], check=False, capture_output=True, text=True, timeout=60, cwd=NODE_DIR)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


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
def test_node_snippet_sends_through_the_simulator(code: str, simulator: Any) -> None:
    assert NODE is not None
    assert (NODE_DIR / "node_modules").is_dir(), "the Node SDKs are not installed: run `npm ci` in tests/contract/node"
    # Beside node_modules, so require() finds the SDKs; named per process: xdist workers share the folder.
    script = NODE_DIR / f".snippet-{provider_of(code)}-{os.getpid()}.cjs"
    script.write_text(code.replace(README_URL, simulator.url), "utf-8")
    try:
        done = subprocess.run(
            [NODE, str(script)], check=False, capture_output=True, text=True, timeout=60, cwd=NODE_DIR
        )
    finally:
        script.unlink()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "the snippet printed nothing"
    [message] = simulator.messages()
    assert message["provider"] == provider_of(code)
    assert message["body"].startswith("Hello from ")


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed: the Node SDK contract tests need `node` on PATH")
@pytest.mark.parametrize(
    ("provider", "status"),
    [("twilio", "queued"), ("sinch", "sent"), ("infobip", "PENDING"), ("clicksend", "Queued")],
)
def test_node_sdk_reads_back_what_it_sent(provider: str, status: str, simulator: Any) -> None:
    """``node/fetches.cjs``: a send, then the SDK's own fetch (Twilio message and balance, Sinch
    batch, Infobip scheduled bulk and its status, ClickSend history) parsed by the Node SDK."""
    from tests.simulator.scenario_wires import QUIET, load

    load(simulator.control, simulator.url, QUIET)
    result = run_script("fetches.cjs", provider, simulator.url)
    assert result["id"] and result["fetched"] == result["id"]
    assert result["status"] == status
    if provider == "twilio":
        assert result["currency"] == "USD"

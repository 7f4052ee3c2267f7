"""The README's interception examples, run as written: the Python ones under ``lynsms.intercept()``,
the shell and Node ones through a real proxy with only the exported environment. The ``sms_intercept``
fixture example runs in a fresh pytest session under xdist, in the plugin's workers session
(tests/harness/test_pytest_plugin.py). Read out of README.md, so the README cannot drift from what
works."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.contract.test_readme_snippets import python_blocks, section
from tests.intercept.conftest import Proxy

PYTHON = python_blocks(section("In Python tests: `lynsms.intercept()`"))
PROXY = section("Any process, any language: the proxy")
README_PROXY = "http://127.0.0.1:8901"
README_CA = "~/.local/share/lynsms/ca/ca.pem"


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_the_readme_shows_a_context_manager_a_library_and_the_fixture() -> None:
    assert len(PYTHON) == 3
    assert all(sdk in PYTHON[0] for sdk in ("twilio", "sinch", "infobip", "clicksend")) and "intercept()" in PYTHON[0]
    assert "import apprise" in PYTHON[1] and "sms_intercept" in PYTHON[2]


@pytest.mark.parametrize("code", PYTHON[:2], ids=["twilio-sdk", "apprise"])
def test_python_example_runs_as_written(code: str) -> None:
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})


def test_curl_example_sends_through_the_proxy(proxy: Proxy) -> None:
    [script] = fenced(PROXY, "sh")
    script = script.replace(README_PROXY, proxy.url).replace(README_CA, str(proxy.ca))
    done = subprocess.run(
        ["bash", "-c", script], check=False, env=proxy.env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and '"status":"queued"' in done.stdout.replace(" ", ""), done
    assert [m["body"] for m in proxy.messages()] == ["Hello"]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed on this machine")
def test_node_example_sends_through_the_proxy(proxy: Proxy, tmp_path: Path) -> None:
    [code] = fenced(PROXY, "js")
    script = tmp_path / "send-sms.mjs"
    script.write_text(code)
    done = subprocess.run(
        ["node", str(script)], check=False, env=proxy.env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    status, sid = done.stdout.split()
    assert status == "201" and [m["id"] for m in proxy.messages()] == [sid]

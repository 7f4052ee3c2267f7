"""The README's developer snippets, run as written: the SDK snippets against a real simulator (its
URL swapped in for ``http://127.0.0.1:8900``). The pytest-plugin example runs in a fresh pytest session
with the plugin's other sub-projects (tests/harness/test_pytest_plugin.py).

The code is read out of README.md rather than copied here, so the README cannot drift from what works.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
README_URL = "http://127.0.0.1:8900"
SDK_SECTION = "Pointing an official SDK at the simulator"
PLUGIN_SECTION = "The pytest plugin"
# Which provider a snippet talks to, by the SDK it imports.
SDK_PROVIDERS = {"twilio.rest": "twilio", "sinch": "sinch", "infobip_api_client": "infobip", "clicksend": "clicksend"}


def section(title: str) -> str:
    """The text under the README heading ``title`` up to the next heading of any level (headings
    inside fenced blocks do not count: ``# conftest.py`` is a comment)."""
    lines = README.read_text("utf-8").splitlines()
    found: list[str] | None = None
    fenced = False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        heading = not fenced and line.startswith("#")
        if heading and found is not None:
            break
        if heading and line.lstrip("#").strip() == title:
            found = []
        elif found is not None:
            found.append(line)
    assert found is not None, f"README.md has no heading {title!r}"
    return "\n".join(found)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def provider_of(code: str) -> str:
    imported = re.search(r"^(?:from|import) (\S+)", code, flags=re.MULTILINE)
    assert imported is not None, f"a README SDK snippet imports no SDK:\n{code}"
    return SDK_PROVIDERS[imported.group(1)]


SDK_SNIPPETS = python_blocks(section(SDK_SECTION))


def test_the_readme_covers_every_sdk_and_both_sinch_modes() -> None:
    providers = sorted(provider_of(code) for code in SDK_SNIPPETS)
    assert providers == ["clicksend", "infobip", "sinch", "sinch", "twilio"]
    sinch = " ".join(code for code in SDK_SNIPPETS if provider_of(code) == "sinch")
    assert "project_id=" in sinch and "service_plan_id=" in sinch
    assert all(README_URL in code for code in SDK_SNIPPETS)  # else the URL swap below would be a no-op


@pytest.mark.parametrize("code", SDK_SNIPPETS, ids=[f"{i}-{provider_of(c)}" for i, c in enumerate(SDK_SNIPPETS)])
def test_sdk_snippet_sends_through_the_simulator(code: str, simulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TWILIO_REGION", "TWILIO_EDGE"):  # the README says to leave them unset
        monkeypatch.delenv(name, raising=False)

    exec(compile(code.replace(README_URL, simulator.url), "README.md", "exec"), {"__name__": "readme_snippet"})

    [message] = simulator.messages()
    assert message["provider"] == provider_of(code)
    assert message["body"].startswith("Hello from ")

"""The README's developer snippets, run as written: the SDK snippets against a real simulator (its
URL swapped in for ``http://127.0.0.1:8900``), the pytest-plugin example in a fresh pytest session.

The code is read out of README.md rather than copied here, so the README cannot drift from what works.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

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


def test_pytest_plugin_example_passes_in_a_fresh_session(pytester: pytest.Pytester) -> None:
    blocks = python_blocks(section(PLUGIN_SECTION))
    conftests = [code for code in blocks if code.startswith("# conftest.py")]
    tests = [code for code in blocks if not code.startswith("# conftest.py")]
    assert len(conftests) == 1 and len(tests) == 1
    pytester.makeini(
        "[pytest]\n"
        "addopts = --strict-markers -p no:asyncio -p no:hypothesispytest -p no:faker -p no:benchmark -p no:anyio\n"
        "    -p no:schemathesis\n"
        "filterwarnings = error\n"
        "    ignore::DeprecationWarning:twilio.*\n"
    )
    pytester.makeconftest(conftests[0])
    pytester.makepyfile(test_readme_example=tests[0])
    pytester.makepyfile(
        test_conftest_applies="""
        def test_the_readme_conftest_puts_sinch_first(sms_gateway):
            assert sms_gateway.send(to="+12025550143", body="hi").json()["data"]["provider"] == "sinch"
            assert sms_gateway.config.providers["twilio"].settings.timeout == 1
        """
    )

    result = pytester.runpytest_subprocess()

    result.assert_outcomes(passed=3)

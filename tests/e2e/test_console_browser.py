"""The QA console in a real browser (Debian's chromium driven by Playwright): live arrival, filters
in the URL, the detail view and its segment map, a provider switch, marking delivered, and the
exported journal replaying green. One browser and one tab for the module (a context per test cost
~0.25 s of CPU each); each test loads the console afresh in it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lynsms.simulator import Simulator, create_app
from lynsms.simulator.console.browser import CHROMIUM, launch
from lynsms.simulator.harness.cli import main
from lynsms.simulator.harness.server import ServerThread
from lynsms.tls import client_tls
from tests.simulator.scenario_wires import WIRES

pytestmark = pytest.mark.xdist_group("browser")
# The key of the row at the top of the list's viewport, once one is drawn there.
TOP_ROW = """() => {
  const at = document.elementFromPoint(200, document.querySelector('#list').getBoundingClientRect().top + 30);
  const row = at && at.closest('.row');
  return row ? row.dataset.key : null;
}"""

if not os.path.exists(CHROMIUM):
    pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Imported by the first test, not at import: ~0.1 s of CPU every xdist worker would pay while
    # collecting, for the one worker that runs this file.
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")
    with sync_api.sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with ServerThread(create_app(sim=Simulator(seed=14))) as running:
        yield running.url


@pytest.fixture(scope="module")
def control(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=5, verify=client_tls()) as client:
        yield client


@pytest.fixture
def sim(control: httpx.Client) -> httpx.Client:
    control.post("/_sim/reset").raise_for_status()
    control.put("/_sim/console/switches", json={}).raise_for_status()
    return control


@pytest.fixture(scope="module")
def tab(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened, errors
    context.close()


@pytest.fixture
def page(tab: tuple[Any, list[str]]) -> Iterator[Any]:
    """The module's tab, with no script error allowed during the test."""
    opened, errors = tab
    errors.clear()
    opened.emulate_media(color_scheme="light")
    yield opened
    opened.goto("about:blank")  # the console's event stream ends with the test
    assert errors == [], errors


def send(sim: httpx.Client, provider: str, body: str, to: str = "+12025550143", **options: Any) -> httpx.Response:
    return WIRES[provider].send(sim, str(sim.base_url).rstrip("/"), to=to, body=body, **options)


def open_console(page: Any, server: str, query: str = "") -> None:
    page.goto(f"{server}/_sim/{query}")
    page.wait_for_selector("#live.on")


def test_a_message_arrives_live_without_a_reload(page: Any, server: str, sim: httpx.Client) -> None:
    open_console(page, server)
    page.evaluate("window.__marker = 1")  # gone if the page reloads
    started = time.monotonic()
    send(sim, "twilio", "Your code is 551234")
    page.wait_for_selector(".row:has-text('Your code is 551234')", timeout=1000)
    assert time.monotonic() - started < 1.0
    assert page.evaluate("window.__marker") == 1
    assert page.locator(".row .badge").first.inner_text() == "sent"


def test_search_and_filters_narrow_the_list_and_live_in_the_url(page: Any, server: str, sim: httpx.Client) -> None:
    send(sim, "twilio", "alpha one", to="+447700900111")
    send(sim, "sinch", "beta two", to="+447700900222")
    send(sim, "infobip", "alpha three", to="+12025550199")
    open_console(page, server)
    page.wait_for_selector(".row >> nth=2")
    page.fill("#f-q", "alpha")
    page.wait_for_function("document.querySelectorAll('.row').length === 2")
    page.fill("#f-num", "0900")  # a partial number, not only a prefix
    page.wait_for_function("document.querySelectorAll('.row').length === 1")
    assert "alpha one" in page.locator(".row").inner_text()
    assert "q=alpha" in page.url and "num=0900" in page.url
    # The link reproduces the view.
    page.goto(f"{server}/_sim/?provider=sinch")
    page.wait_for_selector(".row:has-text('beta two')")
    assert page.locator(".row").count() == 1 and page.input_value("#f-provider") == "sinch"


def test_detail_shows_the_segment_map_for_escapes_and_emoji(page: Any, server: str, sim: httpx.Client) -> None:
    send(sim, "twilio", "Total: 20€ [promo] " + "x" * 140)
    send(sim, "sinch", "On my way 🚗 see you")
    open_console(page, server)
    page.click(".row:has-text('Total')")
    page.wait_for_selector("[data-section=segments] .seg")
    segments = page.locator("[data-section=segments]")
    assert "2 × GSM-7" in segments.locator("h3").inner_text()
    assert segments.locator(".segmap mark.escape").all_inner_texts() == ["€", "[", "]"]
    assert page.locator("[data-section=raw] pre").first.inner_text().startswith("To=")
    page.click(".row:has-text('On my way')")
    page.wait_for_selector("[data-section=segments] .segmap mark.ucs2")
    assert page.locator("[data-section=segments] .segmap mark.ucs2").all_inner_texts() == ["🚗"]
    assert "UCS-2" in page.locator("[data-section=segments] h3").inner_text()
    assert "id=" in page.url


def test_a_provider_switch_changes_the_next_sends_outcome(page: Any, server: str, sim: httpx.Client) -> None:
    open_console(page, server, "?view=control")
    page.click("button[aria-label='twilio down']")
    page.wait_for_selector("#switch-yaml:has-text('http_error: 503')")
    assert send(sim, "twilio", "while down").status_code == 503
    page.click("#tab-messages")
    row = page.locator(".row:has-text('while down')")
    row.wait_for()
    assert row.locator(".badge").inner_text() == "rejected" and "HTTP 503" in row.inner_text()


def test_marking_delivered_moves_the_row(page: Any, server: str, sim: httpx.Client) -> None:
    sim.put("/_sim/scenario", content="name: hold\ndefaults:\n  deliver: false\n").raise_for_status()
    send(sim, "infobip", "mark me")
    open_console(page, server)
    page.click(".row:has-text('mark me')")
    page.click("button:has-text('Mark delivered')")
    page.wait_for_selector(".row:has-text('mark me') .badge.s-delivered")
    assert "DELIVERED_TO_HANDSET" in page.locator(".row:has-text('mark me')").inner_text()


def test_the_exported_scenario_replays_green(page: Any, server: str, sim: httpx.Client, tmp_path: Path) -> None:
    send(sim, "twilio", "exported {one}")
    sim.put("/_sim/console/switches", json={"clicksend": {"rejecting": "invalid_number"}}).raise_for_status()
    send(sim, "clicksend", "exported two")
    open_console(page, server)
    page.click(".menu summary")
    with page.expect_download() as download:
        page.click("#export-scenario")
    path = tmp_path / "export.scenario.yaml"
    download.value.save_as(path)
    assert main(["scenario", "run", str(path)]) == 0


def test_updates_keep_the_scroll_position_and_a_text_selection(page: Any, server: str, sim: httpx.Client) -> None:
    # Reports come when the test marks the messages, not at some moment of the checks below.
    sim.put("/_sim/scenario", content="name: hold\ndefaults:\n  deliver: false\n").raise_for_status()
    for i in range(40):
        send(sim, "sinch", f"message {i:02d}")
    open_console(page, server)
    page.click(".row:has-text('message 30')")
    page.wait_for_selector("[data-section=body] .msg-body")
    # A tester selects the body to copy it (an OTP), and scrolls the list down.
    page.evaluate("""() => {
      const range = document.createRange();
      range.selectNodeContents(document.querySelector('.msg-body'));
      getSelection().removeAllRanges(); getSelection().addRange(range);
      document.querySelector('#list').scrollTop = 20 * 58;
    }""")
    top = page.wait_for_function(TOP_ROW).json_value()
    for i in range(3):
        send(sim, "sinch", f"newer {i}")
    page.wait_for_selector("#new-indicator:has-text('3')")
    # Status moves of the selected message arrive too; neither they nor new rows move what is seen.
    for message in sim.get("/_sim/messages").json()["messages"]:
        if message["body"].startswith("message "):
            sim.post(f"/_sim/console/messages/{message['id']}/mark", json={"status": "delivered"}).raise_for_status()
    page.wait_for_selector("[data-section=head] .badge.s-delivered")  # the detail of the selected one
    page.wait_for_selector(f".row[data-key='{top}'] .badge.s-delivered")
    assert page.evaluate("getSelection().toString()") == "message 30"
    now = page.evaluate(TOP_ROW)
    assert now == top
    page.click("#new-indicator")
    page.wait_for_selector(".row:has-text('newer 2')")


def test_replying_as_the_handset_survives_live_updates_and_degrades_gracefully(
    page: Any, server: str, sim: httpx.Client
) -> None:
    # No status moves: the thread must be drawn from the snapshot alone, not by a later change.
    sim.put("/_sim/scenario", content="name: hold\ndefaults:\n  deliver: false\n").raise_for_status()
    send(sim, "twilio", "Reply YES to confirm", to="+447700900555")
    open_console(page, server, "?view=conversations&handset=%2B447700900555")
    page.wait_for_selector(".bubble:has-text('Reply YES to confirm')")  # drawn from the snapshot
    page.fill("#reply-body", "YES")
    send(sim, "twilio", "Still there?", to="+447700900555")  # redraws the thread while typing
    page.wait_for_selector(".bubble:has-text('Still there?')")
    assert page.input_value("#reply-body") == "YES"
    page.click(".reply button[type=submit]")
    toast = page.locator("#toast")
    toast.wait_for()
    # Without two-way SMS the endpoint is missing (404); with it and no inbound URL, 409: both said plainly.
    assert "two-way SMS" in toast.inner_text() or "Nowhere to deliver" in toast.inner_text()


AXE = Path(__file__).parents[1] / "contract" / "node" / "node_modules" / "axe-core" / "axe.min.js"
# The WCAG 2.1 A and AA rules; a serious or critical violation fails (contrast is "serious"). The
# dark scheme changes only colours, so there the contrast rule alone runs again.
AUDIT = """async (rules) => {
  const wcag = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
  const only = rules ? {type: 'rule', values: rules} : {type: 'tag', values: wcag};
  const result = await axe.run(document, {runOnly: only, resultTypes: ['violations']});
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 4).join(', ')})`);
}"""


def audit(page: Any, where: str) -> list[str]:
    """Serious and critical problems axe-core finds on the page as it is, in light and dark."""
    if page.evaluate("typeof axe") == "undefined":
        page.add_script_tag(path=str(AXE))
    problems = [f"{where}: {problem}" for problem in page.evaluate(AUDIT, None)]
    page.emulate_media(color_scheme="dark")
    problems += [f"{where} (dark): {problem}" for problem in page.evaluate(AUDIT, ["color-contrast"])]
    page.emulate_media(color_scheme="light")
    return problems


def test_every_view_passes_an_accessibility_audit_in_light_and_dark_and_works_by_keyboard(
    page: Any, server: str, sim: httpx.Client
) -> None:
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed ({AXE}): npm ci in tests/contract/node (.ci/run does)")
    send(sim, "twilio", "Total: 20€ [promo]", to="+447700900555")
    sim.put("/_sim/console/switches", json={"sinch": {"rejecting": "invalid_number"}}).raise_for_status()
    send(sim, "sinch", "turned down 🚗")
    page.emulate_media(color_scheme="light")
    open_console(page, server)
    page.wait_for_selector(".row >> nth=1")
    problems = audit(page, "messages")
    # Keyboard: "/" jumps to the search, the list takes arrows, Escape closes the detail.
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "f-q"
    page.focus("#list")
    page.keyboard.press("ArrowDown")
    page.wait_for_selector("[data-section=segments] .seg")
    selected = page.locator(".row[aria-selected=true]")
    assert page.get_attribute("#list", "aria-activedescendant") == selected.get_attribute("id")
    problems += audit(page, "detail")
    page.keyboard.press("Escape")
    page.wait_for_selector("#detail .empty:has-text('Pick a message')")
    page.focus("#tab-messages")
    for view, ready in (("conversations", "#handsets li"), ("journal", ".row"), ("control", "#switches tbody tr")):
        page.keyboard.press("ArrowRight")  # the tabs pattern
        page.wait_for_selector(f"#tab-{view}[aria-selected=true]:focus")
        page.wait_for_selector(ready)
        problems += audit(page, view)
        if view == "journal":  # the stream carries the journal while it is shown
            send(sim, "infobip", "journal live")
            page.wait_for_selector(".row:has-text('/sms/3/messages')")
    page.click("#reset")
    problems += audit(page, "reset dialog")
    page.keyboard.press("Escape")
    assert problems == []

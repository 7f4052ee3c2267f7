"""Screenshots of the QA console for the README: ``python scripts/screenshots.py [OUT_DIR]``.

Starts a simulator on a free port, sends a little of everything through the four providers (a
GSM-7 body with escape characters, an emoji body, a three-part text, a scenario rejection, a provider
switched off), then photographs the main views with Debian's chromium into ``docs/img/``.
Emoji need a colour emoji font (Debian: ``apt-get install fonts-noto-color-emoji``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from lynsms.simulator import Simulator, create_app
from lynsms.simulator.console.browser import launch
from lynsms.simulator.harness.server import ServerThread

ROOT = Path(__file__).resolve().parents[1]
TWILIO = "AC" + "1f" * 16


def traffic(client: httpx.Client) -> None:
    def twilio(to: str, body: str) -> None:
        client.post(
            f"/2010-04-01/Accounts/{TWILIO}/Messages.json",
            data={"To": to, "From": "+15005550006", "Body": body},
            auth=(TWILIO, "token"),
        )

    def sinch(to: str, body: str) -> None:
        client.post(
            "/xms/v1/plan-demo/batches",
            json={"to": [to], "from": "+12025550100", "body": body},
            headers={"Authorization": "Bearer 0123456789abcdef0123456789abcdef"},
        )

    def infobip(to: str, body: str) -> None:
        message: dict[str, Any] = {"sender": "InfoSMS", "destinations": [{"to": to}], "content": {"text": body}}
        client.post("/sms/3/messages", json={"messages": [message]}, headers={"Authorization": "App demo-key"})

    def clicksend(to: str, body: str) -> None:
        message = {"to": to, "from": "+12025550100", "body": body, "source": "docs"}
        client.post("/v3/sms/send", json={"messages": [message]}, auth=("demo-user", "demo-key"))

    twilio("+447700900123", "Your LynSMS code is 482194. It expires in 10 minutes.")
    sinch("+12025550143", "Order #1042 shipped: track it at https://example.test/t/1042")
    infobip("+4915112345678", "Rabatt: 20€ auf alles mit Code {SOMMER} [nur heute] ~ bis 23:59 Uhr")
    clicksend("+61491570156", "See you at 7? 🍕🎉")
    twilio("+447700900123", "Reminder: your appointment is tomorrow at 09:30. Reply C to confirm or R to reschedule.")
    sinch("+12025550143", "Your delivery window: 14:00–16:00 — we'll text you when the driver is 10 minutes away. " * 3)
    client.put("/_sim/console/switches", json={"clicksend": {"rejecting": "invalid_number"}})
    clicksend("+61491570157", "Welcome to LynSMS!")
    client.put("/_sim/console/switches", json={"twilio": {"down": True, "slow": True}})
    twilio("+447700900999", "Your code is 903114")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    with ServerThread(create_app(sim=Simulator(seed=7))) as server, httpx.Client(base_url=server.url) as client:
        traffic(client)
        with sync_playwright() as playwright:
            browser = launch(playwright)

            def shot(
                name: str, query: str, width: int, height: int, dark: bool = False, click: str | None = None
            ) -> None:
                page = browser.new_page(
                    viewport={"width": width, "height": height}, color_scheme="dark" if dark else "light"
                )
                page.goto(f"{server.url}/_sim/{query}")
                page.wait_for_selector("#live.on")
                page.wait_for_timeout(400)
                if click:
                    page.click(click)
                    page.wait_for_timeout(400)
                page.screenshot(path=str(out / f"{name}.png"))
                page.close()
                print(out / f"{name}.png")

            escapes = ".row:has-text('Rabatt')"
            shot("console-messages", "", 1280, 900, click=escapes)
            shot("console-segments", "", 1920, 1080, click=".row:has-text('delivery window')")
            shot("console-conversation", "?view=conversations&handset=%2B447700900123", 1280, 900)
            shot("console-control", "?view=control", 1280, 900)
            shot("console-dark", "", 1280, 900, dark=True, click=".row:has-text('See you at 7')")
            shot("console-phone", "", 390, 844, click=escapes)
            browser.close()


if __name__ == "__main__":
    main()

"""How the console's tests, benchmark and screenshot script launch a browser: Debian's chromium
driven by Playwright (Playwright's own browser builds cannot be downloaded here)."""

from __future__ import annotations

import os
from typing import Any, Final

CHROMIUM: Final = os.environ.get("LYNSMS_CHROMIUM", "/usr/bin/chromium")
ARGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def launch(playwright: Any) -> Any:
    """A headless chromium from a started ``playwright.sync_api.sync_playwright()``."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(ARGS))

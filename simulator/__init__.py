"""LynSMS Local simulator: Twilio, Sinch, Infobip and ClickSend on their real wire."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lynsms.simulator.app import Simulator, create_app

__all__ = ["Simulator", "create_app"]


def __getattr__(name: str) -> Any:
    # Imported lazily: the pytest plugin (lynsms.simulator.harness.pytest_plugin) loads in every pytest session of
    # every project with lynsms installed, and must not pay ~0.4 s for the app it may never start.
    if name in __all__:
        from lynsms.simulator import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

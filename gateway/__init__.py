"""LynSMS reference gateway: the sending API with segmentation, pricing, routing and fallback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lynsms.gateway.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Imported lazily: the simulator imports the pure ``gateway.segmentation`` and must not pull
    # in the whole gateway (its store, adapters and web app) just for that.
    if name == "create_app":
        from lynsms.gateway.app import create_app

        return create_app
    raise AttributeError(f"module 'gateway' has no attribute {name!r}")

"""LynSMS Local: an offline test bench for SMS sending.

The distribution's import names live under this package: ``lynsms.simulator`` (the provider
simulator and the test harness; folder ``simulator/``) and ``lynsms.gateway`` (the reference
gateway; folder ``gateway/``), so a host project's own ``simulator`` or ``gateway`` package is
never shadowed.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lynsms.simulator.harness.intercept import InterceptRefused, intercept


def __getattr__(name: str) -> Any:
    # ``lynsms.intercept`` is imported on first use: ``import lynsms`` stays free of HTTP libraries.
    if name in ("intercept", "InterceptRefused"):
        from lynsms.simulator.harness import intercept as module

        return getattr(module, name)
    raise AttributeError(f"module 'lynsms' has no attribute {name!r}")


__all__ = ["InterceptRefused", "__version__", "intercept"]

"""LynSMS Local: an offline test bench for SMS sending.

The distribution's import names live under this package: ``lynsms.simulator`` (the provider
simulator and the test harness; folder ``simulator/``) and ``lynsms.gateway`` (the reference
gateway; folder ``gateway/``), so a host project's own ``simulator`` or ``gateway`` package is
never shadowed.
"""

from __future__ import annotations

__version__ = "0.1.0"

"""Former name of ``lynsms.simulator.messages``, kept while modules outside the core still import it.

Remove once the scenario and harness packages import ``messages`` and ``gateway.providers.names``.
"""

from __future__ import annotations

from lynsms.gateway.providers.names import PROVIDER_NAMES, ProviderName
from lynsms.simulator.messages import REJECT_REASONS, DeliveryStatus, RejectReason, SimMessage, Submission

PROVIDERS = PROVIDER_NAMES

__all__ = [
    "PROVIDERS",
    "REJECT_REASONS",
    "DeliveryStatus",
    "ProviderName",
    "RejectReason",
    "SimMessage",
    "Submission",
]

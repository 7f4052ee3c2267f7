"""Delivery reports for accepted messages: scheduled, pushed to callbacks, kept for polling."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.engine import DeliveryPlan
from simulator.model import SimMessage

if TYPE_CHECKING:
    from simulator.providers.base import Provider


class Deliveries:
    def schedule(self, provider: Provider, message: SimMessage, plan: DeliveryPlan) -> None:
        report = provider.delivery_report(message, plan.status, plan.error_code)
        message.reports.append(report)

    async def close(self) -> None:
        """Cancel pending deliveries (app shutdown)."""

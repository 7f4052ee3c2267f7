"""Rendering request-level trouble: scripted HTTP errors and network faults."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from simulator.engine import Decision

if TYPE_CHECKING:
    from simulator.providers.base import Provider


class Faults:
    def render(self, provider: Provider, decision: Decision) -> Response:
        if decision.kind == "http_error":
            status = decision.status or 500
            if decision.body is not None:
                response = Response(decision.body, status_code=status, media_type="application/json")
                if decision.retry_after is not None:
                    response.headers["Retry-After"] = str(decision.retry_after)
                return response
            return provider.http_error(status, decision.retry_after)
        raise ValueError(f"cannot render {decision.kind} {decision.fault}")

"""The query of Sinch's batch list (``GET /xms/v1/{id}/batches``, SDK ``batches.list``): every
documented parameter is honoured and anything else refused with a 400, so a filter can never be
silently ignored.

``from`` is a comma-separated list of senders; ``start_date`` (default: 24 hours ago, as Sinch
documents) and ``end_date`` bound the creation time, ISO 8601; ``client_reference`` matches exactly.
Sinch's reference lists no recipient filter: ``to`` is refused like any unknown parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from starlette.datastructures import QueryParams

from lynsms.simulator.providers.sinch.parse import Invalid
from lynsms.simulator.providers.sinch.render import Batch

KNOWN: Final = frozenset({"page", "page_size", "from", "start_date", "end_date", "client_reference"})
DEFAULT_WINDOW: Final = timedelta(hours=24)


def batch_filter(params: QueryParams, now: datetime) -> Callable[[Batch], bool]:
    """A predicate for the list query in ``params``; raises ``Invalid`` (Sinch's 400) on a bad one."""
    start, end = window(params, KNOWN, now)
    # The Node SDK leaves the '+' of "+12025550100" unescaped, so it arrives as a space; no sender
    # starts with one, so read it back as the '+' it was (as ``_moment`` does for offsets).
    senders = {"+" + s[1:] if s.startswith(" ") else s for s in params.get("from", "").split(",") if s}
    reference = params.get("client_reference")

    def wanted(batch: Batch) -> bool:
        # Cheapest tests first: comparing aware datetimes costs more than a dict lookup.
        echo = batch.echo
        return (
            (reference is None or echo.get("client_reference") == reference)
            and (not senders or echo.get("from") in senders)
            and batch.created_at >= start
            and (end is None or batch.created_at < end)
        )

    return wanted


def window(params: QueryParams, known: frozenset[str], now: datetime) -> tuple[datetime, datetime | None]:
    """What every Sinch list shares: a parameter outside ``known`` is refused (``Invalid``, Sinch's
    400), and the time window runs from ``start_date`` (default 24 hours ago) to ``end_date``."""
    unknown = sorted(name for name in params if name not in known)
    if unknown:
        raise Invalid("syntax_invalid_parameter_format", f"Unknown query parameter: {unknown[0]}")
    start = _moment(params.get("start_date"), "start_date") or now - DEFAULT_WINDOW
    return start, _moment(params.get("end_date"), "end_date")


def _moment(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace(" ", "+"))  # a '+' left unescaped in a query reads as ' '
    except ValueError:
        raise Invalid("syntax_invalid_parameter_format", f"{name}: invalid ISO 8601 timestamp {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

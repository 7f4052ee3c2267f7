"""The query of Infobip's outbound logs (``GET /sms/3/logs``, ``/sms/1/logs``): every parameter the
SDK's ``get_outbound_sms_message_logs`` sends is honoured, anything else is refused with a 400
violation naming it, so a filter can never be silently ignored.

``bulkId`` and ``messageId`` may repeat; ``sentSince`` / ``sentUntil`` bound the send time (Infobip's
"yyyy-MM-dd'T'HH:mm:ss.SSSZ", any ISO 8601 is read); ``generalStatus`` is a status group
(ACCEPTED, PENDING, UNDELIVERABLE, DELIVERED, EXPIRED, REJECTED); ``mcc``/``mnc`` the destination's
network. The simulator stores no ``entityId``, ``applicationId`` or ``campaignReferenceId``, so
those filters match nothing. Cursor paging (``useCursor=true``) is not emulated and refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from starlette.datastructures import QueryParams

from lynsms.simulator.messages import SimMessage
from lynsms.simulator.providers.infobip import render as wire

GROUPS: Final = frozenset({"ACCEPTED", "PENDING", "UNDELIVERABLE", "DELIVERED", "EXPIRED", "REJECTED"})
KNOWN: Final = frozenset(
    {
        "limit",
        "mcc",
        "mnc",
        "sender",
        "from",
        "destination",
        "to",
        "bulkId",
        "messageId",
        "generalStatus",
        "sentSince",
        "sentUntil",
        "entityId",
        "applicationId",
        "campaignReferenceId",
        "useCursor",
        "cursor",
    }
)
_UNSTORED: Final = ("entityId", "applicationId", "campaignReferenceId")


class Refused(ValueError):
    def __init__(self, violations: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {v}" for p, v in violations))
        self.violations = violations


def log_filter(params: QueryParams) -> Callable[[SimMessage], bool]:
    """A predicate for the logs query in ``params``; raises ``Refused`` naming each bad parameter."""
    violations = [(name, "unknown parameter") for name in params if name not in KNOWN]
    if params.get("useCursor", "false").lower() not in ("false", ""):
        violations.append(("useCursor", "cursor paging is not emulated by the simulator"))
    bounds = {name: _moment(params.get(name), name, violations) for name in ("sentSince", "sentUntil")}
    status = params.get("generalStatus")
    if status is not None and status.upper() not in GROUPS:
        violations.append(("generalStatus", f"must be one of {', '.join(sorted(GROUPS))}"))
    if violations:
        raise Refused(violations)
    bulks, ids = set(params.getlist("bulkId")), set(params.getlist("messageId"))
    sender = params.get("sender") or params.get("from")
    destination = (params.get("destination") or params.get("to") or "").lstrip("+") or None
    mcc, mnc = params.get("mcc"), params.get("mnc")
    since, until = bounds["sentSince"], bounds["sentUntil"]
    unstored = any(params.get(name) for name in _UNSTORED)

    def wanted(message: SimMessage) -> bool:
        if unstored:
            return False
        if (bulks and message.batch_id not in bulks) or (ids and message.id not in ids):
            return False
        if destination is not None and message.to.lstrip("+") != destination:
            return False
        if sender is not None and (message.submission.sender or wire.DEFAULT_SENDER) != sender:
            return False
        if (since is not None and message.created_at < since) or (until is not None and message.created_at >= until):
            return False
        if status is not None and _group(message) != status.upper():
            return False
        if mcc is not None or mnc is not None:
            network = wire.mcc_mnc(message.to) or ""
            if (mcc is not None and network[:3] != mcc) or (mnc is not None and network[3:] != mnc):
                return False
        return True

    return wanted


def created_bounds(params: QueryParams) -> tuple[float | None, float | None]:
    """``sentSince`` and ``sentUntil`` as inclusive unix-second bounds on creation time (None:
    unbounded), for reading only that slice of the store. Call after ``log_filter`` accepted them."""
    ignored: list[tuple[str, str]] = []
    since, until = (_moment(params.get(name), name, ignored) for name in ("sentSince", "sentUntil"))
    return (
        None if since is None else since.timestamp(),
        None if until is None else until.timestamp() - 1e-6,  # sentUntil is exclusive
    )


def _group(message: SimMessage) -> str:
    return group_of(message.status)


def group_of(status: str) -> str:
    """The ``generalStatus`` group of a status name (one Infobip does not name counts as its intermediate one)."""
    return wire.STATUSES[status if status in wire.STATUSES else wire.INTERMEDIATE_STATUS][1]


def _moment(text: str | None, name: str, violations: list[tuple[str, str]]) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace(" ", "+"))  # a '+' left unescaped in a query reads as ' '
    except ValueError:
        violations.append((name, "must be a date-time as yyyy-MM-dd'T'HH:mm:ss.SSSZ"))
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

"""Each credential's account at a provider: a balance that accepted sends spend, and a suspension.

Every (provider, credential) starts with ``DEFAULT_BALANCE`` in the provider's currency, or with
what the scenario that applies to it says (``accounts: {twilio: {balance: 0.02, suspended: true}}``).
An accepted message costs its segments times the simulator's price for the provider and the
destination's country (``PRICES``: round figures of the providers' published US/UK rates, not a
price list). A send the balance cannot cover is rejected as ``insufficient_funds`` and one on a
suspended account as ``auth_failed``, so each provider answers with its own code for them.
Balances live in ``SimState.extras`` (wiped by ``reset``) and start again when a scenario loads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from lynsms.simulator.decision import Decision
from lynsms.simulator.messages import RejectReason, Submission
from lynsms.simulator.numbers import lookup
from lynsms.simulator.state import SimState

if TYPE_CHECKING:
    from lynsms.simulator.engine import Engine

# Large enough that no load test runs out; scenarios script small balances (`accounts`).
DEFAULT_BALANCE: Final = Decimal("1000000.00")
# provider -> (currency, price per segment by destination region, price elsewhere)
PRICES: Final[Mapping[str, tuple[str, Mapping[str, Decimal], Decimal]]] = {
    "twilio": ("USD", {"US": Decimal("0.0079"), "CA": Decimal("0.0079"), "GB": Decimal("0.0463")}, Decimal("0.0500")),
    "sinch": ("USD", {"US": Decimal("0.0078"), "CA": Decimal("0.0078"), "GB": Decimal("0.0400")}, Decimal("0.0450")),
    "infobip": ("EUR", {"US": Decimal("0.0070"), "GB": Decimal("0.0350")}, Decimal("0.0400")),
    "clicksend": ("USD", {"US": Decimal("0.0792"), "AU": Decimal("0.0770")}, Decimal("0.0900")),
}
_EXTRA: Final = "accounts"


@dataclass(frozen=True, slots=True)
class AccountScript:
    """What a scenario says about the accounts of one provider."""

    balance: Decimal | None = None
    suspended: bool = False


@dataclass(slots=True)
class Account:
    balance: Decimal
    currency: str
    suspended: bool = False


def price(provider: str, to: str) -> Decimal:
    """The simulator's price of one segment from ``provider`` to ``to``."""
    _, by_region, elsewhere = PRICES[provider]
    return by_region.get(_region(to), elsewhere)


@lru_cache(maxsize=4096)
def _region(to: str) -> str:
    # Cached: every accepted message asks, and load tests send to a few numbers over and over.
    found = lookup("+" + to.lstrip("+"))
    return (found.region or "") if found is not None else ""


def account(state: SimState, engine: Engine, provider: str, credential: str) -> Account:
    """The account of ``credential`` at ``provider``, opened on first use."""
    accounts = state.extra(_EXTRA)
    key = f"{provider} {credential}"
    found: Account | None = accounts.get(key)
    if found is None:
        script = engine.account_script(provider, credential)
        start = script.balance if script is not None and script.balance is not None else DEFAULT_BALANCE
        suspended = script.suspended if script is not None else False
        found = accounts[key] = Account(start, PRICES[provider][0], suspended)
    return found


def refill(state: SimState) -> None:
    """Every account starts again (a scenario was loaded or reset)."""
    state.extras.pop(_EXTRA, None)


def charge(
    state: SimState,
    engine: Engine,
    provider: str,
    credential: str,
    submissions: Sequence[Submission],
    segments: Sequence[int],
    decisions: Sequence[Decision],
) -> list[Decision]:
    """Spend the price of every message the engine accepted; one the account cannot pay for (or
    any, when it is suspended) is rejected instead, in the provider's own words."""
    held = account(state, engine, provider, credential)
    charged: list[Decision] = []
    for submission, parts, decision in zip(submissions, segments, decisions, strict=True):
        if not decision.accepts:
            charged.append(decision)
            continue
        if held.suspended:
            charged.append(_rejected(decision, "auth_failed"))
            continue
        cost = price(provider, submission.to) * parts
        if cost > held.balance:
            charged.append(_rejected(decision, "insufficient_funds"))
            continue
        held.balance -= cost
        charged.append(decision)
    return charged


def _rejected(decision: Decision, reason: RejectReason) -> Decision:
    return dataclasses.replace(decision, kind="reject", reason=reason, fault=None, delivery=None)

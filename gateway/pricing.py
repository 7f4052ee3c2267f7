"""What a message costs: segments x the per-segment price of the provider that accepted it.

Prices are kept as ``Decimal`` so 3 x 0.0475 is 0.1425, not 0.14250000000000002; the API
rounds to 4 decimals (half-up, as invoices do) and renders a JSON number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Final

import phonenumbers

from lynsms.gateway import numbers
from lynsms.gateway.config import DEFAULT_PRICE, ProviderConfig

CURRENCY: Final = "USD"
_FOUR_PLACES: Final = Decimal("0.0001")


@lru_cache(maxsize=16_384)  # the checks after the (shared) parse cost ~10 us more
def country_of(e164: str) -> str | None:
    """ISO 3166 alpha-2 country of a number, or None when phonenumbers cannot tell.

    Numbers in fictional ranges (+44 7700 900xxx, +1 555-01xx) have no region of their own; they
    are priced as the calling code's main country, which is the country they pretend to be in.
    """
    number = numbers.parse(e164)
    if number is None:
        return None
    region = phonenumbers.region_code_for_number(number)
    if region and region != "001":
        return str(region)
    main = phonenumbers.region_code_for_country_code(number.country_code or 0)
    return str(main) if main and main not in ("ZZ", "001") else None


def round_cost(value: Decimal) -> Decimal:
    return value.quantize(_FOUR_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PriceTable:
    """Per-provider per-segment prices, with per-country overrides."""

    base: Mapping[str, Decimal]
    by_country: Mapping[str, Mapping[str, Decimal]]

    @classmethod
    def from_config(cls, providers: Mapping[str, ProviderConfig]) -> PriceTable:
        return cls(
            base={name: cfg.price for name, cfg in providers.items()},
            by_country={name: dict(cfg.prices) for name, cfg in providers.items()},
        )

    def price(self, provider: str, country: str | None) -> Decimal:
        overrides = self.by_country.get(provider, {})
        if country is not None and country in overrides:
            return overrides[country]
        return self.base.get(provider, DEFAULT_PRICE)

    def cost(self, provider: str, country: str | None, segments: int) -> Decimal:
        return round_cost(self.price(provider, country) * segments)

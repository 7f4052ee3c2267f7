"""Phone number lookups shared by the providers and the scenario engine.

Parsing with ``phonenumbers`` costs tens of microseconds, and every send parses its numbers;
test traffic repeats the same few numbers, so lookups are cached (bounded).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import carrier


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    e164: str  # "+447700900100"
    region: str | None  # ISO 3166 alpha-2 ("GB"), None when the number belongs to no single country
    carrier: str  # the original carrier's name where the numbering plan says, else ""


@lru_cache(maxsize=16_384)
def lookup(text: str, region: str | None = None) -> PhoneNumber | None:
    """``text`` as a possible phone number, or None. Without ``region``, bare digits are read as
    international (country code first), as the providers' APIs do."""
    if region is None and text.isdecimal():
        text = "+" + text
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    found = phonenumbers.region_code_for_number(parsed)
    if found is None or found == phonenumbers.UNKNOWN_REGION:
        found = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    return PhoneNumber(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        region=None if found == phonenumbers.UNKNOWN_REGION else found,
        carrier=carrier.name_for_number(parsed, "en"),
    )

"""What the simulator knows about a phone number when a provider's lookup API is asked.

Scenarios script outcomes per number or pattern (``lookups:``, see ``scenario.twoway``): mobile,
landline, VoIP, invalid, unreachable (absent subscriber) or ported to another carrier. Any other
number gets plausible facts: country and line type from ``phonenumbers`` (its metadata knows
mobile and fixed-line ranges for most countries), a carrier name from the numbering plan or, where
the plan names none, from Faker seeded by the number, so the same number always gets the same
carrier. Each provider's ``lookup.py`` renders these facts in its own wire format.
"""

from __future__ import annotations

import importlib
import random
import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import phonenumbers
from faker import Faker
from phonenumbers import PhoneNumberType, carrier
from starlette.routing import Route

if TYPE_CHECKING:
    from lynsms.gateway.providers.names import ProviderName
    from lynsms.simulator.providers.base import Provider

Outcome = Literal["mobile", "landline", "voip", "invalid", "unreachable", "ported"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("mobile", "landline", "voip", "invalid", "unreachable", "ported")
LineType = Literal["mobile", "landline", "voip", "unknown"]

_TYPES: Final[dict[int, LineType]] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "mobile",
    PhoneNumberType.VOIP: "voip",
}


@dataclass(frozen=True, slots=True)
class NumberFacts:
    number: str  # E.164 when valid, else as asked
    valid: bool
    type: LineType = "unknown"
    carrier: str = ""
    country: str | None = None  # ISO 3166 alpha-2
    calling_code: str = ""
    national: str = ""
    reachable: bool = True
    ported: bool = False
    original_carrier: str = ""  # the carrier the range belongs to, when ported
    mcc: str = ""
    mnc: str = ""
    problem: str | None = None  # why invalid: NOT_A_NUMBER, TOO_SHORT, TOO_LONG, INVALID_BUT_POSSIBLE


class Matcher(Protocol):
    def test(self, value: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class LookupRule:
    """One scripted lookup outcome for every number one of ``match`` accepts (scenario patterns:
    exact, glob like ``+44*`` or ``/regex/``)."""

    outcome: Outcome
    match: tuple[Matcher, ...]
    carrier: str | None = None

    def matches(self, number: str) -> bool:
        e164 = number if number.startswith("+") else "+" + number
        return any(m.test(e164) for m in self.match)


def resolve(number: str, rules: Iterable[LookupRule] = ()) -> NumberFacts:
    """The facts for ``number`` (the first matching rule wins over the plausible default)."""
    facts = plausible(number)
    for rule in rules:
        if rule.matches(number):
            return scripted(facts, rule)
    return facts


def scripted(facts: NumberFacts, rule: LookupRule) -> NumberFacts:
    name = rule.carrier or facts.carrier or carrier_name(facts.number)
    if rule.outcome == "invalid":
        return replace(facts, valid=False, type="unknown", carrier="", reachable=False, problem="INVALID_BUT_POSSIBLE")
    base = replace(facts, valid=True, problem=None, carrier=name)
    if rule.outcome == "unreachable":
        return replace(base, type="mobile", reachable=False)
    if rule.outcome == "ported":
        original = facts.carrier or carrier_name(facts.number + "-original")
        ported_to = rule.carrier or carrier_name(facts.number + "-ported")
        return replace(base, type="mobile", ported=True, carrier=ported_to, original_carrier=original)
    return replace(base, type=rule.outcome, reachable=True)


@lru_cache(maxsize=4096)
def plausible(number: str) -> NumberFacts:
    text = number if number.startswith("+") or not number.isdigit() else "+" + number
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return NumberFacts(number=number, valid=False, reachable=False, problem="NOT_A_NUMBER")
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible != phonenumbers.ValidationResult.IS_POSSIBLE:
        problem = {
            phonenumbers.ValidationResult.TOO_SHORT: "TOO_SHORT",
            phonenumbers.ValidationResult.TOO_LONG: "TOO_LONG",
            phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "INVALID_COUNTRY_CODE",
        }.get(possible, "INVALID_LENGTH")
        return NumberFacts(number=number, valid=False, reachable=False, problem=problem)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(parsed)
    if region in (None, phonenumbers.UNKNOWN_REGION):
        region = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    country = None if region == phonenumbers.UNKNOWN_REGION else region
    common = NumberFacts(
        number=e164,
        valid=False,
        country=country,
        calling_code=str(parsed.country_code),
        national=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
    )
    # The fictional ranges tests send to (555-01xx, 07700 900xxx) are "invalid" in the metadata;
    # on a test bench they are ordinary mobiles unless a scenario says otherwise.
    if not phonenumbers.is_valid_number(parsed) and not _reserved(e164):
        return replace(common, reachable=False, problem="INVALID_BUT_POSSIBLE")
    line = _TYPES.get(phonenumbers.number_type(parsed), "unknown")
    if _reserved(e164):
        line = "mobile"
    name = carrier.name_for_number(parsed, "en") or carrier_name(e164)
    mcc, mnc = _network_code(e164)
    return replace(common, valid=True, type=line, carrier=name, mcc=mcc, mnc=mnc)


def carrier_name(seed: str) -> str:
    """A carrier-like company name, the same for the same seed (and in every run)."""
    names = _carriers()
    return names[zlib.crc32(seed.encode()) % len(names)]


_SUFFIXES: Final = ("Mobile", "Wireless", "Telecom", "Cellular", "Networks")
_RESERVED: Final = (
    re.compile(r"\+1[2-9][0-9]{2}55501[0-9]{2}"),
    re.compile(r"\+447700900[0-9]{3}"),
    re.compile(r"\+441632960[0-9]{3}"),
)


def _reserved(e164: str) -> bool:
    return any(p.fullmatch(e164) for p in _RESERVED)


def _network_code(seed: str) -> tuple[str, str]:
    rng = random.Random(seed)
    return str(rng.randint(200, 799)), f"{rng.randint(1, 99):02d}"


@lru_cache(maxsize=1)
def _carriers() -> tuple[str, ...]:
    """Made once: seeding Faker per number cost a millisecond a lookup, 1.5 s for a 1,000-number batch."""
    fake = Faker("en_US")
    fake.seed_instance(13)
    rng = random.Random(13)
    return tuple(dict.fromkeys(f"{fake.last_name()} {rng.choice(_SUFFIXES)}" for _ in range(256)))


# Providers with a number lookup API; each has ``providers/<name>/lookup.py`` exporting ``routes``.
LOOKUP_PROVIDERS: Final = ("twilio", "sinch", "infobip")


class LookupRoutes(Protocol):
    def __call__(self, provider: Provider[Any], facts: Callable[[str], NumberFacts]) -> list[Route]: ...


def routes(providers: Mapping[ProviderName, Provider[Any]], rules: Callable[[], Iterable[LookupRule]]) -> list[Route]:
    """The lookup endpoints of every provider that has one, answering with ``resolve`` under the
    scenarios' rules as loaded at the time of each request."""

    def facts(number: str) -> NumberFacts:
        return resolve(number, rules())

    found: list[Route] = []
    for name in LOOKUP_PROVIDERS:
        make: LookupRoutes = importlib.import_module(f"lynsms.simulator.providers.{name}.lookup").routes
        found.extend(make(providers[name], facts))
    return found

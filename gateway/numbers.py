"""Phone numbers parsed once: validation (is it a real number?) and pricing (which country?)
both need the parsed form of every recipient, and phonenumbers.parse costs ~12 us a number."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


@lru_cache(maxsize=16_384)  # traffic repeats numbers; a bulk asks for each of its recipients twice
def parse(e164: str) -> phonenumbers.PhoneNumber | None:
    """The parsed number (shared: never mutate it), or None when phonenumbers cannot read it."""
    try:
        return phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None

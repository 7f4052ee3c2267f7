"""How many SMS parts a body costs, and where a handset would see it split.

Encoding (3GPP TS 23.038):

- GSM-7 when every character is in the default alphabet or its extension table. Extension
  characters (``^ { } \\ [ ~ ] | €`` and form feed) are sent as ESC + char, so they cost 2 septets.
- UCS-2 otherwise: one character outside both tables turns the *whole* message UCS-2. Units are
  UTF-16 code units, so a character outside the BMP (most emoji) costs 2.

Segments: a body that fits in one SMS (160 septets / 70 units) is one segment, and so is an empty
body. A longer body is sent concatenated; the user data header takes room, leaving 153 septets /
67 units per part.

Splitting packs grapheme clusters (``regex`` ``\\X``) greedily, so a part never ends inside an
escape sequence, a surrogate pair, an emoji sequence, a flag or a letter with its combining marks.
That is why a body can need more parts than ``ceil(units / 153)``. A single cluster larger than a
whole part cannot stay whole; it is cut at code point boundaries (never inside a surrogate pair,
since one code point is one Python character) and packed like plain text. Nothing is truncated:
``"".join(parts) == body`` always.
"""

from __future__ import annotations

from bisect import bisect_right
from codecs import utf_16_le_encode
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, repeat
from operator import itemgetter
from typing import Final, Literal

import regex

Encoding = Literal["GSM-7", "UCS-2"]

GSM_SINGLE: Final = 160
GSM_PART: Final = 153
UCS2_SINGLE: Final = 70
UCS2_PART: Final = 67

# The default alphabet in code order, 16 per row, so it can be checked against the spec's table.
# 0x1B is ESC: it introduces an extension character and is not a character of its own.
_GSM_BASIC_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_BASIC: Final = frozenset(_GSM_BASIC_TABLE) - {"\x1b"}
GSM_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
_GSM_ALL: Final = GSM_BASIC | GSM_EXTENSION
_SEPTETS: Final[dict[str, int]] = {
    **dict.fromkeys(GSM_BASIC, 1),
    **dict.fromkeys(GSM_EXTENSION, 2),
}

_GRAPHEME: Final = regex.compile(r"\X")
# Characters that can share a grapheme cluster with a neighbour (combining marks, ZWJ, variation
# selectors, regional indicators, Hangul jamo, prepended marks), and CRLF. A body with none of them
# has one cluster per code point, so the costly \X scan can be skipped.
_MAY_JOIN: Final = regex.compile(r"[^\p{GCB=Other}\p{GCB=Control}\p{GCB=CR}\p{GCB=LF}]|\r\n")


def utf16_units(text: str) -> int:
    """How long Java and JavaScript think ``text`` is: a character outside the BMP counts 2."""
    return len(utf_16_le_encode(text, "surrogatepass")[0]) // 2


@dataclass(frozen=True, slots=True)
class Segmentation:
    encoding: Encoding
    segments: int  # number of SMS parts; an empty body counts as 1 segment
    parts: tuple[str, ...]  # "".join(parts) == body always
    units: int  # total septets (GSM-7) or UTF-16 code units (UCS-2)


def encoding_of(body: str) -> Encoding:
    return "GSM-7" if _GSM_ALL.issuperset(body) else "UCS-2"


def _gsm_units(body: str) -> int:
    if GSM_EXTENSION.isdisjoint(body):  # the common case, one pass in C
        return len(body)
    # str.count runs in C; ten passes beat one Python-level loop over a long body.
    return len(body) + sum(map(body.count, GSM_EXTENSION))


def _utf16_units(text: str) -> int:
    # surrogatepass: a lone surrogate (a bad JSON escape) counts as one unit instead of raising.
    return len(text.encode("utf-16-le", "surrogatepass")) >> 1


# Packing below works on running totals and bisect, so the per-character work stays in C:
# the simulator segments every request it receives.


def _gsm_part_ends(body: str) -> list[int]:
    # Every GSM-7 grapheme cluster is one character except CRLF (a test pins this), so pack
    # characters and step back one when a cut would fall between CR and LF. An extension
    # character is one character, so its escape sequence can never be cut.
    if "\r\n" not in body and not any(map(body.__contains__, GSM_EXTENSION)):
        return [*range(GSM_PART, len(body), GSM_PART), len(body)]
    # totals[i]: septets in body[: i + 1]
    totals = list(accumulate(map(_SEPTETS.__getitem__, body)))
    ends: list[int] = []
    end = 0
    while True:
        used = totals[end - 1] if end else 0
        end = bisect_right(totals, used + GSM_PART, lo=end)
        if end >= len(body):
            ends.append(len(body))
            return ends
        if body[end - 1] == "\r" and body[end] == "\n":
            end -= 1
        ends.append(end)


def _ucs2_part_ends(body: str, units: int) -> list[int]:
    if _MAY_JOIN.search(body) is None:
        if units == len(body):
            # One unit per code point and one code point per cluster: plain slices.
            return [*range(UCS2_PART, len(body), UCS2_PART), len(body)]
        clusters = list(body)
    else:
        clusters = _GRAPHEME.findall(body)
    # Sizes in UTF-16 bytes (two per unit). The codec function itself, not str.encode, because
    # it skips the codec lookup by name, which dominates on one-character strings.
    encoded = map(utf_16_le_encode, clusters, repeat("surrogatepass"))
    sizes = list(map(len, map(itemgetter(0), encoded)))
    if max(sizes) > 2 * UCS2_PART:
        return _ends_cutting_oversized(clusters)
    totals = list(accumulate(sizes))  # totals[i]: bytes in clusters[: i + 1]
    offsets = list(accumulate(map(len, clusters)))  # offsets[i]: code points in clusters[: i + 1]
    ends: list[int] = []
    taken = 0  # clusters already placed in parts
    while True:
        used = totals[taken - 1] if taken else 0
        taken = bisect_right(totals, used + 2 * UCS2_PART, lo=taken)
        if taken >= len(clusters):
            ends.append(len(body))
            return ends
        ends.append(offsets[taken - 1])


def _ends_cutting_oversized(clusters: list[str]) -> list[int]:
    """Greedy packing when some cluster is bigger than a whole part (rare: long mark stacks)."""
    ends: list[int] = []
    used = 0
    offset = 0
    for cluster in clusters:
        size = _utf16_units(cluster)
        if used + size <= UCS2_PART:
            used += size
            offset += len(cluster)
        elif size <= UCS2_PART:
            # used > 0 here, so the part being closed is never empty.
            ends.append(offset)
            used = size
            offset += len(cluster)
        else:
            # It gets cut anyway, so fill the current part first, one code point at a time.
            for char in cluster:
                char_size = _utf16_units(char)
                if used + char_size > UCS2_PART:
                    ends.append(offset)
                    used = 0
                used += char_size
                offset += 1
    ends.append(offset)
    return ends


# A send asks three times for the same body (validation's provider limits, routing, the stored
# message), a bulk once per chunk: count it once. The value is immutable, so sharing it is safe.
@lru_cache(maxsize=1024)
def segment(body: str) -> Segmentation:
    encoding = encoding_of(body)
    if encoding == "GSM-7":
        units = _gsm_units(body)
        if units <= GSM_SINGLE:
            return Segmentation(encoding, 1, (body,), units)
        ends = _gsm_part_ends(body)
    else:
        units = _utf16_units(body)
        if units <= UCS2_SINGLE:
            return Segmentation(encoding, 1, (body,), units)
        ends = _ucs2_part_ends(body, units)
    parts = tuple(body[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True))
    return Segmentation(encoding, len(parts), parts, units)

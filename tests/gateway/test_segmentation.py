from __future__ import annotations

import random
from collections import Counter
from typing import NamedTuple

import pytest
import regex

from lynsms.gateway.segmentation import (
    Encoding,
    Segmentation,
    encoding_of,
    segment,
)

# 3GPP TS 23.038 default alphabet, written out here independently of the module, ESC left out.
SPEC_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
SPEC_EXTENSION = "\f^{}\\[~]|€"

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 7 code points, 11 units
FLAG_FR = "\U0001f1eb\U0001f1f7"  # two regional indicators, 4 units
THUMBS_MEDIUM = "\U0001f44d\U0001f3fd"  # thumbs up + skin tone, 4 units
GRIN = "\U0001f600"  # outside the BMP: one surrogate pair, 2 units
E_ACUTE = "e\u0301"  # e + combining acute: one cluster, 2 units
TAG_SPACE = "\U000e0020"  # an Extend character outside the BMP
ZHE = "ж"


class Case(NamedTuple):
    name: str
    body: str
    encoding: Encoding
    units: int
    part_lengths: tuple[int, ...]  # in code points, so each case pins exactly where the cuts fall


CASES = [
    # GSM-7 lengths
    Case("empty body is one gsm segment", "", "GSM-7", 0, (0,)),
    Case("one char", "a", "GSM-7", 1, (1,)),
    Case("160 gsm chars fit one segment", "a" * 160, "GSM-7", 160, (160,)),
    Case("161 gsm chars need two", "a" * 161, "GSM-7", 161, (153, 8)),
    Case("306 gsm chars fill two parts", "a" * 306, "GSM-7", 306, (153, 153)),
    Case("307 gsm chars need three", "a" * 307, "GSM-7", 307, (153, 153, 1)),
    Case("459 gsm chars fill three parts", "a" * 459, "GSM-7", 459, (153, 153, 153)),
    Case("460 gsm chars need four", "a" * 460, "GSM-7", 460, (153, 153, 153, 1)),
    Case("1600 gsm chars need eleven", "a" * 1600, "GSM-7", 1600, (153,) * 10 + (70,)),
    # GSM-7 extension table
    Case("extension char costs two septets", "€", "GSM-7", 2, (1,)),
    Case("every extension char costs two", SPEC_EXTENSION, "GSM-7", 20, (10,)),
    Case("158 plus euro is exactly 160 septets", "a" * 158 + "€", "GSM-7", 160, (159,)),
    Case("160 chars with one extension char is 161 septets", "a" * 159 + "€", "GSM-7", 161, (153, 7)),
    Case("153 plus euro still fits one segment", "a" * 153 + "€", "GSM-7", 155, (154,)),
    Case("80 euros fit one segment", "€" * 80, "GSM-7", 160, (80,)),
    Case("81 euros need two", "€" * 81, "GSM-7", 162, (76, 5)),
    Case("euro straddling 153 moves to part two", "a" * 152 + "€" + "b" * 10, "GSM-7", 164, (152, 11)),
    Case("euro ending exactly at 153 stays", "a" * 151 + "€" + "b" * 10, "GSM-7", 163, (152, 10)),
    Case(
        "escape kept whole can cost an extra part",
        "a" * 152 + "€" + "a" * 152,
        "GSM-7",
        306,
        (152, 152, 1),
    ),
    Case(
        "1600 gsm chars with euros at both ends",
        "€" + "a" * 1598 + "€",
        "GSM-7",
        1602,
        (152,) + (153,) * 9 + (71,),
    ),
    # CR and LF
    Case("crlf is gsm", "line1\r\nline2", "GSM-7", 12, (12,)),
    Case("crlf straddling 153 moves to part two", "a" * 152 + "\r\n" + "b" * 10, "GSM-7", 164, (152, 12)),
    Case("crlf ending exactly at 153 stays", "a" * 151 + "\r\n" + "b" * 10, "GSM-7", 163, (153, 10)),
    Case("crlf kept whole can cost an extra part", "a" * 152 + "\r\n" + "a" * 152, "GSM-7", 306, (152, 153, 1)),
    Case("lf then cr are two clusters and may split", "a" * 152 + "\n\r" + "b" * 10, "GSM-7", 164, (153, 11)),
    Case("repeated crlf lines", "ab\r\n" * 50, "GSM-7", 200, (153, 47)),
    # The basic table, and characters that look like they belong but do not
    Case("whole basic table is gsm", SPEC_BASIC, "GSM-7", 127, (127,)),
    Case("greek capitals are gsm", "ΔΦΓΛΩΠΨΣΘΞ", "GSM-7", 10, (10,)),
    Case("capital c cedilla is gsm", "Ç", "GSM-7", 1, (1,)),
    Case("small c cedilla is not gsm", "ç", "UCS-2", 1, (1,)),
    Case("backtick is not gsm", "`", "UCS-2", 1, (1,)),
    Case("a acute is not gsm, only a grave", "á", "UCS-2", 1, (1,)),
    Case("tab is not gsm", "\t", "UCS-2", 1, (1,)),
    Case("greek small alpha is not gsm", "α", "UCS-2", 1, (1,)),
    Case("ohm sign is not the gsm omega", "\u2126", "UCS-2", 1, (1,)),
    Case("raw escape char is not gsm", "\x1b", "UCS-2", 1, (1,)),
    # One non-GSM character turns the whole message UCS-2
    Case("one non gsm char turns 100 chars ucs2", "a" * 100 + "ç", "UCS-2", 101, (67, 34)),
    Case("160 chars with one non gsm char need three", "a" * 159 + "ç", "UCS-2", 160, (67, 67, 26)),
    Case("euro in a ucs2 message costs one unit", "€" + "ç", "UCS-2", 2, (2,)),
    # UCS-2 lengths
    Case("70 ucs2 chars fit one segment", ZHE * 70, "UCS-2", 70, (70,)),
    Case("71 ucs2 chars need two", ZHE * 71, "UCS-2", 71, (67, 4)),
    Case("134 ucs2 chars fill two parts", ZHE * 134, "UCS-2", 134, (67, 67)),
    Case("135 ucs2 chars need three", ZHE * 135, "UCS-2", 135, (67, 67, 1)),
    Case("1600 ucs2 chars need 24", ZHE * 1600, "UCS-2", 1600, (67,) * 23 + (59,)),
    # Surrogate pairs
    Case("emoji costs two units", GRIN, "UCS-2", 2, (1,)),
    Case("35 emoji fit one segment", GRIN * 35, "UCS-2", 70, (35,)),
    Case("36 emoji need two", GRIN * 36, "UCS-2", 72, (33, 3)),
    Case("68 chars plus emoji is exactly 70 units", "a" * 68 + GRIN, "UCS-2", 70, (69,)),
    Case("69 chars plus emoji is 71 units", "a" * 69 + GRIN, "UCS-2", 71, (67, 3)),
    Case("emoji straddling 67 moves to part two", "a" * 66 + GRIN + "b" * 10, "UCS-2", 78, (66, 11)),
    Case("lone surrogate counts one unit", "a" * 70 + "\ud83d", "UCS-2", 71, (67, 4)),
    # Grapheme clusters
    Case("combining mark straddling 67 moves with its letter", "a" * 66 + E_ACUTE + "b" * 10, "UCS-2", 78, (66, 12)),
    Case("combining mark ending exactly at 67 stays", "a" * 65 + E_ACUTE + "b" * 10, "UCS-2", 77, (67, 10)),
    Case("flag straddling 67 moves whole", "a" * 64 + FLAG_FR + "b" * 10, "UCS-2", 78, (64, 12)),
    Case("zwj family straddling 67 moves whole", "a" * 60 + FAMILY + "b" * 10, "UCS-2", 81, (60, 17)),
    Case("skin tone emoji ending exactly at 67 stays", "a" * 63 + THUMBS_MEDIUM + "b" * 10, "UCS-2", 77, (65, 10)),
    # Clusters bigger than a whole part are cut at code points, filling the current part
    Case("oversized cluster is cut at code points", "e" + "\u0301" * 100, "UCS-2", 101, (67, 34)),
    Case("oversized cluster fills the current part first", "ab" + "e" + "\u0301" * 100, "UCS-2", 103, (67, 36)),
    Case(
        "oversized cluster is never cut inside a surrogate pair",
        GRIN + TAG_SPACE * 40,
        "UCS-2",
        82,
        (33, 8),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_segments_body_as_expected(case: Case) -> None:
    result = segment(case.body)

    assert result.encoding == case.encoding
    assert result.units == case.units
    assert result.segments == len(case.part_lengths)
    assert tuple(len(part) for part in result.parts) == case.part_lengths


def _units(text: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return len(text) + sum(char in SPEC_EXTENSION for char in text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _assert_invariants(body: str, result: Segmentation) -> None:
    assert "".join(result.parts) == body
    assert result.segments == len(result.parts) >= 1
    assert encoding_of(body) == result.encoding
    assert result.units == _units(body, result.encoding)
    single, part_limit = (160, 153) if result.encoding == "GSM-7" else (70, 67)
    if result.segments == 1:
        assert result.units <= single
    else:
        assert result.units > single
        assert all(0 < _units(part, result.encoding) <= part_limit for part in result.parts)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_invariants_hold_for_every_case(case: Case) -> None:
    _assert_invariants(case.body, segment(case.body))


def test_every_basic_char_costs_one_septet() -> None:
    for char in SPEC_BASIC:
        assert segment(char) == Segmentation("GSM-7", 1, (char,), 1), repr(char)


def test_every_extension_char_costs_two_septets() -> None:
    for char in SPEC_EXTENSION:
        assert segment(char) == Segmentation("GSM-7", 1, (char,), 2), repr(char)


def test_only_crlf_joins_gsm_chars_into_one_cluster() -> None:
    # Part splitting treats every GSM char as its own cluster except CRLF; a change in regex's \X rules must fail here.
    alphabet = SPEC_BASIC + SPEC_EXTENSION
    joined = [a + b for a in alphabet for b in alphabet if len(regex.findall(r"\X", a + b)) == 1]
    assert joined == ["\r\n"]


def test_segmentation_is_immutable() -> None:
    result = segment("hello")
    with pytest.raises(AttributeError):
        result.segments = 2  # type: ignore[misc]


_POOLS = [
    SPEC_BASIC,
    SPEC_EXTENSION,
    "\r\n",
    "çáαж中\u2126\t`",
    "\u0301\u0308\u200d\ufe0f",
    GRIN + "\U0001f468\U0001f469\U0001f467\U0001f3fd\U0001f1eb\U0001f1f7" + TAG_SPACE,
]


def _random_body(rng: random.Random) -> str:
    # Mostly one or two pools per body, so plenty come out pure GSM-7 as well as UCS-2.
    pools = rng.sample(_POOLS, rng.choice([1, 1, 2, 3]))
    pieces: list[str] = []
    for _ in range(rng.randrange(0, 420)):
        pool = rng.choice(pools)
        if pool == "\r\n" and rng.random() < 0.5:
            pieces.append("\r\n")
        else:
            pieces.append(rng.choice(pool))
    return "".join(pieces)


def _cluster_bounds(body: str, encoding: Encoding, part_limit: int) -> set[int]:
    """Offsets a part may end at: cluster edges, plus any offset inside an oversized cluster."""
    bounds = {0}
    offset = 0
    for cluster in regex.findall(r"\X", body):
        if _units(cluster, encoding) > part_limit:
            bounds.update(range(offset, offset + len(cluster)))
        offset += len(cluster)
        bounds.add(offset)
    return bounds


def _reference_parts(body: str, encoding: Encoding, part_limit: int) -> tuple[str, ...]:
    """The rule written as plainly as possible: whole clusters, greedily; oversized ones by code point."""
    parts: list[str] = []
    current, used = "", 0
    for cluster in regex.findall(r"\X", body):
        pieces = [cluster] if _units(cluster, encoding) <= part_limit else list(cluster)
        for piece in pieces:
            size = _units(piece, encoding)
            if used + size > part_limit:
                parts.append(current)
                current, used = "", 0
            current, used = current + piece, used + size
    parts.append(current)
    return tuple(parts)


def test_random_bodies_split_into_valid_parts_at_cluster_bounds() -> None:
    # 500 bodies of a fixed seed: each kind of split below is met dozens of times (asserted at the end).
    rng = random.Random(23038)
    met: Counter[str] = Counter()
    for _ in range(500):
        body = _random_body(rng)
        result = segment(body)
        _assert_invariants(body, result)
        if result.segments > 1:
            part_limit = 153 if result.encoding == "GSM-7" else 67
            assert result.parts == _reference_parts(body, result.encoding, part_limit), body
            bounds = _cluster_bounds(body, result.encoding, part_limit)
            offset = 0
            for part in result.parts:
                offset += len(part)
                assert offset in bounds, (body, result.parts)
            met[result.encoding] += 1
            clusters = regex.findall(r"\X", body)
            met["oversized cluster"] += any(_units(c, result.encoding) > part_limit for c in clusters)
            met["CRLF"] += "\r\n" in body
    assert min(met[kind] for kind in ("GSM-7", "UCS-2", "oversized cluster", "CRLF")) >= 20, met

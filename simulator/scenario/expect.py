"""A step's ``expect`` block, and the partial matching of JSON values it is written in.

``Expect`` holds what a step expects. ``differences(expected, actual)`` lists every place where
``actual`` falls short, each with its path, so a replay failure reads like a diff rather than
"assert False":

- a mapping matches a mapping that has at least its keys, each value matching (extra keys are fine);
- a list matches a list of the same length, item by item (``{length: N}`` checks only the length);
- a scalar matches an equal scalar: ``1`` equals ``1.0``, but ``true`` is not ``1``;
- matchers, a string or a mapping of one of these shapes:

  ``any``                               the key is there, with any value (even null)
  ``{regex: "^msg_"}``                  a string the regular expression is found in (anchor it if you mean it)
  ``{approx: 0.05, tolerance: 0.001}``  a number within the tolerance (default 1e-6)
  ``{length: 3}``                       a list, mapping or string of that length
  ``{equals: VALUE}``                   exactly VALUE: no matcher inside is interpreted, mappings must
                                        be equal rather than a subset (and ``{equals: any}`` is the text "any")
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from lynsms.simulator.scenario.paths import KeyPath, path_text

ANY: Final = "any"
DEFAULT_TOLERANCE: Final = 1e-6
# A mapping is a matcher exactly when its keys are one of these sets; any other mapping is data.
_SHAPES: Final = (
    frozenset({"regex"}),
    frozenset({"approx"}),
    frozenset({"approx", "tolerance"}),
    frozenset({"length"}),
    frozenset({"equals"}),
)
_MISSING: Final = object()


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()  # "no json expectation" (``json: null`` is an expectation of null)


@dataclass(frozen=True, slots=True)
class Expect:
    status: int | None = None  # HTTP status of the step's response
    json: Any = MISSING  # partial match of the response JSON
    message: Mapping[str, Any] | None = None  # partial match of the stored message, fetched after the step
    messages: tuple[Any, ...] | None = None  # bulk: each recipient's stored message, in request order
    simulator: Mapping[str, Mapping[str, int]] | None = None  # provider (or "total") -> counts during the step
    webhooks: tuple[Any, ...] | None = None  # customer webhook events received for the step's message(s)


@dataclass(frozen=True, slots=True)
class Difference:
    path: str  # where in the value, e.g. "data.attempt_log[1].provider" ("" for the whole value)
    expected: str  # described for people: "'sinch'", "a string matching /^msg_/", "3 items"
    actual: str  # rendered JSON, or "nothing (no such key)"

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{where}expected {self.expected}, got {self.actual}"


def is_matcher(value: Any) -> bool:
    if value == ANY and isinstance(value, str):
        return True
    return isinstance(value, Mapping) and frozenset(value) in _SHAPES


def render(value: Any, limit: int = 120) -> str:
    if value is _MISSING:
        return "nothing (no such key)"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(expected: Any) -> str:
    if not is_matcher(expected):
        return render(expected)
    if isinstance(expected, str):
        return "any value"
    if "regex" in expected:
        return f"a string matching /{expected['regex']}/"
    if "approx" in expected:
        return f"{expected['approx']} ± {expected.get('tolerance', DEFAULT_TOLERANCE)}"
    if "length" in expected:
        return f"length {expected['length']}"
    return render(expected["equals"])


def differences(expected: Any, actual: Any, path: KeyPath = ()) -> list[Difference]:
    return list(_walk(expected, actual, path))


def _differ(path: KeyPath, expected: Any, actual: Any) -> Difference:
    return Difference(path_text(path), describe(expected), render(actual))


def _walk(expected: Any, actual: Any, path: KeyPath) -> Iterator[Difference]:
    if is_matcher(expected):
        if not _matches(expected, actual):
            yield _differ(path, expected, actual)
    elif actual is _MISSING:
        yield _differ(path, expected, actual)
    elif isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            yield _differ(path, expected, actual)
            return
        for key, value in expected.items():
            yield from _walk(value, actual.get(key, _MISSING), (*path, key))
    elif isinstance(expected, list):
        if not isinstance(actual, list):
            yield _differ(path, expected, actual)
        elif len(expected) != len(actual):
            yield Difference(path_text(path), f"{len(expected)} item(s)", f"{len(actual)}: {render(actual)}")
        else:
            for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
                yield from _walk(want, got, (*path, index))
    elif not _equal(expected, actual):
        yield _differ(path, expected, actual)


def _equal(expected: Any, actual: Any) -> bool:
    # bool is an int in Python; in JSON true is not 1.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def _matches(matcher: Any, actual: Any) -> bool:
    if actual is _MISSING:
        return False
    if isinstance(matcher, str):  # any
        return True
    if "regex" in matcher:
        return isinstance(actual, str) and re.search(matcher["regex"], actual) is not None
    if "approx" in matcher:
        number = isinstance(actual, int | float) and not isinstance(actual, bool)
        return number and abs(actual - matcher["approx"]) <= matcher.get("tolerance", DEFAULT_TOLERANCE)
    if "length" in matcher:
        return isinstance(actual, list | Mapping | str) and len(actual) == matcher["length"]
    return _exactly(matcher["equals"], actual)


def _exactly(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return (
            isinstance(actual, Mapping)
            and expected.keys() == actual.keys()
            and all(_exactly(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_exactly(a, b) for a, b in zip(expected, actual, strict=True))
        )
    return _equal(expected, actual)


def matcher_problems(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """What is wrong with the matchers inside an expected value (bad regexes, wrong types)."""
    if isinstance(value, Mapping) and is_matcher(value):
        if "regex" in value:
            if not isinstance(value["regex"], str):
                yield (*path, "regex"), "a regex matcher takes a string"
            else:
                try:
                    re.compile(value["regex"])
                except re.error as exc:
                    yield (*path, "regex"), f"invalid regular expression /{value['regex']}/: {exc}"
        for key in ("approx", "tolerance"):
            number = value.get(key, 0)
            if isinstance(number, bool) or not isinstance(number, int | float):
                yield (*path, key), f"{key} takes a number, got {render(number)}"
        if isinstance(value.get("tolerance"), int | float) and value["tolerance"] < 0:
            yield (*path, "tolerance"), "tolerance must be 0 or more"
        length = value.get("length", 0)
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            yield (*path, "length"), f"length takes a whole number >= 0, got {render(length)}"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from matcher_problems(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from matcher_problems(item, (*path, index))

"""``${steps.NAME.path}``: a step's reference to an earlier step's answer.

``${steps.first.data.id}`` anywhere in a step is a path into the response JSON of the earlier step
named ``first``. A string that is exactly one ``${...}`` keeps the referenced value's type; inside
text it is substituted. Checked when a file loads (``reference_problems``), resolved by the replay
runner as it goes (``resolve``).
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterator, Mapping
from typing import Any, Final

from lynsms.simulator.scenario.paths import KeyPath

_REF: Final = re.compile(r"\$\{([^}]*)\}")
_REF_PATH: Final = re.compile(r"^steps\.([A-Za-z][A-Za-z0-9_-]*)((?:\.[A-Za-z0-9_-]+|\[[0-9]+\])*)$")
_PART: Final = re.compile(r"\.([A-Za-z0-9_-]+)|\[([0-9]+)\]")


def has_reference(text: str) -> bool:
    return "${" in text


def reference_problems(value: Any, path: KeyPath, earlier: Container[str]) -> Iterator[tuple[KeyPath, str]]:
    """Every ``${...}`` inside ``value`` that is no reference, or names no earlier step."""
    for where, ref in _references(value, path):
        found = _REF_PATH.match(ref.strip())
        if found is None:
            yield (
                where,
                (f"${{{ref}}} is not a reference: write ${{steps.NAME.path.to.value}}, e.g. ${{steps.first.data.id}}"),
            )
        elif found.group(1) not in earlier:
            yield where, f"${{{ref}}} refers to step {found.group(1)!r}, which is not an earlier named step"


def _references(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(value, str):
        for found in _REF.finditer(value):
            yield path, found.group(1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _references(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _references(item, (*path, index))


class UnresolvedReference(LookupError):
    """A ``${steps...}`` path that the earlier step's answer does not have."""


def resolve(value: Any, answers: Mapping[str, Any]) -> Any:
    """``value`` with every ``${steps.NAME.path}`` replaced from ``answers`` (step name -> response JSON)."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole is not None:
            return _lookup(whole.group(1), answers)
        return _REF.sub(lambda m: str(_lookup(m.group(1), answers)), value)
    if isinstance(value, Mapping):
        return {key: resolve(item, answers) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, answers) for item in value]
    return value


def _lookup(ref: str, answers: Mapping[str, Any]) -> Any:
    found = _REF_PATH.match(ref.strip())
    if found is None or found.group(1) not in answers:
        raise UnresolvedReference(f"${{{ref}}}: no answer from that step")
    current = answers[found.group(1)]
    for key, index in _PART.findall(found.group(2)):
        if index:
            ok = isinstance(current, list) and int(index) < len(current)
            current = current[int(index)] if ok else None
        else:
            ok = isinstance(current, Mapping) and key in current
            current = current[key] if ok else None
        if not ok:
            raise UnresolvedReference(
                f"${{{ref}}}: step {found.group(1)!r}'s answer has no {key or f'[{index}]'} there"
            )
    return current

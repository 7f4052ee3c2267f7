"""Loading scenario files: YAML or JSON text -> a validated, compiled ``Scenario``.

Three passes, each problem reported as ``file:line: key.path: message``:

1. syntax (PyYAML, which also reads JSON; the composed node tree gives every key its line) and
   duplicate keys, which PyYAML would otherwise silently collapse;
2. the JSON Schema (``scenario.schema``): shape, types, enums;
3. what a schema cannot say (``scenario.build``), which is also the build, so a file that checks
   clean loads.

Callers may add checks of their own (``checks=``): the harness has the gateway's config parser
look at the ``gateway`` block, which this package leaves to the gateway.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import yaml

from lynsms.simulator.scenario.build import Builder
from lynsms.simulator.scenario.compiled import Scenario
from lynsms.simulator.scenario.paths import KeyPath, path_text
from lynsms.simulator.scenario.schema import schema_problems

SUFFIXES = (".yaml", ".yml", ".json")  # of a file named explicitly
# In a folder, a scenario file says so in its name: other YAML (CI configs...) is no scenario.
FOLDER_SUFFIXES = tuple(f".scenario{suffix}" for suffix in SUFFIXES)

# An extra check on a document that passed the schema: (key path, message) for each problem.
Check = Callable[[Mapping[str, Any]], Iterable[tuple[KeyPath, str]]]


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int  # 1-based; 0 when the problem is with the file as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class ScenarioError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


# ---- public API ----------------------------------------------------------------------------------


def parse(text: str, source: str = "<scenario>", *, path: str | None = None, checks: Sequence[Check] = ()) -> Scenario:
    """Validate and compile scenario ``text``; ``source`` names it in problems. Raises ScenarioError."""
    scenario, problems = _check(text, source, checks)
    if problems or scenario is None:
        raise ScenarioError(problems)
    return dataclasses.replace(scenario, source=path)


def load(path: str | os.PathLike[str], *, checks: Sequence[Check] = ()) -> Scenario:
    name = os.fspath(path)
    try:
        text = Path(name).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(name, 0, _read_error(exc))]) from None
    return parse(text, name, path=name, checks=checks)


def check_text(text: str, source: str = "<scenario>", *, checks: Sequence[Check] = ()) -> list[Problem]:
    return _check(text, source, checks)[1]


def is_scenario_file(path: Path) -> bool:
    """Named as a scenario: ``*.scenario.yaml``, ``*.scenario.yml`` or ``*.scenario.json``."""
    return path.name.endswith(FOLDER_SUFFIXES)


def scenario_files(paths: Iterable[str]) -> list[str]:
    """The files named, with folders expanded to the scenario files below them, in name order."""
    files: list[str] = []
    for name in paths:
        folder = Path(name)
        if folder.is_dir():
            files.extend(str(p) for p in sorted(folder.rglob("*")) if is_scenario_file(p) and p.is_file())
        else:
            files.append(name)
    return files


def check_paths(paths: Iterable[str], *, checks: Sequence[Check] = ()) -> list[Problem]:
    """Every problem in the given files; folders are expanded to the scenario files below them."""
    return load_paths(paths, checks=checks)[1]


def load_paths(paths: Iterable[str], *, checks: Sequence[Check] = ()) -> tuple[list[Scenario], list[Problem]]:
    """The scenarios in the given files (folders expanded, in ``scenario_files`` order) and every
    problem in them, each file read and checked once; use the scenarios only when there is none."""
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for name in paths:
        files = scenario_files([name])
        if Path(name).is_dir() and not files:
            wanted = ", ".join(f"*{suffix}" for suffix in FOLDER_SUFFIXES)
            problems.append(Problem(name, 0, f"no scenario files ({wanted}) in this folder"))
        for file in files:
            scenario, found = _check_file(file, checks)
            problems.extend(found)
            if scenario is not None and not found:
                scenarios.append(dataclasses.replace(scenario, source=file))
    return scenarios, problems


def _check_file(name: str, checks: Sequence[Check]) -> tuple[Scenario | None, list[Problem]]:
    try:
        text = Path(name).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, 0, _read_error(exc))]
    return _check(text, name, checks)


def _read_error(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    return f"cannot read: {exc.strerror if isinstance(exc, OSError) else exc}"


def _check(text: str, source: str, checks: Sequence[Check]) -> tuple[Scenario | None, list[Problem]]:
    try:
        data, lines, duplicates = _read(text)
    except _SyntaxProblem as exc:
        return None, [Problem(source, exc.line, exc.message)]
    found = [(path, message, line) for path, message, line in duplicates]
    found.extend((path, message, lines.of(path)) for path, message in schema_problems(data))
    scenario = None
    if not found:  # the build trusts the shape the schema guaranteed
        builder = Builder(lines.of)
        scenario = builder.scenario(cast(dict[str, Any], data))
        found.extend((path, message, lines.of(path)) for path, message in builder.problems)
        for check in checks:
            found.extend((path, message, lines.of(path)) for path, message in check(data))
    elif isinstance(data, dict):
        found.extend((path, message, lines.of(path)) for path, message in _beside_schema(data, found, checks))
    problems = sorted(
        {Problem(source, line, _say(path, message)) for path, message, line in found}, key=lambda p: (p.line, p.message)
    )
    return scenario, problems


def _beside_schema(
    data: dict[str, Any], schema: list[tuple[KeyPath, str, int]], checks: Sequence[Check]
) -> list[tuple[KeyPath, str]]:
    """The build's and the checks' problems in a document the schema refused, so one run reports
    both kinds. Best effort: the build assumes the schema's shape, so a part it cannot read yields
    nothing, and a problem at or around a path the schema already reported is left to the schema."""
    refused = [path for path, _, _ in schema]

    def fresh(path: KeyPath) -> bool:
        return not any(path[: len(r)] == r or r[: len(path)] == path for r in refused)

    found: list[tuple[KeyPath, str]] = []
    builder = Builder(lambda path: 0)
    # A shape the schema refused may trip the build or a check; the schema's problems say why.
    with contextlib.suppress(Exception):
        builder.scenario(data)
    found.extend(builder.problems)
    for check in checks:
        with contextlib.suppress(Exception):
            found.extend(check(data))
    return [(path, message) for path, message in found if fresh(path)]


# ---- pass 1: syntax and lines --------------------------------------------------------------------


class _SyntaxProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Lines:
    """The line of each key path, read off PyYAML's composed node tree."""

    def __init__(self) -> None:
        self.at: dict[KeyPath, int] = {(): 1}

    def of(self, path: KeyPath) -> int:
        while path not in self.at:
            path = path[:-1]
        return self.at[path]

    def walk(self, node: yaml.Node, path: KeyPath, duplicates: list[tuple[KeyPath, str, int]]) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                if name in seen:
                    duplicates.append((path + (name,), f"duplicate key {name!r}", key.start_mark.line + 1))
                seen.add(name)
                self.at.setdefault(path + (name,), key.start_mark.line + 1)
                self.walk(value, path + (name,), duplicates)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.at[path + (index,)] = item.start_mark.line + 1
                self.walk(item, path + (index,), duplicates)


# libyaml's loader where PyYAML has it: the same documents, nodes and marks at ~10x the speed of
# the pure-Python one (30 ms a library file: the simulator parses every file a replay loads). A
# file it refuses is read again by the pure-Python one, whose messages the checker reports.
_FAST: Final = getattr(yaml, "CSafeLoader", None)


def _read(text: str) -> tuple[Any, _Lines, list[tuple[KeyPath, str, int]]]:
    try:
        return _read_document(text)
    except RecursionError:  # PyYAML, json and the checks below walk nested nodes recursively
        raise _SyntaxProblem(1, "the scenario is nested too deeply to read") from None


def _read_document(text: str) -> tuple[Any, _Lines, list[tuple[KeyPath, str, int]]]:
    if _FAST is not None:
        try:
            return _compose(text, _FAST)
        except yaml.YAMLError:
            pass  # refused: the pure-Python loader says why, in the words the checker always used
    return _compose(text, yaml.SafeLoader)


def _compose(text: str, loader_class: Any) -> tuple[Any, _Lines, list[tuple[KeyPath, str, int]]]:
    lines, duplicates = _Lines(), cast(list[tuple[KeyPath, str, int]], [])
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            lines.at[()] = node.start_mark.line + 1
            lines.walk(node, (), duplicates)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        if loader_class is _FAST:
            raise
        data = _json_fallback(text, exc)  # PyYAML refuses some valid JSON (tabs as indentation)
    finally:
        loader.dispose()
    if data is None:
        raise _SyntaxProblem(1, "empty scenario: expected a mapping with at least 'name'")
    if _has_lone_surrogate(data):
        # "\ud800" escapes (YAML and JSON) decode to text no response can carry: refuse the file
        # rather than store a scenario whose every rendering fails.
        raise _SyntaxProblem(1, "the scenario contains an unpaired UTF-16 surrogate escape (e.g. \\ud800)")
    return data, lines, duplicates


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return not value.isascii() and any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def _json_fallback(text: str, error: yaml.MarkedYAMLError) -> Any:
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise _SyntaxProblem(getattr(exc, "lineno", 1), f"JSON syntax error: {getattr(exc, 'msg', exc)}") from None
    mark = error.problem_mark or error.context_mark
    detail = error.problem or "invalid YAML"
    if error.context:
        detail = f"{detail} ({error.context})"
    raise _SyntaxProblem(mark.line + 1 if mark else 1, f"YAML syntax error: {detail}")


def _say(path: KeyPath, message: str) -> str:
    return f"{path_text(path)}: {message}" if path else message

"""The layout's import rules, read from the source: imports point one way.

gateway never imports the simulator; the simulator core imports nothing from the harness; the
scenario language imports neither the harness nor the parts of the core that run a server.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@functools.cache  # each file is read once, however many rules ask about it
def imported_modules(path: Path) -> tuple[str, ...]:
    return tuple(_imports(path))


def _imports(path: Path) -> Iterator[str]:
    package = "lynsms." + ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's own package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                yield f"{base}.{node.module}" if node.module else base
            elif node.module:
                yield node.module
                yield from (f"{node.module}.{alias.name}" for alias in node.names)


def modules_under(folder: str, *, excluding: tuple[str, ...] = ()) -> list[Path]:
    return [
        path
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not any(path.is_relative_to(ROOT / other) for other in excluding)
    ]


def offending(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in paths
        for module in imported_modules(path)
        if module.startswith(forbidden)
    ]


def test_the_gateway_never_imports_the_simulator() -> None:
    assert offending(modules_under("gateway"), ("lynsms.simulator",)) == []


def test_the_simulator_core_imports_nothing_from_the_harness() -> None:
    core = modules_under("simulator", excluding=("simulator/harness",))
    assert offending(core, ("lynsms.simulator.harness",)) == []


@pytest.mark.parametrize("running_part", ["app", "control", "engine", "faults", "deliveries", "providers", "harness"])
def test_the_scenario_language_stands_below_the_running_simulator(running_part: str) -> None:
    assert offending(modules_under("simulator/scenario"), (f"lynsms.simulator.{running_part}",)) == []


def test_the_rules_catch_a_forbidden_import() -> None:
    module = ROOT / "simulator" / "decision.py"
    assert "lynsms.simulator.messages" in set(imported_modules(module))
    assert offending([module], ("lynsms.simulator.messages",)) == [
        "simulator/decision.py imports lynsms.simulator.messages",
        "simulator/decision.py imports lynsms.simulator.messages.DeliveryStatus",
        "simulator/decision.py imports lynsms.simulator.messages.RejectReason",
        "simulator/decision.py imports lynsms.simulator.messages.Submission",
    ]

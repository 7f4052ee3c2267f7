"""What a replay looks like to people (``format_report``) and to CI (``junit_xml``)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any, Final

from lynsms.simulator.harness.replay.runner import ScenarioResult, StepResult

PASS: Final = "✓"
FAIL: Final = "✗"
SKIP: Final = "-"


def format_report(result: ScenarioResult) -> str:
    """One scenario: a ✓/✗ line, a line per step, and for a failure everything needed to see why:
    the step and its line, each expectation with what came back (a diff), the response, and the
    simulator journal lines of that step."""
    where = f"  ({result.source})" if result.source else ""
    mark = FAIL if not result.passed else SKIP if result.skipped else PASS
    lines = [f"{mark} {result.name}{where}  {took(result.seconds, result.wall)}"]
    if result.skip_reason is not None:
        lines.append(f"    skipped: {result.skip_reason}")
    lines.extend(f"    note: {note}" for note in result.notes)
    lines.extend(f"    not checked: {what}" for what in result.unchecked)
    for step in result.steps:
        mark = PASS if step.passed else FAIL
        lines.append(f"    {mark} {step.step.label}  {step.summary}  {took(step.seconds, step.wall)}")
    ran = len(result.steps)
    if result.error is None and ran < result.total_steps:
        lines.append(f"    {SKIP} {result.total_steps - ran} later step(s) not run")
    if result.error is not None:
        lines.extend(["", f"  FAILED {result.error.label}: {result.error.actual}"])
    for step in result.steps:
        if not step.passed:
            lines.extend(_failed_step(step, result.source))
    return "\n".join(lines)


def took(seconds: float, wall: float | None) -> str:
    """Scenario time, what the scenario's timings are written in; the wall time beside it when the
    clock fast-forwarded: ``2.00 s (wall 0.03 s)``."""
    return f"{seconds:.2f} s" if wall is None else f"{seconds:.2f} s (wall {wall:.2f} s)"


def _failed_step(step: StepResult, source: str | None) -> list[str]:
    at = f"{source}:{step.step.line}: " if source else ""
    lines = ["", f"  FAILED {at}{step.step.label}"]
    shown = False  # the response, when a failure already printed it
    for failure in step.failures:
        if failure.diff:
            lines.append(f"    {failure.expectation}: (expected, got)")
            lines.extend(f"      {d}" for d in failure.diff)
        else:
            lines.append(f"    {failure.expectation}: expected {failure.expected}")
            lines.append(f"    {' ' * len(failure.expectation)}  got {_clip(failure.actual)}")
        shown = shown or failure.expectation in ("expect.status", "expect.json")
    if step.response is not None and not shown:
        lines.append("    response:")
        lines.extend(f"      {line}" for line in _pretty(step.response))
    lines.append(
        "    simulator journal of this step:" if step.journal else "    simulator journal of this step: (no requests)"
    )
    lines.extend(f"      {line}" for line in step.journal)
    return lines


def _clip(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _pretty(value: Any, depth: int = 0) -> list[str]:
    """YAML-like: the top two levels one key per line, deeper values as one line of JSON each, so an
    attempt log reads as one line per attempt."""
    pad = "  " * depth
    if isinstance(value, dict) and value and depth < 2:
        lines: list[str] = []
        for key, item in value.items():
            nested = (isinstance(item, dict | list) and item and depth < 1) or (isinstance(item, list) and item)
            if nested:
                lines.append(f"{pad}{key}:")
                lines.extend(_pretty(item, depth + 1))
            else:
                lines.append(f"{pad}{key}: {_clip(_compact(item), 300)}")
        return lines
    if isinstance(value, list) and value and depth < 3:
        return [f"{pad}- {_clip(_compact(item), 300)}" for item in value]
    return [f"{pad}{_clip(_compact(value), 300)}"]


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def summary(results: Sequence[ScenarioResult], seconds: float) -> str:
    failed = sum(1 for r in results if not r.passed)
    skipped = sum(1 for r in results if r.passed and r.skipped)
    passed = len(results) - failed - skipped
    return f"{len(results)} scenario(s): {passed} passed, {failed} failed, {skipped} skipped in {seconds:.2f} s"


def junit_xml(results: Sequence[ScenarioResult], seconds: float, suite: str = "lynsms scenarios") -> str:
    """One testsuite, one testcase per scenario; a failing scenario carries its report as text."""
    failed = sum(1 for r in results if not r.passed)
    skipped = sum(1 for r in results if r.passed and r.skipped)
    root = ET.Element("testsuites", tests=str(len(results)), failures=str(failed), errors="0", time=f"{seconds:.3f}")
    node = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(failed),
        errors="0",
        skipped=str(skipped),
        time=f"{seconds:.3f}",
    )
    for result in results:
        case = ET.SubElement(node, "testcase", classname="scenarios", name=result.name, time=f"{result.seconds:.3f}")
        if result.source:
            case.set("file", result.source)
        if result.passed and result.skipped:
            ET.SubElement(case, "skipped", message=result.skipped).text = format_report(result)
        if not result.passed:
            first = result.failures[0] if result.failures else None
            message = f"{first.label}: {first.expectation}" if first else "steps not run"
            failure = ET.SubElement(case, "failure", message=message, type="ScenarioFailure")
            failure.text = format_report(result)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

"""Scenario files as pytest items: each collected scenario file is one test that replays it.

Collected through pytest's documented non-Python-test hook (``pytest_collect_file``, in the
plugin), one item per file, only files that say they are scenarios: named ``*.scenario.yaml`` /
``*.scenario.yml``, or below a path of the ``lynsms_scenarios`` ini option. The file is not parsed
to decide, so a scenario broken enough not to parse is still collected and fails with its
``file:line`` problems instead of silently dropping out of the run. Items replay exactly as
``lynsms scenario run`` does, on servers shared by the session (a fresh gateway with the scenario's
settings for each), on the same fast-forward clock unless ``--lynsms-real-time``, and fail with
the same report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lynsms.simulator.harness.replay.stack import Bench

SUFFIXES = (".yaml", ".yml")
NAMED = tuple(f".scenario{suffix}" for suffix in SUFFIXES)
_BENCH = pytest.StashKey["Bench"]()


def is_collected(path: Path, folders: list[Path]) -> bool:
    """Named as a scenario, or a YAML file below one of ``folders`` (the ``lynsms_scenarios`` paths)."""
    if path.suffix not in SUFFIXES:
        return False
    return path.name.endswith(NAMED) or any(path.is_relative_to(folder) for folder in folders)


def _bench(config: pytest.Config) -> Bench:
    """The session's servers for scenario items (one set per xdist worker), closed with the session."""
    bench = config.stash.get(_BENCH, None)
    if bench is None:
        from lynsms.simulator.harness.replay.stack import Bench

        bench = Bench(real_time=bool(config.getoption("lynsms_real_time"))).__enter__()
        config.add_cleanup(bench.__exit__)
        config.stash[_BENCH] = bench
    return bench


class ScenarioFailed(Exception):
    """The replay runner's report of a failed scenario; shown as is, without a Python traceback."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        # Named after the file: library scenarios are named after their file anyway, and the name
        # must be known without parsing a file that may not parse.
        name = self.path.name.removesuffix(self.path.suffix).removesuffix(".scenario")
        yield ScenarioItem.from_parent(self, name=name)


class ScenarioItem(pytest.Item):
    def runtest(self) -> None:
        from lynsms.simulator.harness.replay import CHECKS, format_report, run_scenario
        from lynsms.simulator.scenario import ScenarioError, parse

        # Named as pytest names it (relative to the rootdir), like the path a user gives the CLI.
        name = self.nodeid.split("::")[0]
        try:
            scenario = parse(self.path.read_text("utf-8"), name, path=name, checks=CHECKS)
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioFailed(f"{name}: cannot read: {exc}") from None
        except ScenarioError as exc:
            raise ScenarioFailed(str(exc)) from None
        with _bench(self.config).stack(scenario) as stack:
            result = run_scenario(scenario, stack)
        if not result.passed:
            raise ScenarioFailed(format_report(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.report
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.path.name}"

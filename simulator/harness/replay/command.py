"""``lynsms scenario run``: check the files, replay each, print progress and reports, write JUnit XML."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from lynsms.simulator.harness.replay.gateway_settings import CHECKS
from lynsms.simulator.harness.replay.report import format_report, junit_xml, summary
from lynsms.simulator.harness.replay.runner import ScenarioResult, run_scenario
from lynsms.simulator.harness.replay.stack import Bench, Remote
from lynsms.simulator.scenario import load_paths
from lynsms.simulator.scenario.load import is_scenario_file

API_KEY_ENV = "LYNSMS_API_KEY"


def _other_yaml(paths: Sequence[str]) -> list[str]:
    """YAML files below the folders given that are not scenario files, as pytest would skip them."""
    return [
        str(p)
        for name in paths
        if Path(name).is_dir()
        for p in sorted(Path(name).rglob("*"))
        if p.suffix in (".yaml", ".yml") and not is_scenario_file(p) and p.is_file()
    ]


def run_command(
    paths: Sequence[str],
    *,
    gateway_url: str | None = None,
    simulator_url: str | None = None,
    api_key: str | None = None,
    junit: str | None = None,
    shard: tuple[int, int] | None = None,
    real_time: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Exit status: 0 every scenario passed, 1 some failed, 2 usage or file errors.

    ``shard=(K, N)`` replays every N-th scenario file starting at the K-th (1-based), for CI matrices.
    A stack started here fast-forwards scripted waits unless ``real_time``."""
    # Looked up per call, not as defaults: pytest's capsys swaps sys.stdout after import.
    out = out or sys.stdout
    err = err or sys.stderr
    if (gateway_url is None) != (simulator_url is None):
        print("lynsms: --gateway and --simulator go together: give both to drive running servers, or neither", file=err)
        return 2
    key = api_key or os.environ.get(API_KEY_ENV)
    if gateway_url is not None and not key:
        print(f"lynsms: driving an external gateway needs its API key: --api-key KEY or {API_KEY_ENV}", file=err)
        return 2
    scenarios, problems = load_paths(paths, checks=CHECKS)
    if problems:
        for problem in problems:
            print(problem, file=out)
        print(f"{len(problems)} problem(s)", file=err)
        return 2
    for other in _other_yaml(paths):
        print(f"note: skipped {other}: not a scenario file (a folder stands for its *.scenario.yaml files)", file=out)
    if shard is not None:
        index, count = shard
        scenarios = scenarios[index - 1 :: count]
    started = time.monotonic()
    results: list[ScenarioResult] = []
    with ExitStack() as servers:
        bench: Bench | Remote
        if gateway_url is not None and simulator_url is not None and key:
            bench = servers.enter_context(Remote(gateway_url, simulator_url, key))
        else:
            bench = servers.enter_context(Bench(real_time=real_time))
        for scenario in scenarios:
            with bench.stack(scenario) as stack:
                result = run_scenario(scenario, stack)
            results.append(result)
            print(format_report(result), file=out, flush=True)
    elapsed = time.monotonic() - started
    print(summary(results, elapsed), file=out, flush=True)
    if junit is not None:
        Path(junit).write_text(junit_xml(results, elapsed), "utf-8")
    return 0 if all(r.passed for r in results) else 1

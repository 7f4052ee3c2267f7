"""A pytest plugin for ``benchmarks.suite_bench``: each process writes what its start-up, collection
and every test cost, in wall time and CPU (its own, its threads' and the subprocesses it waited for),
as JSON lines in the folder ``LYNSMS_SUITE_PROFILE`` names."""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.cpu import cpu_seconds


def _cpu() -> float:
    return cpu_seconds(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)


def _write(record: dict[str, object]) -> None:
    folder = os.environ.get("LYNSMS_SUITE_PROFILE")
    if folder:
        with (Path(folder) / f"{os.getpid()}.jsonl").open("a") as out:
            out.write(json.dumps(record) + "\n")


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller: the run's time zero
        _write({"kind": "session", "began": time.time()})


def pytest_collection_finish(session: pytest.Session) -> None:
    # In a worker, the CPU so far is the interpreter's start, the plugins' and every test module's
    # import: what each extra worker costs before it runs a test.
    _write({"kind": "start", "cpu": _cpu()})


def pytest_sessionfinish(session: pytest.Session) -> None:
    # The whole process: a worker (start-up, collection, every test) or the controller (start-up,
    # handing out tests, reading reports). Processes still running are counted by suite_bench.
    if hasattr(session.config, "workerinput"):
        _write({"kind": "worker", "cpu": _cpu()})
    else:  # its children are the workers, counted above
        _write({"kind": "controller", "cpu": cpu_seconds(resource.RUSAGE_SELF)})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    cpu, wall, began = _cpu(), time.perf_counter(), time.time()
    yield
    _write(
        {
            "kind": "test",
            "test": item.nodeid,
            "file": item.nodeid.split("::")[0],
            "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
            "began": began,
            "wall": time.perf_counter() - wall,
            "cpu": _cpu() - cpu,
        }
    )

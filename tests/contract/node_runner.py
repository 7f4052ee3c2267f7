"""One Node process (``node/runner.cjs``) for the Node SDK contract checks: each SDK is loaded once
per test session instead of once per check (~0.3 s of CPU each)."""

from __future__ import annotations

import json
import select
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE = shutil.which("node")
NO_NODE = "Node.js is not installed: the Node SDK contract tests need `node` on PATH"
# How long one check may take: a bound for a loaded machine, not a measurement.
WITHIN = 60
REPLY = "lynsms-runner "  # how runner.cjs marks its answers


class Runner:
    """Asks ``node/runner.cjs`` to run a script's function or a README snippet (see there)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def ask(self, **request: Any) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        while True:  # lines without the mark are an SDK writing to stdout itself
            assert select.select([stdout], [], [], WITHIN)[0], f"node gave no answer in {WITHIN} s"
            line = stdout.readline()
            assert line, "node ended"
            if line.startswith(REPLY):
                break
        reply: dict[str, Any] = json.loads(line.removeprefix(REPLY))
        assert reply["ok"], reply["error"]
        return reply

    def script(self, name: str, *args: str) -> dict[str, Any]:
        """What ``node/<name>``'s function returns for ``args`` (as ``node <name> ARGS`` prints it)."""
        result: dict[str, Any] = self.ask(script=name, args=list(args))["result"]
        return result


@contextmanager
def running() -> Iterator[Runner]:
    assert NODE is not None, NO_NODE
    modules = NODE_DIR / "node_modules"
    assert modules.is_dir(), "the Node SDKs are not installed: run `npm ci` in tests/contract/node"
    with subprocess.Popen(
        [NODE, "runner.cjs"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=NODE_DIR
    ) as process:
        try:
            yield Runner(process)
        finally:
            assert process.stdin is not None
            process.stdin.close()  # the runner ends with its input
            process.wait(timeout=WITHIN)

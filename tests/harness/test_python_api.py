"""The README's Python API snippet, run as written (from the repository root)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_python_api_snippet_runs() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("### The Python API, outside pytest", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert snippet is not None
    code = snippet.group(1).replace('"scenarios/', f'"{ROOT}/scenarios/')  # relative to the repository root
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue()
    assert "✓ twilio-503-outage" in printed and "(wall " in printed
    assert "['sinch']" in printed

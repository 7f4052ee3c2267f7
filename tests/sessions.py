"""What the pytest sessions the tests start have in common."""

from __future__ import annotations

# Third-party pytest plugins installed beside the test extras that no test session uses: each fresh
# session would pay ~1.1 s of CPU in all to load them (pyproject.toml turns them off for this run).
UNUSED_PLUGINS = "-p no:hypothesispytest -p no:faker -p no:schemathesis"

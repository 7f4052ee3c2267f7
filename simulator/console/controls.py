"""Control without YAML: provider switches that write a scenario, and library scenarios by name.

A switch is a scenario rule the tester could have written; the console loads the scenario it
generates and shows its YAML, so what was clicked can be pasted into a file and kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from lynsms.gateway.providers.names import PROVIDER_NAMES
from lynsms.simulator.messages import REJECT_REASONS

SWITCHES_NAME: Final = "console-switches"
DOWN_STATUS: Final = 503
SLOW_SECONDS: Final = 3.0
# Where library scenarios are looked for: $LYNSMS_SCENARIOS (os.pathsep-separated), ./scenarios,
# and the scenarios folder of a source checkout.
_SOURCE_LIBRARY: Final = Path(__file__).resolve().parents[2] / "scenarios"


@dataclass(frozen=True, slots=True)
class Switch:
    """What one provider's switches say: down (503), slow (answers after ``SLOW_SECONDS``),
    rejecting (every message refused for ``rejecting``)."""

    down: bool = False
    slow: bool = False
    rejecting: str | None = None

    @property
    def on(self) -> bool:
        return self.down or self.slow or self.rejecting is not None

    def to_json(self) -> dict[str, Any]:
        return {"down": self.down, "slow": self.slow, "rejecting": self.rejecting}


class SwitchProblem(ValueError):
    pass


def parse_switches(data: Any) -> dict[str, Switch]:
    """``{"twilio": {"down": true, "slow": false, "rejecting": "invalid_number"}, ...}``."""
    if not isinstance(data, Mapping):
        raise SwitchProblem("expected an object of providers")
    switches: dict[str, Switch] = {}
    for provider, item in data.items():
        if provider not in PROVIDER_NAMES:
            raise SwitchProblem(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDER_NAMES)}")
        if not isinstance(item, Mapping):
            raise SwitchProblem(f"{provider}: expected an object with down, slow, rejecting")
        unknown = set(item) - {"down", "slow", "rejecting"}
        if unknown:
            raise SwitchProblem(f"{provider}: unknown switch {sorted(unknown)[0]!r}")
        down, slow, rejecting = item.get("down", False), item.get("slow", False), item.get("rejecting")
        if not isinstance(down, bool) or not isinstance(slow, bool):
            raise SwitchProblem(f"{provider}: down and slow must be true or false")
        if rejecting is not None and rejecting not in REJECT_REASONS:
            raise SwitchProblem(f"{provider}: rejecting must be null or one of {', '.join(REJECT_REASONS)}")
        switches[provider] = Switch(down, slow, rejecting)
    return switches


def switches_yaml(switches: Mapping[str, Switch]) -> str | None:
    """The scenario the switches stand for, as YAML; None when every switch is off."""
    providers: dict[str, list[dict[str, Any]]] = {}
    for provider in PROVIDER_NAMES:
        switch = switches.get(provider)
        if switch is None or not switch.on:
            continue
        words = [w for w, on in (("down", switch.down), ("rejecting", switch.rejecting), ("slow", switch.slow)) if on]
        rule: dict[str, Any] = {"name": f"{provider} {' and '.join(words)}"}
        if switch.down:
            rule["http_error"] = DOWN_STATUS
        elif switch.rejecting is not None:
            rule["reject"] = switch.rejecting
        else:
            rule["accept"] = True
        if switch.slow:
            rule["latency"] = f"{SLOW_SECONDS:g}s"
        providers[provider] = [rule]
    if not providers:
        return None
    document = {
        "name": SWITCHES_NAME,
        "description": "Provider switches set in the QA console.",
        "providers": providers,
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def library_folders() -> list[Path]:
    configured = [Path(p) for p in os.environ.get("LYNSMS_SCENARIOS", "").split(os.pathsep) if p]
    found: list[Path] = []
    for folder in [*configured, Path.cwd() / "scenarios", _SOURCE_LIBRARY]:
        resolved = folder.resolve()
        if resolved.is_dir() and resolved not in found:
            found.append(resolved)
    return found


def library() -> dict[str, Path]:
    """Library scenarios by name (the file name without ``.scenario.yaml``), first folder wins."""
    found: dict[str, Path] = {}
    for folder in library_folders():
        for path in sorted(folder.glob("*.y*ml")):
            name = path.name.split(".", 1)[0]
            found.setdefault(name, path)
    return found


def describe(path: Path) -> str:
    """A library scenario's description (empty when it has none or cannot be read)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ""
    return str(data.get("description") or "").strip() if isinstance(data, dict) else ""

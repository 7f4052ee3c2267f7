"""Key paths: where in a scenario document (or in a JSON answer) something is, and how to print it."""

from __future__ import annotations

KeyPath = tuple[str | int, ...]


def path_text(path: KeyPath) -> str:
    """``("providers", "twilio", 0, "match")`` -> ``providers.twilio[0].match``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")

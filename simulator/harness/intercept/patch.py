"""One method of an HTTP client library's class, swapped while any interception is active."""

from __future__ import annotations

import importlib
from typing import Any


class Patch:
    """``owner.name`` of ``module`` replaced by ``replacement``; ``original`` calls through.
    A library that is not installed is left alone (nothing of it can be in use)."""

    def __init__(self, module: str, owner: str, name: str, replacement: Any) -> None:
        self.module, self.owner, self.name, self.replacement = module, owner, name, replacement
        self._original: Any = None

    @property
    def original(self) -> Any:
        if self._original is None:  # uninstalled while a request was on its way: the class has it back
            return getattr(self._owner(), self.name)
        return self._original

    def install(self) -> None:
        try:
            owner = self._owner()
        except ImportError:
            return
        if self._original is None:
            self._original = owner.__dict__[self.name]
            setattr(owner, self.name, self.replacement)

    def uninstall(self) -> None:
        if self._original is not None:
            setattr(self._owner(), self.name, self._original)
            self._original = None

    def _owner(self) -> Any:
        return getattr(importlib.import_module(self.module), self.owner)

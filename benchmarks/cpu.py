"""CPU seconds (user + system) from ``getrusage``: this process's, or the children it has waited for."""

from __future__ import annotations

import resource


def cpu_seconds(*whose: int) -> float:
    """The CPU of ``resource.RUSAGE_SELF`` and/or ``resource.RUSAGE_CHILDREN``, summed."""
    return sum(usage.ru_utime + usage.ru_stime for usage in map(resource.getrusage, whose))


def children_cpu() -> float:
    """The CPU of every child process this one has waited for so far."""
    return cpu_seconds(resource.RUSAGE_CHILDREN)

"""Staged work on Ray: the :class:`~linker.decide.runner.UnitRunner` of
:class:`~linker.backend.ray.RayBackend`, which runs the decisions per component and the
rare-token list's stages (:mod:`linker.blocking.rare_parts`: blocks of keys, key partitions
and their joins go from task to task through the object store the same way).

Every call of :mod:`linker.decide.units`' steps (a block's forest, a merge round's group, the
unit plan, a block's split by unit, a unit's ``assign`` or ``cluster``) is one Ray task of one
CPU. Handles are object references: a block of pairs is put in the object store once and read
by its two tasks; forests, the plan and the units' pieces go from task to task through the
store (a split task returns one object per unit, so each unit's task reads only its pieces);
the calling process fetches only the units' results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["RayUnits"]


class RayUnits:
    """Run each call as a Ray task (see the module docstring).

    Args:
        ray: The connected ``ray`` module.
        workers: The cluster's parallel workers (how many blocks and units to cut at least).

    Example:
        >>> RayUnits(None, workers=2).workers  # RayBackend.unit_runner() passes a connected ray
        2
    """

    def __init__(self, ray: Any, workers: int):
        self._ray = ray
        self.workers = workers
        self._tasks: dict[Callable[..., object], Any] = {}

    def put(self, value: object) -> object:
        """An object reference to ``value``."""
        return self._ray.put(value)

    def map(
        self, fn: Callable[..., object], calls: Sequence[tuple[object, ...]], *, returns: int = 1
    ) -> list[object]:
        """One task per call; see :meth:`linker.decide.runner.UnitRunner.map`."""
        if fn not in self._tasks:
            self._tasks[fn] = self._ray.remote(num_cpus=1)(fn)
        task = self._tasks[fn]
        if returns > 1:
            task = task.options(num_returns=returns)
        return [task.remote(*args) for args in calls]

    def get(self, handles: Sequence[object]) -> list[object]:
        """The tasks' results (a task's exception is raised here, as Ray raises it)."""
        return list(self._ray.get(list(handles)))

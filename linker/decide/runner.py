"""Where the per-block steps of :mod:`linker.decide.units` run: a :class:`UnitRunner`.

The decisions per component are written once, as a few steps that each take blocks or units
of pairs; a runner runs each step's calls. :class:`InProcess` runs them here, one after the
other, and its handles are the values themselves;
:class:`linker.backend.ray_decide.RayUnits` runs each call as a Ray task, and its handles are
object references, so blocks, forests and units stay in the object store between the steps
and the calling process fetches only what it asks :meth:`UnitRunner.get` for.

A backend offers a runner through a ``unit_runner()`` method (:class:`RunsUnits`); one without
that method (a user's own :class:`~linker.protocols.Backend`) decides in process.

Example:
    >>> runner = runner_of(None)
    >>> runner.get(runner.map(max, [(1, 2), (4, 3)]))
    [2, 4]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

__all__ = ["InProcess", "RunsUnits", "UnitRunner", "runner_of"]


class UnitRunner(Protocol):
    """Runs calls of a function on blocks or units; handles stand for the results.

    A handle may be passed, as a whole argument, to a later :meth:`map` call (it then arrives
    as its value) or to :meth:`get`.
    """

    workers: int

    def put(self, value: object) -> object:
        """A handle to ``value``, for several later calls to share."""
        ...

    def map(
        self, fn: Callable[..., object], calls: Sequence[tuple[object, ...]], *, returns: int = 1
    ) -> list[object]:
        """``fn(*args)`` for each ``args`` of ``calls``: one handle per call, or, when ``fn``
        returns a sequence of ``returns > 1`` values, a list of ``returns`` handles per call."""
        ...

    def get(self, handles: Sequence[object]) -> list[object]:
        """The values of ``handles``, in order."""
        ...


class InProcess:
    """Run every call here, in order; a handle is the value itself.

    Example:
        >>> InProcess().map(divmod, [(7, 2)], returns=2)
        [[3, 1]]
    """

    workers = 1

    def put(self, value: object) -> object:
        """``value`` itself."""
        return value

    def map(
        self, fn: Callable[..., object], calls: Sequence[tuple[object, ...]], *, returns: int = 1
    ) -> list[object]:
        """See :meth:`UnitRunner.map`."""
        if returns == 1:
            return [fn(*args) for args in calls]
        return [list(fn(*args)) for args in calls]  # type: ignore[call-overload]

    def get(self, handles: Sequence[object]) -> list[object]:
        """See :meth:`UnitRunner.get`."""
        return list(handles)


@runtime_checkable
class RunsUnits(Protocol):
    """A backend that runs the per-component decisions itself."""

    def unit_runner(self) -> UnitRunner:
        """The runner of this backend's workers."""
        ...


def runner_of(backend: object | None) -> UnitRunner:
    """``backend``'s runner when it offers one (:class:`RunsUnits`), else :class:`InProcess`."""
    if isinstance(backend, RunsUnits):
        return backend.unit_runner()
    return InProcess()

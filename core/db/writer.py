"""The single writer: units of work queued, written in batches, one COMMIT per batch.

Units that arrive while a batch is being written form the next batch (no timer: under no
load a batch is one unit). Each unit runs in a SAVEPOINT, so a unit that fails is undone
alone and the others still commit; its caller gets its exception. A batch of one unit or of
one set (below) needs none: what fails there is rolled back with the transaction. Every
caller is answered only after the batch's COMMIT returned; a failed COMMIT answers every
caller with `CommitFailed` and stores nothing of the batch.

A `SetBased` unit kind runs all its calls of one batch at once (`many`), as a few statements
for the whole set instead of a few per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection

MAX_SET = 500
"""Calls of a set-based kind run together at most: their statements stay well under the
databases' limits on bound parameters."""
A = TypeVar("A")
T = TypeVar("T")


class CommitFailed(Exception):
    """The COMMIT of a batch failed: none of its units was stored."""


class SetBased(Generic[A, T]):
    """A unit kind whose calls in one batch run together.

    `many(conn, [arg, ...])` returns one outcome per argument, in order: its result, or the
    exception that refuses that one call (raised to its caller alone). Called alone, the unit
    is `many` of one argument.
    """

    def __init__(self, many: Callable[[Connection, Sequence[A]], list[T | Exception]]) -> None:
        self.many = many
        self.__name__ = getattr(many, "__name__", "set_based")

    def __call__(self, conn: Connection, arg: A, /) -> T:
        outcome = self.many(conn, [arg])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@dataclass(slots=True)
class Job:
    """One call of a unit, waiting for its batch."""

    unit: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: asyncio.Future[Any] = field(repr=False)


Outcome = Any  # a unit's result, or the exception it raised


def write_batch(conn: Connection, jobs: Sequence[Job]) -> list[Outcome]:
    """Run every job's unit in one transaction and commit it; one outcome per job, in order.
    (A batch of one group, the usual one of pledges, is `_write_group_alone`.)

    Raises when the batch as a whole fails (CommitFailed for its COMMIT): nothing is stored.
    """
    groups = _groups(jobs)
    if len(groups) == 1:
        alone = _write_group_alone(conn, jobs, *groups[0])
        if alone is not None:
            return alone
    outcomes: list[Outcome] = [None] * len(jobs)
    transaction = conn.begin()
    try:
        for unit, indexes in groups:
            if isinstance(unit, SetBased) and len(indexes) > 1:
                for start in range(0, len(indexes), MAX_SET):
                    _run_set(conn, unit, jobs, indexes[start : start + MAX_SET], outcomes)
            else:
                for index in indexes:
                    outcomes[index] = _run_one(conn, jobs[index])
    except BaseException:
        transaction.rollback()
        raise
    _commit(conn, transaction, len(jobs))
    return outcomes


def _write_group_alone(
    conn: Connection, jobs: Sequence[Job], unit: Callable[..., Any], indexes: list[int]
) -> list[Outcome] | None:
    """A batch of one unit, or of one set that fits in one run: no SAVEPOINT, since nothing
    else shares the transaction (two statements fewer per batch). A lone unit that raises
    is rolled back and answered with its error; a set that fails as a whole gives None, and
    the batch is written again with a SAVEPOINT per call."""
    many = unit.many if isinstance(unit, SetBased) and len(indexes) > 1 else None
    if len(indexes) > MAX_SET or (len(indexes) > 1 and many is None):
        return None
    transaction = conn.begin()
    try:
        if many is None:
            job = jobs[indexes[0]]
            outcomes: list[Outcome] = [job.unit(conn, *job.args, **job.kwargs)]
        else:
            outcomes = list(many(conn, [jobs[i].args[0] for i in indexes]))
    except Exception as error:
        transaction.rollback()
        return [error] if len(indexes) == 1 else None
    except BaseException:
        transaction.rollback()
        raise
    _commit(conn, transaction, len(jobs))
    return outcomes


def _commit(conn: Connection, transaction: Any, units: int) -> None:
    try:
        transaction.commit()
    except Exception as error:
        # A connection whose COMMIT failed may still hold the transaction: replace it.
        conn.invalidate()
        raise CommitFailed(f"the COMMIT of {units} unit(s) failed: {error}") from error


def _groups(jobs: Sequence[Job]) -> list[tuple[Callable[..., Any], list[int]]]:
    """Jobs by unit, each set-based kind gathered at the place of its first call; any order
    of one batch is a valid one, since no caller has been answered yet."""
    groups: dict[int, tuple[Callable[..., Any], list[int]]] = {}
    for index, job in enumerate(jobs):
        key = id(job.unit) if isinstance(job.unit, SetBased) else -1 - index
        groups.setdefault(key, (job.unit, []))[1].append(index)
    return list(groups.values())


def _run_one(conn: Connection, job: Job) -> Outcome:
    savepoint = conn.begin_nested()
    try:
        result = job.unit(conn, *job.args, **job.kwargs)
    except Exception as error:
        savepoint.rollback()
        return error
    savepoint.commit()
    return result


def _run_set(
    conn: Connection,
    unit: SetBased[Any, Any],
    jobs: Sequence[Job],
    indexes: list[int],
    outcomes: list[Outcome],
) -> None:
    """The set at once; if it fails as a whole, each call again on its own."""
    savepoint = conn.begin_nested()
    try:
        results = unit.many(conn, [jobs[i].args[0] for i in indexes])
    except Exception:
        savepoint.rollback()
        for index in indexes:
            outcomes[index] = _run_one(conn, jobs[index])
        return
    savepoint.commit()
    for index, result in zip(indexes, results, strict=True):
        outcomes[index] = result


def answer(jobs: Sequence[Job], outcomes: Sequence[Outcome]) -> None:
    """Hand each caller its outcome (on the event loop's thread)."""
    for job, outcome in zip(jobs, outcomes, strict=True):
        if job.future.done():  # the caller gave up waiting
            continue
        if isinstance(outcome, Exception):
            job.future.set_exception(outcome)
        else:
            job.future.set_result(outcome)


def fail(jobs: Sequence[Job], error: BaseException) -> None:
    """Answer every caller of a failed batch with its error."""
    for job in jobs:
        if not job.future.done():
            job.future.set_exception(error)

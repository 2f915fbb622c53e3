"""Group commit for SQLite: one thread, one write connection, many jobs per fsync.

SQLite allows one writer at a time and a durable commit costs an fsync, so committing each
request on its own caps throughput at the disk's fsync rate and, on the event loop, stalls
every request. Here each job (a function of the connection) is queued; the writer thread takes
every job waiting, runs them in one transaction and commits them together. When a job fails,
the group runs again with each job inside its own SAVEPOINT and the failed one rolled back
alone, so one request's error never touches another's rows. If SQLite aborts the whole
transaction (disk full, I/O error), every job of the group fails with `StoreUnavailable`: none
of them was committed and none is reported as if it were.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bridge.store.base import StoreUnavailable

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]


@dataclass(slots=True)
class _Pending(Generic[T]):
    job: Job[T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop


Outcome = tuple[_Pending[Any], Any, BaseException | None]
_STOP = object()


class GroupCommitWriter:
    def __init__(self, connect: Callable[[], sqlite3.Connection], *, max_group: int = 1024) -> None:
        self._connect = connect
        self._max_group = max_group
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="bridge-sqlite-writer", daemon=True)
        self._started = threading.Event()
        self._startup_error: BaseException | None = None
        self._accepting = False
        """True while the thread takes jobs: read per request, cheaper than `is_alive()`."""
        self.commits = 0
        self.jobs = 0
        """Counters for benchmarks: jobs / commits is the average group size."""

    def start(self) -> None:
        self._thread.start()
        self._started.wait()
        if self._startup_error is not None:
            raise StoreUnavailable(f"cannot open database: {self._startup_error}")

    def run(self, job: Job[T]) -> asyncio.Future[T]:
        """Queue `job` for the next group commit: the future is done once its effects are
        durable. A plain function returning the future, not a coroutine awaiting it: one frame
        less on every webhook."""
        if not self._accepting:
            raise StoreUnavailable("store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Pending(job, future, loop))
        return future

    def close(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def _loop(self) -> None:
        try:
            connection = self._connect()
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._started.set()
            return
        self._accepting = True
        self._started.set()
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    break
                group: list[_Pending[Any]] = [first]
                stop = False
                while len(group) < self._max_group:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    group.append(item)
                self._commit(connection, group)
                if stop:
                    break
        finally:
            self._accepting = False
            self._fail_waiting()
            connection.close()

    def _commit(self, connection: sqlite3.Connection, group: list[_Pending[Any]]) -> None:
        results: list[Outcome]
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                results = [(pending, pending.job(connection), None) for pending in group]
            except Exception:
                if not connection.in_transaction:
                    raise  # SQLite rolled back the whole group
                # A job failed part way: start the group again with each job in its own
                # SAVEPOINT, so only that job's rows are undone. Jobs are functions of the
                # connection alone, so running them again is safe; the common case (no job
                # fails) pays no SAVEPOINT statements at all.
                connection.execute("ROLLBACK")
                connection.execute("BEGIN IMMEDIATE")
                results = self._isolated(connection, group)
            connection.execute("COMMIT")
        except Exception as exc:
            if connection.in_transaction:
                connection.rollback()
            failure = StoreUnavailable(f"commit failed: {exc}")
            results = [(pending, None, failure) for pending in group]
        else:
            self.commits += 1
            self.jobs += len(group)
        _settle(results)

    @staticmethod
    def _isolated(connection: sqlite3.Connection, group: list[_Pending[Any]]) -> list[Outcome]:
        results: list[Outcome] = []
        for pending in group:
            connection.execute("SAVEPOINT job")
            try:
                value = pending.job(connection)
            except Exception as exc:
                if not connection.in_transaction:
                    raise
                connection.execute("ROLLBACK TO job")
                connection.execute("RELEASE job")
                results.append((pending, None, _translate(exc)))
            else:
                connection.execute("RELEASE job")
                results.append((pending, value, None))
        return results

    def _fail_waiting(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                _settle([(item, None, StoreUnavailable("store is closed"))])


def _translate(exc: Exception) -> BaseException:
    if isinstance(exc, sqlite3.OperationalError):
        return StoreUnavailable(str(exc))
    return exc


def _settle(results: list[Outcome]) -> None:
    """Hand each job's result to its caller: one wake-up per event loop, not one per job."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in results:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, outcomes in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the caller's loop is gone; a commit stands
            loop.call_soon_threadsafe(_apply, outcomes)


def _apply(outcomes: list[Outcome]) -> None:
    for pending, value, error in outcomes:
        if pending.future.done():
            continue
        if error is not None:
            pending.future.set_exception(error)
        else:
            pending.future.set_result(value)

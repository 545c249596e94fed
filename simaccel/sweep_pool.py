"""A local process pool that survives its workers: one task at a time per worker, each over
its own pipe, so the parent always knows which task a worker holds.

The parent waits on the workers' pipes and their process sentinels together. A worker that
dies (killed, crashed in native code, out of memory) or holds its task past the timeout
costs that task only: the task's outcome is a `Lost` naming what happened, the worker is
replaced, and the other tasks go on. A worker exits by itself when its pipe closes or its
parent is gone, so a killed parent leaves no idle workers behind.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

#: How often a worker checks that the process that started it is still alive, s.
PARENT_CHECK_S = 1.0
#: How long a worker asked to exit gets before it is killed, s.
EXIT_WAIT_S = 5.0
#: How long a new worker may take to start (import, unpickle) before its first task's
#: timeout clock starts anyway, s.
START_GRACE_S = 60.0


#: How a `Lost` task's reason begins: its worker died, or it overran the timeout.
DIED = "the worker process died"
TIMED_OUT = "took longer than the point timeout"
#: How a Dask task whose workers kept dying fails (``distributed.KilledWorker``).
KILLED_WORKER = "KilledWorker: "


def lost(error: str) -> bool:
    """Whether a row's ``error`` is that of a lost point (its worker died, Dask's workers
    were killed, or it overran the point timeout) rather than of the point itself: a
    setting or a mishap of the run, which a resumed sweep runs again."""
    return error.startswith((DIED, TIMED_OUT, KILLED_WORKER))


@dataclass(frozen=True)
class Lost:
    """A task whose worker died or overran the timeout; ``reason`` says which."""

    reason: str


@dataclass
class _Worker:
    process: Any  # a multiprocessing Process of the pool's context
    conn: Connection
    task: tuple[int, tuple] | None = None
    deadline_s: float = math.inf  # when the task times out (monotonic clock)


def run_tasks(fn: Callable[..., Any], shared: tuple, tasks: Sequence[tuple], workers: int,
              timeout_s: float | None = None) -> Iterator[tuple[int, Any]]:
    """Run ``fn(*shared, *task)`` for every task on ``workers`` processes; yield
    ``(index of the task, its result or a Lost)`` as each finishes. ``shared`` is sent once
    per worker; ``fn`` must be importable by name. An exception ``fn`` raises is a `Lost`
    too. Closing the iterator early (Ctrl-C) kills the workers at once."""
    context = _context()
    pending = deque(enumerate(tasks))
    pool = [_start(context, fn, shared) for _ in range(min(workers, len(pending)))]
    finished = False
    try:
        while pending or any(w.task is not None for w in pool):
            for i, worker in enumerate(pool):
                if worker.task is None and pending:
                    if not worker.process.is_alive():  # died between tasks: no task lost
                        _stop(worker, gently=False)
                        pool[i] = worker = _start(context, fn, shared)
                    _assign(worker, pending.popleft(), timeout_s)
            busy = [w for w in pool if w.task is not None]
            first = min(w.deadline_s for w in busy)
            ready = set(wait([h for w in busy for h in (w.conn, w.process.sentinel)],
                             timeout=None if first == math.inf else
                             max(0.0, first - time.monotonic())))
            for i, worker in enumerate(pool):
                outcome = _outcome(worker, ready, timeout_s)
                if outcome is None:
                    continue
                index = worker.task[0]
                worker.task = None
                if isinstance(outcome, Lost):
                    _stop(worker, gently=False)
                    if pending:
                        pool[i] = _start(context, fn, shared)
                yield index, outcome
        finished = True
    finally:
        for worker in pool:
            _stop(worker, gently=finished)


def _context():
    # forkserver/spawn: a fork of a process that runs threads (Dask, a notebook) may hang,
    # and a forked worker would hold the other workers' pipes open
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # the server imports the pipeline once; every worker forked from it starts warm instead
    # of importing it again (about 0.3 s a worker)
    context.set_forkserver_preload(["simaccel.sweeps", "simaccel.pipeline"])
    return context


def _start(context, fn: Callable[..., Any], shared: tuple) -> _Worker:
    here, there = context.Pipe(duplex=True)
    process = context.Process(target=_serve, args=(there, os.getpid(), fn, shared),
                              daemon=True, name="simaccel-sweep-worker")
    process.start()
    there.close()  # the worker's end lives in the worker only: its death closes the pipe
    return _Worker(process=process, conn=here)


def _assign(worker: _Worker, task: tuple[int, tuple], timeout_s: float | None) -> None:
    worker.task = task
    if timeout_s is not None:  # until the worker says it started: its start-up's grace too
        worker.deadline_s = time.monotonic() + max(timeout_s, START_GRACE_S)
    with contextlib.suppress(OSError):  # a dead worker: its sentinel is ready, task charged
        worker.conn.send(task)


def _outcome(worker: _Worker, ready: set, timeout_s: float | None) -> Any:
    """The finished task's result or `Lost`, or None while it is still running."""
    if worker.task is None:
        return None
    if worker.conn in ready:
        try:
            message = worker.conn.recv()
        except Exception:  # noqa: BLE001 - EOF or a torn message: the worker died sending
            worker.process.join(EXIT_WAIT_S)
            return Lost(f"{DIED} ({_how(worker.process.exitcode)}) "
                        "while running this point")
        if message[0] == "done":
            worker.deadline_s = math.inf
            return message[2]
        if timeout_s is not None:  # "started": the timeout counts from now
            worker.deadline_s = time.monotonic() + timeout_s
        ready.discard(worker.process.sentinel)  # (a death is seen on the next wait)
    if worker.process.sentinel in ready:
        worker.process.join()
        return Lost(f"{DIED} ({_how(worker.process.exitcode)}) while "
                    "running this point")
    if time.monotonic() >= worker.deadline_s:
        return Lost(f"{TIMED_OUT} ({timeout_s:g} s); stopped")
    return None


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def _stop(worker: _Worker, gently: bool) -> None:
    """Ask an idle worker to exit (``gently``) or kill it; wait for it either way."""
    if worker.process.is_alive() and gently:
        with contextlib.suppress(OSError):
            worker.conn.send(None)
        worker.process.join(EXIT_WAIT_S)
    if worker.process.is_alive():
        worker.process.kill()
    worker.process.join(EXIT_WAIT_S)
    worker.conn.close()


# -- in the worker ----------------------------------------------------------------------------

def _serve(conn: Connection, parent_pid: int, fn: Callable[..., Any], shared: tuple) -> None:
    """Run the tasks the parent sends until it sends None, closes the pipe or dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_watch, args=(parent_pid, os.getppid()), daemon=True).start()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        index, args = task
        try:
            conn.send(("started", index))
        except OSError:
            return
        try:
            result = fn(*shared, *args)
        except Exception as exc:  # noqa: BLE001 - reported as the task's outcome
            result = Lost(f"{type(exc).__name__}: {exc}")
        try:
            conn.send(("done", index, result))
        except OSError:
            return
        except Exception as exc:  # noqa: BLE001 - a result that does not pickle
            conn.send(("done", index, Lost(f"the result could not be sent back: {exc}")))


def _watch(parent_pid: int, ppid: int) -> None:
    """End this worker, busy or not, once the process that started it is gone (or the
    forkserver between them, which exits with it)."""
    while os.getppid() == ppid and _alive(parent_pid):
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def _alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # os.kill(pid, 0) would end the process on Windows; the pipe still tells
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

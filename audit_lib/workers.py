"""Worker pools that stop at once when the command is interrupted or told to stop.

Ctrl-C in a terminal sends SIGINT to every process of the command: the command itself
and its worker processes. Left alone, each worker raised KeyboardInterrupt wherever it
was (inside papermill's event loop, a kernel client's socket poll) and printed its
traceback; and ``ProcessPoolExecutor``'s exit then waited for the running notebooks and
started the queued ones, so an interrupted run could go on for minutes, or hang. Here:

- the workers ignore SIGINT (:func:`ignore_interrupts`, run first in every worker of
  :func:`pool`): only the command decides what an interrupt means;
- when the block using the pool ends with an exception (KeyboardInterrupt included),
  :func:`pool` cancels what is queued and terminates the workers (SIGTERM, then SIGKILL
  after ``grace`` seconds), instead of waiting for them;
- a signal that arrives while :func:`pool` forks its workers is handled once they are
  all started (:func:`_held`);
- in the command, SIGTERM (a scheduler stopping the job) and SIGHUP (the terminal
  closed) end it as Ctrl-C does (:func:`stopped_by_signals`): before, the command died
  at once and its workers and their kernels ran on, orphaned.

A worker that holds resources outside its own process (a notebook kernel) installs its
own SIGTERM and SIGHUP handler to release them (``warm.start_warm_kernel``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

__all__ = ["STOPS", "Stopped", "ignore_interrupts", "pool", "stopped_by_signals"]

#: signals that end the command as Ctrl-C does (:func:`stopped_by_signals`)
STOPS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """The command was told to stop by signal ``signum`` (SIGTERM, SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, frame) -> None:
    raise Stopped(signum)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """In the command: SIGTERM and SIGHUP raise :class:`Stopped` (a KeyboardInterrupt),
    so the command stops its workers and their kernels as on Ctrl-C. A signal already
    ignored (``nohup``) stays ignored; the previous handlers come back after the block.
    Does nothing outside the main thread (Python handles signals there only)."""
    old = {}
    if _main_thread():
        for s in STOPS:
            if signal.getsignal(s) is not signal.SIG_IGN:
                old[s] = signal.signal(s, _stop)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, signal.SIG_DFL if h is None else h)


@contextlib.contextmanager
def _held() -> Iterator[None]:
    """Signals with a Python handler (Ctrl-C's KeyboardInterrupt, :class:`Stopped`) that
    arrive in the block are handled when it ends. For forking workers: CPython may run
    the handler in its after-fork hooks, where the exception is printed ("Exception
    ignored in ... _releaseLock") and lost, so Ctrl-C did nothing and the run went on;
    or between a worker's start and its entry in the pool's table, so :func:`stop`
    never saw it and it waited for work, orphaned, for ever."""
    got: list[int] = []
    old = {}
    if _main_thread():
        for s in (signal.SIGINT, *STOPS):
            if callable(signal.getsignal(s)):
                old[s] = signal.signal(s, lambda signum, frame: got.append(signum))
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if got:
            signal.raise_signal(got[0])


def ignore_interrupts() -> None:
    """In a worker process: ignore SIGINT (Ctrl-C), which the command handles; SIGTERM
    and SIGHUP end the worker (their default), whatever the command's handlers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for s in STOPS:
        signal.signal(s, signal.SIG_DFL)


def _start_worker(initializer: Callable | None, initargs: tuple) -> None:
    """Every worker's first step (:func:`ignore_interrupts`), then the pool's own
    ``initializer``."""
    ignore_interrupts()
    if initializer is not None:
        initializer(*initargs)


@contextlib.contextmanager
def pool(
    grace: float = 5.0, initializer: Callable | None = None, initargs: tuple = (), **kw
) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor(**kw)`` for a block, its workers started at once (signals
    held meanwhile, :func:`_held`) and ignoring Ctrl-C: shut down normally (waiting for
    its work) when the block ends; stopped at once (:func:`stop`) when it raises."""
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(
        initializer=_start_worker, initargs=(initializer, initargs), **kw
    )
    try:
        with _held():
            executor.submit(os.getpid)  # starts every worker now
        yield executor
    except BaseException:
        stop(executor, grace)
        raise
    executor.shutdown(wait=True)  # Ctrl-C meanwhile: the workers, ending, clean up


def stop(executor: ProcessPoolExecutor, grace: float = 5.0) -> None:
    """Cancel the queued work of ``executor`` and terminate its workers: SIGTERM, then
    SIGKILL for any still alive after ``grace`` seconds. Another Ctrl-C meanwhile (an
    impatient user) is handled once they are stopped (:func:`_held`)."""
    with _held():
        _terminate(executor, grace)


def _terminate(executor: ProcessPoolExecutor, grace: float) -> None:
    # ProcessPoolExecutor has no public way to stop its workers before Python 3.14
    # (terminate_workers); its process table is the one place they are listed
    procs = list((getattr(executor, "_processes", None) or {}).values())
    manager = getattr(executor, "_executor_manager_thread", None)
    executor.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(grace)
            if p.is_alive():
                p.kill()
                p.join(1)
    if manager is not None:  # it closes its pipes once the workers are gone: if the
        # interpreter's exit hook wrote to them meanwhile, it printed a traceback
        manager.join(grace)

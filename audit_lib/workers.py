"""Worker pools that stop at once when the command is interrupted.

Ctrl-C in a terminal sends SIGINT to every process of the command: the command itself
and its worker processes. Left alone, each worker raised KeyboardInterrupt wherever it
was (inside papermill's event loop, a kernel client's socket poll) and printed its
traceback; and ``ProcessPoolExecutor``'s exit then waited for the running notebooks and
started the queued ones, so an interrupted run could go on for minutes, or hang. Here:

- the workers ignore SIGINT (:func:`ignore_interrupts`, their pool initializer): only
  the command decides what an interrupt means;
- when the block using the pool ends with an exception (KeyboardInterrupt included),
  :func:`pool` cancels what is queued and terminates the workers (SIGTERM, then SIGKILL
  after ``grace`` seconds), instead of waiting for them.

A worker that holds resources outside its own process (a notebook kernel) installs its
own SIGTERM handler to release them (``run.start_warm_kernel``).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

__all__ = ["ignore_interrupts", "pool"]


def ignore_interrupts() -> None:
    """In a worker process: ignore SIGINT (Ctrl-C), which the command handles."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def pool(grace: float = 5.0, **kw) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor(**kw)`` for a block: shut down normally (waiting for its
    work) when the block ends; stopped at once (:func:`stop`) when it raises."""
    executor = ProcessPoolExecutor(**kw)
    try:
        yield executor
    except BaseException:
        stop(executor, grace)
        raise
    executor.shutdown(wait=True)


def stop(executor: ProcessPoolExecutor, grace: float = 5.0) -> None:
    """Cancel the queued work of ``executor`` and terminate its workers: SIGTERM, then
    SIGKILL for any still alive after ``grace`` seconds."""
    # ProcessPoolExecutor has no public way to stop its workers before Python 3.14
    # (terminate_workers); its process table is the one place they are listed
    procs = list((getattr(executor, "_processes", None) or {}).values())
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

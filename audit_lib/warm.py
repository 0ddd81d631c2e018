"""Warm kernels: each pool worker of a run keeps one Jupyter kernel with the library
imported (:func:`start_warm_kernel`) and resets it before every notebook
(:func:`kernel_reset`), so a notebook starts as in a fresh kernel without paying for the
kernel's start and the imports. A notebook that fails takes its kernel with it; the
worker warms another (three tries in a row, then fresh kernels). On SIGTERM or SIGHUP a
worker kills its kernel and removes its files (:mod:`audit_lib.workers`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

__all__ = ["kernel_reset", "kernel_warm_up", "ready_kernel", "start_warm_kernel", "stop_kernel"]

#: The notebooks' folder, where a warm kernel starts unless told otherwise.
DEFAULT_NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: Modules every audit notebook imports; a warm kernel has them loaded already.
WARM_IMPORTS = (
    "audit_lib.charts",
    "audit_lib.report",
    "audit_lib.load",
    "audit_lib.indicators",
    "audit_lib.measures.data_quality",
    "audit_lib.measures.timeliness",
    "audit_lib.measures.plan_quality",
    "audit_lib.measures.permanence",
    "audit_lib.measures.disproportionality",
)
_KERNEL: dict = {}  # this worker process's warm kernel: {"km": KernelManager}


def kernel_warm_up() -> None:
    """Run inside a new kernel: import the library, draw once (fonts), and remember the
    clean state that ``kernel_reset`` restores before each notebook."""
    import importlib
    import io
    import warnings

    import matplotlib

    for name in WARM_IMPORTS:
        importlib.import_module(name)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.set_title("warm")
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
    del fig, ax  # collected below, not frozen with the libraries
    _KERNEL["rc"] = dict(matplotlib.rcParams)
    _KERNEL["warnings"] = list(warnings.filters)
    _KERNEL["environ"] = dict(os.environ)
    _give_back_memory()


def kernel_reset(cwd: str, sidecar: str, env: dict[str, str] | None = None) -> None:
    """Run inside a warm kernel before each notebook: the state of a fresh kernel with
    the library imported. The user namespace, history and execution count are reset;
    the working folder, environment, matplotlib settings and warning filters are those
    recorded at warm-up, with the run's own variables ``env`` set; recorded metrics are
    cleared and go to ``sidecar``."""
    import warnings

    import matplotlib
    import matplotlib.pyplot as plt
    from IPython import get_ipython

    from . import metrics

    shell = get_ipython()
    shell.reset(new_session=False)
    shell.execution_count = 1
    plt.close("all")
    _give_back_memory()  # the last notebook's peak is not carried into this one
    matplotlib.rcParams.update(_KERNEL["rc"])
    warnings.filters[:] = _KERNEL["warnings"]
    getattr(warnings, "_filters_mutated", lambda: None)()
    os.environ.clear()
    os.environ.update(_KERNEL["environ"])
    os.environ.update(env or {})
    os.environ[metrics.PATH_ENV] = sidecar
    metrics._RECORDED.clear()
    os.chdir(cwd)


def _give_back_memory() -> None:
    """Free what the last notebook left (cycles, then the C heap's free pages), so a warm
    kernel does not carry one notebook's peak into the next (at a million children, a
    gigabyte or more). ``malloc_trim`` is glibc's; elsewhere only the collection runs.

    What survives the collection (the imported libraries, mostly) is then frozen
    (``gc.freeze``): the cycle collector no longer walks it, in this call or during the
    next notebooks, which had cost 0.1 CPU s a collection. Frozen objects are still freed
    when nothing refers to them; only a cycle among them would stay."""
    import ctypes
    import gc

    gc.collect()
    gc.freeze()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _kernel_run(km, code: str, timeout: float = 120) -> bool:
    """Run ``code`` silently in the kernel of ``km``; True if it ran without error."""
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=timeout)
        reply = kc.execute_interactive(code, silent=True, store_history=False, timeout=timeout)
        return reply["content"]["status"] == "ok"
    except Exception:  # a dead or stuck kernel: the caller starts another
        return False
    finally:
        kc.stop_channels()


def stop_kernel() -> None:
    """Shut this worker's kernel down. It is forgotten only once it is down, so SIGTERM
    meanwhile (:func:`_kernel_kill`; an idle worker ends at once when the run is
    interrupted, and is then terminated) still kills it and removes its files."""
    km = _KERNEL.get("km")
    if km is not None:
        with contextlib.suppress(Exception):
            km.shutdown_kernel(now=True)
        _KERNEL.pop("km", None)


def _kernel_kill(signum: int, frame) -> None:
    """SIGTERM or SIGHUP in a worker (the run was interrupted, :func:`workers.stop`; the
    terminal closed): kill this worker's kernel and remove its connection and socket
    files at once, then end. No kernel message is sent: the worker may be in the middle
    of one. A second signal (SIGHUP to the terminal's group, then the run's SIGTERM)
    must not cut this short."""
    from .workers import STOPS

    for s in STOPS:
        signal.signal(s, signal.SIG_IGN)
    km = _KERNEL.pop("km", None)
    if km is not None:
        with contextlib.suppress(Exception):
            pgid = km.provisioner.pgid or km.provisioner.process.pid
            os.killpg(pgid, signal.SIGKILL)  # the kernel leads its own session
        with contextlib.suppress(Exception):
            km.cleanup_connection_file()
        with contextlib.suppress(Exception):
            km.cleanup_ipc_files()
    os._exit(128 + signum)


def start_warm_kernel(cwd: str | None = None, sockets: str | None = None) -> None:
    """Start this worker's kernel and warm it up (pool initializer). Never raises: on
    any problem the worker falls back to a fresh kernel per notebook. The worker leaves
    Ctrl-C to the run (:mod:`audit_lib.workers`), and on SIGTERM or SIGHUP (the terminal
    closed) kills its kernel."""
    from multiprocessing import util

    from .workers import STOPS

    if "warm" not in _KERNEL:  # the first call, in the pool's initializer
        _KERNEL["warm"] = cwd or str(DEFAULT_NOTEBOOKS)
        if sockets:  # this worker's kernels' socket folders (kernel.SOCKETS_ENV)
            from .kernel import SOCKETS_ENV

            os.environ[SOCKETS_ENV] = sockets
        util.Finalize(None, stop_kernel, exitpriority=10)
        for s in STOPS:
            signal.signal(s, _kernel_kill)
    try:
        from .kernel import WarmKernelManager

        # local IPC sockets, not loopback TCP (no port, no "running over TCP" warning)
        km = WarmKernelManager(kernel_name="python3")
        _KERNEL["km"] = km  # from now: SIGTERM (_kernel_kill) removes its files too
        # the charts draw with Agg: set it once, so the kernel never loads the inline backend
        env = {**os.environ, "MPLBACKEND": "agg"}
        # the kernel process's own log lines never reach the user's terminal
        km.start_kernel(
            cwd=_KERNEL["warm"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # no history database: a reset kernel reuses line numbers, which IPython's
            # history would report in the first cell's output
            extra_arguments=["--HistoryManager.enabled=False"],
        )
    except Exception:
        stop_kernel()
        return
    with contextlib.suppress(Exception):
        from .pages import warm_exporter

        warm_exporter()  # while the kernel starts
    if _kernel_run(km, "from audit_lib.warm import kernel_warm_up; kernel_warm_up()"):
        _KERNEL["restarts"] = 0  # a pool shared by many runs may lose many kernels
    else:
        stop_kernel()


def ready_kernel(cwd: str, sidecar: str, env: dict[str, str]):
    """This worker's warm kernel, reset for the next notebook; None if there is none.
    After a failed notebook took the kernel with it, a new one is warmed (up to three
    tries in a row per worker, then fresh kernels)."""
    km = _KERNEL.get("km")
    if km is None and _KERNEL.get("warm") and _KERNEL.get("restarts", 0) < 3:
        _KERNEL["restarts"] = _KERNEL.get("restarts", 0) + 1
        start_warm_kernel()
        km = _KERNEL.get("km")
    if km is None:
        return None
    code = f"from audit_lib.warm import kernel_reset; kernel_reset({cwd!r}, {sidecar!r}, {env!r})"
    if km.is_alive() and _kernel_run(km, code):
        return km
    stop_kernel()
    return None

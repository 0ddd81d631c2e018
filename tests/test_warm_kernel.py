"""`audit run` reuses one warm kernel per worker: each notebook must still start clean."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import threading

import nbformat
import pytest

from audit_lib.kernel import AsyncReadyClient, QuietKernelManager, ReadyClient, WarmKernelManager
from audit_lib.run import run

from .conftest import DEFAULT_DATA

PARAMS = 'period = None\ndata_dir = "."\noutput_dir = "."\nsuppress_max = 5'

# Each notebook checks that nothing the other left behind is visible, then leaves its own.
BODY = """import os, warnings
import matplotlib, matplotlib.pyplot as plt
import audit_lib
from audit_lib.metrics import recorded
assert not [k for k in globals() if k.startswith("left_by_")], "namespace leaked"
assert not [k for k in os.environ if k.startswith("LEFT_BY_")], "environment leaked"
assert not recorded(), "metrics leaked"
assert plt.get_fignums() == [], "figures leaked"
assert matplotlib.rcParams["lines.linewidth"] != 9, "matplotlib settings leaked"
assert os.getcwd() == NB_DIR, os.getcwd()
# cyclic garbage of the last notebook was collected before the kernel froze what remained
assert all(ref() is None for ref in getattr(audit_lib, "_test_cycles", [])), "cycle kept"
import weakref
class Cycle: pass
cycle = Cycle(); cycle.me = cycle
audit_lib._test_cycles = [*getattr(audit_lib, "_test_cycles", []), weakref.ref(cycle)]
left_by_{name} = 1
os.environ["LEFT_BY_{name}"] = "1"
matplotlib.rcParams["lines.linewidth"] = 9
plt.figure()
os.chdir("/")
recorded_now = audit_lib.record_all({"test.{name}.value": 1, "test.{name}.kernel_pid": os.getpid()})"""


def _notebook(folder, name: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["audit"] = {"title": name, "requires": []}
    params = nbformat.v4.new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    body = BODY.replace("{name}", name).replace("NB_DIR", repr(str(folder)))
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, folder / f"{name}.ipynb")


def test_notebooks_sharing_a_warm_kernel_start_clean(tmp_path, warm_pool):
    books = tmp_path / "books"
    books.mkdir()
    for name in ("first", "second", "third"):
        _notebook(books, name)
    result = run(data=DEFAULT_DATA, out=tmp_path / "out", notebooks=books, pool=warm_pool)
    status = {n.name: (n.status, n.error) for n in result.notebooks}
    assert all(s == "ok" for s, _ in status.values()), status
    folder = tmp_path / "out" / result.period
    doc = json.loads((folder / "metrics.json").read_text())
    names = ("first", "second", "third")
    assert set(doc["metrics"]) == {f"test.{n}.{k}" for n in names for k in ("value", "kernel_pid")}
    pids = {doc["metrics"][f"test.{n}.kernel_pid"]["value"] for n in names}
    assert len(pids) == 1, "the three notebooks should have shared one warm kernel"
    for name in ("first", "second", "third"):
        nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), (name, counts)
        # each notebook's own sidecar holds its own figure only
        side = json.loads((folder / ".metrics" / f"{name}.json").read_text())
        assert set(side) == {f"test.{name}.value", f"test.{name}.kernel_pid"}


def test_a_failed_notebook_takes_its_kernel_with_it(tmp_path):
    """The next notebook gets a new warm kernel, not the one the failure left behind."""
    books = tmp_path / "books"
    books.mkdir()
    _notebook(books, "after")
    nb = nbformat.read(books / "after.ipynb", as_version=4)
    boom = nbformat.v4.new_code_cell(
        "import os\nimport audit_lib\nleft_by_boom = 1\n"
        'audit_lib.record("test.boom.kernel_pid", os.getpid())\n'
        'raise RuntimeError("boom")\n' + "# padding: the largest notebook runs first\n" * 200
    )
    nb.cells = [nb.cells[0], boom]
    nbformat.write(nb, books / "boom.ipynb")
    result = run(data=DEFAULT_DATA, out=tmp_path / "out", jobs=1, notebooks=books)
    status = {n.name: (n.status, n.error) for n in result.notebooks}
    assert status["boom"][0] == "failed" and "boom" in status["boom"][1]
    assert status["after"] == ("ok", ""), status
    m = {n.name: n.metrics for n in result.notebooks}
    assert (
        m["after"]["test.after.kernel_pid"]["value"] != m["boom"]["test.boom.kernel_pid"]["value"]
    )


COUNT = """import os
import audit_lib
from audit_lib.load import load_tables
tables, _ = load_tables(data_dir)
recorded_now = audit_lib.record_all({"test.count.children": len(tables["children"]), "test.count.kernel_pid": os.getpid()})"""


def test_runs_sharing_a_pool_each_start_clean_on_their_own_data(tmp_path, warm_pool, tiny_dir):
    """Runs given one pool (``warm_workers``) share its kernel, yet each notebook of each
    run starts clean (the leak checks above) and reads the run's own data."""
    books = tmp_path / "books"
    books.mkdir()
    for name in ("first", "second"):
        _notebook(books, name)
    _notebook(books, "count")
    nb = nbformat.read(books / "count.ipynb", as_version=4)
    nb.cells[1] = nbformat.v4.new_code_cell(COUNT)
    nbformat.write(nb, books / "count.ipynb")

    def counted(data, out):
        result = run(data=data, out=tmp_path / out, notebooks=books, pool=warm_pool)
        assert all(n.status == "ok" for n in result.notebooks), [
            (n.name, n.error) for n in result.notebooks
        ]
        m = {k: v["value"] for n in result.notebooks for k, v in n.metrics.items()}
        return m["test.count.children"], {v for k, v in m.items() if k.endswith("kernel_pid")}

    other = tmp_path / "other"  # the tiny borough less its last 20 children
    shutil.copytree(tiny_dir, other)
    lines = (tiny_dir / "children.csv").read_text().splitlines(keepends=True)
    (other / "children.csv").write_text("".join(lines[:-20]))
    tiny = len(lines) - 1
    runs = [counted(tiny_dir, "a"), counted(other, "b"), counted(tiny_dir, "c")]
    assert [n for n, _ in runs] == [tiny, tiny - 20, tiny]
    pids = set().union(*(p for _, p in runs))
    assert len(pids) == 1, "the three runs should have shared the pool's one warm kernel"


def _printed(kc, code: str) -> list[str]:
    """Run ``code`` through a ready client; the text it printed, as received."""
    out: list[str] = []
    reply = kc.execute_interactive(
        code, timeout=60, output_hook=lambda m: out.append(m["content"].get("text", ""))
    )
    assert reply["content"]["status"] == "ok"
    return out


def test_a_new_client_is_ready_with_output_flowing_and_fails_on_a_dead_kernel():
    """Each notebook connects a new client to the warm kernel (``QuickReady``): once
    ready, a cell's printed output reaches it, also when the kernel stalls for longer
    than the client's 1 s between requests (its backlog of replies still counts); a
    dead kernel is an error, not a hang."""
    km = WarmKernelManager(kernel_name="python3")
    km.start_kernel(extra_arguments=["--HistoryManager.enabled=False"])
    pid = km.provisioner.process.pid
    try:
        for i in range(4):
            kc = km.client()
            assert isinstance(kc, ReadyClient)
            kc.start_channels()
            try:
                if i == 3:  # stalled while the client connects, as a loaded machine can
                    os.kill(pid, signal.SIGSTOP)
                    threading.Timer(1.5, os.kill, (pid, signal.SIGCONT)).start()
                kc.wait_for_ready(timeout=30)
                assert f"ready {i}\n" in _printed(kc, f"print('ready {i}')")
            finally:
                kc.stop_channels()
    finally:
        os.kill(pid, signal.SIGCONT)
        km.shutdown_kernel(now=True)
    kc = km.client()
    kc.start_channels()
    try:
        with pytest.raises(RuntimeError, match="died"):
            kc.wait_for_ready(timeout=10)
    finally:
        kc.stop_channels()


def test_a_fresh_kernel_is_waited_for_while_it_starts_slowly(tmp_path):
    """The fresh-kernel path (``QuietKernelManager``, papermill's async client, used
    when a worker has no warm kernel): a kernel that takes longer than a second to start
    (here an IPython start-up file) is waited for, and its output reaches the client."""
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-slow.py").write_text("import time\ntime.sleep(1.5)\n")

    async def connect() -> list[str]:
        km = QuietKernelManager(kernel_name="python3")
        await km.start_kernel(env={**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")})
        try:
            kc = km.client()
            assert isinstance(kc, AsyncReadyClient)
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=30)
                out: list[str] = []
                reply = await kc.execute_interactive(
                    "print('started')",
                    timeout=60,
                    output_hook=lambda m: out.append(m["content"].get("text", "")),
                )
                assert reply["content"]["status"] == "ok"
                return out
            finally:
                kc.stop_channels()
        finally:
            await km.shutdown_kernel(now=True)

    assert "started\n" in asyncio.run(connect())

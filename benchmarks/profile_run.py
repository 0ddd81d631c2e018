"""Where one `audit run` spends its time, notebook by notebook.

Each notebook is executed the way ``audit run`` executes it (papermill's API, in this
process, the run's table cache prepared first), but one at a time and instrumented:

- ``kernel``: starting the Python kernel until it answers;
- ``imports``: the notebook's own import statements (its first code cell, split off);
- ``tables``: ``load_tables`` / metrics loading (reading the run's table cache);
- ``lazy imports``: heavy libraries imported inside library functions (lifelines,
  statsmodels, ...), taken out of the function that triggered them;
- one row per audit module's measure functions (``measures.<module>``) and the total;
- ``charts``: building figures (audit_lib.charts) and encoding them (report.show_figure);
- ``other cells``: the rest of the kernel's work (styled tables, display, recording);
- ``papermill``: papermill's own overhead around the kernel (parameters, saving);
- ``html export``: nbconvert's ``basic`` export and the page shell.

The parent's one-off work (validating the data into the cache) is shown on its own row.

Usage: python benchmarks/profile_run.py [--data DIR] [--only NAMES] [--json FILE]
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "synthetic"
NOTEBOOKS = ROOT / "notebooks"

#: Installed inside the kernel after the notebook's imports: wraps the library's public
#: functions with timers (outermost call only) and times imports made inside them.
HOOK = r"""
import builtins as _b, importlib as _il, json as _json, sys as _sys, time as _t
_PROF = {}
_STACK = []
_LAZY = [0.0]

def _add(key, dt):
    _PROF[key] = _PROF.get(key, 0.0) + dt

def _wrap(key, fn):
    def inner(*a, **k):
        if _STACK:
            return fn(*a, **k)
        _STACK.append(key)
        lazy0, t0 = _LAZY[0], _t.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            _add(key, _t.perf_counter() - t0 - (_LAZY[0] - lazy0))
            _STACK.pop()
    inner.__wrapped__ = fn
    return inner

_orig_import = _b.__import__
_DEPTH = [0]
def _timed_import(name, globals=None, locals=None, fromlist=(), level=0):
    if _DEPTH[0] or not _STACK or (name in _sys.modules and not fromlist):
        return _orig_import(name, globals, locals, fromlist, level)
    _DEPTH[0] += 1
    t0 = _t.perf_counter()
    try:
        return _orig_import(name, globals, locals, fromlist, level)
    finally:
        _DEPTH[0] -= 1
        dt = _t.perf_counter() - t0
        _LAZY[0] += dt
        _add("lazy imports", dt)
_b.__import__ = _timed_import
_ORIG = {}

def _patch(modname, key):
    mod = _il.import_module(modname)
    for name, fn in list(vars(mod).items()):
        if callable(fn) and getattr(fn, "__module__", None) == modname and not isinstance(fn, type):
            _ORIG[id(fn)] = _wrap(key(name), fn)
            setattr(mod, name, _ORIG[id(fn)])

for _m in ("timeliness", "plan_quality", "permanence", "disproportionality", "data_quality"):
    _patch(f"audit_lib.measures.{_m}", lambda n, _m=_m: f"measures.{_m}")
_patch("audit_lib.charts", lambda n: "charts")
_patch("audit_lib.indicators", lambda n: "measures.indicators")
import audit_lib.load as _load, audit_lib.report as _rep, audit_lib.metrics as _met
for _mod, _name, _key in ((_load, "load_tables", "tables"), (_met, "load", "tables"),
                          (_load, "_extract_date", "tables"), (_rep, "show_figure", "charts")):
    _fn = getattr(_mod, _name)
    _ORIG[id(_fn)] = _wrap(_key, _fn)
    setattr(_mod, _name, _ORIG[id(_fn)])
_ns = get_ipython().user_ns  # names the notebook imported before this cell
for _k, _v in list(_ns.items()):
    if id(_v) in _ORIG:
        _ns[_k] = _ORIG[id(_v)]
"""

DUMP = "print('PROFILE ' + _json.dumps(_PROF))"


def _split_imports(source: str) -> tuple[str, str]:
    """The leading import statements of a cell, and the rest."""
    tree = ast.parse(source)
    lines = source.splitlines()
    cut = 0
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            cut = node.end_lineno
        else:
            break
    return "\n".join(lines[:cut]), "\n".join(lines[cut:])


def instrument(src: Path):
    """A copy of the notebook: imports | hook | rest of the first cell | ... | dump."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    cells = nb.cells
    first = next(
        i
        for i, c in enumerate(cells)
        if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
    )
    imports, rest = _split_imports(cells[first].source)
    tag = {"tags": ["profile"]}
    new = [
        nbformat.v4.new_code_cell(imports, metadata={"tags": ["profile-imports"]}),
        nbformat.v4.new_code_cell(HOOK, metadata={"tags": ["profile-hook"]}),
        nbformat.v4.new_code_cell(rest, metadata=copy.deepcopy(cells[first].metadata)),
    ]
    nb.cells = [*cells[:first], *new, *cells[first + 1 :]]
    nb.cells.append(nbformat.v4.new_code_cell(DUMP, metadata=tag))
    return nb


def profile_one(src: Path, params: dict, folder: Path, sidecar: Path) -> dict:
    """Run one instrumented notebook; return seconds per phase."""
    import papermill as pm

    from audit_lib.kernel import WarmKernelManager
    from audit_lib.pages import notebook_body, render_page

    os.environ["AUDIT_METRICS_PATH"] = str(sidecar)
    nb = instrument(src)
    t0 = time.perf_counter()
    km = WarmKernelManager(kernel_name="python3")  # private IPC sockets, as audit run uses
    km.start_kernel(cwd=str(src.parent), env={**os.environ, "MPLBACKEND": "agg"})
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    kc.stop_channels()
    kernel = time.perf_counter() - t0
    out_nb = folder / f"{src.stem}.ipynb"
    t0 = time.perf_counter()
    try:
        done = pm.execute_notebook(
            nb,
            str(out_nb),
            parameters=params,
            kernel_name="python3",
            cwd=str(src.parent),
            progress_bar=False,
            request_save_on_cell_execute=False,  # as audit run does
            km=km,
        )
    finally:
        km.shutdown_kernel(now=True)
    execute = time.perf_counter() - t0
    prof: dict[str, float] = {}
    cell_total = 0.0
    imports = hook = dump = 0.0
    for cell in done.cells:
        if cell.cell_type != "code":
            continue
        dur = cell.metadata.get("papermill", {}).get("duration") or 0.0
        tags = cell.metadata.get("tags", [])
        cell_total += dur
        if "profile-imports" in tags:
            imports = dur
        elif "profile-hook" in tags:
            hook = dur
        elif "profile" in tags:
            dump = dur
            for o in cell.get("outputs", []):
                text = o.get("text", "")
                if text.startswith("PROFILE "):
                    prof = json.loads(text[len("PROFILE ") :])
    t0 = time.perf_counter()
    for cell in done.cells:  # the page is exported without the profiling cells
        if cell.metadata.get("tags", []) and str(cell.metadata["tags"][0]).startswith("profile"):
            cell.outputs = []
    body = notebook_body(done)
    render_page(src.stem, body, params.get("period", ""), "data", "ok")
    html = time.perf_counter() - t0
    measured = sum(prof.values())
    row = {"kernel": kernel, "imports": imports}
    row.update(dict(sorted(prof.items())))
    row["other cells"] = max(cell_total - imports - hook - dump - measured, 0.0)
    row["papermill"] = max(execute - cell_total, 0.0)
    row["html export"] = html
    row["total"] = kernel + execute - hook - dump + html
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    from audit_lib import run as R
    from audit_lib.load import _extract_date
    from audit_lib.report import resolve_period

    data_dir = Path(args.data).resolve()
    books = [b for b in sorted(NOTEBOOKS.glob("*.ipynb")) if not args.only or b.stem in args.only]
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "out"
        (folder / "worklists").mkdir(parents=True)
        from audit_lib.cache import CACHE_ENV, HOME_ENV

        os.environ[HOME_ENV] = os.environ[CACHE_ENV] = str(Path(tmp) / "cache")  # cold
        t0 = time.perf_counter()
        with R.prepare_tables(data_dir):  # nothing else prunes this private cache
            pass
        rows["(parent) validate into cache"] = {"total": time.perf_counter() - t0}
        period = resolve_period(None, _extract_date(data_dir, None))
        order = [b for b in books if b.stem != R.SUMMARY] + [
            b for b in books if b.stem == R.SUMMARY
        ]
        for book in order:
            declared = set(R.notebook_parameters(book))
            base = {
                "period": period,
                "data_dir": str(data_dir),
                "output_dir": str(folder),
                "metrics_path": str(folder / "metrics.json"),
            }
            params = {k: v for k, v in base.items() if k in declared}
            sidecar = folder / f"{book.stem}.metrics.json"
            rows[book.stem] = profile_one(book, params, folder, sidecar)
            if book.stem != R.SUMMARY:  # the summary reads what the others recorded
                merged = {}
                for p in folder.glob("*.metrics.json"):
                    merged.update(json.loads(p.read_text()))
                (folder / "metrics.json").write_text(json.dumps({"metrics": merged}))
    phases: list[str] = []
    for row in rows.values():
        phases += [k for k in row if k not in phases and k != "total"]
    phases.append("total")
    names = list(rows)
    width = max(len(p) for p in phases) + 2
    print(f"{'seconds':<{width}}" + "".join(f"{n[:12]:>13}" for n in names) + f"{'all':>9}")
    for p in phases:
        vals = [rows[n].get(p) for n in names]
        cells = "".join(f"{v:>13.2f}" if v is not None else f"{'':>13}" for v in vals)
        print(f"{p:<{width}}{cells}{sum(v or 0 for v in vals):>9.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

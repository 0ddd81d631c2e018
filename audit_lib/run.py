"""The monthly audit run: execute every notebook, render HTML, index and metrics.json.

``run()`` executes the notebooks in notebooks/ through papermill's API, in a pool of
worker processes (default: one per core), renders each to a self-contained HTML page
inside the project's page shell, and writes, under ``<out>/<period>/``:

- ``index.html`` (status, run time and headline figures of each report; a link to the
  previous period), ``<name>.html`` and the executed ``<name>.ipynb``;
- ``metrics.json`` (every recorded figure, plus each notebook's status and papermill
  metadata), ``worklists/*.csv`` (pseudonymised) and ``run.log``.

It also rewrites ``<out>/index.html``: every period run, with sparklines of the headline
indicators across periods. The summary notebook runs last, reading the merged metrics.
A failing notebook never stops the others; a notebook whose required tables are absent
is ``skipped`` with a page that says which table it needs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from .pages import SUMMARY, notebook_body, period_index, render_page, top_index
from .report import resolve_period
from .tablefile import find_table_file
from .warm import DEFAULT_NOTEBOOKS, ready_kernel, start_warm_kernel, stop_kernel

__all__ = ["RunError", "RunResult", "run", "warm_workers"]

log = logging.getLogger("audit.run")


class RunError(Exception):
    """A problem with the request itself (bad period, missing folder, unknown parameter)."""


@dataclass
class NotebookResult:
    name: str
    title: str
    status: str  # ok | failed | skipped
    seconds: float = 0.0
    error: str = ""
    cell: int | None = None
    parameters: dict = field(default_factory=dict)
    started: str = ""
    metrics: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)  # captured for run.log, never on the page


@dataclass
class RunResult:
    period: str
    folder: Path
    index: Path
    notebooks: list[NotebookResult]
    disclosure: list = field(default_factory=list)  # audit check findings on the pages

    @property
    def ok(self) -> bool:
        return all(n.status != "failed" for n in self.notebooks)


# --------------------------------------------------------------------------------------
# Notebook metadata and parameters
# --------------------------------------------------------------------------------------


def notebook_meta(path: Path) -> dict:
    """The ``audit`` block of a notebook's metadata: title and required tables. Raises
    RunError if the file is not a notebook."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, ValueError) as exc:
        raise RunError(f"cannot read the notebook {path.name}: {exc}") from None
    metadata = nb.get("metadata", {}) if isinstance(nb, dict) else None
    meta = metadata.get("audit", {}) if isinstance(metadata, dict) else None
    if not isinstance(meta, dict):
        raise RunError(f"cannot read the notebook {path.name}: not a notebook's metadata")
    return {
        "title": meta.get("title", path.stem.replace("_", " ").title()),
        "requires": list(meta.get("requires", [])),
        # research workspaces set "monthly": false; the run skips them unless named
        "monthly": bool(meta.get("monthly", True)),
    }


def notebook_parameters(path: Path) -> dict[str, dict]:
    """Parameters a notebook declares, from papermill's ``inspect_notebook``. Raises
    RunError if papermill cannot read them (no kernel language in its metadata, say)."""
    import papermill as pm

    try:
        return pm.inspect_notebook(str(path))
    except Exception as exc:  # papermill's and nbformat's own errors, whatever their class
        raise RunError(f"cannot read the parameters of the notebook {path.name}: {exc}") from None


def _parse_params(pairs: list[str], valid: dict[str, set[str]]) -> dict[str, object]:
    """``name=value`` pairs; values are read as JSON where they parse, else as text."""
    names = set().union(*valid.values()) if valid else set()
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise RunError(f"parameter {pair!r} is not name=value")
        name, raw = pair.split("=", 1)
        if name not in names:
            raise RunError(f"unknown parameter {name!r}; valid: {', '.join(sorted(names))}")
        try:
            out[name] = json.loads(raw)
        except json.JSONDecodeError:
            out[name] = raw
    return out


#: Months every notebook may look back from the period (24 monthly points, 4 years of
#: trend windows) and the pandas timestamp range: a period outside these years would make
#: pandas raise OutOfBoundsDatetime deep inside a notebook.
_FIRST_YEAR, _LAST_YEAR = 1700, 2261


def check_period_syntax(period: str | None) -> None:
    """Raise RunError unless ``period`` is None or a YYYY-MM month pandas can represent
    with room for the notebooks' look-back windows (years 1700 to 2261). Whether the data
    cover the period is a separate check."""
    if period is None:
        return
    import re

    m = re.fullmatch(r"(\d{4})-(\d{2})", str(period).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise RunError(f"period must be YYYY-MM (e.g. 2026-10), not {period!r}")
    if not _FIRST_YEAR <= int(m.group(1)) <= _LAST_YEAR:
        raise RunError(
            f"period {period} is outside the years this tool can handle "
            f"({_FIRST_YEAR} to {_LAST_YEAR}); give a month the data cover"
        )


def check_jobs(jobs: int | None) -> None:
    """Raise RunError unless ``jobs`` is None or a whole number of worker processes >= 1."""
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise RunError(f"--jobs must be a whole number of at least 1, not {jobs!r}")


def check_param_types(user: dict[str, object], specs: dict[str, dict[str, dict]]) -> None:
    """Raise RunError when a ``-p name=value`` does not fit the type of the parameter's
    default in the notebooks (e.g. ``suppress_max=abc`` where the default is 5).
    Whole-number parameters must also be 0 or more."""
    import ast

    kinds = {"int": "a whole number", "float": "a number", "str": "text", "bool": "true or false"}
    kinds.update(list="a JSON list", dict="a JSON object")
    for name, value in user.items():
        for spec in specs.values():
            if name not in spec:
                continue
            try:
                default = ast.literal_eval(str(spec[name].get("default", "None")))
            except (ValueError, SyntaxError):
                continue
            want = type(default).__name__
            if default is None or want not in kinds:
                continue
            ok = {
                "int": isinstance(value, int) and not isinstance(value, bool),
                "float": isinstance(value, int | float) and not isinstance(value, bool),
                "bool": isinstance(value, bool),
            }.get(want, isinstance(value, type(default)))
            if ok and want == "int" and value < 0:
                ok = False
            if not ok:
                more = " of 0 or more" if want == "int" else ""
                raise RunError(f"parameter {name} must be {kinds[want]}{more}, not {value!r}")
            break


# --------------------------------------------------------------------------------------
# One notebook, in a worker process
# --------------------------------------------------------------------------------------


def _execute(
    src: str,
    folder: str,
    period: str,
    data_dir: str,
    params: dict,
    title: str,
    sidecar: str,
    coverage: str = "",
    env: dict[str, str] | None = None,
) -> dict:
    """Execute one notebook with papermill and render its page. Never raises.

    In a pool worker with a warm kernel (``start_warm_kernel``), the notebook runs in
    that kernel after ``kernel_reset``; a notebook that fails takes the kernel with it,
    so the next one starts clean. Elsewhere papermill starts a fresh kernel. ``env``:
    the run's own environment variables (the table cache), for the kernel.
    """
    import nbformat
    import papermill as pm

    name = Path(src).stem
    out_nb = Path(folder) / f"{name}.ipynb"
    env = env or {}
    os.environ.update(env)  # a fresh kernel inherits them; a warm one is given them
    os.environ["AUDIT_METRICS_PATH"] = sidecar
    _quiet_kernel_log(sidecar)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    status, error, cell = "ok", "", None
    cwd = str(Path(src).parent)
    km = ready_kernel(cwd, sidecar, env)
    nb = None
    try:
        nb = pm.execute_notebook(
            src,
            str(out_nb),
            parameters=params,
            kernel_name="python3",
            cwd=cwd,
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,  # saved once, at the end
            **(
                {"km": km}
                if km is not None
                else {"kernel_manager_class": "audit_lib.kernel.QuietKernelManager"}
            ),
        )
    except pm.PapermillExecutionError as exc:
        status, error, cell = "failed", f"{exc.ename}: {exc.evalue}", exc.exec_count
    except Exception as exc:  # the kernel died, the notebook is unreadable, ...
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    if km is not None and status != "ok":
        stop_kernel()
    seconds = time.perf_counter() - t0
    banner = coverage  # the period's 12 months reach back before the data start
    body = ""
    warned: list[str] = []
    from .check import scrub_notebook

    if nb is None and out_nb.exists():  # failed: papermill saved it with the error
        nb = nbformat.read(out_nb, as_version=4)
    if nb is not None:
        if status == "failed":
            for c in nb.cells:  # managers get the banner, not a traceback
                if c.cell_type == "code":
                    c.outputs = [o for o in c.get("outputs", []) if o.get("output_type") != "error"]
        warned, raw = scrub_notebook(nb)  # warnings go to run.log; a raw value fails
        if raw and status == "ok":
            status, error = "failed", "; ".join(raw)
        body = notebook_body(nb)
    if status == "failed":
        where = f" in cell {cell}" if cell else ""
        banner = f"This report failed{where}: {error}. Figures below may be incomplete." + (
            f" {coverage}" if coverage else ""
        )
    html = render_page(
        title, body, period, Path(data_dir).name, status, banner, int(params.get("suppress_max", 5))
    )
    (Path(folder) / f"{name}.html").write_text(html)
    metrics = json.loads(Path(sidecar).read_text()) if Path(sidecar).exists() else {}
    return asdict(
        NotebookResult(
            name, title, status, round(seconds, 2), error, cell, params, started, metrics, warned
        )
    )


def _quiet_kernel_log(sidecar: str) -> None:
    """Send the kernel process's own console output (not cell outputs) to a log beside
    the notebook's metrics sidecar, never to the user's terminal (audit_lib.kernel)."""
    from .kernel import LOG_ENV

    os.environ[LOG_ENV] = str(Path(sidecar).with_suffix(".kernel.log"))


def _skipped(
    name: str, title: str, missing: list[str], folder: Path, period: str, data_dir: Path
) -> NotebookResult:
    need = ", ".join(missing)
    banner = f"Not available: needs table {need}, which is not in the data."
    html = render_page(
        title,
        "<p>This audit could not be produced for this data.</p>",
        period,
        data_dir.name,
        "skipped",
        banner,
    )
    (folder / f"{name}.html").write_text(html)
    return NotebookResult(name, title, "skipped", error=banner)


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


def _console_handler() -> logging.Handler:
    """Plain log lines on stderr when not on a terminal; the index path is left to the
    command, which prints it once on stdout."""
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s"))
    console.addFilter(lambda record: not record.getMessage().startswith("index: "))
    console.addFilter(lambda record: not getattr(record, "file_only", False))
    return console


def _progress(total: int):
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, unit="notebook", desc="audit run")
    return None


def run(
    period: str | None = None,
    data: str | Path = "data/synthetic",
    out: str | Path = "reports",
    only: list[str] | None = None,
    jobs: int | None = None,
    params: list[str] | None = None,
    notebooks: str | Path | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> RunResult:
    """Run the monthly audit. Raises RunError for a bad request (one-line message).

    ``pool``: workers with warm kernels shared by several runs (:func:`warm_workers`);
    ``jobs`` is then the pool's. By default the run starts and ends its own."""
    check_jobs(jobs)
    check_period_syntax(period)
    data_dir = Path(data).resolve()
    if not data_dir.is_dir():
        raise RunError(f"data folder not found: {data}")
    if not os.access(data_dir, os.R_OK | os.X_OK):
        raise RunError(f"cannot read the data folder {data}: permission denied")
    nb_dir = Path(notebooks or DEFAULT_NOTEBOOKS).resolve()  # the kernels run elsewhere
    books = sorted(nb_dir.glob("*.ipynb"))
    if only:
        unknown = set(only) - {b.stem for b in books}
        if unknown:
            raise RunError(
                f"unknown notebook(s) {', '.join(sorted(unknown))}; "
                f"available: {', '.join(b.stem for b in books)}"
            )
        books = [b for b in books if b.stem in only]
    else:
        books = [b for b in books if notebook_meta(b)["monthly"]]
    if not books:
        raise RunError(f"no notebooks to run in {nb_dir}")
    specs = {b.stem: notebook_parameters(b) for b in books}
    declared = {name: set(spec) for name, spec in specs.items()}
    user = _parse_params(params or [], declared)
    check_param_types(user, specs)
    metas = {b: notebook_meta(b) for b in books}
    missing = {
        b: [t for t in metas[b]["requires"] if find_table_file(data_dir, t) is None] for b in books
    }
    runnable = [b for b in books if not missing[b] and b.stem != SUMMARY]
    summary = next((b for b in books if not missing[b] and b.stem == SUMMARY), None)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(runnable) or 1))

    from . import cache

    results: list[NotebookResult] = []
    with contextlib.ExitStack() as stack:
        active = bool(runnable) or summary is not None
        if active and pool is None:
            # the workers start and warm their kernels now, while this process checks
            # the period against the data (validating them into the table cache)
            pool = stack.enter_context(warm_workers(workers, nb_dir))
        run_env = {cache.CACHE_ENV: str(cache.cache_root())}  # where the kernels read tables
        validate_apart(data_dir, jobs or os.cpu_count() or 1)
        period = _period_in_data(period, data_dir)
        folder = Path(out).resolve() / period
        (folder / "worklists").mkdir(parents=True, exist_ok=True)
        sidecars = folder / ".metrics"
        sidecars.mkdir(exist_ok=True)
        handler = logging.FileHandler(folder / "run.log", mode="w")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        bar = _progress(len(books))
        if bar is None:
            log.addHandler(_console_handler())
        else:  # closed before anything else is printed, also when interrupted
            stack.callback(bar.close)
        log.info("audit run %s on %s: %d notebook(s) -> %s", period, data_dir, len(books), folder)
        _announce_key(Path(out).resolve())
        coverage = coverage_note(period, _data_start(data_dir))
        if coverage:
            log.info("%s", coverage)

        def job_args(book: Path) -> tuple:
            base = {"period": period, "data_dir": str(data_dir), "output_dir": str(folder)}
            if book.stem == SUMMARY:
                base["metrics_path"] = str(folder / "metrics.json")
            p = {k: v for k, v in {**base, **user}.items() if k in declared[book.stem]}
            return (
                str(book),
                str(folder),
                period,
                str(data_dir),
                p,
                metas[book]["title"],
                str(sidecars / f"{book.stem}.json"),
                coverage,
                run_env,
            )

        def finish(res: NotebookResult) -> None:
            results.append(res)
            msg = f"{res.name}: {res.status} in {res.seconds:.1f} s" + (
                f" ({res.error})" if res.error else ""
            )
            log.info(msg)
            for w in res.warnings:  # to run.log only: never on the console or a page
                log.warning("%s: %s", res.name, w, extra={"file_only": True})
            if bar is not None:  # one line per notebook above the bar
                bar.write(msg, file=sys.stderr)
                bar.set_postfix_str(res.name)
                bar.update(1)

        for book in books:
            if missing[book]:
                finish(
                    _skipped(
                        book.stem, metas[book]["title"], missing[book], folder, period, data_dir
                    )
                )
        if active:
            stack.enter_context(prepare_tables(data_dir))
            runnable = _longest_first(runnable, Path(out).resolve())
            futures = [pool.submit(_execute, *job_args(b)) for b in runnable]
            for fut in as_completed(futures):
                finish(NotebookResult(**fut.result()))
            _write_metrics(folder, period, data_dir, results)
            if summary is not None:
                finish(NotebookResult(**pool.submit(_execute, *job_args(summary)).result()))
    _write_metrics(folder, period, data_dir, results)
    if bar is not None:
        bar.close()
    index = period_index(folder, period, results, Path(out).resolve())
    top_index(Path(out).resolve())
    log.info("index: %s", index)
    problems = _check_pages(folder, user.get("suppress_max", 5))
    log.removeHandler(handler)
    handler.close()
    for h in list(log.handlers):
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
            log.removeHandler(h)
    return RunResult(period, folder, index, results, problems)


def _check_pages(folder: Path, suppress_max) -> list:
    """``audit check`` on the finished period folder: every finding to run.log, loudly."""
    from .check import check

    try:
        k = int(suppress_max)
    except (TypeError, ValueError):
        k = 5
    problems = check(folder, suppress_max=k)
    for p in problems:
        log.warning("audit check: %s", p)
    if problems:
        log.warning(
            "audit check: %d disclosure problem(s) in %s: do NOT send these pages on",
            len(problems),
            folder,
        )
    return problems


def _announce_key(out: Path) -> None:
    """Create the pseudonym key once, before any notebook runs (never concurrently); log its
    fingerprint, and warn when it differs from the last run's in this output folder."""
    from .disclosure import (
        SECRET_ENV,
        key_fingerprint,
        key_path,
        local_secret,
        remember_fingerprint,
    )

    path = key_path()
    if not os.environ.get(SECRET_ENV) and not path.exists():
        log.warning("no pseudonym key at %s: creating a new one (new pseudonyms)", path)
    fp = key_fingerprint(local_secret())
    log.info("pseudonym key fingerprint %s (also on every worklist)", fp)
    changed = remember_fingerprint(out, fp)
    if changed:
        log.warning("WARNING: %s", changed)


def coverage_note(period: str, data_start: pd.Timestamp | None) -> str:
    """A banner for a period whose 12-month window starts before the data do: how many of
    its 12 months the data cover, so 12-month figures are read as what they are. Empty
    when the data cover the whole window (or their start is unknown)."""
    if data_start is None or pd.isna(data_start):
        return ""
    month = pd.Period(period, freq="M")
    first = pd.Period(pd.Timestamp(data_start), freq="M")
    covered = (month - first).n + 1
    if covered >= 12:
        return ""
    covered = max(covered, 0)
    months = "month" if covered == 1 else "months"
    return (
        f"The data start in {first.strftime('%B %Y')}: the 12 months to "
        f"{month.strftime('%B %Y')} hold only {covered} {months} of data, so 12-month "
        "figures cover those months only."
    )


def _data_start(data_dir: Path) -> pd.Timestamp | None:
    """The first date in the data (extract.json's ``data_start``, else the earliest date
    in any table), from the run's private table cache."""
    from . import cache
    from .load import load_tables

    _, dq = load_tables(data_dir, cache=cache.cache_root())
    if dq.data_start is not None:
        return dq.data_start
    firsts = pd.to_datetime(dq.coverage["first_date"])
    return None if firsts.empty else firsts.min()


def _period_in_data(period: str | None, data_dir: Path) -> str:
    """The period to report (default: the latest complete month inside the data), checked
    against the data: a period after the extract date or ending before the data start,
    or data whose required tables keep no rows, is a RunError (one line, no report)."""
    from .load import LoadError, load_tables

    try:
        if period:  # a malformed period is refused before the data are read
            period = resolve_period(period, None)
        from . import cache

        # the run's private table cache (user cache directory, never the output folder)
        _, dq = load_tables(data_dir, cache=cache.cache_root())
    except (LoadError, ValueError) as exc:
        raise RunError(str(exc)) from None
    if dq.empty_required:
        raise RunError(
            f"no report: required table(s) {', '.join(dq.empty_required)} keep no rows in "
            f"{data_dir} (see audit validate)"
        )
    # without an extract.json the extract date is today: the data end bounds the default
    data_end = dq.data_end if dq.extract_source.startswith("no extract.json") else None
    try:
        period = resolve_period(period, dq.extract_date, data_end)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    month = pd.Period(period, freq="M")
    end = min(d for d in (dq.extract_date, data_end) if d is not None)
    if month.start_time > end:
        raise RunError(
            f"period {period} is after the data end ({end:%d %B %Y}; {dq.extract_source}): "
            "no report"
        )
    firsts = pd.to_datetime(dq.coverage["first_date"])
    start = dq.data_start if dq.data_start is not None else firsts.min()
    if pd.notna(start) and month.end_time < start:
        raise RunError(f"period {period} is before the data start ({start:%d %B %Y}): no report")
    return period


@contextlib.contextmanager
def warm_workers(jobs: int | None = None, notebooks: str | Path | None = None):
    """A pool of ``jobs`` worker processes (default: one per core), each starting and
    warming one kernel now (:func:`start_warm_kernel`), for one run or, passed as
    ``run(..., pool=...)``, for several: each run then skips the start-up (about 3 CPU
    seconds a kernel). Workers and kernels keep the environment of when the pool was
    made; each run gives them its own table cache, and every notebook still starts
    from a reset kernel. A context manager; the kernels stop when it closes, at once
    (queued notebooks cancelled, workers and kernels killed) if the block raises, as on
    Ctrl-C."""
    check_jobs(jobs)
    import nbconvert  # noqa: F401  (imported once here, inherited by the workers)

    from . import workers

    n = max(1, jobs or os.cpu_count() or 1)
    nb_dir = str(Path(notebooks or DEFAULT_NOTEBOOKS).resolve())
    sockets = f"audit-{uuid.uuid4().hex[:8]}-"  # this pool's kernels' socket folders
    try:
        with workers.pool(
            max_workers=n, initializer=start_warm_kernel, initargs=(nb_dir, sockets)
        ) as pool:
            yield pool
    finally:  # whatever a killed kernel left (kernel.SOCKETS_ENV)
        from .kernel import PrivateIPC

        PrivateIPC.remove_folders(sockets)


def validate_apart(data_dir: Path, jobs: int) -> None:
    """Validate the data into the run's table cache, in a pool of ``jobs`` short-lived
    forked processes (``load.ensure_cached``; in this process for a small folder), so the
    memory that reading and checking them takes (gigabytes at a million children) is
    given back when they exit instead of staying with this process for the whole run.
    The checks that follow read the cache. A failure here is left to those checks, which
    raise it with its own message."""
    from . import cache
    from .load import ensure_cached

    with contextlib.suppress(Exception):
        ensure_cached(data_dir, cache.cache_root(), jobs)


@contextlib.contextmanager
def prepare_tables(data_dir: Path):
    """Read and validate the data once, into the private table cache (audit_lib.cache,
    in the user cache directory, never under the output folder); the run's notebooks
    read it there (``$AUDIT_CACHE_DIR``). Yields this run's entry, held until the block
    ends (``cache.in_use``) so that no other run's prune deletes it meanwhile; old
    entries are pruned."""
    from . import cache
    from .load import ensure_cached

    root = cache.cache_root()
    with contextlib.ExitStack() as stack:
        for _ in range(3):  # pruned by another run before it was held: built again
            entry = ensure_cached(data_dir, root)
            if stack.enter_context(cache.in_use(entry)):
                break
        cache.prune(root)
        yield entry


def _longest_first(books: list[Path], out: Path) -> list[Path]:
    """Order notebooks longest first (by their last recorded run time, else file size) so
    the pool's last notebook to finish starts as early as possible."""
    seconds: dict[str, float] = {}
    for m in sorted(out.glob("*/metrics.json"), key=lambda p: p.stat().st_mtime):
        try:
            for name, info in json.loads(m.read_text()).get("notebooks", {}).items():
                if info.get("seconds"):
                    seconds[name] = info["seconds"]
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(books, key=lambda b: (-seconds.get(b.stem, 0.0), -b.stat().st_size))


def _write_metrics(
    folder: Path, period: str, data_dir: Path, results: list[NotebookResult]
) -> None:
    merged: dict[str, dict] = {}
    for r in results:
        merged.update(r.metrics)
    doc = {
        "period": period,
        "data_dir": str(data_dir),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "notebooks": {
            r.name: {
                "status": r.status,
                "seconds": r.seconds,
                "error": r.error or None,
                "cell": r.cell,
                "started": r.started or None,
                "parameters": r.parameters,
            }
            for r in sorted(results, key=lambda r: r.name)
        },
        "metrics": dict(sorted(merged.items())),
    }
    (folder / "metrics.json").write_text(json.dumps(doc, indent=1, default=str))

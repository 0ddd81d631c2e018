"""The ``audit`` command: ``audit synth | validate | import | run | check | comparators |
notebooks``."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

__all__ = ["main"]


#: The generator simulates a population; below this many children it has none to draw.
MIN_SYNTH_CHILDREN = 10


def _synth_problem(args: argparse.Namespace) -> str:
    """One line saying what is wrong with ``audit synth``'s arguments, or ""."""
    import pandas as pd

    if args.children < MIN_SYNTH_CHILDREN:
        return f"--children must be at least {MIN_SYNTH_CHILDREN}, not {args.children}"
    dates = {}
    for name in ("start", "end", "extract_date"):
        value = getattr(args, name)
        if value is None:
            continue
        try:
            dates[name] = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            return f"--{name.replace('_', '-')} must be a date YYYY-MM-DD, not {value!r}"
    if "end" in dates and dates["end"] <= dates["start"]:
        return "--end must be after --start"
    if dates["extract_date"] <= dates["start"]:
        return "--extract-date must be after --start"
    return ""


def _synth(args: argparse.Namespace) -> int:
    from .synthetic import SynthConfig, generate, write_borough

    problem = _synth_problem(args)
    if problem:
        print(f"audit synth: {problem}", file=sys.stderr)
        return 2
    cfg = SynthConfig(
        seed=args.seed,
        children=args.children,
        start=args.start,
        extract_date=args.extract_date,
        end=args.end,
    )
    t0 = time.perf_counter()
    borough = generate(cfg)
    paths = write_borough(borough, args.out)
    seconds = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in paths) / 1e6
    rows = sum(len(f) for f in borough.tables.values())
    print(
        f"wrote {len(paths)} files ({rows:,} rows, {size:.1f} MB) to {args.out} "
        f"in {seconds:.1f} s: {borough.truth['window']['start']} to {borough.truth['window']['end']}"
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .load import LoadError, load_tables

    try:
        _, report = load_tables(args.dir, extract_date=args.extract_date)
    except LoadError as exc:
        print(f"audit validate: {exc}", file=sys.stderr)
        return 2
    print(report.brief() if args.brief else report.to_text())
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(report.to_dict(), indent=1, default=str))
    return 1 if report.unusable or report.empty_required else 0


def _notebooks(args: argparse.Namespace) -> int:
    """Re-execute the committed notebooks in place on the default data, then strip what
    changes between runs (timings, versions, object addresses) so git stays clean."""
    import papermill as pm

    from .disclosure import EXAMPLE_SECRET, SECRET_ENV
    from .nbclean import clean_file

    folder = Path(args.notebooks)
    # committed outputs carry pseudonyms of the public example key, not this machine's
    # private key, so they are the same wherever they are re-executed or checked by nbval
    os.environ[SECRET_ENV] = EXAMPLE_SECRET
    # the summary reads the others' recorded figures, so it runs last
    books = sorted(folder.glob("*.ipynb"), key=lambda p: (p.stem == "summary", p.name))
    if not books:
        print(f"no notebooks in {folder}")
        return 0
    for nb in books:
        print(f"executing {nb}")
        try:
            pm.execute_notebook(
                str(nb),
                str(nb),
                kernel_name="python3",
                cwd=str(folder),
                progress_bar=False,
                parameters={"data_dir": str(Path(args.data).resolve())} if args.data else None,
                # private IPC sockets, as `audit run` uses: no TCP port, no warning
                kernel_manager_class="audit_lib.kernel.QuietKernelManager",
            )
        except pm.PapermillExecutionError as exc:
            print(
                f"audit notebooks: {nb.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}",
                file=sys.stderr,
            )
            return 1
        finally:
            clean_file(nb)
    return 0


def _inputs(paths: list[str], suffix: str, notes: list[dict]) -> list[Path]:
    """The files named, folders expanded to their ``*<suffix>`` files; Excel's ``~$``
    lock files are skipped with a note."""
    found = [
        q
        for p in paths
        for q in (sorted(Path(p).glob(f"*{suffix}")) if Path(p).is_dir() else [Path(p)])
    ]
    locks = [q for q in found if q.name.startswith("~$")]
    for q in locks:
        notes.append({"finding": "Excel lock file skipped", "detail": q.name})
    return [q for q in found if not q.name.startswith("~$")]


def _undated(args: argparse.Namespace, returns: list[dict]) -> str:
    """Why the folder would have no extract date after importing ``returns`` ("" when it
    will have one): no file was found, or no date in the files could be read, and neither
    ``--extract-date`` nor an earlier import into ``--out`` dates it."""
    from .load import LoadError, extract_info

    if args.extract_date or any(r.get("reference_date") for r in returns):
        return ""
    if (Path(args.out) / "extract.json").is_file():
        try:
            extract_info(Path(args.out))
            return ""
        except LoadError:
            pass
    names = sorted({f for r in returns for f in r.get("files", [])})
    if not names:
        return f"no {args.format} file found in {', '.join(map(str, args.paths))}"
    return (
        f"no event date could be read in {', '.join(names)} (dates of birth aside; dates are "
        "dd/mm/YYYY or YYYY-MM-DD text, or Excel dates), so the return cannot be dated: "
        "fix its dates, add the files with its events, or give --extract-date"
    )


def _import(args: argparse.Namespace) -> int:
    """Import statutory returns into a canonical folder, then validate it."""
    import json

    import pandas as pd

    from .load import LoadError, load_tables
    from .sources import finalise, merge_into, write_extract

    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"audit import: no such file: {missing[0]}", file=sys.stderr)
        return 2
    if args.extract_date:
        try:
            pd.Timestamp(args.extract_date)
        except ValueError:
            print(
                f"audit import: --extract-date is not a date: {args.extract_date}", file=sys.stderr
            )
            return 2
    findings: list[dict] = []
    if args.format == "ssda903":
        from .sources.ssda903 import read_903, reference, to_canonical

        res = read_903(_inputs(args.paths, ".csv", findings))
        tables, mapping = to_canonical(res)
        files, findings = res.files, findings + res.findings
        returns = reference(res)
    elif args.format == "cin_census":
        from .sources.cin_census import read_cin, reference

        tables, files, mapping, fnd = read_cin(_inputs(args.paths, ".xml", findings))
        findings += fnd
        returns = reference(files)
    else:
        from .sources.annex_a import read_annex_a, reference

        tables, files, mapping = {}, [], []
        for book in _inputs(args.paths, ".xlsx", findings):
            t, f, m, fi = read_annex_a(book)
            files, mapping, findings = files + f, mapping + m, findings + fi
            for name, frame in t.items():  # merged below, the newest workbook winning
                tables[name] = pd.concat([tables.get(name), frame], ignore_index=True)
        returns = reference(files)
    bad = [f for f in files if f.get("error") and args.format != "ssda903"]
    if bad:
        print(f"audit import: {bad[0]['file']}: {bad[0]['error']}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if why := _undated(args, returns):
        print(f"audit import: nothing imported: {why}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    changes: list[dict] = []
    written: dict = {}
    if tables:
        fnd, changes, written = merge_into(out, tables)
        findings += fnd
    meta = write_extract(out, returns, args.extract_date)
    if {"adoptions", "cla_episodes"} & set(tables):
        written = finalise(out, meta, written)
    try:
        _, dq = load_tables(out, extract_date=args.extract_date, written=written)
    except LoadError as exc:
        print(f"audit import: {exc}", file=sys.stderr)
        return 2
    report = {
        "format": args.format,
        "extract_date": meta.get("extract_date"),
        "date_source": meta.get("date_source"),
        "returns": returns,
        "files": files,
        "mapping": mapping,
        "changes": changes,
        "findings": findings,
        "validation": dq.to_dict(),
    }
    text = json.dumps(report, indent=1, default=str)
    (out / f"import_report_{args.format}.json").write_text(text)
    (out / "import_report.json").write_text(text)
    print(pd.DataFrame(files).drop(columns=["encoding"], errors="ignore").to_string(index=False))
    print()
    print(pd.DataFrame(mapping).to_string(index=False))
    if changes:
        print()
        print(pd.DataFrame(changes).to_string(index=False))
    for f in findings:
        print(f"finding: {f.get('finding', '')}" + (f" ({f['detail']})" if f.get("detail") else ""))
    print()
    print(f"Reference date {meta.get('extract_date', 'unknown')}: {meta.get('date_source', '')}")
    print(dq.to_text())
    return 1 if "children" in dq.unusable or dq.empty_required else 0


def _run(args: argparse.Namespace) -> int:
    from .run import RunError, run

    try:
        result = run(
            period=args.period,
            data=args.data,
            out=args.out,
            only=args.only,
            jobs=args.jobs,
            notebooks=args.notebooks,
            params=args.param,
        )
    except RunError as exc:
        print(f"audit run: {exc}", file=sys.stderr)
        return 2
    failed = [n.name for n in result.notebooks if n.status == "failed"]
    skipped = [n.name for n in result.notebooks if n.status == "skipped"]
    if skipped:
        print(f"skipped (tables missing): {', '.join(skipped)}")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    print(result.index)
    if result.disclosure:
        print(
            f"audit check: {len(result.disclosure)} disclosure problem(s) (see run.log): "
            "do NOT send these pages on",
            file=sys.stderr,
        )
    return 1 if failed or result.disclosure else 0


class _HelpFormatter(argparse.HelpFormatter):
    """Help text with each option's default, unless the text already says it (options
    whose default is worked out at run time say how, e.g. "default: latest month")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" not in text
            and action.default not in (None, argparse.SUPPRESS, [], False)
            and (action.option_strings or action.nargs in ("?", "*"))
        ):
            text += " (default: %(default)s)"
        return text


def _check(args: argparse.Namespace) -> int:
    """Scan a finished report folder with the disclosure rules; exit 1 on any finding."""
    from .check import check

    folder = Path(args.report_dir)
    if not folder.is_dir():
        print(f"audit check: no such folder: {folder}", file=sys.stderr)
        return 2
    findings = check(folder, suppress_max=args.suppress_max, data_dir=args.data)
    for f in findings:
        print(f)
    if findings:
        print(
            f"audit check: {len(findings)} problem(s) in {folder}: do NOT send these pages on",
            file=sys.stderr,
        )
        return 1
    print(f"audit check: {folder} passed every disclosure rule")
    return 0


def _comparators(args: argparse.Namespace) -> int:
    """``audit comparators add FILE...``: copy DfE open-data CSVs into a comparators
    folder with a manifest; ``audit comparators reconcile``: the borough's published-year
    figures from its CIN census import against its row in the DfE tables."""
    from . import comparators as C

    if args.action == "add":
        added, problems = C.add_files(args.files, args.dir)
        for a in added:
            print(
                f"added {a['file']}: table {a['table']} ({a['title']}), years "
                f"{', '.join(a['years'])}, levels {', '.join(a['geographic_levels'])}; "
                f"{a['rows_read']} rows read, {a['rows_kept']} kept, {a['rows_rejected']} rejected"
            )
        for p in problems:
            print(f"audit comparators: {p}", file=sys.stderr)
        # 1: some files added and some not; 2: none could be added (as a usage error)
        return 0 if not problems else 1 if added else 2
    from .reconcile import ReconcileError, reconcile

    try:
        table = reconcile(args.data, args.dir, args.la_code, args.year)
    except ReconcileError as exc:
        print(f"audit comparators reconcile: {exc}", file=sys.stderr)
        return 2
    print(table.to_string(index=False))
    return 1 if (table["status"] == "differs").any() else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audit",
        description="Quality-assurance audits for children's social care.",
        formatter_class=_HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add = sub.add_parser

    def add_parser(name: str, **kw) -> argparse.ArgumentParser:
        return _add(name, formatter_class=_HelpFormatter, description=kw.get("help"), **kw)

    sub.add_parser = add_parser  # every subcommand shows its defaults

    s = sub.add_parser("synth", help="generate the synthetic borough")
    s.add_argument("--seed", type=int, default=20211, help="random seed (same seed, same borough)")
    s.add_argument("--out", default="data/synthetic", help="folder to write the tables to")
    s.add_argument("--children", type=int, default=86_000, help="resident children under 18")
    s.add_argument("--start", default="2021-04-01", help="first day of the window (YYYY-MM-DD)")
    s.add_argument(
        "--end",
        default=None,
        help="last day (default: end of the last complete month before the extract date)",
    )
    s.add_argument(
        "--extract-date", default="2026-11-01", help="date the extract is taken (YYYY-MM-DD)"
    )
    s.set_defaults(func=_synth)

    v = sub.add_parser("validate", help="check a canonical data folder and report its data quality")
    v.add_argument("dir", help="canonical data folder (one CSV or Parquet file per table)")
    v.add_argument(
        "--extract-date",
        default=None,
        help="dates after this are errors (default: extract.json's, else today)",
    )
    v.add_argument(
        "--json", default=None, help="also write the report as JSON here (default: not written)"
    )
    v.add_argument(
        "--brief",
        action="store_true",
        help="one line: ok, or each unusable table with its reason (used by make report; default: off)",
    )
    v.set_defaults(func=_validate)

    i = sub.add_parser("import", help="import statutory returns into a canonical folder")
    i.add_argument(
        "format", choices=["ssda903", "annex_a", "cin_census"], help="the return's format"
    )
    i.add_argument("paths", nargs="+", help="files or folders")
    i.add_argument("--out", required=True, help="canonical folder to write or merge into")
    i.add_argument(
        "--extract-date",
        default=None,
        help="the folder's extract date (default: the returns' latest reference date)",
    )
    i.set_defaults(func=_import)

    r = sub.add_parser("run", help="run the monthly audit and render the reports")
    r.add_argument("--period", default=None, help="YYYY-MM (default: latest complete month)")
    r.add_argument("--data", default="data/synthetic", help="canonical data folder")
    r.add_argument("--out", default="reports", help="folder for the reports (one per period)")
    r.add_argument(
        "--only", nargs="+", default=None, metavar="NAME", help="notebooks to run (default: all)"
    )
    r.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    r.add_argument("--notebooks", default=None, help="notebook folder (default: the project's)")
    r.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="notebook parameter, repeatable (default: each notebook's own)",
    )
    r.set_defaults(func=_run)

    c = sub.add_parser("check", help="scan a finished report folder for disclosure problems")
    c.add_argument("report_dir", help="the report folder of one period, e.g. reports/2026-10")
    c.add_argument("--suppress-max", type=int, default=5, help="largest count suppressed")
    c.add_argument(
        "--data", default=None, help="data folder: also look for its staff ids (default: none)"
    )
    c.set_defaults(func=_check)

    cm = sub.add_parser("comparators", help="DfE published figures for England, region, neighbours")
    cm.add_argument("action", choices=["add", "reconcile"], help="add files, or reconcile")
    cm.add_argument("files", nargs="*", help="DfE open-data CSV files (add)")
    cm.add_argument("--dir", default="comparators", help="the comparators folder")
    cm.add_argument(
        "--data",
        default=None,
        help="reconcile: canonical folder of a CIN census import (default: none)",
    )
    cm.add_argument(
        "--la-code",
        default=None,
        help="reconcile: the authority's code, e.g. E09000025 (default: none)",
    )
    cm.add_argument("--year", default=None, help="reporting year, e.g. 2025 (default: latest)")
    cm.set_defaults(func=_comparators)

    n = sub.add_parser("notebooks", help="re-execute the committed notebooks in place")
    n.add_argument("--notebooks", default="notebooks", help="folder of notebooks to re-execute")
    n.add_argument("--data", default=None, help="data folder (default: the notebooks' own)")
    n.set_defaults(func=_notebooks)
    return parser


def _interrupted(command: str, signum: int) -> int:
    """Say in one line that ``command`` was interrupted (Ctrl-C) or stopped by
    ``signum``; the exit code is 128 + ``signum``, as a shell gives."""
    lead = "\n" if sys.stderr.isatty() else ""  # after the terminal's ^C
    how = "interrupted" if signum == signal.SIGINT else f"stopped ({signal.Signals(signum).name})"
    with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
        print(f"{lead}audit {command}: {how}", file=sys.stderr)
    return 128 + signum


def main(argv: list[str] | None = None) -> int:
    from .workers import stopped_by_signals

    args = build_parser().parse_args(argv)
    try:
        with stopped_by_signals():  # SIGTERM, SIGHUP: as Ctrl-C
            return args.func(args)
    except KeyboardInterrupt as exc:  # Ctrl-C: the workers are stopped (audit_lib.workers)
        return _interrupted(args.command, getattr(exc, "signum", signal.SIGINT))
    except BrokenPipeError:  # e.g. `audit validate DIR | head`: the reader left early
        _quiet_stdout()
        return 1
    except PermissionError as exc:
        where = exc.filename or "a file"
        print(f"audit {args.command}: cannot read {where}: permission denied", file=sys.stderr)
        return 2


def console(argv: list[str] | None = None) -> int:
    """The ``audit`` command: :func:`main`, then the process ends.

    Before it ends, every object left is frozen (``gc.freeze``), so the interpreter's
    last garbage collections skip them: with pandas, numpy and pyarrow loaded those
    collections walk every object they made, which took 40-50 ms, a tenth of a small
    import. Everything else about the exit (flushing, closing, ``atexit``) is as usual,
    but Ctrl-C then ends the process at once (the default action).
    """
    import gc

    code = main(argv)
    gc.freeze()
    # another Ctrl-C while the process ends (an impatient user) ends it at once, not with
    # a traceback from the interpreter's exit handlers (joining workers that are ending)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    return code


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot raise again
    (the Python documentation's advice for SIGPIPE)."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(console())

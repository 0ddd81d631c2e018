"""The ``audit`` command: ``audit synth | validate | notebooks``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _synth(args: argparse.Namespace) -> int:
    from .synthetic import SynthConfig, generate, write_borough

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
    print(report.to_text())
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(report.to_dict(), indent=1, default=str))
    return 1 if report.unusable or report.empty_required else 0


def _notebooks(args: argparse.Namespace) -> int:
    """Re-execute the committed notebooks in place on the default data."""
    import papermill as pm

    folder = Path(args.notebooks)
    # the summary reads the others' recorded figures, so it runs last
    books = sorted(folder.glob("*.ipynb"), key=lambda p: (p.stem == "summary", p.name))
    if not books:
        print(f"no notebooks in {folder}")
        return 0
    for nb in books:
        print(f"executing {nb}")
        pm.execute_notebook(
            str(nb),
            str(nb),
            kernel_name="python3",
            cwd=str(folder),
            progress_bar=False,
            parameters={"data_dir": str(Path(args.data).resolve())} if args.data else None,
        )
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
    out.mkdir(parents=True, exist_ok=True)
    changes: list[dict] = []
    if tables:
        fnd, changes = merge_into(out, tables)
        findings += fnd
    meta = write_extract(out, returns, args.extract_date)
    if {"adoptions", "cla_episodes"} & set(tables):
        finalise(out, meta)
    try:
        _, dq = load_tables(out, extract_date=args.extract_date)
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
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audit", description="Quality-assurance audits for children's social care."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="generate the synthetic borough")
    s.add_argument("--seed", type=int, default=20211)
    s.add_argument("--out", default="data/synthetic")
    s.add_argument("--children", type=int, default=86_000, help="resident children under 18")
    s.add_argument("--start", default="2021-04-01", help="first day of the window (YYYY-MM-DD)")
    s.add_argument(
        "--end",
        default=None,
        help="last day (default: end of the last complete month before the extract date)",
    )
    s.add_argument("--extract-date", default="2026-11-01")
    s.set_defaults(func=_synth)

    v = sub.add_parser("validate", help="check a canonical data folder and report its data quality")
    v.add_argument("dir")
    v.add_argument(
        "--extract-date",
        default=None,
        help="dates after this are errors (default: extract.json's, else today)",
    )
    v.add_argument("--json", default=None, help="also write the report as JSON here")
    v.set_defaults(func=_validate)

    i = sub.add_parser("import", help="import statutory returns into a canonical folder")
    i.add_argument("format", choices=["ssda903", "annex_a", "cin_census"])
    i.add_argument("paths", nargs="+", help="files or folders")
    i.add_argument("--out", required=True)
    i.add_argument(
        "--extract-date",
        default=None,
        help="the folder's extract date (default: the returns' latest reference date)",
    )
    i.set_defaults(func=_import)

    r = sub.add_parser("run", help="run the monthly audit and render the reports")
    r.add_argument("--period", default=None, help="YYYY-MM (default: latest complete month)")
    r.add_argument("--data", default="data/synthetic")
    r.add_argument("--out", default="reports")
    r.add_argument("--only", nargs="+", default=None, metavar="NAME", help="notebooks to run")
    r.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    r.add_argument("--notebooks", default=None, help="notebook folder (default: the project's)")
    r.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="notebook parameter (repeatable)",
    )
    r.set_defaults(func=_run)

    n = sub.add_parser("notebooks", help="re-execute the committed notebooks in place")
    n.add_argument("--notebooks", default="notebooks")
    n.add_argument("--data", default=None, help="data folder (default: the notebooks' own)")
    n.set_defaults(func=_notebooks)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

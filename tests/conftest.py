"""Shared fixtures: a small synthetic borough generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit_lib.load import load_tables
from audit_lib.synthetic import SynthConfig, generate, write_borough
from audit_lib.tablefile import write_csv

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "data" / "synthetic"
EXTERNAL = ROOT.parent / "shared" / "external"
#: Why the outside-sample tests skip, and how to run them.
EXTERNAL_MISSING = (
    f"outside sample returns not found at {EXTERNAL} (../shared/external beside the "
    "repository). To run these tests, put there the public fake files other open-source "
    "children's-social-care tools publish (MIT): ssda903-fake/ (csc-validator-be-903, "
    "tests/fake_data/*.csv), cin-census/CIN_Census_2024.xml (csc-validator-be-cin, "
    "fake_data/) and annex-a/Annex_A.xlsx (liia-tools, liiatools/spec/annex_a/samples/)"
)

#: A smaller borough for fast tests; the planted effects are the same.
SMALL = SynthConfig(seed=7, children=30_000)


@pytest.fixture(scope="session")
def small_borough():
    return generate(SMALL)


@pytest.fixture(scope="session")
def small_dir(small_borough, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("borough")
    write_borough(small_borough, out)
    return out


@pytest.fixture(scope="session")
def tiny_dir(small_borough, tmp_path_factory) -> Path:
    """About 400 children of the small borough with all their records: fast to load."""
    t = small_borough.tables
    keep = set(t["referrals"]["child_id"].iloc[:300]) | set(
        t["cla_episodes"]["child_id"].iloc[:150]
    )
    out = tmp_path_factory.mktemp("tiny")
    for name, frame in t.items():
        if "child_id" in frame:
            frame = frame[frame["child_id"].isin(keep)]
        if name == "cp_reviews":
            plans = t["cp_plans"]
            frame = frame[
                frame["cp_plan_id"].isin(plans.loc[plans["child_id"].isin(keep), "cp_plan_id"])
            ]
        write_csv(frame, out / f"{name}.csv")
    (out / "extract.json").write_text('{"extract_date": "2026-11-01"}')
    return out


@pytest.fixture(scope="session")
def small_tables(small_dir):
    return load_tables(small_dir)


@pytest.fixture(scope="session")
def default_tables():
    return load_tables(DEFAULT_DATA)


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
    """One monthly run over the committed borough, shared by every test that only reads
    its pages (``run`` result, output folder). Tests using it run on one xdist worker
    (see ``pytest_collection_modifyitems``), so it is built once per session."""
    from audit_lib.run import run

    out = tmp_path_factory.mktemp("default-run")
    return run(data=DEFAULT_DATA, out=out, jobs=2), out


@pytest.fixture(scope="session")
def warm_pool():
    """One worker with a warm kernel, shared by the small audit runs of this test
    process (``run(..., pool=warm_pool)``): each run skips kernel start-up and warm-up,
    and still starts every notebook from a reset kernel. Runs that test start-up,
    failures or the 2-worker pool make their own."""
    from audit_lib.run import warm_workers

    with warm_workers(jobs=1) as pool:
        yield pool


# --- scheduling on xdist workers ---------------------------------------------------------
# `make test` runs `--dist loadfile`: by default a file is one work unit, so a notebook's
# cells share one kernel and a module-scoped fixture is built once. The scheduler below
# (pytest-xdist's make-scheduler hook) cuts finer units where that is safe, from what the
# workers see at collection: a test using no module-scoped fixture is a unit of its own,
# and the tests of a costly shared session fixture are one unit, so it is built once. Units
# are handed out dearest first, so neither worker is left with a long one at the end.

#: Session fixtures too dear to build on both workers: their tests form one unit.
ONE_WORKER = ("default_run",)

#: Rough seconds (one quiet core) of the tests that take more than a few. Keys are node-id
#: prefixes (longest match wins); a unit costs the sum of its tests. Unlisted: 0.2 s.
COST = {
    "tests/test_disproportionality.py::test_interval_coverage": 30.0,
    "tests/test_any_size.py::test_every_notebook_renders": 10.0,
    "tests/test_browser.py": 4.0,
    "tests/test_run.py::test_run_writes_every_page": 18.0,
    "tests/test_run.py::test_failure_is_isolated": 9.0,
    "tests/test_run.py::test_period_index_links": 8.0,
    "tests/test_run.py::test_a_period_early": 4.5,
    "tests/test_run.py::test_reports_in_a_real_browser": 4.0,
    "tests/test_disclosure_e2e.py::test_hostile_authority_every_page": 14.0,
    "tests/test_disclosure_e2e.py::test_runner_fails_a_page": 4.5,
    "tests/test_import_ssda903.py::test_audit_run_on_an_imported": 11.0,
    "tests/test_import_multi_year.py": 5.0,
    "tests/test_reconcile.py::test_published_layout_row": 6.0,
    "tests/test_export_roundtrip.py::test_cin_census_round_trip": 4.0,
    "tests/test_notebook_parameters.py": 6.5,
    "tests/test_cli_guards.py::test_run_console_is_quiet": 7.0,
    "tests/test_cache.py::test_entry_round_trips": 7.0,
    "tests/test_warm_kernel.py": 4.5,
    "notebooks/": 0.5,
    "notebooks/summary.ipynb::Cell 2": 3.0,
}
UNITS_FILE = "xdist-units.json"


def _unit(item) -> str:
    """The work unit of an item: its file unless it can safely run on its own."""
    path = item.nodeid.split("::")[0]
    if not path.endswith(".py"):
        return path  # a notebook's cells run in order in one kernel
    names = getattr(item, "fixturenames", ())
    for name in ONE_WORKER:
        if name in names:
            return name
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info else ()
    if any(d[-1].scope in ("package", "module", "class") for d in defs if d):
        return path
    return item.nodeid


def _cost(nodeid: str) -> float:
    hits = [(len(k), v) for k, v in COST.items() if nodeid.startswith(k)]
    return max(hits)[1] if hits else 0.2


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Order the items dearest unit first and, on an xdist worker, tell the controller's
    scheduler the units (a file beside the workers' temporary folders)."""
    unit = {item.nodeid: _unit(item) for item in items}
    cost: dict[str, float] = {}
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        u = unit[item.nodeid]
        cost[u] = cost.get(u, 0.0) + _cost(item.nodeid)
        first.setdefault(u, i)
    items.sort(key=lambda it: (-cost[unit[it.nodeid]], first[unit[it.nodeid]]))
    if hasattr(config, "workerinput"):
        import json

        shared = config._tmp_path_factory.getbasetemp().parent
        tmp = shared / f"{UNITS_FILE}.{config.workerinput['workerid']}"
        tmp.write_text(json.dumps(unit))
        tmp.replace(shared / UNITS_FILE)  # atomic: the workers write the same mapping


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile` with the finer units the workers found (see above)."""
    if config.getvalue("dist") != "loadfile":
        return None
    import json

    from xdist.scheduler import LoadFileScheduling

    units_path = config._tmp_path_factory.getbasetemp() / UNITS_FILE

    class UnitScheduling(LoadFileScheduling):
        units: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.units is None:  # read once every worker has collected
                found = units_path.exists()
                self.units = json.loads(units_path.read_text()) if found else {}
            return self.units.get(nodeid) or super()._split_scope(nodeid)

    return UnitScheduling(config, log)


#: Chromium flags for the browser tests: no sandbox (containers), nothing fetched.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def block_network(page) -> list[str]:
    """Abort every request a page makes outside file: and data: URLs; returns the list the
    blocked URLs are appended to (tests assert it stays empty)."""
    outside: list[str] = []

    def guard(route):
        if not route.request.url.startswith(("file:", "data:")):
            outside.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", guard)
    return outside

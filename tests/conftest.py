"""Shared fixtures: a small synthetic borough generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit_lib.load import load_tables
from audit_lib.synthetic import SynthConfig, generate, write_borough

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "data" / "synthetic"
EXTERNAL = ROOT.parent / "shared" / "external"

#: A smaller borough for fast tests; the planted effects are the same.
SMALL = SynthConfig(seed=7, children=30_000)


@pytest.fixture(scope="session", autouse=True)
def private_table_cache(tmp_path_factory):
    """Runs in tests keep their table cache in a temporary folder, not the user's."""
    import os

    from audit_lib.cache import CACHE_ENV

    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("table-cache"))
    yield
    if old is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = old


@pytest.fixture(scope="session")
def small_borough():
    return generate(SMALL)


@pytest.fixture(scope="session")
def small_dir(small_borough, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("borough")
    write_borough(small_borough, out)
    return out


@pytest.fixture(scope="session")
def small_tables(small_dir):
    return load_tables(small_dir)


@pytest.fixture(scope="session")
def default_tables():
    return load_tables(DEFAULT_DATA)

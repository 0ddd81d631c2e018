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


def pytest_configure(config):
    """`audit run` in the tests keeps its table cache in a temporary folder shared by the
    whole test run, never in the user's cache directory."""
    import os
    import tempfile

    from audit_lib.cache import HOME_ENV

    if HOME_ENV not in os.environ:
        os.environ[HOME_ENV] = tempfile.mkdtemp(prefix="audit-test-cache-")
        config._audit_cache = os.environ[HOME_ENV]


def pytest_unconfigure(config):
    import shutil

    if getattr(config, "_audit_cache", None) and not hasattr(config, "workerinput"):
        shutil.rmtree(config._audit_cache, ignore_errors=True)


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

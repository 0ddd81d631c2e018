"""Shared fixtures: a small synthetic borough generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit_lib.load import load_tables
from audit_lib.synthetic import SynthConfig, generate, write_borough

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

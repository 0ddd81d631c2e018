"""Settings for every test, the notebooks' nbval cells included (tests/conftest.py holds
the fixtures and the xdist scheduling)."""

from __future__ import annotations

import pytest


def pytest_configure(config):
    """`audit run` in the tests keeps its table cache in a temporary folder shared by the
    whole test run, never in the user's cache directory, and pseudonymises with the
    public example key."""
    import os
    import tempfile

    from audit_lib.cache import HOME_ENV
    from audit_lib.disclosure import EXAMPLE_SECRET, SECRET_ENV

    # the committed notebooks' outputs (checked by nbval) were made with the public example
    # key; the tests never read nor create the user's private key
    os.environ[SECRET_ENV] = EXAMPLE_SECRET
    if HOME_ENV not in os.environ:
        os.environ[HOME_ENV] = tempfile.mkdtemp(prefix="audit-test-cache-")
        config._audit_cache = os.environ[HOME_ENV]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """nbval's kernels read the validated tables from the session's table cache, as the
    kernels of `audit run` do, instead of each parsing and checking the borough again."""
    import os

    from audit_lib.cache import CACHE_ENV, HOME_ENV

    if str(item.path).endswith(".ipynb") and os.environ.get(HOME_ENV):
        os.environ[CACHE_ENV] = os.environ[HOME_ENV]


def pytest_runtest_teardown(item):
    import os

    from audit_lib.cache import CACHE_ENV

    if str(item.path).endswith(".ipynb"):
        os.environ.pop(CACHE_ENV, None)


def pytest_unconfigure(config):
    import shutil

    if getattr(config, "_audit_cache", None) and not hasattr(config, "workerinput"):
        shutil.rmtree(config._audit_cache, ignore_errors=True)

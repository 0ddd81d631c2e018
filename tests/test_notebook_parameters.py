"""Researchers change parameters, not code: notebooks rerun under papermill parameters."""

from __future__ import annotations

import json

import nbformat
import pytest

from audit_lib.run import run

from .conftest import DEFAULT_DATA


@pytest.mark.parametrize(
    "params",
    [
        {"group_by": ["ethnicity", "age_band"]},
        {"group_by": ["sex"], "reference_group": "F", "count": "events", "adjustment": "holm"},
    ],
)
def test_disproportionality_regroups_without_code_edits(tmp_path, warm_pool, params):
    """As ``audit run -p group_by='["sex"]' ...`` does: parameters as JSON, in a warm kernel."""
    result = run(
        data=DEFAULT_DATA,
        out=tmp_path,
        only=["disproportionality"],
        params=[f"{k}={json.dumps(v)}" for k, v in params.items()],
        pool=warm_pool,
    )
    (nb,) = result.notebooks
    assert nb.status == "ok", nb.error
    assert nb.parameters["group_by"] == params["group_by"]
    out = nbformat.read(result.folder / "disproportionality.ipynb", as_version=4)
    text = "".join(
        "".join(o.get("data", {}).get("text/html", ""))
        for c in out.cells
        for o in c.get("outputs", [])
    )
    first = params["group_by"][0]
    if first == "ethnicity":
        assert "Black, 10-15" in text  # groups labelled from the model
    else:
        assert ">Male<" in text

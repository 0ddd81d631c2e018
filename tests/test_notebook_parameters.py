"""Researchers change parameters, not code: notebooks rerun under papermill parameters."""

from __future__ import annotations

import papermill as pm
import pytest

from .conftest import DEFAULT_DATA, ROOT


@pytest.mark.parametrize(
    "params",
    [
        {"group_by": ["ethnicity", "age_band"]},
        {"group_by": ["sex"], "reference_group": "F", "count": "events", "adjustment": "holm"},
    ],
)
def test_disproportionality_regroups_without_code_edits(tmp_path, params):
    out = tmp_path / "dp.ipynb"
    nb = pm.execute_notebook(
        str(ROOT / "notebooks" / "disproportionality.ipynb"),
        str(out),
        parameters={"data_dir": str(DEFAULT_DATA), "output_dir": str(tmp_path), **params},
        kernel_name="python3",
        cwd=str(ROOT / "notebooks"),
        progress_bar=False,
    )
    text = "".join(
        "".join(o.get("data", {}).get("text/html", ""))
        for c in nb.cells
        for o in c.get("outputs", [])
    )
    first = params["group_by"][0]
    if first == "ethnicity":
        assert "Black, 10-15" in text  # groups labelled from the model
    else:
        assert ">Male<" in text

"""Recording headline figures for metrics.json (DESIGN.md "metrics.json").

A notebook calls ``record(name, value)`` for each headline figure. When the monthly run
executes the notebook it sets ``$AUDIT_METRICS_PATH``; each call then rewrites that JSON
sidecar, which run.py merges into reports/<period>/metrics.json. Outside a run the
values are only kept in memory (``recorded()``).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np

__all__ = ["KEY_PATTERN", "from_notebooks", "load", "record", "record_all", "recorded", "share"]

PATH_ENV = "AUDIT_METRICS_PATH"
#: MIME type of the invisible output that carries recorded metrics inside a notebook.
MIME = "application/vnd.audit-metrics+json"
#: <audit>.<measure>[.<stage>][.<group>][.<window>], lower-case words with underscores.
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_RECORDED: dict[str, dict] = {}


def _clean(v):
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def share(numerator, denominator, lower=None, upper=None, **extra) -> dict:
    """A share as metrics.json holds it: numerator, denominator, value, Wilson bounds."""
    from .stats import wilson

    n, d = int(numerator), int(denominator)
    if lower is None or upper is None:
        lo, hi = wilson(n, d)
        lower, upper = float(lo), float(hi)
    return {
        "numerator": n,
        "denominator": d,
        "value": n / d if d else None,
        "lower": lower,
        "upper": upper,
        **extra,
    }


def record(name: str, value) -> dict:
    """Record one headline figure under a stable key; returns what was stored.

    ``value`` is a number, or a dict with at least ``value`` (a share also has
    numerator, denominator, lower, upper; a duration has n).
    """
    return record_all({name: value})[name]


def record_all(entries: dict[str, object]) -> dict[str, dict]:
    """Record many figures at once (one sidecar write, one hidden output)."""
    stored = {}
    for name, value in entries.items():
        if not KEY_PATTERN.match(name):
            raise ValueError(f"metric key {name!r} does not follow <audit>.<measure>[...].<window>")
        stored[name] = _clean(dict(value) if isinstance(value, dict) else {"value": value})
    _RECORDED.update(stored)
    path = os.environ.get(PATH_ENV)
    if path:
        Path(path).write_text(json.dumps(_RECORDED, indent=1, sort_keys=True))
    _display(stored)
    return stored


def _display(payload: dict) -> None:
    """Inside a notebook, keep the figure in the executed notebook too (not rendered)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    if get_ipython() is not None:
        display({MIME: payload}, raw=True)


def from_notebooks(folder: str | Path) -> dict[str, dict]:
    """Metrics recorded in the executed notebooks of ``folder`` (``*.ipynb``)."""
    out: dict[str, dict] = {}
    for path in sorted(Path(folder).glob("*.ipynb")):
        try:
            nb = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        for cell in nb.get("cells", []):
            for o in cell.get("outputs", []):
                payload = o.get("data", {}).get(MIME)
                if isinstance(payload, dict):
                    out.update(payload)
    return out


def load(source: str | Path) -> dict[str, dict]:
    """Recorded metrics from a metrics.json file or from a folder of executed notebooks."""
    p = Path(source)
    if p.is_file():
        doc = json.loads(p.read_text())
        return doc.get("metrics", doc)
    if p.is_dir():
        return from_notebooks(p)
    raise FileNotFoundError(f"no metrics at {p}")


def recorded() -> dict[str, dict]:
    """Everything recorded in this process so far."""
    return dict(_RECORDED)

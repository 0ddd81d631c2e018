"""Write a generated borough as a canonical data folder."""

from __future__ import annotations

import json
from pathlib import Path

from ..tablefile import write_csv, write_parquet
from .generate import Borough

#: Tables written as Parquet: the visits are the borough's largest table (6.9 MB as CSV,
#: 0.6 MB as Parquet); the loader reads either (.parquet preferred).
PARQUET_TABLES = frozenset({"visits"})


def write_borough(borough: Borough, out: str | Path) -> list[Path]:
    """Write one file per canonical table (CSV; Parquet for :data:`PARQUET_TABLES`),
    truth.json and extract.json; return the paths.

    Output is byte-identical for the same borough (no timestamps, fixed ordering).
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in borough.tables.items():
        if name in PARQUET_TABLES:
            path = folder / f"{name}.parquet"
            write_parquet(frame, path)
        else:
            path = folder / f"{name}.csv"
            write_csv(frame, path)
        paths.append(path)
    truth = folder / "truth.json"
    truth.write_text(json.dumps(borough.truth, indent=1, sort_keys=False) + "\n")
    extract = folder / "extract.json"
    extract.write_text(
        json.dumps(
            {
                "extract_date": borough.truth["extract_date"],
                "data_start": borough.truth["window"]["start"],
                "source": "synthetic",
            }
        )
        + "\n"
    )
    return [*paths, truth, extract]

"""The floor that `audit run` is measured against: the same machinery, no audit work.

Six notebooks (one per audit notebook, same names) that each read the borough's CSVs
with plain pandas and draw one matplotlib chart, executed in-process by papermill (a
fresh kernel each, papermill's default) in a pool of two worker processes, each then
exported by nbconvert's ``basic`` template to an HTML file, as `audit run` does.

Usage: python benchmarks/floor.py --data DIR --out DIR [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CELL = """import glob, os
import pandas as pd
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from IPython.display import Image, display
import io
tables = {os.path.basename(p)[:-4]: pd.read_csv(p, dtype=str) for p in sorted(glob.glob(os.path.join(data_dir, "*.csv")))}
tables.update({os.path.basename(p)[:-8]: pd.read_parquet(p) for p in sorted(glob.glob(os.path.join(data_dir, "*.parquet")))})
fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
ax.bar(list(tables), [len(t) for t in tables.values()])
ax.set_title("Rows per table")
buf = io.BytesIO(); fig.savefig(buf, format="png", bbox_inches="tight"); plt.close(fig)
display(Image(data=buf.getvalue(), format="png"))"""


def notebooks(folder: Path) -> list[Path]:
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nb.metadata["language_info"] = {"name": "python"}
        params = nbformat.v4.new_code_cell('data_dir = "."')
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell(CELL)]
        nbformat.write(nb, folder / src.name)
        out.append(folder / src.name)
    return out


def one(src: str, out: str, data: str) -> None:
    import papermill as pm
    from nbconvert import HTMLExporter

    nb = pm.execute_notebook(
        src,
        str(Path(out) / Path(src).name),
        parameters={"data_dir": data},
        kernel_name="python3",
        cwd=str(Path(src).parent),
        progress_bar=False,
    )
    exporter = HTMLExporter(template_name="basic")
    exporter.exclude_input = True
    body, _ = exporter.from_notebook_node(nb)
    (Path(out) / f"{Path(src).stem}.html").write_text(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    out = Path(args.out)
    books = notebooks(out / "notebooks")
    data = str(Path(args.data).resolve())
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for fut in [pool.submit(one, str(b), str(out), data) for b in books]:
            fut.result()
    return 0


if __name__ == "__main__":
    sys.exit(main())

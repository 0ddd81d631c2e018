"""Writing canonical text (audit_lib.sources.write_text) and the newest-record merge."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit_lib.sources import REF, csv_text, newest, write_text


def test_write_text_is_to_csv_byte_for_byte(tmp_path):
    awkward = ["", "a,b", 'say "hi"', "two\nlines", "cr\rhere", " padded ", "é", "x"]
    for width in (1, 2, 3):
        frame = pd.DataFrame(
            {f"c{i}": np.roll(awkward, i).astype(object) for i in range(width)}, dtype=object
        )
        for rows in (frame, frame.iloc[[7]], frame.iloc[:0]):
            want = rows.to_csv(index=False, lineterminator="\n")
            assert csv_text([list(rows.columns)] + rows.to_numpy().tolist()) == want
            write_text(rows, tmp_path / "t.csv")
            assert (tmp_path / "t.csv").read_bytes() == want.encode()


def test_write_text_says_whether_the_file_reads_back_as_the_frame(tmp_path):
    plain = pd.DataFrame({"a": ["1", ""], "b": ["x y", "z"]}, dtype=object)
    assert write_text(plain, tmp_path / "p.csv")
    quoted = plain.assign(b=["x,y", "z"])  # needs quotes
    assert not write_text(quoted, tmp_path / "q.csv")
    assert not write_text(plain.assign(b=["x\ry", "z"]), tmp_path / "r.csv")
    assert not write_text(plain[["a"]], tmp_path / "one.csv")  # a blank line would be skipped


def test_newest_keeps_a_frame_already_in_key_order_and_sorts_the_rest():
    frame = pd.DataFrame(
        {
            "k": ["a", "b", "b", "c"],
            "d": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-02-01", "2020-01-01"]),
            "v": ["1", "2", "3", "4"],
            REF: ["2024-03-31"] * 4,
        }
    )
    same = newest(frame, ["k", "d"])
    pd.testing.assert_frame_equal(same, frame)
    shuffled = frame.iloc[[3, 1, 0, 2]]
    pd.testing.assert_frame_equal(newest(shuffled, ["k", "d"]), frame)
    repeated = pd.concat([frame, frame.iloc[[1]].assign(v="9", **{REF: "2025-03-31"})])
    out = newest(repeated, ["k", "d"])
    assert out["v"].tolist() == ["1", "9", "3", "4"]


def test_an_import_stopped_mid_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    """Ctrl-C (or a full disk) while a table, or the store of earlier imports, is being
    written: the file keeps its previous contents, whole, and nothing half-written is
    left. Written in place, the store was cut mid-row, and the next import merged
    without the rows it lost."""
    import pytest

    import audit_lib.sources as S

    path = tmp_path / "cla_episodes.csv"
    before = pd.DataFrame({"child_id": ["1", "2"], "x": ["a", "b"]}, dtype=object)
    write_text(before, path)
    old = path.read_bytes()
    calls = []

    def stops_at_the_second_chunk(rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return csv_text(rows)

    monkeypatch.setattr(S, "csv_text", stops_at_the_second_chunk)
    bigger = pd.DataFrame({"child_id": [str(i) for i in range(10)], "x": ["y"] * 10}, dtype=object)
    with pytest.raises(KeyboardInterrupt):
        write_text(bigger, path, chunk=4)
    assert path.read_bytes() == old and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    monkeypatch.undo()
    write_text(bigger, path, chunk=4)
    assert path.read_bytes() == bigger.to_csv(index=False, lineterminator="\n").encode()


def test_a_file_written_again_keeps_its_permissions(tmp_path):
    """A table, the store of earlier imports and extract.json made private (0600, case
    data) stay private when an import writes them again; written beside and renamed
    into place, they became 0644 (the umask's default)."""
    from audit_lib.sources import write_extract

    path = tmp_path / "children.csv"
    frame = pd.DataFrame({"child_id": ["1", "2"], "x": ["a", "b"]}, dtype=object)
    write_text(frame, path)
    write_extract(tmp_path, [])
    for p in (path, tmp_path / "extract.json"):
        p.chmod(0o600)
    write_text(frame, path)
    write_extract(tmp_path, [])
    assert {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {
        "children.csv": 0o600,
        "extract.json": 0o600,
    }

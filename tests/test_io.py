"""Atomic writes (gamps.io): never a half file, no temporary left behind, bytes as promised."""

from __future__ import annotations

import os
import stat

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from gamps import io  # noqa: E402


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    path = tmp_path / "out.csv"

    def half_then_crash(handle):
        handle.write(b"a,b\n1,")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        io.atomic_write(path, half_then_crash)
    assert list(tmp_path.iterdir()) == []
    # an existing complete file survives a failed rewrite unchanged
    io.atomic_write_text(path, "a,b\n1,2\n")
    with pytest.raises(KeyboardInterrupt):
        io.atomic_write(path, half_then_crash)
    assert path.read_text() == "a,b\n1,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    """SIGKILL leaves the temporary file behind; the rerun of the job cleans it."""
    path = tmp_path / "N10_seed0.csv"
    left = [tmp_path / ".N10_seed0.csv.abc123.tmp", tmp_path / ".N10_seed0.csv.x.tmp"]
    other = tmp_path / ".N10_seed1.csv.abc123.tmp"  # another output's: not ours to touch
    for p in (*left, other):
        p.write_text("half")
    io.atomic_write_text(path, "complete\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["N10_seed0.csv", other.name])


def test_records_and_frames_round_trip_at_full_precision(tmp_path):
    records = [{"a": 1, "x": 0.1 + 0.2}, {"a": 2, "x": 1 / 3}]
    io.write_records(records, tmp_path / "r.csv")
    frame = pd.read_csv(tmp_path / "r.csv")
    assert frame["x"].tolist() == [0.1 + 0.2, 1 / 3]  # repr precision, bit for bit
    io.write_csv(frame, tmp_path / "f.csv")
    assert (tmp_path / "f.csv").read_bytes() == (tmp_path / "r.csv").read_bytes()
    io.write_csv(frame, tmp_path / "g.csv", float_format="%.3g")
    assert (tmp_path / "g.csv").read_text().splitlines()[1] == "1,0.3"


def test_figures_are_written_whole_and_identically_twice(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    paths = [tmp_path / "f.pdf", tmp_path / "f.png"]
    io.save_figure(fig, paths, pdf={"metadata": {"CreationDate": None}})
    first = [p.read_bytes() for p in paths]
    io.save_figure(fig, paths, pdf={"metadata": {"CreationDate": None}})
    assert [p.read_bytes() for p in paths] == first
    assert first[0].startswith(b"%PDF") and first[1].startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.pdf", "f.png"]
    plt.close(fig)


def test_written_files_have_the_mode_of_an_ordinary_new_file(tmp_path):
    """Not mkstemp's private 0600: on a shared filesystem others read the outputs."""
    old = os.umask(0o022)
    try:
        io.atomic_write_text(tmp_path / "a.csv", "x\n")
        os.umask(0o077)
        io.atomic_write_text(tmp_path / "b.csv", "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.csv").stat().st_mode) == 0o600

"""The trajectory batch (gamps.data): save/load round trip, failure modes, consistency checks.

What GridworldDomain.collect puts in a batch is tested in test_gridworld.py; the ``batch``
fixture (pi_b's gridworld trajectories with metadata) is in conftest.py."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from gamps import data
from gamps.data import DatasetError, TrajectoryBatch

# ---------------------------------------------------------------------------------------------
# Save / load
# ---------------------------------------------------------------------------------------------


def test_save_load_round_trip(batch, tmp_path):
    path = tmp_path / "sub" / "dataset.npz"
    data.save(batch, path)
    assert path.exists() and data.metadata_path(path).exists()
    assert json.loads(data.metadata_path(path).read_text()) == batch.meta
    # no temporary files left behind
    assert sorted(p.name for p in path.parent.iterdir()) == ["dataset.json", "dataset.npz"]
    loaded = data.load(path, expect={"seed": 1, "env": "gridworld"})
    for name in data.ARRAYS:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(batch, name))
        assert getattr(loaded, name).dtype == getattr(batch, name).dtype
    assert loaded.meta == batch.meta


def test_metadata_mismatch_raises_naming_the_file(batch, tmp_path):
    path = tmp_path / "dataset.npz"
    data.save(batch, path)
    with pytest.raises(DatasetError) as err:
        data.load(path, expect={"seed": 2})
    assert str(path) in str(err.value)
    assert "seed" in str(err.value)
    with pytest.raises(DatasetError, match="missing_key"):
        data.load(path, expect={"missing_key": 0})


def test_truncated_npz_raises_naming_the_file(batch, tmp_path):
    path = tmp_path / "dataset.npz"
    data.save(batch, path)
    content = path.read_bytes()
    for cut in (len(content) // 2, 10, 0):
        path.write_bytes(content[:cut])
        with pytest.raises(DatasetError) as err:
            data.load(path)
        assert str(path) in str(err.value), cut


def test_corrupted_member_raises_naming_the_file(batch, tmp_path):
    """A zip whose directory is intact but one array's bytes are garbage."""
    path = tmp_path / "dataset.npz"
    data.save(batch, path)
    arrays = {name: getattr(batch, name) for name in data.ARRAYS}
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in arrays.items():
            if name == "rewards":
                zf.writestr(f"{name}.npy", b"\x93NUMPY garbage")
            else:
                with zf.open(f"{name}.npy", "w") as handle:
                    np.lib.format.write_array(handle, value)
    with pytest.raises(DatasetError) as err:
        data.load(path)
    assert str(path) in str(err.value)


def test_missing_file_and_missing_sidecar(batch, tmp_path):
    with pytest.raises(DatasetError) as err:
        data.load(tmp_path / "nothing.npz")
    assert "nothing.npz" in str(err.value)
    path = tmp_path / "dataset.npz"
    data.save(batch, path)
    data.metadata_path(path).unlink()
    with pytest.raises(DatasetError) as err:
        data.load(path)
    assert "dataset.json" in str(err.value)
    data.metadata_path(path).write_text("{not json")
    with pytest.raises(DatasetError, match="dataset.json"):
        data.load(path)


def test_missing_array_raises_naming_the_file(batch, tmp_path):
    path = tmp_path / "dataset.npz"
    arrays = {name: getattr(batch, name) for name in data.ARRAYS if name != "mask"}
    np.savez(path, **arrays)
    data.metadata_path(path).write_text("{}")
    with pytest.raises(DatasetError) as err:
        data.load(path)
    assert str(path) in str(err.value) and "mask" in str(err.value)


def test_inconsistent_arrays_on_disk_raise_naming_the_file(batch, tmp_path):
    path = tmp_path / "dataset.npz"
    arrays = {name: getattr(batch, name) for name in data.ARRAYS}
    arrays["actions"] = arrays["actions"][:, :-1]
    np.savez(path, **arrays)
    data.metadata_path(path).write_text("{}")
    with pytest.raises(DatasetError) as err:
        data.load(path)
    assert str(path) in str(err.value) and "actions" in str(err.value)


@pytest.mark.parametrize(
    ("name", "change", "words"),
    [
        ("states", lambda a: a[:, :-1], "states"),  # [N, T] instead of [N, T+1]
        ("actions", lambda a: a[:-1], "actions"),  # one trajectory short
        ("mask", lambda a: a.astype(float), "boolean"),
        ("behaviour_log_prob", lambda a: a[:, :-2], "behaviour_log_prob"),
        ("rewards", lambda a: np.where(np.arange(a.shape[1]) == 0, np.nan, a), "NaN"),
        ("behaviour_log_prob", lambda a: np.full_like(a, -np.inf), "behaviour_log_prob"),
        ("rewards", lambda a: a[0], "rewards"),  # not 2-d
    ],
)
def test_inconsistent_shapes_raise(batch, name, change, words):
    arrays = {n: getattr(batch, n) for n in data.ARRAYS}
    arrays[name] = change(arrays[name])
    with pytest.raises(DatasetError, match=words):
        TrajectoryBatch(**arrays)


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)


NESTED_META = {"env": "gridworld", "domain": {"gamma": 0.9, "horizon": 20}}


def test_stale_metadata_names_the_differing_nested_key(batch, tmp_path):
    path = tmp_path / "dataset.npz"
    data.save(TrajectoryBatch(*(getattr(batch, n) for n in data.ARRAYS), meta=NESTED_META), path)
    expect = {"env": "gridworld", "domain": {"gamma": 0.9, "horizon": 15}}
    with pytest.raises(DatasetError) as err:
        data.load(path, expect=expect)
    message = str(err.value)
    assert message.startswith(f"{path}: stale dataset")
    assert "domain.horizon is 20 but the config asks for 15" in message
    assert "gamma" not in message  # only what differs
    assert message.endswith(f"snakemake --forcerun {path}")
    data.load(path, expect={"env": "gridworld", "domain": {"gamma": 0.9, "horizon": 20}})


def test_metadata_that_is_not_an_object_is_rejected(batch, tmp_path):
    path = tmp_path / "dataset.npz"
    data.save(batch, path)
    data.metadata_path(path).write_text("[1, 2]\n")
    with pytest.raises(DatasetError, match="dataset.json: metadata is not a JSON object"):
        data.load(path)

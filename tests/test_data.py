"""The trajectory batch: structure of collected data, save/load round trip, failure modes."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from gamps import data
from gamps.data import DatasetError, TrajectoryBatch
from gamps.domains.gridworld import dynamics as gw


@pytest.fixture
def batch(domain, behaviour_theta, rng) -> TrajectoryBatch:
    b = domain.collect(behaviour_theta, 300, rng)
    return TrajectoryBatch(
        b.states,
        b.actions,
        b.rewards,
        b.mask,
        b.behaviour_log_prob,
        meta={"seed": 1, "n": 300, "env": "gridworld", "gamma": 0.9},
    )


# ---------------------------------------------------------------------------------------------
# What GridworldDomain.collect produces
# ---------------------------------------------------------------------------------------------


def test_collected_batch_follows_the_dynamics(domain, behaviour_theta, batch):
    n, horizon = 300, domain.horizon
    assert batch.states.shape == (n, horizon + 1)
    assert batch.actions.shape == batch.rewards.shape == batch.mask.shape == (n, horizon)
    assert batch.n == n and batch.horizon == horizon
    s, a, m = batch.states[:, :-1], batch.actions, batch.mask
    # initial states in the support of mu
    assert np.all(gw.MU[batch.states[:, 0]] > 0)
    # the mask is a prefix: once an episode ends it stays ended
    assert np.all(m[:, 1:] <= m[:, :-1])
    # real transitions follow NEXT_STATE, real rewards follow REWARD
    np.testing.assert_array_equal(batch.states[:, 1:][m], gw.NEXT_STATE[s[m], a[m]])
    np.testing.assert_array_equal(batch.rewards[m], gw.REWARD[s[m], a[m]])
    np.testing.assert_allclose(
        batch.behaviour_log_prob[m], domain.policy.log_prob(behaviour_theta, s[m], a[m])
    )
    # an episode stops early only at the goal; running episodes never sit on it
    ended = batch.lengths < horizon
    assert 0 < ended.sum() < n  # both kinds of episodes are present
    assert np.all(batch.states[np.arange(n), batch.lengths][ended] == gw.GOAL)
    assert np.all(s[m] != gw.GOAL)
    # padding: states repeat the last one, everything else is 0
    for i in np.nonzero(ended)[0]:
        length = batch.lengths[i]
        assert np.all(batch.states[i, length:] == batch.states[i, length])
        assert np.all(batch.actions[i, length:] == 0)
        assert np.all(batch.rewards[i, length:] == 0.0)
        assert np.all(batch.behaviour_log_prob[i, length:] == 0.0)
    # returns
    np.testing.assert_allclose(
        batch.discounted_returns(0.9), -(1 - 0.9**batch.lengths) / (1 - 0.9), rtol=1e-12
    )


def test_collect_is_reproducible(domain, behaviour_theta):
    a = domain.collect(behaviour_theta, 50, np.random.default_rng(0))
    b = domain.collect(behaviour_theta, 50, np.random.default_rng(0))
    for name in data.ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


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
    assert "delete the dataset" in message
    data.load(path, expect={"env": "gridworld", "domain": {"gamma": 0.9, "horizon": 20}})


def test_metadata_that_is_not_an_object_is_rejected(batch, tmp_path):
    path = tmp_path / "dataset.npz"
    data.save(batch, path)
    data.metadata_path(path).write_text("[1, 2]\n")
    with pytest.raises(DatasetError, match="dataset.json: metadata is not a JSON object"):
        data.load(path)

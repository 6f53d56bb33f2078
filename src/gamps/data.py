"""The trajectory batch: padded arrays plus a mask, saved as ``.npz`` with a ``.json`` sidecar.

Shapes (N trajectories, horizon T): ``states [N, T+1, ...]``, ``actions [N, T, ...]``,
``rewards [N, T]``, ``mask [N, T]`` (True where step t was taken), ``behaviour_log_prob [N, T]``
(log pi_b(a_t | s_t), the denominator of every importance ratio). Discrete spaces drop the
trailing feature axis. After termination, states repeat the last state and everything else is 0.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .io import atomic_write, atomic_write_text

ARRAYS = ("states", "actions", "rewards", "mask", "behaviour_log_prob")


def rebuild(path: str | Path) -> str:
    """The one command that rebuilds a bad file of the pipeline and everything computed from it
    (``--forcerun`` reruns the job that writes it and every job downstream)."""
    return f"rebuild it and everything computed from it with: snakemake --forcerun {path}"


class DatasetError(ValueError):
    """A dataset file is missing, truncated, inconsistent, or does not match the config."""


@dataclass(frozen=True)
class TrajectoryBatch:
    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    mask: np.ndarray
    behaviour_log_prob: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = _shape_problems(self)
        if problems:
            raise DatasetError("inconsistent trajectory batch: " + "; ".join(problems))

    @property
    def n(self) -> int:
        return self.rewards.shape[0]

    @property
    def horizon(self) -> int:
        return self.rewards.shape[1]

    @property
    def lengths(self) -> np.ndarray:
        return self.mask.sum(axis=1)

    def subset(self, rows: np.ndarray | slice) -> TrajectoryBatch:
        """The trajectories ``rows`` (indices or a slice) as a batch, with the same metadata."""
        return TrajectoryBatch(
            self.states[rows],
            self.actions[rows],
            self.rewards[rows],
            self.mask[rows],
            self.behaviour_log_prob[rows],
            self.meta,
        )

    def discounted_returns(self, gamma: float) -> np.ndarray:
        """sum_t gamma^t r_t of each trajectory, shape [N]."""
        return self.rewards @ gamma ** np.arange(self.horizon)


def _shape_problems(batch: TrajectoryBatch) -> list[str]:
    if batch.rewards.ndim != 2:
        return [f"rewards must be [N, T], got shape {batch.rewards.shape}"]
    n, t = batch.rewards.shape
    problems = []
    for name, lead in (
        ("states", (n, t + 1)),
        ("actions", (n, t)),
        ("mask", (n, t)),
        ("behaviour_log_prob", (n, t)),
    ):
        shape = getattr(batch, name).shape
        if shape[:2] != lead:
            problems.append(f"{name} has shape {shape}, expected leading {lead}")
    if batch.mask.dtype != bool:
        problems.append(f"mask must be boolean, got {batch.mask.dtype}")
    for name in ("rewards", "behaviour_log_prob"):
        if not np.all(np.isfinite(getattr(batch, name))):
            problems.append(f"{name} holds NaN or inf")
    return problems


def metadata_path(path: str | os.PathLike) -> Path:
    return Path(path).with_suffix(".json")


def save(batch: TrajectoryBatch, path: str | os.PathLike) -> None:
    """Save arrays to ``path`` (.npz) and metadata to the ``.json`` beside it, each atomically.

    The sidecar is written last, so a dataset with a sidecar is a complete dataset.
    """
    path = Path(path)
    arrays = {name: getattr(batch, name) for name in ARRAYS}
    atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))
    atomic_write_text(metadata_path(path), json.dumps(batch.meta, indent=2, sort_keys=True) + "\n")


def load(path: str | os.PathLike, expect: dict | None = None) -> TrajectoryBatch:
    """Load a dataset, naming the file in any error.

    ``expect`` maps metadata keys to required values (for instance the config used to build the
    dataset): a stale file whose metadata differs is rejected, never silently used.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [name for name in ARRAYS if name not in npz.files]
            if missing:
                raise DatasetError(f"{path}: missing arrays {missing}; {rebuild(path)}")
            arrays = {name: npz[name] for name in ARRAYS}
    except DatasetError:
        raise
    except Exception as err:  # zipfile, OSError, ValueError: all mean an unreadable file
        raise DatasetError(
            f"{path}: unreadable dataset, truncated or corrupted ({type(err).__name__}: {err});"
            f" {rebuild(path)}"
        ) from err
    meta_file = metadata_path(path)
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DatasetError(f"{meta_file}: unreadable metadata ({err}); {rebuild(path)}") from err
    if not isinstance(meta, dict):
        raise DatasetError(f"{meta_file}: metadata is not a JSON object; {rebuild(path)}")
    differences = _differences(meta, expect or {})
    if differences:
        raise DatasetError(
            f"{path}: stale dataset, its metadata does not match the config: "
            + "; ".join(differences)
            + f"; {rebuild(path)}"
        )
    try:
        return TrajectoryBatch(**arrays, meta=meta)
    except DatasetError as err:
        raise DatasetError(f"{path}: {err}; {rebuild(path)}") from err


def _differences(meta: dict, expect: dict, prefix: str = "") -> list[str]:
    """Each expected key whose stored value differs, as 'key is stored but the config asks for'."""
    found = []
    for key, value in expect.items():
        if key not in meta:
            found.append(f"{prefix}{key} is missing but the config asks for {value!r}")
        elif isinstance(value, dict) and isinstance(meta[key], dict):
            found += _differences(meta[key], value, f"{prefix}{key}.")
        elif meta[key] != value:
            found.append(f"{prefix}{key} is {meta[key]!r} but the config asks for {value!r}")
    return found

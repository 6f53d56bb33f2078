"""Every file the package writes goes through here: a temporary file in the target's folder, then
an atomic rename, so a reader never sees half a file and an interrupted job leaves none behind."""

from __future__ import annotations

import csv
import glob
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

PathLike = str | os.PathLike[str]


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def atomic_write(path: PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write`` on a binary handle of a temporary file beside ``path``, then rename it.

    Temporary files that a killed earlier writer of the same path left behind are removed first
    (one job writes one path at a time, so none of them can still be in use).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{glob.escape(_temporary_prefix(path))}*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temporary_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        # mkstemp makes the file private (0600); give it the mode of an ordinary new file.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: PathLike, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode()))


def write_csv(frame: pd.DataFrame, path: PathLike, float_format: str | None = None) -> None:
    """A DataFrame as CSV, without its index (floats at full precision unless ``float_format``)."""
    atomic_write_text(
        path, frame.to_csv(index=False, lineterminator="\n", float_format=float_format)
    )


def write_records(records: Iterable[Mapping[str, Any]], path: PathLike) -> None:
    """Records (dicts with the same keys) as CSV, floats at full precision: reruns compare bit
    for bit."""
    records = list(records)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    atomic_write_text(path, buffer.getvalue())


def save_figure(fig: Any, paths: Iterable[PathLike], **kwargs_by_suffix: dict[str, Any]) -> None:
    """Save a matplotlib figure to each path; ``kwargs_by_suffix["pdf"]`` etc. go to savefig.

    matplotlib picks the format from the name, so the temporary file keeps the suffix."""
    for path in map(Path, paths):
        fmt = path.suffix.lstrip(".")
        kwargs = kwargs_by_suffix.get(fmt, {})

        def write(handle: IO[bytes], fmt: str = fmt, kwargs: dict[str, Any] = kwargs) -> None:
            fig.savefig(handle, format=fmt, **kwargs)

        atomic_write(path, write)


def save_array(array: Any, path: PathLike) -> None:
    """``numpy.save`` of ``array`` to ``path`` (``.npy``), atomically."""
    import numpy as np

    atomic_write(path, lambda handle: np.save(handle, np.asarray(array)))

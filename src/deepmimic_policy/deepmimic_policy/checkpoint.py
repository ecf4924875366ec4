"""Checkpoints: written atomically, refused with a clear error when truncated or foreign.

A checkpoint whose tensors hold a NaN or an infinity (a diverged run) is refused on load, so that
``--resume``, ``eval``, ``export`` and the policy node never run it.

A checkpoint is one ``torch.save`` dictionary with ``format``, the models' and optimiser's state,
the iteration, the resolved experiment configuration and the random-number states needed to
resume. Writing goes to a temporary file in the same folder, then ``os.replace``: a run killed at
any moment leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

FORMAT = "deepmimic_checkpoint_v1"
REQUIRED = ("format", "iteration", "actor_state_dict", "experiment")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used, with the file and the reason."""


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would, for every thread, for a moment)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plus ``format``) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save({"format": FORMAT, **payload}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private (0600); give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``.

    Raises:
        CheckpointError: Missing, empty, truncated or corrupted file, or not one of ours.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: checkpoint file is empty")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)  # no code runs on load
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError... for damaged files
        raise CheckpointError(f"{path}: cannot read checkpoint (truncated or corrupted?): {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path}: not a deepmimic checkpoint (format {found!r})")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {missing}")
    bad = first_non_finite(data)
    if bad is not None:
        raise CheckpointError(f"{path}: checkpoint holds NaN or infinite values in {bad} (a diverged run?); "
                              "use an earlier checkpoint")
    return data


def first_non_finite(value: Any, where: str = "") -> str | None:
    """Where the first floating tensor with a NaN or infinite element sits in nested dicts and lists, or None."""
    if isinstance(value, torch.Tensor):
        return where if value.is_floating_point() and not bool(torch.isfinite(value).all()) else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = first_non_finite(item, f"{where}[{key!r}]" if where else str(key))
        if found is not None:
            return found
    return None


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest ``model_<iteration>.pt`` in a run folder, or ``None``."""
    candidates = sorted(Path(run_dir).glob("model_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    return candidates[-1] if candidates else None


RELEASE_KEYS = ("iteration", "samples", "wall_s", "actor_state_dict", "experiment", "obs_dim", "num_actions",
                "clip_conditioning")


def export_policy(checkpoint: str | Path, out: str | Path) -> Path:
    """A small checkpoint with only what running the policy needs (no critic, optimiser or RNG states).

    ``Policy.load``, ``deepmimic eval`` and ``deepmimic play`` read it like a full checkpoint.
    """
    data = load_checkpoint(checkpoint)
    return save_checkpoint(out, {k: data[k] for k in RELEASE_KEYS if k in data})

"""A run folder that is never mixed: one training run per folder, resumable after a kill at any moment.

- ``open_run_folder(path, resume)`` is called before a trainer writes anything. A folder that holds
  anything is refused unless the run is resumed; a path that is a file is refused; temporary files
  left by a save that was killed (``.model_<N>.pt.*.tmp``) are removed.
- ``truncate_history(path, iteration)`` cuts ``history.jsonl`` back to the iterations up to the
  checkpoint a run resumes from, so a killed and resumed run lists every iteration once
  (TensorBoard events past it are dropped by the writer's ``purge_step``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

HISTORY_FILE = "history.jsonl"
TEMP_PATTERN = ".model_*.pt.*.tmp"


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (the message names it and says what to do)."""


def check_run_folder(path: str | Path, resume: bool) -> Path:
    """Raise ``RunFolderError`` unless ``path`` can hold this run (changes nothing)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"run folder {path} is a file, not a folder; choose another run folder")
    if path.is_dir() and not resume:
        held = sorted(p.name for p in path.iterdir())
        if held:
            listed = ", ".join(held[:4]) + (f" and {len(held) - 4} more" if len(held) > 4 else "")
            raise RunFolderError(f"run folder {path} is not empty (holds {listed}); continue it with --resume "
                                 "(resume:=true) or choose another run folder")
    return path


def open_run_folder(path: str | Path, resume: bool) -> Path:
    """Check ``path`` for a new run (or a resumed one), create it and remove stale temporary files.

    Raises:
        RunFolderError: ``path`` is a file, or holds a previous run and ``resume`` is false.
    """
    path = check_run_folder(path, resume)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob(TEMP_PATTERN):
        stale.unlink(missing_ok=True)
    return path


def truncate_history(path: str | Path, iteration: int) -> int:
    """Keep the records of ``history.jsonl`` up to ``iteration``; returns how many were dropped.

    A torn last line (a kill in the middle of a write) is dropped too. The file is replaced
    atomically.
    """
    history = Path(path) / HISTORY_FILE
    if not history.is_file():
        return 0
    kept, dropped = [], 0
    for line in history.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
            keep = int(record["iteration"]) <= iteration
        except (ValueError, KeyError, TypeError):
            keep = False
        if keep:
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        tmp = history.with_name(f".{HISTORY_FILE}.tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(tmp, history)
    return dropped

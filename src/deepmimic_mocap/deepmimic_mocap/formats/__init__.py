"""Motion file formats, chosen by one registry: a name maps to ``"module:function"``.

Readers are imported lazily so that one format's dependencies never load for another.
"""

from __future__ import annotations

import importlib
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..assets import resolve_motion
from ..errors import MotionFormatError
from ..motion import Motion

READERS: dict[str, str] = {
    "deepmimic": "deepmimic_mocap.formats.deepmimic_json:load_deepmimic_motion",
    "bvh": "deepmimic_mocap.formats.bvh:load_bvh",
    "asf_amc": "deepmimic_mocap.formats.asf_amc:load_amc",
    "locomujoco": "deepmimic_mocap.formats.locomujoco_npz:load_locomujoco_npz",
    "npz": "deepmimic_mocap.motion:load_motion_npz",
}
_EXTENSIONS = {".txt": "deepmimic", ".json": "deepmimic", ".bvh": "bvh", ".amc": "asf_amc"}
TEXT_FORMATS = ("deepmimic", "bvh", "asf_amc")
SNIFF_BYTES = 4096
# Bytes that never occur in the text formats we read (control characters other than tab, LF, CR, FF).
_BINARY_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13)) + b"\x7f"


def sniff_text(path: Path) -> None:
    """Refuse a binary file posing as a text format, reading only its first ``SNIFF_BYTES`` bytes.

    Raises:
        MotionFormatError: A NUL byte, or more than 1 % control bytes, in the first 4 KiB.
    """
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    control = sum(head.count(bytes([b])) for b in _BINARY_BYTES)
    if b"\0" in head or control > len(head) // 100:
        raise MotionFormatError(path, f"binary data, not a {path.suffix or 'text'} text file "
                                f"({control} control bytes in the first {len(head)} bytes)")


def resolve_reader(name: str) -> Callable[..., Motion]:
    """The reader function registered under ``name``; unknown names list the valid ones."""
    if name not in READERS:
        raise KeyError(f"unknown motion format '{name}'; formats: {', '.join(READERS)}")
    module_name, attr = READERS[name].split(":")
    return getattr(importlib.import_module(module_name), attr)


def detect_format(path: Path) -> str:
    """Format name of a motion file, from its extension and, for ``.npz``, its array names."""
    suffix = path.suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if suffix == ".npz":
        if not zipfile.is_zipfile(path):
            raise MotionFormatError(path, "not a readable npz archive (not a zip file; truncated?)")
        try:
            with np.load(path, allow_pickle=False) as data:
                keys = set(data.files)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise MotionFormatError(path, f"not a readable npz archive: {err}") from None
        if "format" in keys and "dof_pos" in keys:
            return "npz"
        if "qpos" in keys or any(k.startswith("q_") for k in keys):
            return "locomujoco"
        raise MotionFormatError(path, f"npz holds neither a deepmimic clip nor LocoMuJoCo arrays "
                                f"(arrays: {', '.join(sorted(keys)) or 'none'})")
    raise MotionFormatError(path, f"unknown motion file extension '{suffix}'; known: "
                            f"{', '.join(sorted([*_EXTENSIONS, '.npz']))}")


def load_motion(path_or_name: str | Path, fmt: str | None = None, **options: Any) -> Motion:
    """Load any supported motion file (or a bundled clip by name, e.g. ``walk``).

    Args:
        path_or_name: A file path or a bundled clip name.
        fmt: Format name from ``READERS``; detected from the file when ``None``.
        **options: Passed to the reader (``asf=`` for AMC files, ``character=`` for DeepMimic).
    """
    path = resolve_motion(path_or_name)
    if path.is_dir():
        raise MotionFormatError(path, "is a folder, expected a motion file")
    if path.stat().st_size == 0:
        raise MotionFormatError(path, "file is empty")
    fmt = fmt or detect_format(path)
    if fmt in TEXT_FORMATS:
        sniff_text(path)
    return resolve_reader(fmt)(path, **options)

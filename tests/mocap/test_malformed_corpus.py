"""Every malformed input in ``tests/fixtures/malformed`` fails cleanly, in the library and the CLI.

A corpus file takes part when a sidecar ``<file name>.expected`` lies beside it, listing one
substring per line that the error message must contain (line numbers as ``:LINE:``, from the
``file:LINE: message`` form). Files without a sidecar are helpers (an ``.asf`` beside an
``.amc``) and are skipped. The npz files are binary; ``write_npz_fixtures`` below made them and
re-makes them with ``python tests/mocap/test_malformed_corpus.py``.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from deepmimic_mocap.formats import READERS, detect_format

from deepmimic_mocap import MotionFormatError, load_motion

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "malformed"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_file() and not p.name.endswith(".expected")
               and p.with_name(p.name + ".expected").is_file())


# Cases that fail because of a defect outside this test's files; strict, so a fix shows up as XPASS.
KNOWN_DEFECTS: dict[str, str] = {}  # file name -> reason, for a defect found and not yet fixed


def _params() -> list:
    return [pytest.param(p, id=p.name, marks=[pytest.mark.xfail(reason=KNOWN_DEFECTS[p.name], strict=True)]
                         if p.name in KNOWN_DEFECTS else []) for p in CASES]


def _expected(path: Path) -> list[str]:
    lines = path.with_name(path.name + ".expected").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()]


def _skip_without_reader(path: Path) -> None:
    """Skip files of formats whose reader module is not written yet (another engineer's work)."""
    try:
        fmt = detect_format(path)
    except MotionFormatError:
        return  # detection itself is what the case tests
    module = READERS[fmt].split(":")[0]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name == module:
            pytest.skip(f"reader {module} does not exist yet")
        raise


def test_corpus_is_populated():
    names = {p.name for p in CASES}
    assert sum(n.startswith("deepmimic_") for n in names) >= 12
    assert sum(n.startswith(("locomujoco_", "npz_")) for n in names) >= 8


@pytest.mark.parametrize("path", _params())
def test_library_raises_motion_format_error(path):
    _skip_without_reader(path)
    with pytest.raises(MotionFormatError) as info:
        load_motion(path)
    message = str(info.value)
    assert path.name in message
    for part in _expected(path):
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize("path", _params())
def test_cli_reports_one_line_and_exits_2(path):
    _skip_without_reader(path)
    result = subprocess.run([sys.executable, "-m", "deepmimic.cli", "motion", "info", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("deepmimic motion: error: ")
    assert path.name in lines[0]
    for part in _expected(path):
        assert part in lines[0]
    assert result.stdout == ""


# ---------------------------------------------------------------------------- npz fixtures
def _v0_arrays(frames: int = 5) -> dict[str, np.ndarray]:
    """A tiny valid v0 clip: the six pelvis joints and two hinges."""
    t = np.linspace(0.0, 0.1, frames)
    names = ["pelvis_tx", "pelvis_tz", "pelvis_ty", "pelvis_tilt", "pelvis_list", "pelvis_rotation",
             "left_knee_joint", "right_knee_joint"]
    arrays = {f"q_{n}": np.sin(t + i) for i, n in enumerate(names)}
    arrays.update({f"dq_{n}": np.cos(t + i) for i, n in enumerate(names)})
    return arrays


def _v1_arrays(frames: int = 5) -> dict[str, np.ndarray]:
    """A tiny valid 1.x trajectory: free joint and three hinges."""
    qpos = np.zeros((frames, 10))
    qpos[:, 3] = 1.0
    return {"qpos": qpos, "qvel": np.zeros((frames, 9)), "frequency": np.array(50.0),
            "joint_names": np.array(["root", "hip", "knee", "ankle"]), "split_points": np.array([0, frames])}


def write_npz_fixtures(directory: Path = CORPUS) -> None:
    """(Re)write the npz cases of the corpus and their sidecars."""
    def case(name: str, arrays: dict[str, np.ndarray] | bytes, *expected: str) -> None:
        path = directory / name
        if isinstance(arrays, bytes):
            path.write_bytes(arrays)
        else:
            np.savez(path, **arrays)
        path.with_name(name + ".expected").write_text("\n".join(expected) + "\n")

    v0 = _v0_arrays()
    case("locomujoco_missing_root.npz", {k: v for k, v in v0.items() if k != "q_pelvis_ty"},
         "missing root array(s) q_pelvis_ty")
    case("locomujoco_length_mismatch.npz", dict(v0, q_left_knee_joint=v0["q_left_knee_joint"][:4]),
         "array 'q_left_knee_joint' has 4 frames", "'q_pelvis_tx' has 5")
    nan = v0["q_right_knee_joint"].copy()
    nan[3] = np.nan
    case("locomujoco_nan.npz", dict(v0, q_right_knee_joint=nan),
         "frame 3", "array 'q_right_knee_joint' holds NaN or infinite values")
    objects = np.empty(5, dtype=object)
    objects[:] = [[0.0] * 10] * 5
    case("locomujoco_pickled.npz", dict(_v1_arrays(), qpos=objects),
         "array 'qpos' holds pickled Python objects", "never unpickled")
    case("locomujoco_v1_bad_layout.npz", dict(_v1_arrays(), joint_names=np.array(["root", "hip", "knee"])),
         "'qpos' has 10 columns but its 3 joints need 9")
    case("locomujoco_v1_missing_frequency.npz", {k: v for k, v in _v1_arrays().items() if k != "frequency"},
         "missing array 'frequency'")
    case("locomujoco_v1_not_free_root.npz", dict(_v1_arrays(), jnt_type=np.array([3, 3, 3, 3])),
         "unknown layout", "first joint 'root' is not a free joint")
    case("npz_unknown_arrays.npz", {"foo": np.zeros(3), "bar": np.ones(2)},
         "neither a deepmimic clip nor LocoMuJoCo arrays", "bar, foo")
    case("npz_not_zip.npz", b"this is no zip archive\n", "not a readable npz archive")
    whole = directory / "npz_unknown_arrays.npz"
    case("npz_truncated_zip.npz", whole.read_bytes()[:200], "not a readable npz archive")
    case("npz_deepmimic_missing_array.npz", {"format": np.array("deepmimic_motion_v1"), "dof_pos": np.zeros((2, 3))},
         "missing array(s)", "frame_times")


if __name__ == "__main__":
    write_npz_fixtures()

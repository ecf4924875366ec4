"""LocoMuJoCo npz clips: the shipped v0 file (real numbers), synthetic 1.x trajectories, errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from deepmimic_mocap.formats.locomujoco_npz import load_locomujoco_npz
from scipy.spatial.transform import Rotation

from deepmimic_mocap import JointType, LoopMode, MotionFormatError, load_motion

DT = 1.0 / 500.0
# q_ and dq_ of these joints disagree in the data itself (correlation 0.66 and 0.75; the angle
# barely moves while dq_ swings), so the finite-difference check skips them and says so.
INCONSISTENT_DQ = {"right_elbow_roll_joint", "left_elbow_roll_joint"}


@pytest.fixture(scope="module")
def g1_path(data_dir: Path) -> Path:
    return data_dir / "locomujoco" / "02-constspeed_UnitreeG1.npz"


@pytest.fixture(scope="module")
def g1_arrays(g1_path: Path) -> dict[str, np.ndarray]:
    with np.load(g1_path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# ------------------------------------------------------------------------------ shipped v0 file
def test_shipped_file_timing_and_layout(g1_path):
    motion = load_motion(g1_path)
    assert motion.meta["format"] == "locomujoco" and motion.meta["variant"] == "v0 per-joint"
    assert motion.num_frames == 500
    assert motion.fps == pytest.approx(500.0)
    assert motion.duration == pytest.approx(0.998)  # 499 intervals of 2 ms: one second of walking
    assert motion.loop == LoopMode.NONE
    sk = motion.skeleton
    assert sk.name == "UnitreeG1" and not sk.has_geometry
    assert sk.num_joints == 26 and sk.num_dof_pos == 25  # root + 25 hinges (31 q_ arrays, 6 for the pelvis)
    assert sk.joint_types == (JointType.ROOT,) + (JointType.REVOLUTE,) * 25
    assert list(sk.parents) == [-1] + [0] * 25
    assert sk.joint_names[:4] == ("root", "lumbar_extension", "lumbar_bending", "torso_joint")


def test_shipped_file_joint_angles_equal_arrays(g1_path, g1_arrays):
    angles = load_motion(g1_path).revolute_angles()
    expected = {k[2:]: v for k, v in g1_arrays.items() if k.startswith("q_") and not k.startswith("q_pelvis")}
    assert set(angles) == set(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(angles[name], values, err_msg=name)


def test_shipped_file_root_translation(g1_path, g1_arrays):
    motion = load_motion(g1_path)
    # pelvis_tx slides along x, pelvis_tz along y, pelvis_ty along z above the 0.755 m pelvis body.
    np.testing.assert_array_equal(motion.root_pos[:, 0], g1_arrays["q_pelvis_tx"])
    np.testing.assert_array_equal(motion.root_pos[:, 1], g1_arrays["q_pelvis_tz"])
    np.testing.assert_allclose(motion.root_pos[:, 2], 0.755 + g1_arrays["q_pelvis_ty"], atol=1e-12)
    assert motion.root_pos[0, 0] == pytest.approx(3.54514, abs=1e-5)
    assert g1_arrays["dq_pelvis_tx"][0] == pytest.approx(1.0701, abs=1e-4)
    assert motion.root_pos[-1, 0] == pytest.approx(4.52232, abs=1e-5)
    assert motion.root_travel() == pytest.approx(0.9775, abs=1e-3)  # about 1 m forward in 1 s
    assert g1_arrays["dq_pelvis_tx"].mean() == pytest.approx(0.979, abs=1e-3)
    # Pelvis 0.70-0.75 m high, bobbing 5 cm at the step rate; lateral drift under 4 cm.
    assert 0.700 < motion.root_pos[:, 2].min() < 0.702 and 0.751 < motion.root_pos[:, 2].max() < 0.752
    assert np.ptp(motion.root_pos[:, 1]) == pytest.approx(0.0364, abs=1e-3)


def test_shipped_file_root_orientation_follows_model_hinges(g1_path, g1_arrays):
    """R = R(-y, tilt) R(x, list) R(z, rotation), the G1 model's hinge order, checked with scipy."""
    motion = load_motion(g1_path)
    tilt, lst, yaw = (g1_arrays[f"q_pelvis_{k}"] for k in ("tilt", "list", "rotation"))
    expected = (Rotation.from_rotvec(np.outer(tilt, [0, -1, 0])) * Rotation.from_rotvec(np.outer(lst, [1, 0, 0]))
                * Rotation.from_rotvec(np.outer(yaw, [0, 0, 1]))).as_matrix()
    actual = Rotation.from_quat(motion.root_quat[:, [1, 2, 3, 0]]).as_matrix()
    np.testing.assert_allclose(actual, expected, atol=1e-12)


def test_shipped_file_velocities_integrate_to_positions_at_500_hz(g1_arrays):
    """The reason for the 500 Hz default: dq_ integrated at 2 ms steps reproduces every q_."""
    for key in (k for k in g1_arrays if k.startswith("q_")):
        q, dq = g1_arrays[key], g1_arrays["d" + key]
        integral = np.concatenate([[0.0], np.cumsum(0.5 * (dq[1:] + dq[:-1]) * DT)])
        assert np.abs(integral - (q - q[0])).max() < 0.04, key  # worst: right ankle pitch, 0.037 rad
    # At another rate the forward travel would be off by the ratio: 0.977 m needs 2 ms steps.
    dq = g1_arrays["dq_pelvis_tx"]
    assert np.sum(0.5 * (dq[1:] + dq[:-1])) * DT == pytest.approx(0.9772, abs=1e-3)


def test_shipped_file_velocities_match_finite_differences(g1_arrays):
    """dq_ agrees with central differences of q_ within 25% RMS (loose: the data is smoothed)."""
    for key in (k for k in g1_arrays if k.startswith("q_")):
        q, dq = g1_arrays[key], g1_arrays["d" + key]
        if np.ptp(q) == 0.0:  # the ankle roll joints are all zero, in q_ and dq_
            assert not dq.any(), key
            continue
        diff = np.gradient(q, DT)
        rel_rms = np.sqrt(np.mean((diff - dq) ** 2) / np.mean(dq**2))
        if key[2:] in INCONSISTENT_DQ:
            assert rel_rms > 1.0, key  # documents the data's inconsistency; fails if the data changes
        else:
            assert rel_rms < 0.25, (key, rel_rms)
            assert np.corrcoef(diff, dq)[0, 1] > 0.96, key


def test_overrides_fps_name_and_pelvis_height(g1_path, g1_arrays):
    motion = load_locomujoco_npz(g1_path, fps=100.0, name="g1_walk", pelvis_height=0.0)
    assert motion.duration == pytest.approx(4.99) and motion.name == "g1_walk"
    assert motion.meta["fps_source"] == "argument"
    np.testing.assert_array_equal(motion.root_pos[:, 2], g1_arrays["q_pelvis_ty"])


def test_unknown_robot_keeps_relative_height(tmp_path, g1_arrays):
    path = tmp_path / "walk_SomeRobot.npz"
    np.savez(path, **g1_arrays)
    motion = load_motion(path)
    assert motion.skeleton.name == "locomujoco" and motion.meta["pelvis_height_m"] == 0.0
    np.testing.assert_array_equal(motion.root_pos[:, 2], g1_arrays["q_pelvis_ty"])


# ----------------------------------------------------------------------------- synthetic 1.x
def _trajectory(frames: int = 20, **extra: np.ndarray) -> dict[str, np.ndarray]:
    """A LocoMuJoCo 1.x Trajectory dict: free joint + 3 hinges at 50 Hz, walking along +x."""
    t = np.arange(frames) / 50.0
    yaw = 0.1 * t
    qpos = np.zeros((frames, 10))
    qpos[:, 0], qpos[:, 1], qpos[:, 2] = 1.2 * t, 0.05, 0.8
    qpos[:, 3], qpos[:, 6] = np.cos(0.5 * yaw), np.sin(0.5 * yaw)  # yaw about z, (w, x, y, z)
    qpos[:, 7:] = np.stack([np.sin(t), 0.5 * np.cos(t), -t], axis=1)
    data = {
        "qpos": qpos, "qvel": np.gradient(qpos[:, [0, 1, 2, 0, 1, 2, 7, 8, 9]], axis=0),
        "frequency": np.array(50.0), "joint_names": np.array(["root", "hip", "knee", "ankle"]),
        "jnt_type": np.array([0, 3, 3, 3]), "njnt": np.array(4),
        "xpos": np.zeros((frames, 5, 3)), "xquat": np.tile([1.0, 0, 0, 0], (frames, 5, 1)),
        "split_points": np.array([0, frames]),
    }
    data.update(extra)
    return data


def test_synthetic_trajectory_loads(tmp_path):
    path = tmp_path / "walk_traj.npz"
    data = _trajectory()
    np.savez(path, **data)
    motion = load_motion(path)
    assert motion.meta["variant"] == "1.x trajectory" and motion.meta["root_joint"] == "root"
    assert motion.num_frames == 20 and motion.fps == pytest.approx(50.0)
    assert motion.duration == pytest.approx(19 / 50)
    assert motion.skeleton.joint_names == ("root", "hip", "knee", "ankle")
    assert motion.skeleton.joint_types == (JointType.ROOT,) + (JointType.REVOLUTE,) * 3
    np.testing.assert_array_equal(motion.root_pos, data["qpos"][:, :3])
    np.testing.assert_allclose(motion.root_quat, data["qpos"][:, 3:7], atol=1e-15)
    np.testing.assert_array_equal(motion.dof_pos, data["qpos"][:, 7:])
    np.testing.assert_array_equal(motion.revolute_angles()["knee"], 0.5 * np.cos(np.arange(20) / 50))
    assert motion.root_travel() == pytest.approx(1.2 * 19 / 50)


def test_trajectory_with_pickled_optional_fields_loads(tmp_path):
    """Trajectory.save writes None fields (metadata, body_names) as pickled object arrays; unused, skipped."""
    path = tmp_path / "traj.npz"
    np.savez(path, **_trajectory(metadata=np.array(None, dtype=object), body_names=np.array(None, dtype=object)))
    assert load_motion(path).num_frames == 20


def test_trajectory_ball_joint_and_split_points(tmp_path):
    frames = 12
    qpos = np.zeros((frames, 12))
    qpos[:, 3] = 1.0
    qpos[:, 7] = np.arange(frames)  # hinge
    qpos[:, 8:12] = [0.0, 0.0, 0.0, 2.0]  # ball, w x y z: 180 degrees about z once normalised
    path = tmp_path / "two.npz"
    np.savez(path, qpos=qpos, frequency=np.array(30.0), joint_names=np.array(["free", "elbow", "shoulder"]),
             jnt_type=np.array([0, 3, 1]), split_points=np.array([0, 5, frames]))
    second = load_locomujoco_npz(path, trajectory=1)
    assert second.num_frames == 7 and second.meta["trajectories"] == 2
    np.testing.assert_array_equal(second.revolute_angles()["elbow"], np.arange(5, frames))
    assert second.skeleton.joint_types[2] == JointType.SPHERICAL
    np.testing.assert_allclose(second.dof_pos[:, 1:], [[0.0, 0.0, 0.0, 1.0]] * 7)
    with pytest.raises(MotionFormatError, match="trajectory 2 requested, the file holds 2"):
        load_locomujoco_npz(path, trajectory=2)


# -------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"frequency": None}, "missing array 'frequency'"),
        ({"joint_names": None}, "missing array 'joint_names'"),
        ({"jnt_type": np.array([0, 2, 3, 3])}, "joint 'hip' is a slide joint"),
        ({"jnt_type": np.array([3, 3, 3, 3])}, "first joint 'root' is not a free joint"),
        ({"joint_names": np.array(["root", "hip", "knee"]), "jnt_type": None}, "'qpos' has 10 columns but its 3"),
        ({"qvel": np.zeros((19, 9))}, "array 'qvel' has 19 frames but 'qpos' has 20"),
        ({"frequency": np.array(-5.0)}, "frame rate must be a positive number"),
        ({"split_points": np.array([0, 30])}, "'split_points' must increase from 0 to 20"),
        ({"joint_names": np.array([1, 2, 3, 4])}, "'joint_names' must be a 1-D array of strings"),
    ],
)
def test_trajectory_errors(tmp_path, change, expected):
    data = _trajectory()
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path = tmp_path / "bad.npz"
    np.savez(path, **data)
    with pytest.raises(MotionFormatError, match=expected) as info:
        load_motion(path)
    assert "bad.npz" in str(info.value)


def test_trajectory_nan_names_array_and_frame(tmp_path):
    data = _trajectory()
    data["qpos"][7, 8] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, **data)
    with pytest.raises(MotionFormatError, match="array 'qpos' holds NaN") as info:
        load_motion(path)
    assert info.value.frame == 7 and info.value.field == "qpos"


def test_zero_root_quaternion_is_refused(tmp_path):
    data = _trajectory()
    data["qpos"][3, 3:7] = 0.0
    path = tmp_path / "zero.npz"
    np.savez(path, **data)
    with pytest.raises(MotionFormatError, match="zero-length quaternion") as info:
        load_motion(path)
    assert info.value.frame == 3


class _Payload:
    """Unpickling this would create a directory: proof of whether anything was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.mkdir, (str(self.marker),))


@pytest.mark.parametrize("key", ["qpos", "q_pelvis_tx"])
def test_pickled_object_array_is_refused_without_running_it(tmp_path, key):
    marker = tmp_path / "executed"
    payload = np.empty(3, dtype=object)
    payload[:] = [_Payload(marker)] * 3
    if key == "qpos":
        arrays = {"joint_names": np.array(["root"]), "frequency": np.array(50.0)}
    else:
        arrays = {f"q_pelvis_{k}": np.zeros(3) for k in ("tz", "ty", "tilt", "list", "rotation")}
    path = tmp_path / "evil.npz"
    np.savez(path, **{key: payload}, **arrays)
    with pytest.raises(MotionFormatError, match="pickled Python objects") as info:
        load_motion(path)
    assert info.value.field == key
    assert not marker.exists()


def test_v0_errors(tmp_path, g1_arrays):
    def write(**arrays: np.ndarray) -> Path:
        path = tmp_path / "bad_v0.npz"
        np.savez(path, **arrays)
        return path

    no_root = {k: v for k, v in g1_arrays.items() if k != "q_pelvis_tx"}
    with pytest.raises(MotionFormatError, match=r"missing root array.*q_pelvis_tx"):
        load_motion(write(**no_root))
    short = dict(g1_arrays, q_left_knee_joint=g1_arrays["q_left_knee_joint"][:499])
    with pytest.raises(MotionFormatError, match="'q_left_knee_joint' has 499 frames but 'q_pelvis_tx' has 500"):
        load_motion(write(**short))
    nan = dict(g1_arrays, dq_torso_joint=np.where(np.arange(500) == 42, np.nan, g1_arrays["dq_torso_joint"]))
    with pytest.raises(MotionFormatError, match="'dq_torso_joint' holds NaN") as info:
        load_motion(write(**nan))
    assert info.value.frame == 42
    with pytest.raises(MotionFormatError, match="unknown LocoMuJoCo layout"):
        load_locomujoco_npz(write(foo=np.zeros(3)))
    with pytest.raises(MotionFormatError, match="neither a deepmimic clip nor LocoMuJoCo"):
        load_motion(write(foo=np.zeros(3)))


def test_not_a_zip_archive(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(MotionFormatError, match="not a readable npz archive"):
        load_locomujoco_npz(path)

"""Our forward kinematics against a second method written from the DeepMimic format's definition.

The reference below reads the character and clip JSON with ``json`` (not our loaders) and chains
4x4 homogeneous transforms the way DeepMimic's ``cKinTree::JointWorldTrans`` does, in its own
y-up frame:

- root: ``T(root_pos) @ R(root_quat)``; the root's ``Attach`` point is ignored (DeepMimic zeroes
  it in ``PostProcessJointMat``: dog3d's root says ``AttachZ: 50``);
- other joints: ``parent @ T(AttachX, AttachY, AttachZ) @ R_joint``, where ``R_joint`` is the
  frame's quaternion (w, x, y, z) for spherical joints, a rotation about local z by the angle for
  revolute joints and identity for fixed joints;
- all ``AttachTheta`` values of the shipped characters are zero (asserted), so none appear.

World positions are then mapped to our z-up frame with ``(x, y, z) -> (x, -z, y)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from deepmimic_mocap.assets import CHARACTER_DIR, bundled_motions
from scipy.spatial.transform import Rotation

from deepmimic_mocap import load_motion

CLIPS = [p for p in bundled_motions() if p.stem.startswith(("humanoid3d_", "dog3d_"))]
PARAM_SIZE = {"none": 7, "spherical": 4, "revolute": 1, "fixed": 0}


def _homogeneous(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """4x4 matrices from rotations ``(F, 3, 3)`` and translations ``(F, 3)``."""
    mat = np.zeros((len(rotation), 4, 4))
    mat[:, :3, :3], mat[:, :3, 3], mat[:, 3, 3] = rotation, translation, 1.0
    return mat


def _quat_wxyz_matrices(quats: np.ndarray) -> np.ndarray:
    return Rotation.from_quat(quats[:, [1, 2, 3, 0]]).as_matrix()  # scipy wants (x, y, z, w)


def reference_positions_y_up(character: dict, frames: np.ndarray) -> np.ndarray:
    """World position of every joint, DeepMimic's y-up frame. Shape: ``(F, J, 3)``."""
    joints = character["Skeleton"]["Joints"]
    num = len(frames)
    world: list[np.ndarray] = []
    col = 1  # frames[:, 0] is the frame duration
    for joint in joints:
        for axis in "XYZ":
            assert joint.get(f"AttachTheta{axis}", 0) == 0, "reference assumes no attach rotation"
        size = PARAM_SIZE[joint["Type"]]
        params = frames[:, col:col + size]
        col += size
        if joint["Parent"] == -1:
            world.append(_homogeneous(_quat_wxyz_matrices(params[:, 3:7]), params[:, :3]))
            continue
        attach = _homogeneous(np.tile(np.eye(3), (num, 1, 1)),
                              np.tile([joint["AttachX"], joint["AttachY"], joint["AttachZ"]], (num, 1)))
        if joint["Type"] == "spherical":
            local = _quat_wxyz_matrices(params)
        elif joint["Type"] == "revolute":
            local = Rotation.from_rotvec(np.outer(params[:, 0], [0.0, 0.0, 1.0])).as_matrix()
        else:
            local = np.tile(np.eye(3), (num, 1, 1))
        world.append(world[joint["Parent"]] @ attach @ _homogeneous(local, np.zeros((num, 3))))
    assert col == frames.shape[1], "frame size does not match the character"
    return np.stack([m[:, :3, 3] for m in world], axis=1)


def y_up_to_z_up(points: np.ndarray) -> np.ndarray:
    """``(x, y, z) -> (x, -z, y)``."""
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)


def _character_for(clip: Path) -> dict:
    name = "dog3d" if clip.stem.startswith("dog3d") else "humanoid3d"
    return json.loads((CHARACTER_DIR / f"{name}.txt").read_text())


@pytest.mark.parametrize("clip", CLIPS, ids=[p.stem for p in CLIPS])
def test_fk_matches_reference_on_every_frame(clip):
    frames = np.array(json.loads(clip.read_text())["Frames"], dtype=np.float64)
    expected = y_up_to_z_up(reference_positions_y_up(_character_for(clip), frames))
    actual = load_motion(clip).body_pos()
    assert actual.shape == expected.shape
    error = np.abs(actual - expected).max()
    assert error < 1e-6, f"{clip.stem}: max FK error {error:.3g} m"


def test_every_bundled_humanoid_and_dog_clip_is_covered():
    stems = {p.stem for p in CLIPS}
    assert len([s for s in stems if s.startswith("humanoid3d_")]) == 16
    assert {"dog3d_canter", "dog3d_pace", "dog3d_trot"} <= stems


def test_walk_frame_zero_root_at_file_position():
    clip = load_motion("walk")
    raw = json.loads(Path(clip.source).read_text())["Frames"][0]
    # The file's root (0, 0.847532, 0), y-up, is (0, 0, 0.847532) z-up.
    assert raw[1:4] == [0.0, 0.847532, 0.0]
    np.testing.assert_allclose(clip.body_pos()[0, 0], [0.0, 0.0, 0.847532], atol=1e-12)


def _identity_clip(tmp_path: Path, knee_angle: float = 0.0) -> Path:
    """One-frame humanoid clip: root at (1, 0.9, 2) y-up, identity rotations, right knee angle given."""
    frame = [0.0333, 1.0, 0.9, 2.0, 1.0, 0.0, 0.0, 0.0]
    for size in (4, 4, 4, 1, 4, 4, 1, 4, 1, 4, 4, 1):  # chest .. left elbow
        frame += [1.0, 0.0, 0.0, 0.0] if size == 4 else [0.0]
    frame[8 + 12] = knee_angle  # right knee follows chest, neck, right hip (3 x 4 values)
    path = tmp_path / "humanoid3d_identity.txt"
    path.write_text(json.dumps({"Loop": "none", "Frames": [frame]}))
    return path


def test_right_hip_is_exactly_0_084887_m_right_of_root(tmp_path):
    motion = load_motion(_identity_clip(tmp_path))
    names = motion.skeleton.joint_names
    body = motion.body_pos()[0]
    root = body[0]
    np.testing.assert_allclose(root, [1.0, -2.0, 0.9], atol=1e-12)  # (x, -z, y)
    # Right is -y in our frame (DeepMimic +z).
    np.testing.assert_allclose(body[names.index("right_hip")] - root, [0.0, -0.084887, 0.0], atol=1e-12)
    np.testing.assert_allclose(body[names.index("left_hip")] - root, [0.0, 0.084887, 0.0], atol=1e-12)
    # Straight leg: knee 0.421546 m and ankle a further 0.40987 m below the hip.
    np.testing.assert_allclose(body[names.index("right_knee")] - body[names.index("right_hip")],
                               [0.0, 0.0, -0.421546], atol=1e-12)
    np.testing.assert_allclose(body[names.index("right_ankle")] - body[names.index("right_knee")],
                               [0.0, 0.0, -0.40987], atol=1e-12)


def test_knee_bent_minus_90_degrees_puts_ankle_behind_knee(tmp_path):
    """Revolute joints turn about DeepMimic's local +z (our -y): -90 degrees swings the shin back."""
    motion = load_motion(_identity_clip(tmp_path, knee_angle=-np.pi / 2))
    names = motion.skeleton.joint_names
    body = motion.body_pos()[0]
    np.testing.assert_allclose(body[names.index("right_ankle")] - body[names.index("right_knee")],
                               [-0.40987, 0.0, 0.0], atol=1e-12)

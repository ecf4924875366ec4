"""BVH reader: channel values against the PyPI ``bvh`` package, positions against an independent
4x4-matrix forward kinematics, figures of the CMU 02_01 walk, any channel order, bad files."""

from pathlib import Path

import numpy as np
import pytest
from bvh import Bvh
from deepmimic_mocap.formats.bvh import load_bvh, read_bvh_file
from deepmimic_mocap.kinematics import forward_kinematics_dof
from scipy.spatial.transform import Rotation

from deepmimic_mocap import Motion, MotionFormatError, load_motion

CMU_UNIT = 0.0254 / 0.45  # metres per CMU ASF length unit
# y-up (x, y, z) -> z-up (x, -z, y), written out here rather than imported.
Y_TO_Z = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@pytest.fixture(scope="module")
def walk_path(data_dir: Path) -> Path:
    return data_dir / "cmu" / "02_01.bvh"


@pytest.fixture(scope="module")
def walk(walk_path: Path) -> Motion:
    return load_motion(walk_path)


# ---------------------------------------------------------------------- the second method
def _end_sites(node) -> list:
    return [child for child in node.children if child.value[:2] == ["End", "Site"]]


def _local_matrices(mocap: Bvh, joint, table: np.ndarray) -> np.ndarray:
    """4x4 local transforms ``T(offset or position channels) @ R(channels in listed order)``."""
    name = joint.name
    channels = mocap.joint_channels(name)
    start = mocap.get_joint_channels_index(name)
    frames = len(table)
    mat = np.tile(np.eye(4), (frames, 1, 1))
    mat[:, :3, 3] = np.array(mocap.joint_offset(name))
    rot_axes = "".join(c[0].upper() for c in channels if c.endswith("rotation"))
    rot_cols = [start + i for i, c in enumerate(channels) if c.endswith("rotation")]
    for i, c in enumerate(channels):
        if c.endswith("position"):
            mat[:, "XYZ".index(c[0].upper()), 3] = table[:, start + i]
    if rot_axes:  # upper-case letters: intrinsic, i.e. the matrix product in listed order
        mat[:, :3, :3] = Rotation.from_euler(rot_axes, table[:, rot_cols], degrees=True).as_matrix()
    return mat


def matrix_fk(path: Path, unit: float) -> dict[str, np.ndarray]:
    """World position of every joint and end site by name, metres, z-up, from 4x4 matrices.

    The hierarchy and values come from the ``bvh`` package; nothing of the loader is used.
    """
    mocap = Bvh(path.read_text())
    table = np.array(mocap.frames, dtype=np.float64)
    world: dict[str, np.ndarray] = {}
    out: dict[str, np.ndarray] = {}
    for joint in mocap.get_joints():  # parents come first
        local = _local_matrices(mocap, joint, table)
        parent = joint.parent.name if joint.parent.value and joint.parent.value[0] in ("ROOT", "JOINT") else None
        world[joint.name] = local if parent is None else world[parent] @ local
        for site in _end_sites(joint):
            tip = world[joint.name] @ np.append(np.array(site["OFFSET"], dtype=float), 1.0)
            out[f"{joint.name}_end"] = tip[:, :3]
    out.update({name: m[:, :3, 3] for name, m in world.items()})
    return {name: (p * unit) @ Y_TO_Z.T for name, p in out.items()}


# ------------------------------------------------------------------------------- the tests
def test_raw_channels_match_bvh_package(walk_path: Path):
    mocap = Bvh(walk_path.read_text())
    parsed = read_bvh_file(walk_path)
    by_name = {j.name: j for j in parsed.joints}
    assert mocap.nframes == len(parsed.values) == 344
    assert mocap.frame_time == pytest.approx(parsed.frame_time)
    for joint in ("Hips", "LeftUpLeg", "RightLeg", "Spine1", "Head", "LeftForeArm", "RThumb"):
        assert list(by_name[joint].channels) == mocap.joint_channels(joint)
        for frame in (0, 1, 57, 200, 343):
            ours = parsed.values[frame, by_name[joint].channel_start:][: len(by_name[joint].channels)]
            theirs = mocap.frame_joint_channels(frame, joint, mocap.joint_channels(joint))
            np.testing.assert_array_equal(ours, theirs)


def test_quaternions_give_back_the_euler_channels(walk_path: Path, walk):
    """Each loaded local rotation, taken back to y-up, is Rz @ Ry @ Rx of the file's degrees."""
    mocap = Bvh(walk_path.read_text())
    local = walk.local_quat()  # (F, J, 4), z-up
    q_r = Rotation.from_matrix(Y_TO_Z)
    for joint in ("Hips", "LeftUpLeg", "LeftLeg", "RightFoot", "Neck1", "RightArm"):
        j = walk.skeleton.index(joint)
        for frame in (0, 10, 150, 343):
            zyx = mocap.frame_joint_channels(frame, joint, ["Zrotation", "Yrotation", "Xrotation"])
            expected = Rotation.from_euler("ZYX", zyx, degrees=True)
            w, x, y, z = local[frame, j]
            got_y_up = q_r.inv() * Rotation.from_quat([x, y, z, w]) * q_r
            np.testing.assert_allclose(got_y_up.as_matrix(), expected.as_matrix(), atol=1e-12)
            np.testing.assert_allclose(got_y_up.as_euler("ZYX", degrees=True), zyx, atol=1e-9)


def test_positions_match_matrix_forward_kinematics(walk_path: Path, walk):
    expected = matrix_fk(walk_path, CMU_UNIT)
    body = walk.body_pos()
    assert set(expected) == set(walk.skeleton.joint_names)
    for name, pos in expected.items():
        np.testing.assert_allclose(body[:, walk.skeleton.index(name)], pos, atol=1e-6, err_msg=name)


def test_cmu_walk_figures(walk):
    assert walk.num_frames == 344
    assert walk.fps == pytest.approx(120.0, rel=1e-3)
    assert walk.meta["frame_time"] == pytest.approx(1 / 120, rel=1e-4)
    assert walk.meta["length_unit_name"] == "cmu_asf" and walk.meta["length_unit_auto"]
    assert walk.meta["length_unit"] == pytest.approx(CMU_UNIT)
    assert walk.skeleton.num_joints == 38  # 31 joints and 7 end sites
    # Rest pose, toe tip to head top: 25.22 units = 1.42 m. This conversion puts Neck at Spine1
    # (offset 0), so the thorax (about 0.12 m in 02.asf) is missing and the figure is short.
    assert walk.meta["rest_height_m"] == pytest.approx(1.4234, abs=1e-3)
    body = walk.body_pos()
    names = walk.skeleton.joint_names
    head = body[:, names.index("Head_end"), 2]
    feet = body[:, [names.index(n) for n in ("LeftToeBase_end", "RightToeBase_end", "LeftFoot",
                                             "RightFoot")], 2].min(axis=1)
    assert 1.40 < np.median(head) < 1.55 and (head - feet).min() > 1.35  # measured 1.47 and 1.41
    # The lowest foot point stays within a few cm of the capture's floor (z = 0): -3.2 to 7.3 cm.
    assert feet.min() > -0.05 and feet.max() < 0.09 and abs(np.median(feet)) < 0.06
    assert walk.root_pos[:, 2].min() > 0.9 and walk.root_pos[:, 2].max() < 1.05  # hips 0.93-1.00 m
    # Walks 3.36 m in 2.86 s (1.18 m/s) along the file's +z, our -y.
    assert walk.root_travel() == pytest.approx(3.36, abs=0.02)
    assert walk.root_pos[-1, 1] - walk.root_pos[0, 1] < -3.3
    # Frame 0 is the converter's rest pose, kept: the hips do not move from frame 0 to 1.
    np.testing.assert_allclose(walk.root_pos[0], walk.root_pos[1])


TINY = """HIERARCHY
ROOT Pelvis
{
  OFFSET 1.0 2.0 3.0
  CHANNELS 6 Zposition Xrotation Xposition Zrotation Yposition Yrotation
  JOINT Chest
  {
    OFFSET 0.0 10.0 0.5
    CHANNELS 3 Xrotation Zrotation Yrotation
    JOINT Head
    {
      OFFSET 0.0 5.0 1.0
      CHANNELS 3 Yrotation Xrotation Zrotation
      End Site
      {
        OFFSET 0.0 3.0 0.0
      }
    }
  }
  JOINT Leg
  {
    OFFSET 2.0 -1.0 0.0
    CHANNELS 2 yrotation Xrotation
    End Site
    {
      OFFSET 0.0 -9.0 0.5
    }
  }
}
MOTION
Frames: 4
Frame Time: 0.04
"""


def _write_tiny(tmp_path: Path, body: str = TINY, width: int = 14) -> Path:
    rng = np.random.default_rng(7)
    values = rng.uniform(-170.0, 170.0, size=(4, width))
    path = tmp_path / "tiny.bvh"
    path.write_text(body + "\n".join(" ".join(f"{v:.6f}" for v in row) for row in values) + "\n")
    return path


def test_any_channel_order_and_interleaved_positions(tmp_path: Path):
    path = _write_tiny(tmp_path)
    motion = load_bvh(path, length_unit="cm")
    assert motion.meta["length_unit"] == 0.01 and not motion.meta["length_unit_auto"]
    assert motion.meta["channels"]["Leg"] == "Yrotation Xrotation"
    expected = matrix_fk(path, 0.01)
    body = motion.body_pos()
    assert set(expected) == set(motion.skeleton.joint_names)
    for name, pos in expected.items():
        np.testing.assert_allclose(body[:, motion.skeleton.index(name)], pos, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(motion.frame_times, [0.0, 0.04, 0.08, 0.12])
    # The world orientation of the head agrees with the matrices too.
    _, quat = forward_kinematics_dof(motion.skeleton, motion.root_pos, motion.root_quat, motion.dof_pos)
    mocap = Bvh(path.read_text())
    table = np.array(mocap.frames, dtype=float)
    world = np.eye(3)
    for name in ("Pelvis", "Chest", "Head"):
        world = world @ _local_matrices(mocap, mocap.get_joint(name), table)[:, :3, :3]
    w, x, y, z = np.moveaxis(quat[:, motion.skeleton.index("Head")], -1, 0)
    np.testing.assert_allclose(Rotation.from_quat(np.stack([x, y, z, w], -1)).as_matrix(),
                               Y_TO_Z @ world @ Y_TO_Z.T, atol=1e-12)


def test_auto_unit_and_numeric_units(tmp_path: Path):
    path = _write_tiny(tmp_path)
    # Rest height: Head_end at y = 2 + 10 + 5 + 3 = 20, Leg_end at 2 - 1 - 9 = -8, so 28 units,
    # closest to 1.7 m as CMU units (1.58 m; inches would give 0.71 m).
    auto = load_bvh(path)
    assert auto.meta["length_unit_name"] == "cmu_asf"
    assert auto.meta["rest_height_m"] == pytest.approx(28.0 * CMU_UNIT)
    metres = load_bvh(path, length_unit=1.0)
    np.testing.assert_allclose(metres.body_pos(), auto.body_pos() / CMU_UNIT, atol=1e-9)
    with pytest.raises(ValueError, match="length_unit"):
        load_bvh(path, length_unit="furlong")


def test_non_root_position_channels_are_ignored_and_recorded(tmp_path: Path):
    body = TINY.replace("CHANNELS 3 Xrotation Zrotation Yrotation",
                        "CHANNELS 6 Xposition Yposition Zposition Xrotation Zrotation Yrotation")
    path = _write_tiny(tmp_path, body, width=17)
    motion = load_bvh(path)
    info = motion.meta["ignored_position_channels"]
    assert info == {"Chest": {"channels": ["Xposition", "Yposition", "Zposition"], "differs_from_offset": True}}
    chest = motion.skeleton.offsets[motion.skeleton.index("Chest")]
    np.testing.assert_allclose(chest, Y_TO_Z @ np.array([0.0, 10.0, 0.5]) * motion.meta["length_unit"])


@pytest.mark.parametrize(("edit", "line", "words"), [
    (("CHANNELS 2 yrotation", "CHANNELS 2 yrot"), 23, ["unknown channel", "'yrot'"]),
    (("CHANNELS 3 Yrotation Xrotation Zrotation", "CHANNELS 4 Yrotation Xrotation Zrotation"), 13,
     ["'Head' says 4 but lists 3"]),
    (("Frame Time: 0.04", "Frame Time: 0"), 32, ["Frame Time"]),
    (("Frames: 4", "Frames: 5"), 31, ["'Frames: 5' but 4 frame lines"]),
    (("  JOINT Leg\n  {", "  JOINT Leg\n"), 22, ["expected '{'", "'Leg'"]),
])
def test_errors_name_the_line(tmp_path: Path, edit, line, words):
    path = _write_tiny(tmp_path, TINY.replace(*edit))
    with pytest.raises(MotionFormatError) as err:
        load_motion(path)
    assert err.value.line == line
    for word in words:
        assert word in str(err.value)
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_bad_frame_value_names_joint_and_channel(tmp_path: Path):
    path = _write_tiny(tmp_path)
    lines = path.read_text().splitlines()
    words = lines[34].split()
    words[8] = "nan"  # column 9: Chest Yrotation
    lines[34] = " ".join(words)
    path.write_text("\n".join(lines))
    with pytest.raises(MotionFormatError, match=r":35: value 9 \(Chest Yrotation\) is 'nan'"):
        load_bvh(path)


def test_malformed_bvh_fixtures(fixtures_dir: Path):
    files = sorted((fixtures_dir / "malformed").glob("bvh_*.bvh"))
    assert len(files) >= 6
    for path in files:
        with pytest.raises(MotionFormatError) as err:
            load_motion(path)
        message = str(err.value)
        assert path.name in message
        for expected in path.with_name(path.name + ".expected").read_text().splitlines():
            assert expected in message, (path.name, expected, message)

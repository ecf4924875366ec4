"""The Unitree G1 as a robot character: YAML + MJCF give the same Character as DeepMimic's files,
and the generated model, forward kinematics and simulator agree with MuJoCo."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

from deepmimic_mocap import forward_kinematics, load_character, load_motion
from deepmimic_mocap.assets import DATA_DIR
from deepmimic_mocap.convert import convert_to_character
from deepmimic_mocap.errors import MotionFormatError
from deepmimic_sim.backends.mujoco_cpu import MujocoCpuBackend
from deepmimic_sim.model.character_mjcf import build_mjcf, shipped_model_path
from deepmimic_sim.model.joint_mapping import JointMapping

G1_NPZ = DATA_DIR / "locomujoco" / "02-constspeed_UnitreeG1.npz"


@pytest.fixture(scope="module")
def g1():
    return load_character("g1")


def test_g1_names_gains_and_limits_come_from_config_and_mjcf(g1):
    sk = g1.skeleton
    assert sk.num_joints == 30 and sk.joint_names[0] == "pelvis"
    assert sk.joint_names[1] == "left_hip_pitch_joint" and g1.body_names[1] == "left_hip_pitch_link"
    knee = sk.index("left_knee_joint")
    assert g1.robot.kp[knee] == pytest.approx(99.10, abs=0.01)  # 7520-22: 0.0251 * (2 pi 10)^2
    assert g1.robot.kd[knee] == pytest.approx(6.309, abs=0.001)
    assert g1.torque_limits[knee] == 139.0
    assert tuple(g1.limits[knee, 0]) == (-0.087267, 2.8798)
    assert g1.total_mass == pytest.approx(33.34, abs=0.01)
    fall = [b.name for b in g1.bodies if not b.fall_contact]
    assert fall == ["left_ankle_roll_link", "right_ankle_roll_link"]


def test_shipped_model_is_the_generated_one(g1):
    assert shipped_model_path("g1").read_text() == build_mjcf(g1)


def test_forward_kinematics_matches_mujoco(g1):
    model = mujoco.MjModel.from_xml_path(str(shipped_model_path("g1")))
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    low, high = g1.limits[1:, 0, 0], g1.limits[1:, 0, 1]
    angles = rng.uniform(low, high)
    root_quat = np.array([0.9, 0.1, -0.2, 0.3]) / np.linalg.norm([0.9, 0.1, -0.2, 0.3])
    data.qpos[:] = np.concatenate([[0.1, 0.2, 0.8], root_quat, angles])
    mujoco.mj_kinematics(model, data)
    local = g1.skeleton.local_quat_from_dof_pos(angles[None])
    pos, quat = forward_kinematics(g1.skeleton, data.qpos[None, :3], root_quat[None], local)
    ids = [model.body(b).id for b in g1.body_names]
    np.testing.assert_allclose(pos[0], data.xpos[ids], atol=1e-9)
    np.testing.assert_allclose(np.abs(np.sum(quat[0] * data.xquat[ids], axis=-1)), 1.0, atol=1e-9)
    # and the joint mapping takes those rotations back to the same hinge angles
    np.testing.assert_allclose(JointMapping(g1).hinge_angles(local)[0], angles, atol=1e-9)


def test_simulator_holds_the_home_pose(g1):
    backend = MujocoCpuBackend("g1", num_envs=2, substeps=4)
    model = backend.model
    home = model.key("home").qpos
    backend.reset(torch.arange(2), torch.from_numpy(np.tile(home, (2, 1))), torch.zeros(2, model.nv,
                                                                                         dtype=torch.float64))
    targets = torch.from_numpy(np.tile(home[7:], (2, 1)))
    for _ in range(10):  # 0.2 s at 50 Hz; open loop, the soft 10 Hz PD lets it sag and tip after ~1 s
        backend.step(targets)
    qpos = backend.qpos
    assert qpos[:, 2].min() > 0.77  # stands on its feet: no sinking through the floor, no explosion
    assert np.abs(qpos[:, 7:].numpy() - home[7:]).max() < 0.1


def test_locomujoco_g1_clip_maps_natively(g1):
    source = load_motion(G1_NPZ)
    clip, report = convert_to_character(source, g1)
    assert clip.skeleton.joint_names == g1.skeleton.joint_names and clip.fps == pytest.approx(500.0)
    assert report["joints_from_source"] == 25 and len(report["joints_set_to_zero"]) == 4
    knee = g1.skeleton.dof_pos_slice(g1.skeleton.index("left_knee_joint"))
    np.testing.assert_allclose(clip.dof_pos[:, knee][:, 0], source.dof_pos[:, source.skeleton.dof_pos_slice(
        source.skeleton.index("left_knee_joint"))][:, 0])
    from deepmimic_mocap.retarget_quality import foot_sole_points

    lowest = foot_sole_points(clip, g1)[..., 2].min(axis=(1, 2))
    assert np.percentile(lowest, 5) == pytest.approx(0.0, abs=1e-6) and lowest.max() < 0.05


def test_bad_robot_yaml_names_the_field(tmp_path):
    src = (DATA_DIR / "characters" / "g1.yaml").read_text()
    bad = tmp_path / "robot.yaml"
    bad.write_text(src.replace("mjcf: ../robots/unitree_g1/g1.xml",
                               f"mjcf: {DATA_DIR / 'robots' / 'unitree_g1' / 'g1.xml'}").replace(
        '".*_knee_joint"]', '".*_kneee_joint"]'))
    with pytest.raises(MotionFormatError, match=r"motors.7520-22.*kneee"):
        load_character(bad)

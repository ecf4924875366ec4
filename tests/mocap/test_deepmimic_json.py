"""DeepMimic clips and characters: every bundled file loads with plausible figures."""

import json

import numpy as np
import pytest

from deepmimic_mocap import LoopMode, load_character, load_motion
from deepmimic_mocap.assets import bundled_motions
from deepmimic_mocap.formats.deepmimic_json import save_deepmimic_motion

HUMANOID_CLIPS = [p.stem for p in bundled_motions("humanoid3d")]
DOG_CLIPS = [p.stem for p in bundled_motions("dog3d")]


def test_humanoid_character_totals():
    character = load_character("humanoid3d")
    assert character.skeleton.num_joints == 15
    assert character.total_mass == pytest.approx(45.0)
    assert character.skeleton.num_dof_pos == 36 and character.skeleton.num_dof_vel == 28
    assert set(character.end_effectors) == {"right_ankle", "left_ankle", "right_wrist", "left_wrist"}
    # z-up, right side at -y: the right hip sits at y = -0.084887.
    np.testing.assert_allclose(character.skeleton.offsets[character.skeleton.index("right_hip")],
                               [0.0, -0.084887, 0.0])


def test_dog_character_loads():
    character = load_character("dog3d")
    assert character.skeleton.num_joints == 23
    assert character.total_mass > 0


@pytest.mark.parametrize("clip", HUMANOID_CLIPS)
def test_every_humanoid_clip_loads_with_plausible_heights(clip):
    motion = load_motion(clip)
    assert motion.skeleton.name == "humanoid3d"
    body = motion.body_pos()
    assert np.isfinite(body).all()
    names = motion.skeleton.joint_names
    neck_z = body[:, names.index("neck"), 2]
    feet_z = body[:, [names.index("right_ankle"), names.index("left_ankle")], 2]
    upright = ("walk", "run", "jog", "stealthy_walk", "zombie_walk")
    if clip.removeprefix("humanoid3d_") in upright:
        assert 1.0 < np.median(neck_z) < 1.45  # upright: neck joint about 1.1-1.3 m up
        # A foot is near the ground (ankle joint 4-12 cm above the sole) in most frames;
        # runs have flight phases.
        share_grounded = np.mean(feet_z.min(axis=1) < 0.12)
        assert share_grounded > (0.5 if clip.endswith(("run", "jog")) else 0.8)
    # No clip puts a joint deep below the ground (crawl and roll dip hands about 6 cm).
    assert body[..., 2].min() > -0.08


def test_walk_figures():
    motion = load_motion("walk")
    assert motion.num_frames == 39
    assert motion.loop == LoopMode.WRAP
    assert motion.fps == pytest.approx(30.0, rel=1e-3)
    assert motion.duration == pytest.approx(38 * 0.033332, rel=1e-4)
    # The walk moves about 1.24 m forward (+x) per cycle.
    assert motion.root_travel() == pytest.approx(1.24, abs=0.02)
    assert motion.root_pos[-1, 0] - motion.root_pos[0, 0] > 1.2


@pytest.mark.parametrize("clip", DOG_CLIPS)
def test_dog_clips_load(clip):
    motion = load_motion(clip)
    assert motion.skeleton.name == "dog3d"
    assert np.isfinite(motion.body_pos()).all()


def test_non_looping_clip():
    assert load_motion("getup_faceup").loop == LoopMode.NONE


def test_round_trip_through_file(tmp_path):
    motion = load_motion("backflip")
    out = tmp_path / "backflip.txt"
    save_deepmimic_motion(motion, out)
    again = load_motion(out)
    np.testing.assert_allclose(again.frame_times, motion.frame_times, atol=1e-9)
    np.testing.assert_allclose(again.root_pos, motion.root_pos, atol=1e-8)
    np.testing.assert_allclose(again.body_pos(), motion.body_pos(), atol=1e-7)
    # The written file is the original layout, y-up: same numbers as the source up to sign of quats.
    original = np.array(json.loads(motion.source and open(motion.source).read())["Frames"])
    written = np.array(json.loads(out.read_text())["Frames"])
    np.testing.assert_allclose(written[:, 1:4], original[:, 1:4], atol=1e-8)


def test_non_unit_quaternions_are_normalised(tmp_path):
    data = json.loads(open(load_motion("walk").source).read())
    data["Frames"][0][4:8] = [2.0 * v for v in data["Frames"][0][4:8]]
    path = tmp_path / "scaled.txt"
    path.write_text(json.dumps(data))
    motion = load_motion(path)
    np.testing.assert_allclose(np.linalg.norm(motion.root_quat, axis=1), 1.0)
    np.testing.assert_allclose(motion.root_quat[0], load_motion("walk").root_quat[0], atol=1e-9)

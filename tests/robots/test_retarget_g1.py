"""Human motion onto the G1 by keypoint IK, and the self-collision figure for every character."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import deepmimic_mocap.retarget_ik as retarget_ik
from deepmimic_mocap import load_character, load_motion
from deepmimic_mocap.assets import DATA_DIR
from deepmimic_mocap.convert import convert_to_character
from deepmimic_mocap.motion import Motion
from deepmimic_sim.model.self_collision import self_collision

BVH = DATA_DIR / "cmu" / "02_01.bvh"


@pytest.fixture(scope="module")
def g1():
    return load_character("g1")


def test_deepmimic_walk_onto_g1_follows_limbs_within_limits(g1):
    clip, report = convert_to_character(load_motion("walk"), g1)
    assert clip.skeleton.joint_names == g1.skeleton.joint_names
    assert report["limb_direction_error_mean_deg"] < 3.0  # limbs point where humanoid3d's point
    assert report["ground_penetration_max_mm"] < 10.0 and report["contact_share"] > 0.9
    low, high = g1.limits[1:, 0, 0], g1.limits[1:, 0, 1]
    assert (clip.dof_pos >= low - 1e-9).all() and (clip.dof_pos <= high + 1e-9).all()
    assert self_collision(clip, g1)["self_collision_share"] == 0.0


def test_clearance_keeps_the_hands_out_of_the_hips(g1, monkeypatch):
    source = load_motion(BVH)
    clip, _ = convert_to_character(source, g1)
    with_clearance = self_collision(clip, g1)
    monkeypatch.setattr(retarget_ik, "CLEARANCE_ITERATIONS", 0)
    plain, _ = convert_to_character(source, g1)
    without = self_collision(plain, g1)
    assert without["self_collision_share"] > 0.3  # the G1's short arms and wide hips
    assert with_clearance["self_collision_share"] < 0.05
    assert with_clearance["self_collision_max_depth_mm"] < 5.0
    # only the arms moved: the legs and the root are the same in both solutions
    legs = [g1.skeleton.dof_pos_slice(g1.skeleton.index(n)).start for n in g1.skeleton.joint_names[1:13]]
    np.testing.assert_allclose(clip.dof_pos[:, legs], plain.dof_pos[:, legs], atol=1e-9)
    np.testing.assert_allclose(clip.root_pos, plain.root_pos, atol=1e-9)


def test_self_collision_finds_crossed_legs():
    human = load_character("humanoid3d")
    clip = load_motion("walk")
    assert self_collision(clip, human)["self_collision_share"] == 0.0
    sk = human.skeleton
    dof = clip.dof_pos.copy()
    hip = sk.dof_pos_slice(sk.index("right_hip"))
    dof[:, hip] = [np.cos(0.35), np.sin(0.35), 0.0, 0.0]  # right leg swung 40 degrees across the left
    crossed = Motion(sk, clip.frame_times, clip.root_pos, clip.root_quat, dof, clip.loop, "crossed", "test")
    report = self_collision(crossed, human)
    assert report["self_collision_share"] == 1.0, report
    assert "left_" in report["self_collision_pairs"][0] and "right_" in report["self_collision_pairs"][0]


def test_cli_converts_bvh_onto_g1_and_reads_it_back(tmp_path, g1):
    out = tmp_path / "g1_cmu_walk.txt"
    result = subprocess.run([sys.executable, "-m", "deepmimic.cli", "motion", "convert", str(BVH), str(out),
                             "--character", "g1"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "self_collision_share" in result.stdout and "joint_limit_hits_share" in result.stdout
    back = load_motion(out)
    assert back.skeleton.name == "g1" and back.num_frames == 343

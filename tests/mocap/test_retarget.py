"""Retargeting CMU capture onto humanoid3d: the quality figures the closing note reports."""

import numpy as np
import pytest
import yaml

from deepmimic_mocap import load_character, load_motion
from deepmimic_mocap.formats.deepmimic_json import save_deepmimic_motion
from deepmimic_mocap.retarget import choose_bone_map, load_bone_maps, retarget

CMU_FILES = {"bvh": "cmu/02_01.bvh", "asf_amc": "cmu/35_01.amc"}


@pytest.fixture(scope="module")
def humanoid():
    return load_character("humanoid3d")


@pytest.fixture(scope="module", params=sorted(CMU_FILES))
def retargeted(request, data_dir, humanoid):
    source = load_motion(data_dir / CMU_FILES[request.param])
    target, report = retarget(source, humanoid)
    return request.param, source, target, report


def test_bone_map_is_detected(retargeted):
    fmt, _, _, report = retargeted
    assert report["bone_map"] == {"bvh": "cmu_bvh_motionbuilder", "asf_amc": "cmu_asf"}[fmt]


def test_quality_figures(retargeted):
    _, _, target, report = retargeted
    # Feet follow the scaled source closely; hands differ by the characters' proportions.
    assert report["left_foot_error_mean_mm"] < 25 and report["right_foot_error_mean_mm"] < 25
    assert report["end_effector_error_mean_mm"] < 70
    # Feet on the ground: almost no penetration, and contact in a good share of frames.
    assert report["ground_penetration_max_mm"] < 15
    assert report["frames_penetrating_over_10mm"] < 0.01
    assert report["contact_share"] > 0.3
    assert report["foot_skating_cm_s"] < 35
    assert 0.85 < report["scale"] < 1.15


def test_result_is_a_plausible_walk(retargeted, humanoid):
    fmt, source, target, _ = retargeted
    assert target.skeleton is humanoid.skeleton
    body = target.body_pos()
    names = target.skeleton.joint_names
    assert 1.2 < np.median(body[:, names.index("neck"), 2]) < 1.45
    assert 0.75 < np.median(target.root_pos[:, 2]) < 0.95
    # Faces and walks along +x like the DeepMimic clips: about 3.3-3.7 m in about 3 s.
    travel = target.root_pos[-1] - target.root_pos[0]
    assert travel[0] > 3.0 and abs(travel[1]) < 0.5
    speed = np.linalg.norm(travel[:2]) / target.duration
    assert 0.9 < speed < 1.4
    knees = target.revolute_angles()["right_knee"]
    assert knees.max() <= 0.0 and knees.min() > -1.6  # within the limit, bending backwards only
    if fmt == "bvh":
        assert target.num_frames == source.num_frames - 1  # the leading T-pose frame is dropped


def test_written_clip_loads_as_deepmimic(retargeted, tmp_path):
    _, _, target, _ = retargeted
    path = tmp_path / "retargeted.txt"
    save_deepmimic_motion(target, path)
    again = load_motion(path)
    np.testing.assert_allclose(again.body_pos(), target.body_pos(), atol=1e-6)


def test_custom_bone_map_file(tmp_path, data_dir, humanoid):
    maps = load_bone_maps()
    custom = tmp_path / "map.yaml"
    entries = {k: {"mode": v.mode, "source": v.source} if v.mode == "rotation" else
               {"mode": v.mode, "from": v.start, "to": v.end, "twist": v.twist, "target_to": v.target_to}
               for k, v in maps["cmu_bvh_motionbuilder"].items()}
    custom.write_text(yaml.safe_dump({"my_studio": entries}))
    source = load_motion(data_dir / CMU_FILES["bvh"])
    _, report = retarget(source, humanoid, bone_map=custom)
    assert report["bone_map"] == "my_studio"


def test_unknown_scheme_and_unfit_skeleton(data_dir, humanoid):
    source = load_motion(data_dir / CMU_FILES["bvh"])
    with pytest.raises(KeyError, match="cmu_asf"):
        choose_bone_map(source.skeleton, "no_such_scheme")
    with pytest.raises(ValueError, match="no built-in bone map fits"):
        choose_bone_map(humanoid.skeleton)

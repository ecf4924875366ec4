"""Automatic bone maps: the shipped CMU BVH with its bones renamed to other naming families.

Every family must give the same map as the hand-written CMU one (under the new names), and so the
same retargeted clip; a skeleton without meaningful names is mapped from its rest pose alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from deepmimic_mocap.auto_bone_map import auto_bone_map, side_and_core
from deepmimic_mocap.retarget import choose_bone_map, load_bone_maps, retarget

from deepmimic_mocap import load_character, load_motion

CMU_BVH = Path(__file__).resolve().parents[2] / "src/deepmimic_mocap/deepmimic_mocap/data/cmu/02_01.bvh"
TRUNK = ["Hips", "LowerBack", "Spine", "Spine1", "Neck", "Neck1", "Head"]
LIMB = ["HipJoint", "UpLeg", "Leg", "Foot", "ToeBase", "Shoulder", "Arm", "ForeArm", "Hand", "FingerBase",
        "HandIndex1", "Thumb"]


def _cmu_limb(side: str, part: str) -> str:
    """The CMU name of a limb bone (``LHipJoint``, ``LeftUpLeg``, ``LThumb``)."""
    return f"{side[0].upper()}{part}" if part in ("HipJoint", "Thumb") else f"{side.capitalize()}{part}"


# family -> (trunk names in TRUNK order, limb name format per LIMB part: {L}=L/R, {Left}=Left/Right, {l}=l/r)
FAMILIES = {
    "cmu_3dsmax": (["Hips", "LowerBack", "Spine", "Spine1", "Neck", "Neck1", "Head"],
                   ["{L}HipJoint", "{Left}Hip", "{Left}Knee", "{Left}Ankle", "{Left}Toe", "{Left}Collar",
                    "{Left}Shoulder", "{Left}Elbow", "{Left}Wrist", "{Left}FingerBase", "{Left}Finger", "{L}Thumb"]),
    "mixamo": (["mixamorig:Hips", "mixamorig:Spine", "mixamorig:Spine1", "mixamorig:Spine2", "mixamorig:Neck",
                "mixamorig:Neck1", "mixamorig:Head"],
               [f"mixamorig:{p}" for p in ("{Left}HipRoot", "{Left}UpLeg", "{Left}Leg", "{Left}Foot", "{Left}ToeBase",
                                           "{Left}Shoulder", "{Left}Arm", "{Left}ForeArm", "{Left}Hand",
                                           "{Left}HandPalm", "{Left}HandIndex1", "{Left}HandThumb1")]),
    "smpl": (["Pelvis", "Spine1", "Spine2", "Spine3", "Neck", "Neck1", "Head"],
             ["{L}_HipRoot", "{L}_Hip", "{L}_Knee", "{L}_Ankle", "{L}_Foot", "{L}_Collar", "{L}_Shoulder",
              "{L}_Elbow", "{L}_Wrist", "{L}_Hand", "{L}_Index1", "{L}_Thumb1"]),
    "biped": (["Bip01_Pelvis", "Bip01_Spine", "Bip01_Spine1", "Bip01_Spine2", "Bip01_Neck", "Bip01_Neck1",
               "Bip01_Head"],
              ["Bip01_{L}_HipRoot", "Bip01_{L}_Thigh", "Bip01_{L}_Calf", "Bip01_{L}_Foot", "Bip01_{L}_Toe0",
               "Bip01_{L}_Clavicle", "Bip01_{L}_UpperArm", "Bip01_{L}_Forearm", "Bip01_{L}_Hand",
               "Bip01_{L}_Finger0", "Bip01_{L}_Finger01", "Bip01_{L}_Finger1"]),
    "bandai_truebones": (["Hips", "Spine", "Spine1", "Chest", "Neck", "Neck1", "Head"],
                         ["HipRoot_{L}", "UpperLeg_{L}", "LowerLeg_{L}", "Foot_{L}", "Toes_{L}", "Shoulder_{L}",
                          "UpperArm_{L}", "LowerArm_{L}", "Hand_{L}", "Palm_{L}", "Index_{L}", "Thumb_{L}"]),
    "blender": (["hips", "spine", "spine.001", "chest", "neck", "neck.001", "head"],
                ["pelvis.{l}", "thigh.{l}", "shin.{l}", "foot.{l}", "toe.{l}", "shoulder.{l}", "upper_arm.{l}",
                 "forearm.{l}", "hand.{l}", "palm.{l}", "f_index.{l}", "thumb.{l}"]),
}


def renaming(family: str) -> dict[str, str]:
    """CMU name -> the family's name, for every joint of the shipped BVH."""
    if family == "unnamed":
        names = TRUNK + [_cmu_limb(s, p) for s in ("left", "right") for p in LIMB]
        return {n: f"J{i:02d}" for i, n in enumerate(names)}
    trunk, limb = FAMILIES[family]
    out = dict(zip(TRUNK, trunk, strict=True))
    for side in ("left", "right"):
        marks = {"L": side[0].upper(), "Left": side.capitalize(), "l": side[0]}
        out.update({_cmu_limb(side, p): f.format(**marks) for p, f in zip(LIMB, limb, strict=True)})
    return out


def write_renamed(family: str, folder: Path) -> tuple[Path, dict[str, str]]:
    names = renaming(family)
    text = re.sub(r"^(\s*(?:ROOT|JOINT)\s+)(\S+)", lambda m: m.group(1) + names[m.group(2)], CMU_BVH.read_text(),
                  flags=re.MULTILINE)
    path = folder / f"{family}.bvh"
    path.write_text(text)
    return path, names


@pytest.fixture(scope="module")
def reference() -> tuple:
    """The CMU clip retargeted with the hand-written map."""
    return retarget(load_motion(CMU_BVH), load_character("humanoid3d"), bone_map="cmu_bvh_motionbuilder")


def _renamed_map(names: dict[str, str]) -> dict:
    rename = {**names, **{f"{k}_end": f"{v}_end" for k, v in names.items()}}
    out = {}
    for joint, entry in load_bone_maps()["cmu_bvh_motionbuilder"].items():
        fields = {"mode": entry.mode, "source": entry.source, "from": entry.start, "to": entry.end,
                  "twist": entry.twist, "target_to": entry.target_to}
        out[joint] = {k: rename.get(v, v) if k != "target_to" else v for k, v in fields.items() if v is not None}
    return out


@pytest.mark.parametrize("family", [*FAMILIES, "unnamed"])
def test_family_gets_the_cmu_map_and_the_same_clip(family, tmp_path, reference):
    path, names = write_renamed(family, tmp_path)
    motion = load_motion(path)
    entries, method = auto_bone_map(motion.skeleton)
    assert method == ("structure" if family == "unnamed" else "names")
    assert entries == _renamed_map(names)
    target, report = retarget(motion, load_character("humanoid3d"))
    assert report["bone_map"] == f"auto ({method})"
    np.testing.assert_allclose(target.dof_pos, reference[0].dof_pos, atol=1e-9)
    np.testing.assert_allclose(target.root_pos, reference[0].root_pos, atol=1e-9)


def test_shipped_cmu_files_keep_their_hand_written_maps():
    assert choose_bone_map(load_motion(CMU_BVH).skeleton)[0] == "cmu_bvh_motionbuilder"


@pytest.mark.parametrize(("name", "side", "core"), [
    ("mixamorig:LeftUpLeg", "left", "upleg"), ("LHipJoint", "left", "hipjoint"), ("lfemur", "left", "femur"),
    ("R_Knee", "right", "knee"), ("UpperArm_R", "right", "upperarm"), ("Bip01_L_Forearm", "left", "forearm"),
    ("thigh.r", "right", "thigh"), ("Spine1", None, "spine"), ("radius", None, "radius"),
])
def test_name_sides_and_cores(name, side, core):
    assert side_and_core(name) == (side, core)


def test_a_skeleton_without_limbs_is_one_clear_error(tmp_path):
    path = tmp_path / "snake.bvh"
    path.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation "
                    "Xrotation Yrotation\n JOINT Tail\n {\n  OFFSET 0 -50 0\n  CHANNELS 3 Zrotation Xrotation "
                    "Yrotation\n  End Site\n  {\n   OFFSET 0 -50 0\n  }\n }\n}\nMOTION\nFrames: 2\n"
                    "Frame Time: 0.1\n" + "0 90 0 0 0 0 0 0 0\n" * 2)
    with pytest.raises(ValueError, match="snake") as info:
        retarget(load_motion(path), load_character("humanoid3d"))
    assert "--bone-map" in str(info.value) and "\n" not in str(info.value)

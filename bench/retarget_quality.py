"""Quality of clips brought onto each character: prints a table, writes bench/results/retarget_quality.json.

    python bench/retarget_quality.py

For humanoid3d and the G1, the bundled DeepMimic walk and run, CMU 02_01 (BVH) and 35_01
(ASF/AMC), and for the G1 also LocoMuJoCo's G1 walk (joint space): foot skating, ground
penetration, joint-limit hits, end-effector error and self-collision, as `deepmimic motion
convert` reports them. DeepMimic clips are humanoid3d's own: not retargeted, so no end-effector
error. Joint-limit hits count hinges with a range (humanoid3d: knees and elbows only).
"""

from __future__ import annotations

import json
from pathlib import Path

from deepmimic_mocap import load_character, load_motion
from deepmimic_mocap.assets import DATA_DIR
from deepmimic_mocap.convert import convert_to_character
from deepmimic_mocap.retarget_quality import clip_figures
from deepmimic_sim.model.self_collision import self_collision

CLIPS = {
    "walk (DeepMimic)": ("walk", {}),
    "run (DeepMimic)": ("run", {}),
    "02_01 (CMU BVH)": (DATA_DIR / "cmu" / "02_01.bvh", {}),
    "35_01 (CMU ASF/AMC)": (DATA_DIR / "cmu" / "35_01.amc", {"asf": DATA_DIR / "cmu" / "35.asf"}),
    "LocoMuJoCo G1 walk": (DATA_DIR / "locomujoco" / "02-constspeed_UnitreeG1.npz", {}),
}
COLUMNS = ("foot_skating_cm_s", "ground_penetration_max_mm", "joint_limit_hits_share", "end_effector_error_mean_mm",
           "self_collision_share", "self_collision_max_depth_mm")
OUT = Path(__file__).resolve().parent / "results" / "retarget_quality.json"


def main() -> None:
    rows = []
    for character in ("humanoid3d", "g1"):
        char = load_character(character)
        for label, (source, options) in CLIPS.items():
            if label.startswith("LocoMuJoCo") and character != "g1":
                continue
            clip, report = convert_to_character(load_motion(source, **options), char)
            rows.append({"character": character, "clip": label, **clip_figures(clip, char),
                         "end_effector_error_mean_mm": report.get("end_effector_error_mean_mm"),
                         **self_collision(clip, char)})
    header = f"{'character':<11}{'clip':<22}" + "".join(f"{c[:22]:>24}" for c in COLUMNS)
    print(header)
    for row in rows:
        print(f"{row['character']:<11}{row['clip']:<22}" + "".join(
            f"{'-' if row[c] is None else row[c]!s:>24}" for c in COLUMNS))
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

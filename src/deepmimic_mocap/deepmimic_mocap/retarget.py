"""Retarget human motion capture (BVH, ASF/AMC) onto a DeepMimic character.

Steps, all batched over frames:
1. turn the source so that its rest pose faces +x, like the character;
2. drive each character joint from the source by the bone map (``bone_maps.yaml``): copy a world
   rotation (pelvis, feet) or point a segment along the source's (spine, neck, limbs), which
   cancels rest-pose differences such as a T-pose against the character's arms-down rest;
3. project hinges (knees, elbows) onto their axis and clamp them to the joint limits;
4. scale root translation by the ratio of leg lengths and lift the clip so the feet touch the
   ground;
5. measure the result (``quality_report``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from . import rotations as rot
from .auto_bone_map import BoneMapError, auto_bone_map
from .characters import Character
from .kinematics import forward_kinematics, rest_positions
from .motion import Motion
from .retarget_quality import foot_sole_points, hip_centre, quality_report
from .skeleton import JointType, Skeleton

BONE_MAPS_FILE = Path(__file__).resolve().parent / "bone_maps.yaml"
# Share of frames whose lowest sole point may sit below the ground after the vertical fit: the
# capture's own noise, so that a few outlier frames do not lift the whole clip off the ground.
GROUND_PERCENTILE = 5.0


@dataclass(frozen=True)
class JointSource:
    """How one character joint is driven (one entry of a bone map)."""

    mode: str  # "rotation" or "direction"
    source: str | None = None
    start: str | None = None  # "from" in the YAML
    end: str | None = None  # "to" in the YAML
    twist: str | None = None
    target_to: str | None = None

    @property
    def anchor(self) -> str:
        """The source joint at the target joint's place (``source`` or ``from``)."""
        return self.source if self.mode == "rotation" else self.start  # type: ignore[return-value]

    def source_joints(self) -> list[str]:
        """Every source joint this entry reads."""
        return [n for n in (self.source, self.start, self.end, self.twist) if n is not None]


def load_bone_maps(path: str | Path = BONE_MAPS_FILE) -> dict[str, dict[str, JointSource]]:
    """All bone maps in a YAML file, by scheme name."""
    raw = yaml.safe_load(Path(path).read_text())
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of scheme names to bone maps")
    maps = {}
    for scheme, entries in raw.items():
        if not isinstance(entries, dict):
            raise ValueError(f"{path}: scheme '{scheme}' must map joint names to entries")
        maps[scheme] = {joint: _joint_source(entry, f"{path}: {scheme}.{joint}") for joint, entry in entries.items()}
    return maps


def _joint_source(entry: Any, where: str) -> JointSource:
    if not isinstance(entry, dict) or entry.get("mode") not in ("rotation", "direction"):
        raise ValueError(f"{where}: needs mode 'rotation' or 'direction'")
    unknown = set(entry) - {"mode", "source", "from", "to", "twist", "target_to"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    needed = ("source",) if entry["mode"] == "rotation" else ("from", "to", "twist", "target_to")
    missing = [k for k in needed if k not in entry]
    if missing:
        raise ValueError(f"{where}: missing {missing}")
    return JointSource(entry["mode"], entry.get("source"), entry.get("from"), entry.get("to"), entry.get("twist"),
                       entry.get("target_to"))


def choose_bone_map(skeleton: Skeleton, bone_map: str | Path | dict | None = None) -> tuple[str, dict]:
    """The bone map to use: given by file or scheme name, else the first built-in one whose joints all
    exist, else one found from the bone names and the skeleton's shape (``auto_bone_map``)."""
    if isinstance(bone_map, dict):
        return "custom", bone_map
    if bone_map is not None and Path(bone_map).is_file():
        maps = load_bone_maps(bone_map)
    else:
        maps = load_bone_maps()
        if bone_map is not None:
            if str(bone_map) not in maps:
                raise KeyError(f"no bone map file or built-in scheme '{bone_map}'; built in: {', '.join(maps)}")
            maps = {str(bone_map): maps[str(bone_map)]}
    names = set(skeleton.joint_names)
    for scheme, entries in maps.items():
        if all(n in names for e in entries.values() for n in e.source_joints()):
            return scheme, entries
    if bone_map is not None:
        missing = sorted({n for e in next(iter(maps.values())).values() for n in e.source_joints()} - names)
        raise ValueError(f"bone map {bone_map} does not fit skeleton '{skeleton.name}': it names bones the skeleton "
                         f"lacks: {', '.join(missing[:8])}")
    try:
        entries, method = auto_bone_map(skeleton)
    except BoneMapError as err:
        raise ValueError(f"{err}; no built-in bone map fits either: write one and pass it with --bone-map "
                         f"(see {BONE_MAPS_FILE.name})") from None
    return f"auto ({method})", {j: _joint_source(e, f"auto bone map: {j}") for j, e in entries.items()}


def rotate_world(motion: Motion, quat: np.ndarray) -> Motion:
    """The same clip in a world turned by ``quat``: the rest pose turns with it (frames stay aligned)."""
    sk = motion.skeleton
    if sk.revolute_joints.size:
        raise ValueError("rotate_world supports ball-joint skeletons (BVH, ASF) only")
    conj = rot.quat_conj(quat)
    skeleton = Skeleton(sk.name, sk.joint_names, sk.parents, sk.joint_types, rot.quat_rotate(quat, sk.offsets),
                        rot.quat_rotate(quat, sk.axes), rot.quat_mul(rot.quat_mul(quat, sk.rest_quat), conj),
                        sk.has_geometry)
    local = motion.local_quat()
    local = rot.quat_mul(rot.quat_mul(np.broadcast_to(quat, local.shape), local), np.broadcast_to(conj, local.shape))
    return Motion(skeleton, motion.frame_times, rot.quat_rotate(quat, motion.root_pos), local[:, 0],
                  skeleton.dof_pos_from_local_quat(local),
                  motion.loop, motion.name, motion.source, motion.meta)


def _face_forward(source: Motion, left_hip: str, right_hip: str) -> Motion:
    rest = rest_positions(source.skeleton)
    left = rest[source.skeleton.index(left_hip)] - rest[source.skeleton.index(right_hip)]
    forward = np.cross(left, [0.0, 0.0, 1.0])
    yaw = np.arctan2(forward[1], forward[0])
    return rotate_world(source, rot.quat_from_yaw(np.array(-yaw)))


def _drop_rest_frame(motion: Motion) -> Motion:
    """Drop a leading rest pose (CMU BVH conversions start with a T-pose frame).

    Frame 0 counts as a rest pose when the joints jump from it to frame 1 by far more than they
    move between any later pair of frames.
    """
    if motion.num_frames < 4:
        return motion
    local = motion.local_quat()[:, 1:]
    step = rot.quat_angle_between(local[:-1], local[1:]).mean(axis=1)  # (F-1,) mean joint change
    if step[0] < 0.1 or step[0] < 5.0 * float(np.max(step[1:])):
        return motion
    return Motion(motion.skeleton, motion.frame_times[1:] - motion.frame_times[1], motion.root_pos[1:],
                  motion.root_quat[1:], motion.dof_pos[1:], motion.loop, motion.name, motion.source,
                  {**motion.meta, "dropped_rest_frame": True})


def _target_world_rotations(source: Motion, character: Character, bone_map: dict) -> np.ndarray:
    """World rotation of every character joint at every frame. Shape: ``(F, J, 4)``."""
    src_sk, tgt_sk = source.skeleton, character.skeleton
    pos_s, quat_s = forward_kinematics(src_sk, source.root_pos, source.root_quat, source.local_quat())
    rest_s, rest_t = rest_positions(src_sk), rest_positions(tgt_sk)
    world = np.zeros((source.num_frames, tgt_sk.num_joints, 4))
    for j, name in enumerate(tgt_sk.joint_names):
        entry = bone_map.get(name)
        if entry is None:  # unmapped: keep the rest pose relative to the parent
            world[:, j] = world[:, tgt_sk.parents[j]] if j > 0 else np.array([1.0, 0.0, 0.0, 0.0])
        elif entry.mode == "rotation":
            world[:, j] = quat_s[:, src_sk.index(entry.source)]
        else:
            i_from, i_to, i_twist = (src_sk.index(n) for n in (entry.start, entry.end, entry.twist))
            if entry.target_to == "body":
                d_t = character.bodies[j].pos
            else:
                d_t = rest_t[tgt_sk.index(entry.target_to)] - rest_t[j]
            world[:, j] = _point_segment(d_t, rest_s[i_to] - rest_s[i_from], pos_s[:, i_to] - pos_s[:, i_from],
                                         quat_s[:, i_twist])
    return world


def _point_segment(d_target: np.ndarray, d_source_rest: np.ndarray, d_source: np.ndarray,
                   twist_quat: np.ndarray) -> np.ndarray:
    """World rotations pointing the target segment along the source's, with the source's twist.

    Args:
        d_target: Target segment at rest. Shape: ``(3,)``.
        d_source_rest: Source segment at rest. Shape: ``(3,)``.
        d_source: Source segment per frame. Shape: ``(F, 3)``.
        twist_quat: World rotation of the source joint that carries the twist. Shape: ``(F, 4)``.
    """
    align = rot.quat_between(d_target, d_source_rest)  # target rest -> source rest
    guess = rot.quat_mul(twist_quat, np.broadcast_to(align, twist_quat.shape))
    current = rot.quat_rotate(guess, np.broadcast_to(d_target, d_source.shape))
    return rot.quat_mul(rot.quat_between(current, d_source), guess)


def _local_dof_pos(character: Character, world: np.ndarray) -> np.ndarray:
    """Pack world rotations as local joint poses, hinges projected and clamped to their limits."""
    sk = character.skeleton
    parents = np.where(sk.parents < 0, 0, sk.parents)
    local = rot.quat_mul(rot.quat_conj(world[:, parents]), world)
    dof_pos = sk.dof_pos_from_local_quat(local)
    for j in sk.revolute_joints:
        i = sk.dof_pos_slice(j).start
        dof_pos[:, i] = np.clip(dof_pos[:, i], *character.limits[j, 0])
    return dof_pos


def _leg_length(skeleton: Skeleton, hip: str, knee: str, ankle: str) -> float:
    rest = rest_positions(skeleton)
    a, b, c = (rest[skeleton.index(n)] for n in (hip, knee, ankle))
    return float(np.linalg.norm(b - a) + np.linalg.norm(c - b))


def retarget(
    source: Motion, character: Character, *, bone_map: str | Path | dict | None = None, drop_rest_frame: bool = True,
) -> tuple[Motion, dict[str, Any]]:
    """Retarget a human clip onto ``character`` (humanoid3d).

    Args:
        source: A clip on a BVH or ASF skeleton (ball joints only).
        character: The target character.
        bone_map: A scheme name from ``bone_maps.yaml``, a YAML file, a dict, or ``None`` to detect it.
        drop_rest_frame: Drop a leading rest-pose frame (CMU BVH conversions start with one).

    Returns:
        The clip on the character, and its quality report (``retarget_quality.quality_report``).
    """
    if any(t == JointType.REVOLUTE for t in source.skeleton.joint_types):
        raise ValueError("retargeting reads ball-joint skeletons (BVH, ASF/AMC)")
    scheme, entries = choose_bone_map(source.skeleton, bone_map)
    if drop_rest_frame:
        source = _drop_rest_frame(source)
    source = _face_forward(source, entries["left_hip"].anchor, entries["right_hip"].anchor)
    world = _target_world_rotations(source, character, entries)
    dof_pos = _local_dof_pos(character, world)
    src_legs = [(entries[f"{s}_hip"].anchor, entries[f"{s}_knee"].anchor, entries[f"{s}_ankle"].anchor)
                for s in ("left", "right")]
    scale = _leg_length(character.skeleton, "left_hip", "left_knee", "left_ankle") / np.mean(
        [_leg_length(source.skeleton, *leg) for leg in src_legs])
    root_pos = _root_from_hip_centre(source, character, entries, world[:, 0], scale)
    target = Motion(character.skeleton, source.frame_times, root_pos, world[:, 0], dof_pos, source.loop,
                    f"{source.name}_{character.name}", source.source, {"format": "retargeted", "bone_map": scheme})
    target = put_feet_on_ground(target, character)
    report = quality_report(source, target, character, entries, scale)
    report.update({"bone_map": scheme, "scale": round(float(scale), 4), "frames": target.num_frames})
    return target, report


def _root_from_hip_centre(source: Motion, character: Character, entries: dict, root_quat: np.ndarray,
                          scale: float) -> np.ndarray:
    """Root positions that put the character's hip centre on the source's, scaled.

    Matching hip centres rather than roots matters: a BVH ``Hips`` joint can sit 10 cm above the
    hip joints, while humanoid3d's root is level with them.
    """
    src_hips = hip_centre(source, entries["left_hip"].anchor, entries["right_hip"].anchor)
    sk = character.skeleton
    rest_offset = 0.5 * (sk.offsets[sk.index("left_hip")] + sk.offsets[sk.index("right_hip")])
    return scale * src_hips - rot.quat_rotate(root_quat, np.broadcast_to(rest_offset, src_hips.shape))


def put_feet_on_ground(motion: Motion, character: Character) -> Motion:
    """The clip moved up or down so that the feet's lowest sole points touch the ground (z = 0).

    The lift is the ``GROUND_PERCENTILE``-th percentile of the lowest sole point per frame.
    """
    soles = foot_sole_points(motion, character)[..., 2]  # (F, feet, corners)
    lowest = soles.reshape(motion.num_frames, -1).min(axis=1)
    lift = -float(np.percentile(lowest, GROUND_PERCENTILE))
    root_pos = motion.root_pos + np.array([0.0, 0.0, lift])
    return Motion(motion.skeleton, motion.frame_times, root_pos, motion.root_quat, motion.dof_pos, motion.loop,
                  motion.name, motion.source, {**motion.meta, "ground_lift_m": round(lift, 4)})

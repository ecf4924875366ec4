"""Bone maps found automatically for a human skeleton of any common naming family.

``auto_bone_map(skeleton)`` builds the same kind of map as ``bone_maps.yaml`` holds (how each
humanoid3d joint is driven by source joints) for CMU (as shipped, or its 3ds Max- and
MotionBuilder-friendly BVH conversions), Mixamo (``mixamorig:LeftUpLeg``), SMPL (``L_Hip``),
3ds Max Biped (``Bip01 L Thigh``), Bandai-Namco/Truebones-like (``UpperLeg_L``) and unnamed
skeletons:

1. **Limbs.** Every leaf (an end site or a childless joint) is classified as part of a leg, an
   arm or the head by the body words in the names on its path (``toe``, ``hand``, ``head`` ...),
   and given a side by side marks (``L``/``R``, ``Left``/``Right``, ``_l``/``_r``, an ``l``/``r``
   prefix as in ``lfemur``). Without such names it falls back on the rest pose: legs end well
   below the root, the head is the highest other leaf, arms are the rest; sides come from the
   feet's lateral positions and the toes' forward direction.
2. **Limb joints.** Along each limb's chain (the joints it does not share with the opposite limb),
   the knee/elbow is the joint named so (``knee``, ``leg``, ``shin``, ``calf``, ``tibia`` /
   ``forearm``, ``lower arm``, ``elbow``, ``radius``), the hip/shoulder the nearest joint before it
   named as an upper segment, the ankle/wrist the nearest joint after it named as a foot/hand.
   When names do not give all three, structure does: the two consecutive segments that are
   longest together are the upper and lower limb.
3. **Trunk.** The pelvis is where the legs meet, the chest where the arms meet, the neck the joint
   after the chest on the way to the head.
"""

from __future__ import annotations

import itertools
import re

import numpy as np

from .kinematics import rest_positions
from .skeleton import JointType, Skeleton

THIGH = {"upleg", "upperleg", "legupper", "uleg", "thigh", "hip", "femur"}
KNEE = {"leg", "lowerleg", "leglower", "loleg", "knee", "shin", "calf", "tibia"}
ANKLE = {"foot", "ankle"}
UPPER_ARM = {"arm", "uparm", "upperarm", "armupper", "uarm", "shoulder", "humerus"}
ELBOW = {"forearm", "lowerarm", "armlower", "loarm", "elbow", "radius", "ulna"}
WRIST = {"hand", "wrist"}
LEG_WORDS = {"leg", "upleg", "thigh", "knee", "shin", "calf", "foot", "ankle", "toe", "toes", "ball", "heel", "femur",
             "tibia", "hip"}
ARM_WORDS = {"arm", "forearm", "elbow", "hand", "wrist", "finger", "fingers", "thumb", "index", "middle", "ring",
             "pinky", "little", "shoulder", "collar", "clavicle", "humerus", "radius", "ulna"}
HEAD_WORDS = {"head", "neck", "skull", "jaw", "eye", "nose", "headtop"}
_WORDS = LEG_WORDS | ARM_WORDS | HEAD_WORDS | THIGH | KNEE | ANKLE | UPPER_ARM | ELBOW | WRIST
_SIDES = {"l": "left", "left": "left", "r": "right", "right": "right"}
_NOISE = {"bip", "mixamorig", "def", "jnt", "bn", "b"}
_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


class BoneMapError(ValueError):
    """No bone map could be found for a skeleton (the message says what is missing)."""


# ------------------------------------------------------------------------------------ names
def name_tokens(name: str) -> list[str]:
    """Lower-case words of a bone name, namespace dropped (``mixamorig:LeftUpLeg`` -> left, up, leg)."""
    name = name.rsplit(":", 1)[-1]
    out = []
    for token in (t.lower() for t in _TOKEN.findall(name)):
        if len(token) > 2 and token[0] in "lr" and token[1:] in _WORDS:  # lfemur, rhand
            out += [token[0], token[1:]]
        else:
            out.append(token)
    return out


def side_and_core(name: str) -> tuple[str | None, str]:
    """The side a name marks (``left``/``right``/None) and its core (``LeftUpLeg`` -> ``upleg``)."""
    tokens = name_tokens(name)
    side = next((_SIDES[t] for t in tokens if t in _SIDES), None)
    core = "".join(t for t in tokens if t not in _SIDES and t not in _NOISE and not t.isdigit())
    return side, core


def _kind(name: str) -> str | None:
    words = set(name_tokens(name))
    for kind, vocabulary in (("arm", ARM_WORDS), ("leg", LEG_WORDS), ("head", HEAD_WORDS)):
        if words & vocabulary:
            return kind
    return None


# -------------------------------------------------------------------------------- structure
class _Tree:
    """Parent/child queries and rest positions of a skeleton."""

    def __init__(self, skeleton: Skeleton) -> None:
        self.sk = skeleton
        self.parents = [int(p) for p in skeleton.parents]
        self.rest = rest_positions(skeleton)
        has_child = {p for p in self.parents if p >= 0}
        self.leaves = [j for j in range(skeleton.num_joints) if j not in has_child]

    def path(self, j: int) -> list[int]:
        """Joints from the root to ``j``."""
        out = []
        while j >= 0:
            out.append(j)
            j = self.parents[j]
        return out[::-1]

    def lca(self, joints: list[int]) -> int:
        """Lowest common ancestor (a joint is its own ancestor)."""
        paths = [self.path(j) for j in joints]
        common = 0
        for column in zip(*paths, strict=False):
            if len(set(column)) > 1:
                break
            common = column[0]
        return common

    def name(self, j: int) -> str:
        return self.sk.joint_names[j]

    def fixed(self, j: int) -> bool:
        return self.sk.joint_types[j] == JointType.FIXED


def _classify_by_names(tree: _Tree) -> dict[tuple[str, str | None], list[int]] | None:
    groups: dict[tuple[str, str | None], list[int]] = {}
    for leaf in tree.leaves:
        path = tree.path(leaf)
        kinds = [k for k in (_kind(tree.name(j)) for j in path) if k]
        sides = [s for s in (side_and_core(tree.name(j))[0] for j in path) if s]
        if not kinds:
            continue
        kind = kinds[-1]
        side = None if kind == "head" else (sides[-1] if sides else None)
        if kind != "head" and side is None:
            continue
        groups.setdefault((kind, side), []).append(leaf)
    needed = {("leg", "left"), ("leg", "right"), ("arm", "left"), ("arm", "right"), ("head", None)}
    return groups if needed <= set(groups) else None


def _split_two(tree: _Tree, leaves: list[int], what: str) -> list[list[int]]:
    top = tree.lca(leaves)
    by_child: dict[int, list[int]] = {}
    for leaf in leaves:
        path = tree.path(leaf)
        by_child.setdefault(path[path.index(top) + 1], []).append(leaf)
    if len(by_child) != 2:
        raise BoneMapError(f"skeleton '{tree.sk.name}': cannot tell two {what} apart by structure "
                           f"({len(by_child)} branches)")
    return list(by_child.values())


def _classify_by_rest_pose(tree: _Tree) -> dict[tuple[str, str | None], list[int]]:
    z = tree.rest[:, 2]
    height = float(z.max() - z.min())
    legs = [j for j in tree.leaves if z[j] < z[0] - 0.25 * height]
    others = [j for j in tree.leaves if j not in legs]
    if len(legs) < 2 or len(others) < 3:
        raise BoneMapError(f"skeleton '{tree.sk.name}': its rest pose does not show two legs, two arms and a head")
    head = max(others, key=lambda j: z[j])
    arms = [j for j in others if j != head and head not in tree.path(j) and j not in tree.path(head)]
    leg_groups, arm_groups = _split_two(tree, legs, "legs"), _split_two(tree, arms, "arms")
    pelvis = tree.rest[tree.lca(legs)]
    feet = [tree.rest[g].mean(axis=0) - pelvis for g in leg_groups]
    lateral = feet[0] - feet[1]
    lateral[2] = 0.0
    forward = (feet[0] + feet[1]) / 2
    forward[2] = 0.0
    forward -= lateral * (forward @ lateral) / max(float(lateral @ lateral), 1e-12)
    left = np.cross([0.0, 0.0, 1.0], forward)

    def side(group: list[int]) -> str:
        return "left" if float((tree.rest[group].mean(axis=0) - pelvis) @ left) > 0 else "right"

    groups = {("head", None): [head]}
    for kind, pair in (("leg", leg_groups), ("arm", arm_groups)):
        sides = [side(g) for g in pair]
        if sides[0] == sides[1]:
            raise BoneMapError(f"skeleton '{tree.sk.name}': both {kind}s lie on the same side at rest")
        groups.update({(kind, s): g for s, g in zip(sides, pair, strict=True)})
    return groups


def _by_names(tree: _Tree, part: list[int], upper: set[str], middle: set[str], lower: set[str]) -> list[int] | None:
    cores = [side_and_core(tree.name(j))[1] for j in part]
    mid = next((i for i, c in enumerate(cores) if c in middle), None)
    if mid is None:
        return None
    top = next((i for i in range(mid - 1, -1, -1) if cores[i] in upper), None)
    low = next((i for i in range(mid + 1, len(part)) if cores[i] in lower), None)
    if top is None or low is None:
        return None
    return [part[top], part[mid], part[low]]


def _by_structure(tree: _Tree, part: list[int], branching_end: bool) -> list[int]:
    """Upper, middle and lower joint: the two longest consecutive segments, or, when the chain ends where
    several leaves meet (a hand with fingers), the two segments before that end."""
    movable = [j for j in part if not tree.fixed(j)]
    if len(movable) < 3:
        raise BoneMapError(f"skeleton '{tree.sk.name}': a limb ending at '{tree.name(part[-1])}' has fewer than "
                           "three joints")
    if branching_end and movable[-1] == part[-1]:
        return movable[-3:]
    lengths = [np.linalg.norm(tree.rest[b] - tree.rest[a]) for a, b in itertools.pairwise(movable)]
    best = max(range(len(lengths) - 1), key=lambda i: lengths[i] + lengths[i + 1])
    return movable[best:best + 3]


def _limb(tree: _Tree, anchor: int, other: int, names: tuple[set[str], set[str], set[str]]) -> tuple[list[int], str]:
    """(upper, middle, lower) joints of the limb ending at ``anchor``, and how they were found."""
    path = tree.path(anchor)
    meet = tree.lca([anchor, other])
    part = path[path.index(meet) + 1:]
    found = _by_names(tree, part, *names)
    branching = sum(tree.parents[j] == anchor for j in range(len(tree.parents))) > 1
    return (found, "names") if found else (_by_structure(tree, part, branching), "structure")


def _spine_from(tree: _Tree, pelvis: int, chest: int, neck: int) -> int:
    """The lower end of the chest segment: the joint below the chest, unless that is the pelvis."""
    candidate = tree.parents[chest]
    path = tree.path(chest)
    if candidate == pelvis or candidate not in path or path.index(candidate) <= path.index(pelvis):
        candidate = chest
    while np.linalg.norm(tree.rest[neck] - tree.rest[candidate]) < 0.01 and tree.parents[candidate] != pelvis:
        candidate = tree.parents[candidate]
    return candidate


def _direction(tree: _Tree, start: int, end: int, twist: int, target_to: str) -> dict[str, str]:
    return {"mode": "direction", "from": tree.name(start), "to": tree.name(end), "twist": tree.name(twist),
            "target_to": target_to}


def auto_bone_map(skeleton: Skeleton) -> tuple[dict[str, dict[str, str]], str]:
    """A humanoid3d bone map for ``skeleton`` (entries as in ``bone_maps.yaml``) and how it was found.

    Returns:
        ``(entries, method)``: ``method`` is ``"names"`` when every limb was found by its bone names,
        else ``"structure"`` for the limbs (or the whole body) found from the skeleton's shape.

    Raises:
        BoneMapError: The skeleton does not show two legs, two arms and a head.
    """
    tree = _Tree(skeleton)
    groups = _classify_by_names(tree)
    method = "names"
    if groups is None:
        groups, method = _classify_by_rest_pose(tree), "structure"
    anchor = {key: tree.lca(leaves) for key, leaves in groups.items()}
    entries: dict[str, dict[str, str]] = {}
    pelvis = tree.lca([anchor["leg", "left"], anchor["leg", "right"]])
    chest = tree.lca([anchor["arm", "left"], anchor["arm", "right"]])
    head_path = tree.path(anchor["head", None])
    if chest not in head_path or head_path.index(chest) + 1 >= len(head_path):
        raise BoneMapError(f"skeleton '{skeleton.name}': the arms do not branch off the way to the head")
    neck = head_path[head_path.index(chest) + 1]
    head_end = head_path[-1]
    head = tree.parents[head_end]  # the joint that carries the head's twist
    if neck == head_end:
        raise BoneMapError(f"skeleton '{skeleton.name}': no neck joint between the chest and the head")
    entries["root"] = {"mode": "rotation", "source": tree.name(pelvis)}
    entries["chest"] = _direction(tree, _spine_from(tree, pelvis, chest, neck), neck, chest, "neck")
    entries["neck"] = _direction(tree, neck, head_end, head, "body")
    for side, other in (("left", "right"), ("right", "left")):
        for kind, names, joints in (("leg", (THIGH, KNEE, ANKLE), ("hip", "knee", "ankle")),
                                    ("arm", (UPPER_ARM, ELBOW, WRIST), ("shoulder", "elbow", "wrist"))):
            (upper, middle, lower), how = _limb(tree, anchor[kind, side], anchor[kind, other], names)
            method = "structure" if how == "structure" else method
            entries[f"{side}_{joints[0]}"] = _direction(tree, upper, middle, upper, f"{side}_{joints[1]}")
            entries[f"{side}_{joints[1]}"] = _direction(tree, middle, lower, middle, f"{side}_{joints[2]}")
            if kind == "leg":
                entries[f"{side}_ankle"] = {"mode": "rotation", "source": tree.name(lower)}
    return entries, method

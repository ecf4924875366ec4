"""Robot characters: a MuJoCo model (MJCF) plus a YAML file of actuator, contact and pose settings.

A robot is data, not code (``data/characters/g1.yaml`` is the example): the YAML names its MJCF
and gives what the MJCF does not hold. The MJCF is read here with the standard library only (no
MuJoCo import), into the same :class:`~deepmimic_mocap.characters.Character` as DeepMimic's
characters, so kinematics, motion files, retargeting and the simulator treat both alike:

- every body below the floating root must have exactly one hinge at its origin; the skeleton has
  one revolute joint per body, named after the hinge (the names the robot's ROS 2 driver uses),
  and ``Character.robot.body_names`` gives the body of each joint;
- ``offsets``/``rest_quat`` are the bodies' ``pos``/``quat``, ``axes`` the hinge axes and
  ``limits`` their ``range``; masses and centres of mass come from ``<inertial>``.

YAML keys (all required unless marked optional)::

    mjcf: path of the model, relative to the YAML file
    control_hz: policy rate
    timestep: physics step of the generated model, s
    pd: {natural_frequency_hz, damping_ratio}    # kp = a w^2, kd = 2 zeta a w (a: armature)
    motors:                                      # every hinge matched by exactly one class
      <class>: {armature, effort_limit, velocity_limit, joints: [regex, ...]}
    end_effectors: [body, ...]                   # hands and feet (rewards, IK keypoints)
    feet: [body, ...]                            # their collision capsules give the sole points
    ground_contact_allowed: [body, ...]          # any other body touching the ground ends an episode
    home_pose: {root_height: m, joints: {regex: rad}}   # optional; unmatched joints 0
    diff_weights: {regex: weight}                # optional; default 1
    aliases: {name: [joint, sign]}               # optional; joint names of other data sets
    ik: {hips, chains, orientations}             # optional; [body, humanoid3d joint] pairs (retarget_ik)
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import MotionFormatError
from .skeleton import JointType, Skeleton

_UNSUPPORTED_ORIENTATION = ("euler", "axisangle", "xyaxes", "zaxis")
_KEYS = {"name", "mjcf", "control_hz", "timestep", "pd", "motors", "end_effectors", "feet", "ground_contact_allowed",
         "home_pose", "diff_weights", "aliases", "ik"}


@dataclass(frozen=True, eq=False)
class RobotSpec:
    """What a robot character adds to a DeepMimic-style character.

    Attributes:
        mjcf: The robot's MJCF file.
        body_names: Model body of each skeleton joint (the root's body first).
        armature: Reflected rotor inertia per joint, kg m^2 (0 for the root). Shape: ``(J,)``.
        kp, kd: PD gains per joint. Shape: ``(J,)``.
        velocity_limits: rad/s per joint. Shape: ``(J,)``.
        motor_class: Motor class name per joint (``""`` for the root).
        control_hz: Policy rate.
        timestep: Physics step, s.
        home_root_height: Root height of the home pose, m.
        home_dof_pos: Home pose, one angle per revolute joint in skeleton order. Shape: ``(J - 1,)``.
        sole_points: Per foot joint index, points under the sole in that joint's frame.
        aliases: ``{other name: (joint, sign)}``: joint names of other data sets (LocoMuJoCo's G1).
        collision: Collision capsules ``(joint index, end 0, end 1, radius)`` in the joint's frame
            (spheres have equal ends); what ``retarget_ik`` keeps apart.
        collision_exclude: Body pairs (joint indices) the model excludes from collision.
        ik: Keypoints for ``retarget_ik``, as ``(joint index, humanoid3d joint)`` pairs: ``hips`` (2),
            ``chains`` (lists of pairs along a limb) and ``orientations``; ``clearance``: two sets of
            joint indices whose collision capsules are kept apart. Empty when not given.
    """

    mjcf: Path
    body_names: tuple[str, ...]
    armature: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    velocity_limits: np.ndarray
    motor_class: tuple[str, ...]
    control_hz: float
    timestep: float
    home_root_height: float
    home_dof_pos: np.ndarray
    sole_points: tuple[tuple[int, np.ndarray], ...]
    aliases: dict[str, tuple[str, float]]
    collision: tuple[tuple[int, np.ndarray, np.ndarray, float], ...]
    collision_exclude: frozenset[tuple[int, int]]
    ik: dict[str, Any]


def _floats(text: str | None, count: int, default: tuple[float, ...], path: Path, where: str) -> np.ndarray:
    if text is None:
        return np.array(default, dtype=np.float64)
    try:
        values = np.array([float(v) for v in text.split()])
    except ValueError:
        raise MotionFormatError(path, f"expected {count} numbers, got {text!r}", field=where) from None
    if values.shape != (count,):
        raise MotionFormatError(path, f"expected {count} numbers, got {text!r}", field=where)
    return values


def _geom_defaults(root: ET.Element) -> dict[str, dict[str, str]]:
    """Geom attributes of every default class, inherited from enclosing classes."""
    classes: dict[str, dict[str, str]] = {}

    def walk(el: ET.Element, inherited: dict[str, str]) -> None:
        for child in el.findall("default"):
            attrs = dict(inherited)
            geom = child.find("geom")
            if geom is not None:
                attrs.update(geom.attrib)
            classes[child.get("class", "main")] = attrs
            walk(child, attrs)

    for default in root.findall("default"):
        walk(default, {})
    return classes


@dataclass
class _Parsed:
    names: list[str]
    bodies: list[str]
    parents: list[int]
    offsets: list[np.ndarray]
    rest: list[np.ndarray]
    axes: list[np.ndarray]
    limits: list[tuple[float, float]]
    masses: list[float]
    coms: list[np.ndarray]
    elements: list[ET.Element]


def _parse_bodies(root_body: ET.Element, path: Path) -> _Parsed:
    out = _Parsed([], [], [], [], [], [], [], [], [], [])

    def visit(el: ET.Element, parent: int) -> None:
        name = el.get("name")
        where = f"body '{name}'"
        if name is None:
            raise MotionFormatError(path, "every body needs a name", field="body")
        for attr in _UNSUPPORTED_ORIENTATION:
            if attr in el.attrib:
                raise MotionFormatError(path, f"orientation given as '{attr}'; write it as 'quat'", field=where)
        joints = el.findall("joint") + el.findall("freejoint")
        if parent < 0:
            if len(el.findall("freejoint")) + sum(j.get("type") == "free" for j in el.findall("joint")) != 1:
                raise MotionFormatError(path, "the root body needs one free joint", field=where)
            out.names.append(name)
            out.axes.append(np.zeros(3))
            out.limits.append((0.0, 0.0))
        else:
            if len(joints) != 1 or joints[0].get("type", "hinge") != "hinge":
                raise MotionFormatError(path, f"has {len(joints)} joint(s); robot characters need exactly one hinge "
                                        "per body below the root", field=where)
            joint = joints[0]
            if np.any(_floats(joint.get("pos"), 3, (0.0, 0.0, 0.0), path, where) != 0):
                raise MotionFormatError(path, "hinge is not at the body origin (joint 'pos' must be 0)", field=where)
            if joint.get("name") is None or joint.get("range") is None:
                raise MotionFormatError(path, "hinge needs a name and a range", field=where)
            axis = _floats(joint.get("axis"), 3, (0.0, 0.0, 1.0), path, where)
            out.names.append(joint.get("name"))
            out.axes.append(axis / np.linalg.norm(axis))
            low, high = _floats(joint.get("range"), 2, (0.0, 0.0), path, where)
            out.limits.append((float(low), float(high)))
        out.bodies.append(name)
        out.parents.append(parent)
        out.offsets.append(_floats(el.get("pos"), 3, (0.0, 0.0, 0.0), path, where))
        quat = _floats(el.get("quat"), 4, (1.0, 0.0, 0.0, 0.0), path, where)
        out.rest.append(quat / np.linalg.norm(quat))
        inertial = el.find("inertial")
        if inertial is None or inertial.get("mass") is None:
            raise MotionFormatError(path, "needs an <inertial> with a mass", field=where)
        out.masses.append(float(inertial.get("mass")))
        out.coms.append(_floats(inertial.get("pos"), 3, (0.0, 0.0, 0.0), path, where))
        out.elements.append(el)
        index = len(out.names) - 1
        for child in el.findall("body"):
            visit(child, index)

    visit(root_body, -1)
    return out


def _match(patterns: dict[str, Any], names: list[str], path: Path, where: str, *, each_once: bool) -> dict[str, str]:
    """``{joint name: pattern}`` for every joint a pattern fully matches."""
    found: dict[str, str] = {}
    for pattern in patterns:
        try:
            regex = re.compile(pattern)
        except re.error as err:
            raise MotionFormatError(path, f"bad pattern {pattern!r}: {err}", field=where) from None
        hits = [n for n in names if regex.fullmatch(n)]
        if not hits:
            raise MotionFormatError(path, f"pattern {pattern!r} matches no joint", field=where)
        for name in hits:
            if name in found and each_once:
                raise MotionFormatError(path, f"joint '{name}' matched by {found[name]!r} and {pattern!r}", field=where)
            found[name] = pattern
    return found


def _require(data: dict, key: str, path: Path) -> Any:
    if key not in data:
        raise MotionFormatError(path, f"missing '{key}'", field=key)
    return data[key]


def _bodies(data: dict, key: str, body_names: list[str], path: Path) -> list[int]:
    names = _require(data, key, path)
    if not isinstance(names, list):
        raise MotionFormatError(path, f"'{key}' must be a list of body names", field=key)
    unknown = [n for n in names if n not in body_names]
    if unknown:
        raise MotionFormatError(path, f"no body named {unknown}; bodies: {', '.join(body_names)}", field=key)
    return [body_names.index(n) for n in names]


def _collision(parsed: _Parsed, defaults: dict, path: Path) -> tuple[tuple[int, np.ndarray, np.ndarray, float], ...]:
    """Capsules (``fromto``) and spheres (``pos``) that collide, per body; other shapes are left out."""
    out = []
    for j, el in enumerate(parsed.elements):
        for geom in el.findall("geom"):
            attrs = {**defaults.get(geom.get("class", ""), {}), **geom.attrib}
            if "mesh" in attrs or (attrs.get("contype", "1") == "0" and attrs.get("conaffinity", "1") == "0"):
                continue
            where = f"body '{parsed.bodies[j]}' geom"
            radius = float(attrs.get("size", "0").split()[0])
            kind = attrs.get("type", "sphere")
            if kind == "capsule" and "fromto" in attrs:
                ends = _floats(attrs["fromto"], 6, (0.0,) * 6, path, where).reshape(2, 3)
            elif kind == "sphere":
                ends = np.repeat(_floats(attrs.get("pos"), 3, (0.0, 0.0, 0.0), path, where)[None], 2, axis=0)
            else:
                continue
            out.append((j, ends[0], ends[1], radius))
    return tuple(out)


def _excluded(root: ET.Element, bodies: list[str]) -> frozenset[tuple[int, int]]:
    pairs = set()
    for contact in root.findall("contact"):
        for ex in contact.findall("exclude"):
            a, b = ex.get("body1"), ex.get("body2")
            if a in bodies and b in bodies:
                pairs.add(tuple(sorted((bodies.index(a), bodies.index(b)))))
    return frozenset(pairs)


def _sole_points(parsed: _Parsed, feet: list[int], defaults: dict, path: Path) -> tuple[tuple[int, np.ndarray], ...]:
    """Bottom points of every capsule/sphere collision geom of each foot, in the foot's frame."""
    out = []
    for j in feet:
        points = []
        for geom in parsed.elements[j].findall("geom"):
            attrs = {**defaults.get(geom.get("class", ""), {}), **geom.attrib}
            if "mesh" in attrs or attrs.get("contype", "1") == "0" and attrs.get("conaffinity", "1") == "0":
                continue
            radius = float(attrs.get("size", "0").split()[0])
            if "fromto" in attrs:
                ends = _floats(attrs["fromto"], 6, (0.0,) * 6, path, f"body '{parsed.bodies[j]}' geom").reshape(2, 3)
            else:
                ends = _floats(attrs.get("pos"), 3, (0.0, 0.0, 0.0), path, f"body '{parsed.bodies[j]}' geom")[None]
            points += list(ends - np.array([0.0, 0.0, radius]))
        if not points:
            raise MotionFormatError(path, "a foot needs capsule or sphere collision geoms",
                                    field=f"feet: {parsed.bodies[j]}")
        out.append((j, np.array(points)))
    return tuple(out)


def _ik(section: dict, body_names: list[str], path: Path) -> dict[str, Any]:
    """The ``ik`` section with body names turned into joint indices."""
    def pairs(entries: Any, where: str) -> list[tuple[int, str]]:
        if not isinstance(entries, list) or not all(isinstance(e, list) and len(e) == 2 for e in entries):
            raise MotionFormatError(path, "expected a list of [robot body, humanoid3d joint] pairs", field=where)
        index = _bodies({where: [e[0] for e in entries]}, where, body_names, path)
        return [(i, str(e[1])) for i, e in zip(index, entries, strict=True)]

    if not section:
        return {}
    unknown = sorted(set(section) - {"hips", "chains", "orientations", "clearance"})
    if unknown:
        raise MotionFormatError(path, f"unknown key(s) {unknown}; valid: chains, clearance, hips, orientations",
                                field="ik")
    groups = section.get("clearance") or [[], []]
    if not (isinstance(groups, list) and len(groups) == 2 and all(isinstance(g, list) for g in groups)):
        raise MotionFormatError(path, "expected two lists of body-name patterns", field="ik.clearance")
    clearance = tuple(frozenset(body_names.index(b) for b in _match(dict.fromkeys(g), body_names, path,
                                                                     "ik.clearance", each_once=False))
                      for g in groups)
    hips = pairs(_require(section, "hips", path), "ik.hips")
    if len(hips) != 2:
        raise MotionFormatError(path, "needs the left and the right hip", field="ik.hips")
    chains = [pairs(c, f"ik.chains[{i}]") for i, c in enumerate(_require(section, "chains", path))]
    return {"hips": hips, "chains": chains, "orientations": pairs(section.get("orientations") or [], "ik.orientations"),
            "clearance": clearance}


def load_robot_character(path: str | Path) -> Any:
    """A :class:`Character` from a robot YAML file and its MJCF.

    Raises:
        MotionFormatError: Bad YAML or MJCF, naming the file and the field.
    """
    from .characters import BodyDef, Character

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise MotionFormatError(path, f"not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise MotionFormatError(path, "expected a mapping of settings")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise MotionFormatError(path, f"unknown key(s) {unknown}; valid keys: {sorted(_KEYS)}", field=unknown[0])
    mjcf = (path.parent / str(_require(data, "mjcf", path))).resolve()
    try:
        xml_root = ET.parse(mjcf).getroot()
    except (OSError, ET.ParseError) as err:
        raise MotionFormatError(mjcf, f"cannot read the robot model: {err}") from None
    compiler = xml_root.find("compiler")
    if compiler is not None and compiler.get("angle", "degree") != "radian":
        raise MotionFormatError(mjcf, "angles must be in radians (<compiler angle=\"radian\"/>)", field="compiler")
    if compiler is None:
        raise MotionFormatError(mjcf, "needs <compiler angle=\"radian\"/>", field="compiler")
    world = xml_root.find("worldbody")
    roots = [] if world is None else world.findall("body")
    if len(roots) != 1:
        raise MotionFormatError(mjcf, f"expected one robot body under <worldbody>, found {len(roots)}", field="worldbody")
    parsed = _parse_bodies(roots[0], mjcf)
    num = len(parsed.names)
    hinges = parsed.names[1:]

    pd = _require(data, "pd", path)
    omega = 2.0 * np.pi * float(_require(pd, "natural_frequency_hz", path))
    zeta = float(_require(pd, "damping_ratio", path))
    motors = _require(data, "motors", path)
    armature, effort, velocity = np.zeros(num), np.zeros(num), np.zeros(num)
    motor_class = [""] * num
    for cls, motor in motors.items():
        where = f"motors.{cls}"
        matched = _match({p: cls for p in _require(motor, "joints", path)}, hinges, path, where, each_once=True)
        for name in matched:
            j = parsed.names.index(name)
            if motor_class[j]:
                raise MotionFormatError(path, f"joint '{name}' is in motor classes {motor_class[j]} and {cls}",
                                        field=where)
            motor_class[j] = str(cls)
            armature[j] = float(_require(motor, "armature", path))
            effort[j] = float(_require(motor, "effort_limit", path))
            velocity[j] = float(_require(motor, "velocity_limit", path))
    unassigned = [n for n in hinges if not motor_class[parsed.names.index(n)]]
    if unassigned:
        raise MotionFormatError(path, f"no motor class for {unassigned}", field="motors")
    kp, kd = armature * omega**2, 2.0 * zeta * armature * omega

    home = data.get("home_pose") or {}
    home_dof = np.zeros(num - 1)
    for name, pattern in _match(home.get("joints") or {}, hinges, path, "home_pose.joints", each_once=True).items():
        home_dof[hinges.index(name)] = float(home["joints"][pattern])
    weights = np.ones(num)
    for name, pattern in _match(data.get("diff_weights") or {}, parsed.names, path, "diff_weights",
                                each_once=True).items():
        weights[parsed.names.index(name)] = float(data["diff_weights"][pattern])

    effectors = _bodies(data, "end_effectors", parsed.bodies, path)
    feet = _bodies(data, "feet", parsed.bodies, path)
    allowed = set(_bodies(data, "ground_contact_allowed", parsed.bodies, path))
    aliases = {}
    for other, entry in (data.get("aliases") or {}).items():
        if not (isinstance(entry, list) and len(entry) == 2 and entry[0] in hinges and entry[1] in (1, -1)):
            raise MotionFormatError(path, f"alias '{other}': expected [joint, 1 or -1] naming a hinge, got {entry!r}",
                                    field=f"aliases.{other}")
        aliases[str(other)] = (str(entry[0]), float(entry[1]))
    ik = _ik(data.get("ik") or {}, parsed.bodies, path)
    limits = np.zeros((num, 3, 2))
    limits[:, 0] = np.array(parsed.limits)
    skeleton = Skeleton(str(data.get("name", path.stem)), tuple(parsed.names), np.array(parsed.parents),
                        (JointType.ROOT, *[JointType.REVOLUTE] * (num - 1)), np.array(parsed.offsets),
                        np.array(parsed.axes), np.array(parsed.rest))
    bodies = tuple(BodyDef(parsed.bodies[j], "inertial", parsed.masses[j], parsed.coms[j], np.array([1.0, 0, 0, 0]),
                           (), j not in allowed, (0.7, 0.7, 0.7, 1.0)) for j in range(num))
    robot = RobotSpec(mjcf, tuple(parsed.bodies), armature, kp, kd, velocity, tuple(motor_class),
                      float(_require(data, "control_hz", path)), float(_require(data, "timestep", path)),
                      float(home.get("root_height", parsed.offsets[0][2])), home_dof,
                      _sole_points(parsed, feet, _geom_defaults(xml_root), mjcf), aliases,
                      _collision(parsed, _geom_defaults(xml_root), mjcf), _excluded(xml_root, parsed.bodies), ik)
    return Character(skeleton, bodies, limits, effort, tuple(parsed.names[j] for j in effectors), weights, path,
                     robot)

"""Generate a MuJoCo model (MJCF) of a DeepMimic character from its character and controller files.

Choices, and why:
- Each spherical joint becomes three hinges ``<joint>_x``, ``<joint>_y``, ``<joint>_z`` (listed in
  that order, so the joint rotation is ``Rx Ry Rz``). Hinges map one-to-one onto robot motors,
  onto ``sensor_msgs/JointState`` names and onto MuJoCo position actuators. A ball joint would
  avoid gimbal lock but needs hand-written PD torques and has no JointState equivalent.
- Spherical joints are not limited, as in DeepMimic, which only uses their per-axis limits
  (``LimLow0..2``) to scale actions; as hinge ranges they would cut many clips (backflip, roll,
  cartwheel leave them in 40-70 % of frames). Revolute joints keep their limits.
- Revolute joints (knees, elbows) are one hinge about the joint's axis (``-y`` here, DeepMimic's z).
- PD control is MuJoCo ``position`` actuators with ``kp``/``kv`` from the controller file and
  ``forcerange`` from the joint's torque limit; ``implicitfast`` integrates the damping implicitly
  so DeepMimic's stiff gains stay stable at a few hundred Hz.
- Geoms collide with the ground only (DeepMimic does not collide a character with itself).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepmimic_mocap.characters import BodyDef, Character, load_character
from deepmimic_mocap.skeleton import JointType, Skeleton

from .controller import Controller, load_controller

HINGE_AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}
SPHERICAL_EULER_ORDER = "XYZ"  # the order of the three hinges of a spherical joint
ASSET_DIR = Path(__file__).resolve().parent.parent / "assets"


@dataclass(frozen=True)
class ModelOptions:
    """Physics settings written into the MJCF.

    Attributes:
        timestep: Physics step, s (300 Hz by default: 10 steps per 30 Hz control step).
        friction: Sliding friction of every geom.
        armature: Rotor inertia added to every hinge, kg m^2. DeepMimic has none, but three
            hinges in one body with stiff PD gains become ill-conditioned near gimbal lock:
            with 0 hundreds of open-loop run and backflip episodes diverged at 300 Hz (32
            environments, 3 s, PD targets = reference pose); with 0.01 none did.
            ``bench/bench_open_loop.py --armature`` reproduces this.
        root_height: Initial height of the root body, m.
    """

    timestep: float = 1.0 / 300.0
    friction: float = 0.9
    armature: float = 0.01
    root_height: float = 0.9


def _fmt(values: np.ndarray | tuple | list) -> str:
    return " ".join(f"{float(v):.6g}" for v in values)


def _add_geom(body_el: ET.Element, body: BodyDef, friction: float) -> None:
    attrs = {"name": body.name, "mass": f"{body.mass:.6g}", "rgba": _fmt(body.rgba), "friction": f"{friction:g}"}
    quat = np.asarray(body.quat)
    if body.shape == "capsule":
        radius, half = body.size
        # The capsule's axis is the body's z, turned by the body's attach rotation.
        axis = _rotate(quat, np.array([0.0, 0.0, half]))
        attrs.update(type="capsule", size=f"{radius:.6g}", fromto=_fmt([*(body.pos - axis), *(body.pos + axis)]))
    else:
        attrs.update(type=body.shape, size=_fmt(body.size), pos=_fmt(body.pos), quat=_fmt(quat))
    ET.SubElement(body_el, "geom", attrs)


def _rotate(quat: np.ndarray, v: np.ndarray) -> np.ndarray:
    from deepmimic_mocap.rotations import quat_rotate

    return quat_rotate(quat, v)


def depth_first_joints(skeleton: Skeleton) -> list[int]:
    """Joint indices in the order MuJoCo numbers the nested bodies (and so qpos and actuators)."""
    order, stack = [], [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(skeleton.children(j)))
    return order


def hinge_names(character: Character) -> list[str]:
    """Names of the model's hinges in qpos order (``chest_x``, ..., ``right_knee``, ...)."""
    names = []
    for j in depth_first_joints(character.skeleton):
        jtype = character.skeleton.joint_types[j]
        name = character.skeleton.joint_names[j]
        if jtype == JointType.SPHERICAL:
            names += [f"{name}_{a}" for a in HINGE_AXES]
        elif jtype == JointType.REVOLUTE:
            names.append(name)
    return names


def _hinge(body_el: ET.Element, name: str, axis: np.ndarray | tuple, limits: np.ndarray, armature: float) -> None:
    attrs = {"name": name, "type": "hinge", "axis": _fmt(axis), "armature": f"{armature:g}"}
    low, high = limits
    if low < high:
        attrs["range"] = _fmt([low, high])
    else:  # DeepMimic writes low > high for "no limit"; spherical joints pass (1, 0) too
        attrs["limited"] = "false"
    ET.SubElement(body_el, "joint", attrs)


def _add_joints(body_el: ET.Element, character: Character, j: int, armature: float) -> None:
    sk = character.skeleton
    name, jtype = sk.joint_names[j], sk.joint_types[j]
    if jtype == JointType.SPHERICAL:
        for suffix, axis in HINGE_AXES.items():
            _hinge(body_el, f"{name}_{suffix}", axis, np.array([1.0, 0.0]), armature)  # unlimited
    elif jtype == JointType.REVOLUTE:
        _hinge(body_el, name, sk.axes[j], character.limits[j, 0], armature)


def _build_bodies(parent_el: ET.Element, character: Character, j: int, options: ModelOptions) -> None:
    sk = character.skeleton
    pos = [0.0, 0.0, options.root_height] if j == 0 else sk.offsets[j]
    body_el = ET.SubElement(parent_el, "body", {"name": sk.joint_names[j], "pos": _fmt(pos)})
    if not np.allclose(sk.rest_quat[j], [1.0, 0.0, 0.0, 0.0]):
        body_el.set("quat", _fmt(sk.rest_quat[j]))
    if j == 0:
        ET.SubElement(body_el, "freejoint", {"name": sk.joint_names[0]})
    else:
        _add_joints(body_el, character, j, options.armature)
    if character.bodies[j] is not None:
        _add_geom(body_el, character.bodies[j], options.friction)
    for child in sk.children(j):
        _build_bodies(body_el, character, child, options)


def _add_actuators(root: ET.Element, character: Character, controller: Controller) -> None:
    actuators = ET.SubElement(root, "actuator")
    sk = character.skeleton
    for j in depth_first_joints(sk):
        jtype = sk.joint_types[j]
        if jtype not in (JointType.SPHERICAL, JointType.REVOLUTE):
            continue
        names = [f"{sk.joint_names[j]}_{a}" for a in HINGE_AXES] if jtype == JointType.SPHERICAL else [sk.joint_names[j]]
        torque = character.torque_limits[j]
        for hinge in names:
            attrs = {"name": hinge, "joint": hinge, "kp": f"{controller.kp[j]:g}", "kv": f"{controller.kd[j]:g}"}
            if torque > 0:
                attrs.update(forcelimited="true", forcerange=_fmt([-torque, torque]))
            ET.SubElement(actuators, "position", attrs)


def build_mjcf(character: Character | str, controller: Controller | None = None,
               options: ModelOptions | None = None) -> str:
    """The MJCF text of a character (a name such as ``"humanoid3d"`` or a loaded ``Character``)."""
    if not isinstance(character, Character):
        character = load_character(character)
    if character.robot is not None:
        return build_robot_mjcf(character, controller)
    controller = controller or load_controller(character)
    options = options or ModelOptions()
    root = ET.Element("mujoco", {"model": character.name})
    ET.SubElement(root, "compiler", {"angle": "radian", "autolimits": "true"})
    ET.SubElement(root, "option", {"timestep": f"{options.timestep:.8g}", "integrator": "implicitfast"})
    default = ET.SubElement(root, "default")
    ET.SubElement(default, "geom", {"contype": "1", "conaffinity": "0", "condim": "3"})
    ET.SubElement(default, "joint", {"damping": "0", "limited": "true"})
    _add_visuals(root)
    world = ET.SubElement(root, "worldbody")
    ET.SubElement(world, "light", {"name": "sun", "pos": "0 0 4", "dir": "0 0 -1", "directional": "true"})
    ET.SubElement(world, "geom", {"name": "floor", "type": "plane", "size": "0 0 0.05", "material": "grid",
                                  "contype": "0", "conaffinity": "1", "friction": f"{options.friction:g}"})
    _build_bodies(world, character, 0, options)
    _add_actuators(root, character, controller)
    ET.indent(root)
    header = (f"<!-- Generated by `deepmimic sim build-model --character {character.name}` from DeepMimic's "
              f"{character.path.name} and its controller file. Do not edit by hand. -->\n")
    return header + ET.tostring(root, encoding="unicode") + "\n"


def _add_visuals(root: ET.Element) -> None:
    asset = ET.SubElement(root, "asset")
    ET.SubElement(asset, "texture", {"name": "grid", "type": "2d", "builtin": "checker", "width": "512",
                                     "height": "512", "rgb1": ".25 .28 .32", "rgb2": ".32 .35 .4"})
    ET.SubElement(asset, "material", {"name": "grid", "texture": "grid", "texrepeat": "1 1", "texuniform": "true"})
    visual = ET.SubElement(root, "visual")
    ET.SubElement(visual, "headlight", {"ambient": ".4 .4 .4", "diffuse": ".6 .6 .6"})
    ET.SubElement(visual, "global", {"offwidth": "1280", "offheight": "720"})


def shipped_model_path(character: str) -> Path:
    """Where the generated MJCF of a bundled character ships (``assets/<name>.xml``)."""
    return ASSET_DIR / f"{character}.xml"


def build_robot_mjcf(character: Character, controller: Controller | None = None) -> str:
    """The MJCF of a robot character: its own model plus actuators, armature, a floor and a light.

    Position actuators carry the robot's PD gains (``kp``, ``kv``) and effort limits
    (``forcerange``); every hinge gets its motor's armature; the physics step and the integrator
    (``implicitfast``) come from the character file. The robot's bodies, inertials, collision
    geoms, contact exclusions and sensors are kept as they are.
    """
    import mujoco

    robot = character.robot
    controller = controller or load_controller(character)
    spec = mujoco.MjSpec.from_file(str(robot.mjcf))
    spec.option.timestep = robot.timestep
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    sk = character.skeleton
    for j in range(1, sk.num_joints):
        spec.joint(sk.joint_names[j]).armature = float(robot.armature[j])
    for j in depth_first_joints(sk)[1:]:
        name = sk.joint_names[j]
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=float(controller.kp[j]), kv=float(controller.kd[j]))
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-float(character.torque_limits[j]), float(character.torque_limits[j])]
    spec.add_texture(name="grid", type=mujoco.mjtTexture.mjTEXTURE_2D, builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
                     width=512, height=512, rgb1=[0.25, 0.28, 0.32], rgb2=[0.32, 0.35, 0.4])
    spec.add_material(name="grid", texrepeat=[1, 1], texuniform=True).textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] \
        = "grid"
    spec.worldbody.add_light(name="sun", pos=[0, 0, 4], dir=[0, 0, -1], type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
    spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05], material="grid")
    spec.visual.global_.offwidth, spec.visual.global_.offheight = 1280, 720
    home = spec.add_key(name="home")
    root_quat = [1.0, 0.0, 0.0, 0.0]
    home.qpos = [0.0, 0.0, robot.home_root_height, *root_quat, *robot.home_dof_pos]
    header = (f"<!-- Generated by `deepmimic sim build-model --character {character.name}` from "
              f"{character.path.name} and {robot.mjcf.name}. Do not edit by hand. -->\n")
    return header + spec.to_xml()

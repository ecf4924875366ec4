"""The character's MuJoCo model as every backend loads it: the shipped MJCF checked against the
character, plus the sensors the CPU backend reads (per body frame pose and velocity, centre of mass,
ground contact, actuator force; see ``mujoco_cpu``), and where things lie in a state row.

The Warp and Isaac Gym backends and ``robot_state`` use the same compiled model (its gains, limits
and masses) without importing the CPU backend.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import mujoco
import numpy as np
from deepmimic_mocap.characters import Character

from ..model.character_mjcf import hinge_names as model_hinge_names
from ..model.character_mjcf import shipped_model_path

STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS
_FRAME_SENSORS = {
    "pos": mujoco.mjtSensor.mjSENS_FRAMEPOS,
    "quat": mujoco.mjtSensor.mjSENS_FRAMEQUAT,
    "linvel": mujoco.mjtSensor.mjSENS_FRAMELINVEL,
    "angvel": mujoco.mjtSensor.mjSENS_FRAMEANGVEL,
}
_CONTACT_FOUND, _REDUCE_NONE = 1, 0  # contact sensor intprm: data bit "found", reduce "none"


@dataclass(frozen=True)
class SensorLayout:
    """Where each reading lies in ``sensordata`` (column slices)."""

    pos: slice
    quat: slice
    linvel: slice
    angvel: slice
    com_pos: slice
    com_vel: slice
    contact: slice
    actuator_force: slice


def _add_sensor(spec: mujoco.MjSpec, name: str, stype: mujoco.mjtSensor, objtype: mujoco.mjtObj,
                objname: str) -> mujoco.MjsSensor:
    """Add one sensor to ``spec`` and return it."""
    sensor = spec.add_sensor()
    sensor.name, sensor.type, sensor.objtype, sensor.objname = name, stype, objtype, objname
    return sensor


def add_sensors(spec: mujoco.MjSpec, body_names: tuple[str, ...], actuator_names: list[str]) -> None:
    """Add the backend's sensors (prefixed ``dm_``), grouped by kind so each kind is one block."""
    for kind, stype in _FRAME_SENSORS.items():
        for body in body_names:
            _add_sensor(spec, f"dm_{kind}_{body}", stype, mujoco.mjtObj.mjOBJ_XBODY, body)
    _add_sensor(spec, "dm_com_pos", mujoco.mjtSensor.mjSENS_SUBTREECOM, mujoco.mjtObj.mjOBJ_BODY, body_names[0])
    _add_sensor(spec, "dm_com_vel", mujoco.mjtSensor.mjSENS_SUBTREELINVEL, mujoco.mjtObj.mjOBJ_BODY, body_names[0])
    for body in body_names:
        sensor = _add_sensor(spec, f"dm_contact_{body}", mujoco.mjtSensor.mjSENS_CONTACT, mujoco.mjtObj.mjOBJ_BODY,
                             body)
        sensor.reftype, sensor.refname = mujoco.mjtObj.mjOBJ_BODY, "world"
        sensor.intprm = [_CONTACT_FOUND, _REDUCE_NONE, 1]  # data="found", reduce="none", num=1
    for actuator in actuator_names:
        _add_sensor(spec, f"dm_force_{actuator}", mujoco.mjtSensor.mjSENS_ACTUATORFRC,
                    mujoco.mjtObj.mjOBJ_ACTUATOR, actuator)


def _block(model: mujoco.MjModel, first: str, last: str) -> slice:
    """Columns of ``sensordata`` from sensor ``first`` to sensor ``last`` (checked contiguous)."""
    start = int(model.sensor(first).adr[0])
    stop = int(model.sensor(last).adr[0] + model.sensor(last).dim[0])
    ids = range(model.sensor(first).id, model.sensor(last).id + 1)
    if stop - start != sum(int(model.sensor_dim[i]) for i in ids):
        raise RuntimeError(f"sensors {first}..{last} are not contiguous in sensordata")
    return slice(start, stop)


def sensor_layout(model: mujoco.MjModel, body_names: tuple[str, ...], actuator_names: list[str]) -> SensorLayout:
    """Slices of the ``add_sensors`` blocks in the compiled model's ``sensordata``."""
    first, last = body_names[0], body_names[-1]
    frames = {kind: _block(model, f"dm_{kind}_{first}", f"dm_{kind}_{last}") for kind in _FRAME_SENSORS}
    return SensorLayout(
        **frames, com_pos=_block(model, "dm_com_pos", "dm_com_pos"), com_vel=_block(model, "dm_com_vel", "dm_com_vel"),
        contact=_block(model, f"dm_contact_{first}", f"dm_contact_{last}"),
        actuator_force=_block(model, f"dm_force_{actuator_names[0]}", f"dm_force_{actuator_names[-1]}"),
    )


def state_slices(model: mujoco.MjModel) -> tuple[int, slice, slice]:
    """Column of time and slices of qpos and qvel in an ``mjSTATE_FULLPHYSICS`` row."""
    offsets, cursor = {}, 0
    for bit in (1 << i for i in range(int(STATE_SPEC).bit_length())):  # components in bit order
        if int(STATE_SPEC) & bit:
            offsets[bit] = cursor
            cursor += mujoco.mj_stateSize(model, bit)
    qpos0, qvel0 = offsets[mujoco.mjtState.mjSTATE_QPOS], offsets[mujoco.mjtState.mjSTATE_QVEL]
    return offsets[mujoco.mjtState.mjSTATE_TIME], slice(qpos0, qpos0 + model.nq), slice(qvel0, qvel0 + model.nv)


def rest_qpos(model: mujoco.MjModel) -> np.ndarray:
    """The character's standing pose ``(nq,)``: the model's ``home`` keyframe (robots such as the G1,
    whose all-zero pose has straight knees), else ``qpos0`` (humanoid3d stands in it)."""
    key = next((i for i in range(model.nkey) if model.key(i).name == "home"), None)
    return (model.key_qpos[key] if key is not None else model.qpos0).astype(np.float64).copy()


def torque_over_kp(model: mujoco.MjModel, hinge_names: list[str] | tuple[str, ...]) -> np.ndarray:
    """Each hinge's torque limit over its PD stiffness (rad): how far a position target must sit from
    the joint for the motor to give its full torque (inf where the actuator is not force-limited).

    The model's actuators are position PDs named after their hinges. Shape ``(H,)``, float64.
    """
    actuators = np.array([model.actuator(name).id for name in hinge_names])
    kp = model.actuator_gainprm[actuators, 0]
    torque = np.where(model.actuator_forcelimited[actuators].astype(bool),
                      np.abs(model.actuator_forcerange[actuators]).max(axis=1), np.inf)
    return (torque / kp).astype(np.float64)


def control_substeps(character: Character) -> int:
    """Physics steps per control step: the shipped model's timestep at the character's control rate
    (humanoid3d: 1/300 s at 30 Hz = 10; G1: 0.005 s at 50 Hz = 4)."""
    from ..model.controller import load_controller

    model, _ = load_model(character, None)
    return max(1, round(1.0 / (load_controller(character).control_hz * model.opt.timestep)))


def load_model(character: Character, model_path: str | os.PathLike | None) -> tuple[mujoco.MjModel, list[str]]:
    """Compile the character's MJCF with the backend's sensors; also return the hinge names.

    Raises:
        ValueError: The model's bodies, joints or actuators do not match the character.
    """
    spec = mujoco.MjSpec.from_file(str(model_path or shipped_model_path(character.name)))
    hinges = model_hinge_names(character)
    body_names = character.body_names
    missing = [b for b in body_names if spec.body(b) is None]
    if missing:
        raise ValueError(f"model has no bodies named {missing}")
    actuators = [a.name for a in spec.actuators]
    if actuators != hinges:
        raise ValueError(f"model actuators {actuators} are not the character's hinges {hinges} in qpos order")
    add_sensors(spec, body_names, hinges)
    model = spec.compile()
    joints = [model.joint(i).name for i in np.argsort(model.jnt_qposadr)]
    if model.nq != 7 + len(hinges) or joints[1:] != hinges or model.jnt_type[0] != mujoco.mjtJoint.mjJNT_FREE:
        raise ValueError(f"model joints {joints} are not a free root followed by the hinges {hinges}")
    return model, hinges

"""A robot's state as the ROS graph carries it, and the policy observation built from it.

Message convention (the simulator node publishes it, the policy node reads it, a robot driver
would publish the same):

- ``states`` (``sensor_msgs/JointState``): ``name`` = the model's hinge names in ``qpos[7:]``
  order (``JointMapping.hinge_names``), ``position`` rad, ``velocity`` rad/s, ``effort`` = the
  actuator torques N m (may be empty on input).
- ``odom`` (``nav_msgs/Odometry``): ``pose`` = root position and orientation in the world frame
  (``header.frame_id``), ``twist`` = root linear and angular velocity in the root body frame
  (``child_frame_id``), as REP-105 has it. The two messages of one control step carry the same stamp.

:func:`root_arrays` / :func:`state_from_arrays` convert between those arrays and MuJoCo's
``qpos``/``qvel``. :class:`RobotKinematics` recomputes, on a private ``MjData`` of the backend's
own model (its sensors included), the body readings the environment's observation uses, so
:func:`policy_observation` gives the same 197 numbers as ``ImitationEnv`` for the same state.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
import torch

from deepmimic_mocap import load_character
from deepmimic_mocap import rotations as rot

from .backends.mujoco_model import load_model, sensor_layout
from .envs import observations as obs_fn
from .envs.config import ObservationCfg
from .reference import ClipAnchor, ReferenceClip


@dataclass(frozen=True)
class RootArrays:
    """The root (floating base) as Odometry carries it (NumPy float64).

    Attributes:
        position: World. ``(3,)``.
        orientation: ``(w, x, y, z)``, world. ``(4,)``.
        linear_velocity: In the root frame. ``(3,)``.
        angular_velocity: In the root frame. ``(3,)``.
    """

    position: np.ndarray
    orientation: np.ndarray
    linear_velocity: np.ndarray
    angular_velocity: np.ndarray


def root_arrays(qpos: np.ndarray, qvel: np.ndarray) -> RootArrays:
    """The root of one state (``qpos`` ``(7 + H,)``, ``qvel`` ``(6 + H,)``; MuJoCo's free joint:
    world linear velocity, root-frame angular velocity)."""
    qpos, qvel = np.asarray(qpos, dtype=np.float64), np.asarray(qvel, dtype=np.float64)
    quat = qpos[3:7] / np.linalg.norm(qpos[3:7])
    return RootArrays(qpos[:3].copy(), quat, rot.quat_rotate_inverse(quat, qvel[:3]), qvel[3:6].copy())


def state_from_arrays(root: RootArrays, hinge_positions: np.ndarray,
                      hinge_velocities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MuJoCo ``qpos`` ``(7 + H,)`` and ``qvel`` ``(6 + H,)`` from the message arrays (see :func:`root_arrays`)."""
    quat = np.asarray(root.orientation, dtype=np.float64)
    quat = quat / np.linalg.norm(quat)
    lin_w = rot.quat_rotate(quat, np.asarray(root.linear_velocity, dtype=np.float64))
    qpos = np.concatenate([root.position, quat, hinge_positions]).astype(np.float64)
    qvel = np.concatenate([lin_w, root.angular_velocity, hinge_velocities]).astype(np.float64)
    return qpos, qvel


class RobotKinematics:
    """Body poses and velocities of a character from ``qpos``/``qvel``, as the backend's sensors read them.

    Args:
        character: DeepMimic character name.
    """

    def __init__(self, character: str = "humanoid3d") -> None:
        self.character = load_character(character)
        self.model, self.hinge_names = load_model(self.character, None)
        self.body_names = tuple(self.character.body_names)
        self._layout = sensor_layout(self.model, self.body_names, self.hinge_names)
        self._data = mujoco.MjData(self.model)

    def readings(self, qpos: np.ndarray, qvel: np.ndarray) -> dict[str, torch.Tensor]:
        """``body_pos_w``, ``body_quat_w``, ``body_lin_vel_w``, ``body_ang_vel_w`` of one state,
        each ``(1, B, 3|4)`` float64 (fresh tensors)."""
        d, lay, nb = self._data, self._layout, len(self.body_names)
        d.qpos[:], d.qvel[:] = qpos, qvel
        d.ctrl[:] = 0.0
        mujoco.mj_forward(self.model, d)
        sd = d.sensordata
        shapes = {"body_pos_w": (lay.pos, 3), "body_quat_w": (lay.quat, 4), "body_lin_vel_w": (lay.linvel, 3),
                  "body_ang_vel_w": (lay.angvel, 3)}
        return {k: torch.from_numpy(sd[s].reshape(1, nb, w).copy()) for k, (s, w) in shapes.items()}


def policy_observation(kinematics: RobotKinematics, clip: ReferenceClip, qpos: np.ndarray, qvel: np.ndarray,
                       ref_time: float, obs_cfg: ObservationCfg, control_dt: float,
                       anchor: ClipAnchor | None = None) -> torch.Tensor:
    """``ImitationEnv``'s observation of one robot state against a reference clip.

    Args:
        kinematics: The character's kinematics.
        clip: The reference clip.
        qpos, qvel: The state, ``(7 + H,)`` and ``(6 + H,)``.
        ref_time: Clip time of the reference that goes with this state (s).
        obs_cfg: Which parts (phase, future reference steps), as in training.
        control_dt: Seconds per control step (for ``future_steps``).
        anchor: Where the clip plays in the world (a clip switched to at run time); None: its own coordinates.

    Returns:
        Shape ``(1, obs_dim)``, float32.
    """
    r = {k: v.float() for k, v in kinematics.readings(qpos, qvel).items()}
    phase = clip.phase(ref_time) if obs_cfg.phase else None
    # The environment sums times in float64 before rounding to float32; so do we.
    future = [clip.body_pose(np.float64(ref_time) + k * np.float64(control_dt)) for k in obs_cfg.future_steps]
    if anchor is not None:
        future = [(anchor.position(pos), anchor.rotation(quat)) for pos, quat in future]
    return obs_fn.policy_observation(r["body_pos_w"], r["body_quat_w"], r["body_lin_vel_w"], r["body_ang_vel_w"],
                                     phase, future)

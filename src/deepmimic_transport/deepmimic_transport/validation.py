"""Checks of received messages: array sizes that agree, and finite numbers.

Validation is layered:

1. The transport rejects what it cannot decode (bad CDR): the sample is dropped and logged, and
   the subscription's ``dropped`` count goes up. Nothing here.
2. A node calls these helpers first thing in its callback. They raise :class:`InvalidMessageError`,
   which the transport's executor also treats as "drop, log, count, keep spinning"; any other
   exception from a callback is a bug and propagates.

So a node's callback can be written for well-formed messages only::

    def on_states(self, msg):
        validate_joint_state(msg, expected_names=self.joint_names)
        positions = np.asarray(msg.position)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class InvalidMessageError(ValueError):
    """A decoded message whose contents cannot be used (sizes that disagree, NaN, unknown names)."""


def check_finite(field: str, values: Sequence[float] | np.ndarray) -> np.ndarray:
    """``values`` as a float64 array; raises InvalidMessageError when any is NaN or infinite."""
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        bad = np.flatnonzero(~np.isfinite(array.ravel()))
        raise InvalidMessageError(f"{field}: {bad.size} non-finite value(s), first at index {int(bad[0])}")
    return array


def check_length(field: str, values: Sequence, expected: int, *, allow_empty: bool = False) -> None:
    """Raise InvalidMessageError unless ``len(values) == expected`` (or 0 when ``allow_empty``)."""
    if len(values) != expected and not (allow_empty and len(values) == 0):
        also = " or 0" if allow_empty else ""
        raise InvalidMessageError(f"{field}: {len(values)} value(s), expected {expected}{also}")


def check_names(field: str, names: Sequence[str], expected: Sequence[str] | None) -> None:
    """Raise InvalidMessageError unless ``names`` equals ``expected`` (when given), order included."""
    if expected is not None and list(names) != list(expected):
        missing = sorted(set(expected) - set(names))
        extra = sorted(set(names) - set(expected))
        detail = f"missing {missing[:3]}, unexpected {extra[:3]}" if missing or extra else "different order"
        raise InvalidMessageError(f"{field}: names differ from the expected {len(expected)} ({detail})")


def validate_joint_state(msg: object, expected_names: Sequence[str] | None = None) -> None:
    """sensor_msgs/JointState: one position per name; velocity and effort empty or one per name; finite.

    Args:
        msg: A JointState.
        expected_names: The joint names and order the node works with, or None to accept any.

    Raises:
        InvalidMessageError: What is wrong, naming the field.
    """
    count = len(msg.name)
    check_names("name", msg.name, expected_names)
    check_length("position", msg.position, count)
    check_length("velocity", msg.velocity, count, allow_empty=True)
    check_length("effort", msg.effort, count, allow_empty=True)
    for field in ("position", "velocity", "effort"):
        check_finite(field, getattr(msg, field))


def validate_multiarray(msg: object, shape: Sequence[int] | None = None) -> None:
    """std_msgs/Float64MultiArray: data size equals the layout's (and ``shape`` when given); finite."""
    sizes = [int(d.size) for d in msg.layout.dim]
    if shape is not None and sizes != list(shape):
        raise InvalidMessageError(f"layout: shape {sizes}, expected {list(shape)}")
    expected = msg.layout.data_offset + int(np.prod(sizes)) if sizes else len(msg.data)
    check_length("data", msg.data, expected)
    check_finite("data", msg.data)


def validate_reference_frame(msg: object, expected_names: Sequence[str] | None = None) -> None:
    """deepmimic_interfaces/ReferenceFrame: joint arrays one per name; phase in [0, 1]; finite."""
    count = len(msg.joint_names)
    check_names("joint_names", msg.joint_names, expected_names)
    check_length("joint_positions", msg.joint_positions, count)
    check_length("joint_velocities", msg.joint_velocities, count, allow_empty=True)
    check_finite("joint_positions", msg.joint_positions)
    check_finite("joint_velocities", msg.joint_velocities)
    pose = msg.root_pose
    check_finite("root_pose", [pose.position.x, pose.position.y, pose.position.z, pose.orientation.x,
                               pose.orientation.y, pose.orientation.z, pose.orientation.w, msg.phase, msg.clip_time])
    if not 0.0 <= msg.phase <= 1.0:
        raise InvalidMessageError(f"phase: {msg.phase} is outside [0, 1]")


def validate_batched_transition(msg: object, num_envs: int | None = None, observation_dim: int | None = None) -> None:
    """deepmimic_interfaces/BatchedTransition: arrays sized by num_envs, observation_dim and names; finite.

    Args:
        msg: A BatchedTransition.
        num_envs: Expected number of environments, or None to accept the message's.
        observation_dim: Expected observation size, or None to accept the message's.
    """
    if num_envs is not None and msg.num_envs != num_envs:
        raise InvalidMessageError(f"num_envs: {msg.num_envs}, expected {num_envs}")
    if observation_dim is not None and msg.observation_dim != observation_dim:
        raise InvalidMessageError(f"observation_dim: {msg.observation_dim}, expected {observation_dim}")
    check_length("observations", msg.observations, msg.num_envs * msg.observation_dim)
    for field in ("rewards", "terminated", "truncated"):
        check_length(field, getattr(msg, field), msg.num_envs)
    check_length("metrics", msg.metrics, msg.num_envs * len(msg.metric_names))
    check_length("log_values", msg.log_values, len(msg.log_names))
    check_finite("observations", msg.observations)
    check_finite("rewards", msg.rewards)


def validate_batched_action(msg: object, num_envs: int, action_dim: int) -> None:
    """deepmimic_interfaces/BatchedAction: a reset, an observe-only request (no actions), or
    ``num_envs x action_dim`` actions (NaN allowed).

    Non-finite actions are not rejected here: the environment zeroes and counts them, as it does
    for a policy in the same process.
    """
    if msg.reset or (msg.num_envs == msg.action_dim == 0 and len(msg.actions) == 0):
        return
    if (msg.num_envs, msg.action_dim) != (num_envs, action_dim):
        raise InvalidMessageError(f"num_envs x action_dim: {msg.num_envs} x {msg.action_dim}, "
                                  f"expected {num_envs} x {action_dim}")
    check_length("actions", msg.actions, num_envs * action_dim)


def validate_batch(field: str, values: Sequence[float], rows: int, columns: int) -> np.ndarray:
    """A row-major batch (observations, actions) as a finite float32 array of shape (rows, columns)."""
    check_length(field, values, rows * columns)
    return check_finite(field, values).astype(np.float32).reshape(rows, columns)

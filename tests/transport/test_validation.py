"""Message checks the nodes call before using a message."""

from __future__ import annotations

import math

import numpy as np
import pytest
from deepmimic_transport.messages import deepmimic_interfaces, sensor_msgs, std_msgs
from deepmimic_transport.validation import (
    InvalidMessageError,
    validate_batch,
    validate_batched_action,
    validate_batched_transition,
    validate_joint_state,
    validate_multiarray,
    validate_reference_frame,
)


def test_joint_state():
    good = sensor_msgs.JointState(name=["a", "b"], position=[0.0, 1.0], velocity=[], effort=[1.0, 2.0])
    validate_joint_state(good, expected_names=["a", "b"])
    cases = {
        "position: 1 value": sensor_msgs.JointState(name=["a", "b"], position=[0.0]),
        "velocity: 3 value": sensor_msgs.JointState(name=["a", "b"], position=[0.0, 1.0], velocity=[1.0] * 3),
        "position: 1 non-finite": sensor_msgs.JointState(name=["a", "b"], position=[0.0, math.inf]),
    }
    for match, msg in cases.items():
        with pytest.raises(InvalidMessageError, match=match):
            validate_joint_state(msg)
    with pytest.raises(InvalidMessageError, match="names differ"):
        validate_joint_state(good, expected_names=["b", "a"])


def test_multiarray():
    layout = std_msgs.MultiArrayLayout(dim=[std_msgs.MultiArrayDimension("envs", 2, 6),
                                            std_msgs.MultiArrayDimension("joints", 3, 3)])
    msg = std_msgs.Float64MultiArray(layout=layout, data=list(range(6)))
    validate_multiarray(msg, shape=(2, 3))
    with pytest.raises(InvalidMessageError, match="shape"):
        validate_multiarray(msg, shape=(3, 2))
    msg.data = msg.data[:5]
    with pytest.raises(InvalidMessageError, match="data: 5"):
        validate_multiarray(msg)


def test_reference_frame_and_transition():
    frame = deepmimic_interfaces.ReferenceFrame(joint_names=["a"], joint_positions=[0.1], phase=0.5)
    validate_reference_frame(frame, expected_names=["a"])
    frame.phase = 1.5
    with pytest.raises(InvalidMessageError, match="phase"):
        validate_reference_frame(frame)
    step = deepmimic_interfaces.BatchedTransition(num_envs=2, observation_dim=2, observations=[0.0] * 4,
                                                  rewards=[1.0, 0.5], terminated=[False, True],
                                                  truncated=[False, False])
    validate_batched_transition(step, num_envs=2, observation_dim=2)
    step.truncated = [False]
    with pytest.raises(InvalidMessageError, match="truncated"):
        validate_batched_transition(step)
    step.truncated = [False, False]
    step.metric_names, step.metrics = ["joint_rotation_error_rad"], [0.1]  # one row of two
    with pytest.raises(InvalidMessageError, match="metrics: 1 value"):
        validate_batched_transition(step)


def test_batched_action_sizes():
    action = deepmimic_interfaces.BatchedAction(num_envs=2, action_dim=3, actions=[0.0] * 6)
    validate_batched_action(action, num_envs=2, action_dim=3)
    with pytest.raises(InvalidMessageError, match="2 x 3, expected 4 x 3"):
        validate_batched_action(action, num_envs=4, action_dim=3)
    action.actions = [0.0] * 5
    with pytest.raises(InvalidMessageError, match="actions: 5"):
        validate_batched_action(action, num_envs=2, action_dim=3)
    validate_batched_action(deepmimic_interfaces.BatchedAction(reset=True), num_envs=2, action_dim=3)


def test_batch_reshapes_row_major():
    batch = validate_batch("observations", [1, 2, 3, 4, 5, 6], rows=2, columns=3)
    assert batch.dtype == np.float32 and batch.tolist() == [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(InvalidMessageError, match="observations: 5"):
        validate_batch("observations", [1] * 5, rows=2, columns=3)

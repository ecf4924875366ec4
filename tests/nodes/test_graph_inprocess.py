"""The deploy graph in one process: reference + simulator + policy nodes on one Bus with a manual clock."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from deepmimic_sim.nodes.reference_motion_node import ReferenceMotionNode
from deepmimic_policy.nodes.policy_node import PolicyNode
from deepmimic_sim.nodes.simulator_node import SimulatorNode
from deepmimic_transport.inprocess import Bus, ManualClock
from deepmimic_transport.messages import deepmimic_interfaces, sensor_msgs, std_msgs

import deepmimic_transport as transport

DT = 1.0 / 30.0


def make(bus, name, cls, **parameters):
    return cls(transport.create_node(name, backend="inprocess", bus=bus, parameters=parameters))


@pytest.fixture
def graph(tiny_checkpoint):
    bus = Bus(clock=ManualClock())
    reference = make(bus, "reference_motion", ReferenceMotionNode, motion="walk")
    simulator = make(bus, "simulator", SimulatorNode, motion="walk", initial_state="reference")
    policy = make(bus, "policy", PolicyNode, checkpoint=str(tiny_checkpoint))
    yield bus, reference, simulator, policy
    for wrapper in (reference, simulator, policy):
        wrapper.node.shutdown()
    simulator.backend.close()


def listen(bus, topic, msg_type):
    node = transport.create_node(f"listener_{topic.strip('/')}", backend="inprocess", bus=bus)
    received = []
    node.create_subscription(msg_type, topic, received.append, "reliable")
    return node, received


def test_data_flows_through_the_graph(graph):
    bus, _, simulator, policy = graph
    _, states = listen(bus, "/states", sensor_msgs.JointState)
    _, frames = listen(bus, "/reference", deepmimic_interfaces.ReferenceFrame)
    _, commands = listen(bus, "/commands", std_msgs.Float64MultiArray)
    bus.run_for(2.0)
    # The simulator stood still until the policy's first command (it came up last: two ticks).
    assert 58 <= simulator.steps <= 60
    assert len(states) >= 59 and len(frames) >= 59
    assert policy.commands_sent >= 58 and len(commands) >= 58
    assert all(len(c.data) == 28 and np.isfinite(c.data).all() for c in commands)
    assert simulator.commands_sub.dropped == 0 and simulator.hold.state == "commanded"
    # The reference advances; the state changes; the commands differ step to step.
    assert frames[-1].clip_time == pytest.approx(2.0, abs=DT + 1e-6) and frames[-1].clip_time > frames[0].clip_time
    assert frames[5].phase != frames[0].phase
    assert states[-1].position != states[0].position and commands[-1].data != commands[0].data
    # get_motion serves the clip.
    client = policy.node.create_client(deepmimic_interfaces.GetMotion, "get_motion")
    motion = client.call(deepmimic_interfaces.GetMotion.Request(clip_name="", sample_rate=10.0))
    assert motion.success and motion.num_frames == len(motion.root_poses) > 5
    assert len(motion.joint_positions) == motion.num_frames * 28 == len(motion.joint_velocities)
    wrong = client.call(deepmimic_interfaces.GetMotion.Request(clip_name="backflip"))
    assert not wrong.success and "walk" in wrong.message


def test_bad_messages_are_dropped_and_counted(graph):
    bus, _, simulator, policy = graph
    bus.run_for(0.2)
    rogue = transport.create_node("rogue", backend="inprocess", bus=bus)
    commands = rogue.create_publisher(std_msgs.Float64MultiArray, "/commands", "latest")
    states = rogue.create_publisher(sensor_msgs.JointState, "/states", "sensor_data")
    commands.publish(std_msgs.Float64MultiArray(data=[0.0] * 5))            # wrong size
    bus.spin_until_idle()
    commands.publish(std_msgs.Float64MultiArray(data=[math.nan] + [0.0] * 27))  # NaN
    bus.spin_until_idle()
    names = list(simulator.joint_names)
    states.publish(sensor_msgs.JointState(name=["nope", *names[1:]], position=[0.0] * 28, velocity=[0.0] * 28))
    states.publish(sensor_msgs.JointState(name=names, position=[0.0] * 27, velocity=[0.0] * 28))
    bus.spin_until_idle()
    assert simulator.commands_sub.dropped == 2
    assert policy.subscriptions["states"].dropped == 2
    steps, sent = simulator.steps, policy.commands_sent
    bus.run_for(0.5)
    assert simulator.steps >= steps + 14 and policy.commands_sent >= sent + 14  # still running
    assert np.isfinite(simulator.backend.qpos.numpy()).all()


def test_load_policy_swaps_and_keeps_the_old_one_on_failure(graph, tiny_checkpoint, tmp_path):
    bus, _, _, policy = graph
    client = policy.node.create_client(deepmimic_interfaces.LoadPolicy, "load_policy")
    old = policy.controller.policy
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    for path in (str(tmp_path / "missing.pt"), str(bad)):
        response = client.call(deepmimic_interfaces.LoadPolicy.Request(path=path))
        assert not response.success and response.message
        assert policy.controller.policy is old
    copy = tmp_path / "model_1.pt"
    copy.write_bytes(tiny_checkpoint.read_bytes())
    response = client.call(deepmimic_interfaces.LoadPolicy.Request(path=str(copy)))
    assert response.success, response.message
    assert policy.controller.policy is not old and policy.controller.policy.path == copy
    sent = policy.commands_sent
    bus.run_for(0.5)
    assert policy.commands_sent >= sent + 14
    # compute_action answers batches and rejects a wrong size with a message.
    compute = policy.node.create_client(deepmimic_interfaces.ComputeAction, "compute_action")
    dim = policy.controller.policy.obs_dim
    ok = compute.call(deepmimic_interfaces.ComputeAction.Request(num_envs=2, observation_dim=dim,
                                                                 observations=[0.0] * (2 * dim)))
    assert ok.success and ok.action_dim == 28 and len(ok.actions) == 56
    bad_request = compute.call(deepmimic_interfaces.ComputeAction.Request(num_envs=2, observation_dim=dim,
                                                                          observations=[0.0] * dim))
    assert not bad_request.success and "observations" in bad_request.message


def test_simulator_holds_then_ramps_to_the_pose_at_timeout():
    bus = Bus(clock=ManualClock())
    simulator = make(bus, "simulator", SimulatorNode, motion="walk", initial_state="rest",
                     command_timeout=0.5, ramp_time=1.0)
    sender = transport.create_node("sender", backend="inprocess", bus=bus)
    commands = sender.create_publisher(std_msgs.Float64MultiArray, "/commands", "latest")
    target = np.full(28, 0.3)
    commands.publish(std_msgs.Float64MultiArray(data=target.tolist()))
    bus.spin_until_idle()
    applied = []
    try:
        for _ in range(75):  # 2.5 s
            bus.run_for(DT)
            applied.append(simulator.last_targets.copy())
    finally:
        simulator.backend.close()
    applied = np.array(applied)
    held = applied[:14]  # within the 0.5 s timeout: the command as sent
    np.testing.assert_allclose(held, np.tile(target, (len(held), 1)))
    assert simulator.hold.state == "timed_out"
    steps = np.abs(np.diff(applied, axis=0)).max(axis=1)
    # No jump: at most |last command - pose at timeout| * dt / ramp per step (poses stay within a few rad).
    bound = np.abs(applied[-1] - target).max() * DT / 1.0 + 1e-9
    assert steps.max() <= bound
    np.testing.assert_allclose(applied[-1], applied[-5])  # holding after the ramp
    assert np.abs(applied[-1] - target).max() > 0.01  # it did move to the pose at timeout


def test_graph_reproduces_the_training_environment(tiny_checkpoint):
    """Started policy first, the graph steps the same trajectory as ImitationEnv with the same policy."""
    import dataclasses

    import torch
    from deepmimic_policy.policy import Policy
    from deepmimic_sim.envs.imitation_env import ImitationEnv
    from deepmimic_sim.reference import ReferenceClip

    bus = Bus(clock=ManualClock())
    policy = make(bus, "policy", PolicyNode, checkpoint=str(tiny_checkpoint))
    reference = make(bus, "reference_motion", ReferenceMotionNode, motion="walk")
    simulator = make(bus, "simulator", SimulatorNode, motion="walk", initial_state="reference")
    bus.spin_until_idle()  # the policy answers the initial state before the first step
    net = Policy.load(tiny_checkpoint)
    env = ImitationEnv(dataclasses.replace(net.experiment.env, num_envs=1), auto_reset=False)
    try:
        env.start_times[0], env.episode_steps[0], env.motion_ids[0] = 0.0, 0, 0
        qpos, qvel = ReferenceClip("walk").state(0.0)
        env.backend.reset(torch.zeros(1, dtype=torch.long), torch.from_numpy(qpos), torch.from_numpy(qvel))
        obs = env._observe()
        for _ in range(20):
            obs, *_ = env.step(net.act(obs))
            bus.run_for(DT)
        np.testing.assert_allclose(simulator.backend.qpos.numpy(), env.backend.qpos.numpy(), atol=1e-4)
    finally:
        for wrapper in (policy, reference, simulator):
            wrapper.node.shutdown()
        simulator.backend.close()
        env.backend.close()


def test_simulator_waits_for_the_policy_in_the_reference_pose(tiny_checkpoint):
    """Started after the reference and before the policy: it stands still in the reference's current pose."""
    from deepmimic_sim.reference import ReferenceClip

    bus = Bus(clock=ManualClock())
    reference = make(bus, "reference_motion", ReferenceMotionNode, motion="walk")
    bus.run_for(1.0)  # the reference node is one second into the clip
    simulator = make(bus, "simulator", SimulatorNode, motion="walk", initial_state="reference")
    policy = None
    try:
        bus.run_for(0.5)
        assert simulator.steps == 0 and simulator.waiting
        expected, _ = ReferenceClip("walk").state(1.5)
        np.testing.assert_allclose(simulator.backend.qpos.numpy(), expected, atol=1e-6)
        policy = make(bus, "policy", PolicyNode, checkpoint=str(tiny_checkpoint))
        bus.run_for(0.5)
        assert not simulator.waiting and simulator.steps >= 13 and policy.commands_sent >= 14
    finally:
        for wrapper in (reference, simulator, policy):
            if wrapper is not None:
                wrapper.node.shutdown()
        simulator.backend.close()


def start_walk_graph(bus: Bus) -> tuple:
    """Reference, simulator (starting in the reference's pose) and the committed walk policy on ``bus``."""
    checkpoint = Path(__file__).resolve().parents[2] / "policies" / "humanoid3d_walk.pt"
    reference = make(bus, "reference_motion", ReferenceMotionNode, motion="walk")
    simulator = make(bus, "simulator", SimulatorNode, motion="walk", initial_state="reference")
    policy = make(bus, "policy", PolicyNode, checkpoint=str(checkpoint))
    return reference, simulator, policy


def stop_graph(*wrappers) -> None:
    """Shut the nodes of ``start_walk_graph`` down."""
    for wrapper in wrappers:
        wrapper.node.shutdown()


def test_reset_restarts_the_walk_in_step_with_the_reference():
    """/reset while the committed walk policy walks: the character keeps walking (it fell within 1 s before)."""
    from deepmimic_sim.reference import ReferenceClip

    bus = Bus(clock=ManualClock())
    reference, simulator, policy = start_walk_graph(bus)
    caller = transport.create_node("caller", backend="inprocess", bus=bus)
    try:
        bus.run_for(2.0)
        assert float(simulator.backend.qpos[0, 2]) > 0.75
        client = caller.create_client(deepmimic_interfaces.Reset, "/reset")
        response = client.call(deepmimic_interfaces.Reset.Request(env_ids=[0]))
        assert response.success
        # The reset state is the reference's frame now, not the clip's first frame.
        expected, _ = ReferenceClip("walk").state(reference.node.now() - reference.start)
        np.testing.assert_allclose(simulator.backend.qpos.numpy()[0, 7:], expected[0, 7:], atol=1e-6)
        heights = []
        for _ in range(16):  # 4 s after the reset
            bus.run_for(0.25)
            heights.append(float(simulator.backend.qpos[0, 2]))
        assert min(heights) > 0.75, heights
        assert simulator.safety.clamped_steps <= 2  # the trained walk is not clamped
    finally:
        stop_graph(reference, simulator, policy)
        caller.shutdown()
        simulator.backend.close()


def test_stale_commands_keep_a_standing_character_up_and_are_logged(caplog):
    """Commands stop while the character stands: it ramps to the pose at timeout, holds it >= 10 s, logged."""
    bus = Bus(clock=ManualClock())
    simulator = make(bus, "simulator", SimulatorNode, motion="walk", initial_state="rest",
                     command_timeout=0.5, ramp_time=1.0)
    sender = transport.create_node("sender", backend="inprocess", bus=bus)
    commands = sender.create_publisher(std_msgs.Float64MultiArray, "/commands", "latest")
    try:
        with caplog.at_level("INFO"):
            for _ in range(15):  # 0.5 s of a live stream holding the standing pose
                commands.publish(std_msgs.Float64MultiArray(data=[0.0] * 28))
                bus.run_for(DT)
            heights = []
            for _ in range(12):  # then 12 s without a command
                bus.run_for(1.0)
                heights.append(float(simulator.backend.qpos[0, 2]))
            assert simulator.hold.state == "timed_out"
            assert min(heights) > 0.8, heights
            commands.publish(std_msgs.Float64MultiArray(data=[0.0] * 28))  # the stream comes back
            bus.run_for(2 * DT)
            assert simulator.hold.state == "commanded"
        lines = [r.getMessage() for r in caplog.records]
        assert sum("no command for 0.5 s" in line for line in lines) == 1, lines
        assert any("commands are back" in line for line in lines), lines
    finally:
        sender.shutdown()
        simulator.node.shutdown()
        simulator.backend.close()


def test_command_flood_in_process_keeps_walking():
    """Absurd (28 x 1e9) and non-finite commands between the walk policy's: dropped; the walk goes on."""
    bus = Bus(clock=ManualClock())
    reference, simulator, policy = start_walk_graph(bus)
    flooder = transport.create_node("flooder", backend="inprocess", bus=bus)
    publisher = flooder.create_publisher(std_msgs.Float64MultiArray, "/commands", "latest")
    try:
        bus.run_for(1.0)
        heights, joints = [], []
        for step in range(120):  # 4 s, ten bad commands per control step
            for k in range(10):
                value = 1e9 if step < 60 else (float("nan") if k % 2 else float("inf"))
                publisher.publish(std_msgs.Float64MultiArray(data=[value] * 28))
            bus.run_for(DT)
            heights.append(float(simulator.backend.qpos[0, 2]))
            joints.append(simulator.backend.qpos[0, 7:].numpy().copy())
        assert min(heights) > 0.75, heights
        assert np.abs(np.array(joints)).max() < 2 * np.pi
        assert simulator.safety.dropped >= 1200 and not bool(simulator.backend.diverged[0])
        assert simulator.backend.nonfinite_targets == 0  # nothing bad reached the physics
    finally:
        stop_graph(reference, simulator, policy)
        flooder.shutdown()
        simulator.backend.close()

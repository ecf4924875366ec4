"""Clip switches at run time: ``select_clip`` on the reference node, the policy node following.

Real nodes on one in-process Bus with a manual clock (as test_graph_inprocess.py), the reference
node as a separate process over loopback DDS, and the launch checks of the new arguments. The
policies are untrained (one PPO iteration): these tests check who acts, not that a character
survives a switch.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from deepmimic.launch_checks import LaunchArgumentError, check_arguments
from deepmimic_policy.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from deepmimic_policy.nodes.policy_node import PolicyNode
from deepmimic_sim.nodes.reference_motion_node import ReferenceMotionNode
from deepmimic_sim.nodes.simulator_node import SimulatorNode
from deepmimic_transport.inprocess import Bus, ManualClock
from deepmimic_transport.messages import deepmimic_interfaces, std_msgs

import deepmimic_transport as transport

DT = 1.0 / 30.0


def make(bus, name, cls, **parameters):
    return cls(transport.create_node(name, backend="inprocess", bus=bus, parameters=parameters))


class Switcher:
    """A user's ``ros2 topic pub /select_clip std_msgs/msg/String``, and a listener of ``/reference``."""

    def __init__(self, bus: Bus) -> None:
        self.node = transport.create_node("user", backend="inprocess", bus=bus)
        self.publisher = self.node.create_publisher(std_msgs.String, "/select_clip", "reliable")
        self.frames: list = []
        self.node.create_subscription(deepmimic_interfaces.ReferenceFrame, "/reference", self.frames.append, "reliable")
        self.bus = bus

    def select(self, name: str) -> None:
        self.frames.clear()
        self.publisher.publish(std_msgs.String(data=name))
        self.bus.spin_until_idle()


@pytest.fixture
def graph_of():
    """``graph_of(checkpoint, clips="", checkpoints="", switch_blend=0)``: reference, simulator and policy nodes on a Bus."""
    made = []

    def start(checkpoint: Path, clips: str = "", checkpoints: str = "", switch_blend: float = 0.0) -> tuple:
        bus = Bus(clock=ManualClock())
        policy = make(bus, "policy", PolicyNode, checkpoint=str(checkpoint), checkpoints=checkpoints,
                      switch_blend=switch_blend)
        reference = make(bus, "reference_motion", ReferenceMotionNode, motion="walk", clips=clips)
        simulator = make(bus, "simulator", SimulatorNode, motion="walk", initial_state="reference", clips=clips)
        made.append((reference, simulator, policy))
        return bus, reference, simulator, policy, Switcher(bus)

    yield start
    for reference, simulator, policy in made:
        for wrapper in (reference, simulator, policy):
            wrapper.node.shutdown()
        simulator.backend.close()


def test_reference_switches_clips_and_refuses_unknown_names(caplog):
    bus = Bus(clock=ManualClock())
    reference = make(bus, "reference_motion", ReferenceMotionNode, motion="walk", clips="run")
    user = Switcher(bus)
    try:
        bus.run_for(1.0)
        assert {f.clip_name for f in user.frames} == {"walk"} and user.frames[-1].clip_time > 0.9
        with caplog.at_level("INFO"):
            user.select("run")
        # Published at once, from the new clip's start.
        assert user.frames[0].clip_name == "run" and user.frames[0].clip_time == pytest.approx(0.0)
        bus.run_for(0.5)
        assert {f.clip_name for f in user.frames} == {"run"} and user.frames[-1].clip_time == pytest.approx(0.5, abs=DT)
        # Selecting the clip already playing does not restart it (ros2 topic pub repeats every second).
        user.select("run")
        bus.run_for(0.2)
        assert user.frames[-1].clip_time == pytest.approx(0.7, abs=DT)
        # An unknown (or not loaded) clip: one line naming the loaded clips; the node goes on.
        caplog.clear()
        with caplog.at_level("INFO"):
            user.select("backflip")
        refusals = [r.getMessage() for r in caplog.records if "unknown clip" in r.getMessage()]
        assert refusals == ["select_clip: unknown clip 'backflip'; loaded clips: walk, run"]
        bus.run_for(0.5)
        assert len(user.frames) >= 14 and {f.clip_name for f in user.frames} == {"run"}
        assert reference.switches == 1 and reference.refused == 1
        # get_motion serves every loaded clip.
        client = user.node.create_client(deepmimic_interfaces.GetMotion, "get_motion")
        run = client.call(deepmimic_interfaces.GetMotion.Request(clip_name="", sample_rate=10.0))
        walk = client.call(deepmimic_interfaces.GetMotion.Request(clip_name="walk", sample_rate=10.0))
        assert run.success and walk.success and "run" in run.message and run.duration != walk.duration
        assert not client.call(deepmimic_interfaces.GetMotion.Request(clip_name="jump")).success
    finally:
        reference.node.shutdown()
        user.node.shutdown()


def test_policy_follows_the_switch_with_a_checkpoint_per_clip(graph_of, tiny_checkpoint, tiny_run_checkpoint):
    bus, reference, simulator, policy, user = graph_of(tiny_checkpoint, clips="run",
                                                       checkpoints=f"run={tiny_run_checkpoint}")
    bus.run_for(0.5)
    assert policy.acted_with == tiny_checkpoint and policy.commands_sent >= 14
    sent = policy.commands_sent
    user.select("run")
    bus.run_for(0.5)
    assert policy.acted_with == tiny_run_checkpoint and policy.commands_sent >= sent + 14
    assert policy.unserved_steps == 0 and simulator.steps >= 28
    # /reset now starts the character in the run clip's pose at the reference's time.
    client = user.node.create_client(deepmimic_interfaces.Reset, "/reset")
    assert client.call(deepmimic_interfaces.Reset.Request(env_ids=[0])).success
    expected, _ = reference.clips["run"].state(reference.node.now() - reference.start)
    np.testing.assert_allclose(simulator.backend.qpos.numpy()[0, 7:], expected[0, 7:], atol=1e-6)
    # Back to walk: the walk policy again.
    user.select("walk")
    bus.run_for(0.2)
    assert policy.acted_with == tiny_checkpoint and {f.clip_name for f in user.frames} == {"walk"}


def test_a_clip_without_a_policy_is_logged_once_and_held(graph_of, tiny_checkpoint, caplog):
    bus, _, simulator, policy, user = graph_of(tiny_checkpoint, clips="run")
    bus.run_for(0.5)
    last = policy.safety.previous.copy()
    with caplog.at_level("INFO"):
        user.select("run")
        held_from = policy.commands_sent
        bus.run_for(1.5)
    lines = [r.getMessage() for r in caplog.records if "no policy for clip" in r.getMessage()]
    assert lines == ["no policy for clip 'run' (policies for: walk): holding the pose"]
    assert policy.unserved_steps >= 44 and policy.acted_with is None
    assert policy.commands_sent >= held_from + 44  # the robot keeps getting targets: no downstream timeout
    assert simulator.hold.state == "commanded"
    # The targets ramped (rate-limited, no jump) from the last ones to the standing pose, and stay there.
    rest = policy.hold_pose
    assert np.abs(last - rest).max() > 0.05
    np.testing.assert_allclose(policy.safety.previous, rest, atol=1e-6)
    bus.run_for(0.2)
    np.testing.assert_allclose(policy.safety.previous, rest, atol=1e-6)
    user.select("walk")
    bus.run_for(0.2)
    assert policy.acted_with == tiny_checkpoint and policy.clip_hold is None


@pytest.fixture(scope="module")
def two_clip_student(tiny_checkpoint, tiny_run_checkpoint, tmp_path_factory) -> Path:
    """An untrained clip-conditioned student of the walk and run policies (no DAgger round: its weights are random)."""
    from deepmimic_policy.distillation import DistillCfg, Distiller, build_student, student_experiment, student_payload
    from deepmimic_policy.policy import Policy

    teachers = [Policy.load(tiny_checkpoint), Policy.load(tiny_run_checkpoint)]
    experiment, clips = student_experiment(teachers)
    torch.manual_seed(0)
    dim, actions = teachers[0].obs_dim, teachers[0].num_actions
    distiller = Distiller(build_student(experiment, dim, actions, 2), 2, DistillCfg())
    path = tmp_path_factory.mktemp("student") / "model_0.pt"
    save_checkpoint(path, student_payload(distiller, experiment, clips, dim, actions, 0, {}))
    return path


def test_a_clip_conditioned_student_follows_with_its_one_hot(graph_of, two_clip_student):
    bus, _, _, policy, user = graph_of(two_clip_student, clips="run")
    controller = policy.controller
    assert controller.policy.num_clips == 2 and controller.served_clips() == ["walk", "run"]
    bus.run_for(0.3)
    assert policy.acted_with == two_clip_student
    user.select("run")
    bus.run_for(0.3)
    assert policy.acted_with == two_clip_student and policy.unserved_steps == 0
    qpos, qvel = controller.clip("run").state(0.1)
    walk_obs = controller.observation(qpos[0], qvel[0], "walk", 0.1)
    run_obs = controller.observation(qpos[0], qvel[0], "run", 0.1)
    assert walk_obs[0, -2:].tolist() == [1.0, 0.0] and run_obs[0, -2:].tolist() == [0.0, 1.0]
    # The one-hot changes what the student does in the same state.
    flipped = run_obs.clone()
    flipped[0, -2:] = torch.tensor([1.0, 0.0])
    student = controller.policy
    assert not torch.allclose(student.act(run_obs), student.act(flipped))


def test_a_checkpoint_that_does_not_fit_stops_the_node_at_start_up(tiny_checkpoint, tiny_run_checkpoint, tmp_path):
    data = load_checkpoint(tiny_run_checkpoint)
    data["experiment"]["env"]["substeps"] = 20  # a policy for 15 Hz control
    misfit = save_checkpoint(tmp_path / "model_1.pt", data)
    bus = Bus(clock=ManualClock())
    with pytest.raises(CheckpointError, match=r"model_1.pt: a policy for humanoid3d with 28 actions, \d+ "
                                              r"observations and 20 substeps does not fit") as error:
        make(bus, "policy", PolicyNode, checkpoint=str(tiny_checkpoint), checkpoints=f"run={misfit}")
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="parameter 'checkpoints': expected key=value, got 'run'"):
        make(bus, "policy2", PolicyNode, checkpoint=str(tiny_checkpoint), checkpoints="run")


def test_launch_checks_the_clip_arguments(tiny_checkpoint, tiny_run_checkpoint, tmp_path):
    checks = {"clip": "motion", "clips": "clips", "checkpoint": "checkpoint", "checkpoints": "clip_checkpoints"}

    def check(**values):
        check_arguments(checks, {"clip": "walk", "clips": "", "checkpoint": str(tiny_checkpoint),
                                 "checkpoints": "", **values})

    check()
    check(clips="run,jump", checkpoints=f"run={tiny_run_checkpoint}")
    check(clip="run", clips="walk", checkpoints=f"run={tiny_run_checkpoint}")
    failures = {
        "clips:=run,nonexistent: no motion file or bundled motion": {"clips": "run,nonexistent"},
        "checkpoints:=jump=x.pt: 'jump' is not a clip the reference plays": {"checkpoints": "jump=x.pt"},
        "checkpoints:=: no policy for clip:=run": {"clip": "run"},
        "checkpoints:=run: parameter 'checkpoints': expected key=value": {"clips": "run", "checkpoints": "run"},
    }
    for expected, values in failures.items():
        with pytest.raises(LaunchArgumentError) as error:
            check(**values)
        assert str(error.value).startswith(expected), str(error.value)
    data = load_checkpoint(tiny_run_checkpoint)
    data["num_actions"] = 29
    misfit = save_checkpoint(tmp_path / "misfit.pt", data)
    with pytest.raises(LaunchArgumentError, match=r"misfit\.pt: a policy for humanoid3d with .* 29 actions does not"):
        check(clips="run", checkpoints=f"run={misfit}")


def test_the_deploy_graph_passes_the_clip_arguments(tiny_checkpoint, tiny_run_checkpoint):
    from deepmimic.graph import find_graph, load_graph

    graph = load_graph(find_graph("deploy"), {"clips": "run", "checkpoints": f"run={tiny_run_checkpoint}",
                                              "switch_blend": 0.5})
    nodes = {spec.name: spec.parameters for spec in graph.nodes}
    assert nodes["reference_motion"]["clips"] == "run"
    assert nodes["policy"]["checkpoints"] == f"run={tiny_run_checkpoint}" and nodes["policy"]["switch_blend"] == 0.5
    default = {spec.name: spec.parameters for spec in load_graph(find_graph("deploy")).nodes}
    assert default["reference_motion"]["clips"] == "" and default["policy"]["checkpoints"] == ""
    assert default["policy"]["switch_blend"] == 0.0


def test_a_reference_process_switches_on_a_dds_message(loopback_dds, stop_process, tmp_path):
    """The reference node in its own process; the switch and its frames cross loopback DDS."""
    pytest.importorskip("cyclonedds", reason="cyclonedds is not installed; DDS not tested")
    params = tmp_path / "reference.yaml"
    params.write_text("reference_motion:\n  ros__parameters:\n    motion: walk\n    clips: run\n")
    process = subprocess.Popen([sys.executable, "-m", "deepmimic_sim.nodes.reference_motion_node", "--transport", "dds",
                                "--params", str(params), "--seconds", "40"],
                               env={**loopback_dds, "OMP_NUM_THREADS": "1"},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    user = transport.create_node("user", backend="dds")
    frames: list = []
    user.create_subscription(deepmimic_interfaces.ReferenceFrame, "/reference", frames.append, "reliable")
    select = user.create_publisher(std_msgs.String, "/select_clip", "reliable")

    def spin_until(until, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and process.poll() is None and not until():
            user.spin_once(0.01)
        return until()

    try:
        assert spin_until(lambda: len(frames) > 3, 30.0), f"no frames: {process.poll()}"
        deadline = time.monotonic() + 10.0
        while frames[-1].clip_name != "run" and time.monotonic() < deadline:  # as ros2 topic pub repeats
            select.publish(std_msgs.String(data="run"))
            spin_until(lambda: frames[-1].clip_name == "run", 0.3)
        assert frames[-1].clip_name == "run"
        select.publish(std_msgs.String(data="nonexistent"))
        count = len(frames)
        assert spin_until(lambda: len(frames) >= count + 10, 5.0)
        assert {f.clip_name for f in frames[count:]} == {"run"} and frames[-1].clip_time < 3.0
    finally:
        user.shutdown()
        output = stop_process(process)
    assert "Traceback" not in output, output[-3000:]
    assert "select_clip: unknown clip 'nonexistent'; loaded clips: walk, run" in output
    assert output.count("now playing 'run'") == 1, output[-3000:]


def test_an_anchor_round_trips_through_a_frames_root_pose():
    from deepmimic_sim.reference import ClipAnchor, ReferenceClip

    clip = ReferenceClip("run")
    own = clip.sample(0.4)
    assert clip.anchor_of(0.4, own.root_pos, own.root_quat) is None  # its own coordinates: no anchor
    anchor = ClipAnchor(yaw=2.5, shift=(3.0, -1.0))
    placed = clip.sample(0.4, anchor)
    recovered = clip.anchor_of(0.4, placed.root_pos, placed.root_quat)
    assert recovered is not None
    assert abs(recovered.yaw - 2.5) < 1e-6 and np.allclose(recovered.shift, (3.0, -1.0), atol=1e-6)
    # Height, hinge angles and the root's own-frame angular velocity stay; the heading turns.
    assert placed.root_pos[2] == own.root_pos[2] and np.array_equal(placed.hinge_positions, own.hinge_positions)
    qpos, qvel = clip.state(0.4)
    _, turned = anchor.state(qpos, qvel)
    np.testing.assert_allclose(np.linalg.norm(turned[0, :2]), np.linalg.norm(qvel[0, :2]), rtol=1e-12)
    np.testing.assert_array_equal(turned[0, 3:], qvel[0, 3:])


@pytest.mark.parametrize("anchored", [True, False])
def test_a_switched_clip_goes_on_from_where_the_reference_was(tiny_checkpoint, anchored):
    bus = Bus(clock=ManualClock())
    policy = make(bus, "policy", PolicyNode, checkpoint=str(tiny_checkpoint))
    reference = make(bus, "reference_motion", ReferenceMotionNode, motion="walk", clips="run",
                     anchor_switches=anchored)
    simulator = make(bus, "simulator", SimulatorNode, motion="walk", initial_state="reference", clips="run")
    user = Switcher(bus)
    try:
        bus.run_for(2.0)  # the walk reference is 2 m from its origin by now
        before = np.array([user.frames[-1].root_pose.position.x, user.frames[-1].root_pose.position.y])
        user.select("run")
        first = user.frames[0]
        after = np.array([first.root_pose.position.x, first.root_pose.position.y])
        own_start = reference.clips["run"].sample(0.0).root_pos[:2]
        if anchored:
            assert np.linalg.norm(after - before) < 0.1  # continuous (one control step of motion at most)
            assert reference.anchor is not None and np.linalg.norm(own_start - before) > 1.0
        else:
            np.testing.assert_allclose(after, own_start, atol=1e-9)  # back at the clip's own origin
            assert reference.anchor is None
        # The simulator's reset follows the frames' pose, anchored or not.
        client = user.node.create_client(deepmimic_interfaces.Reset, "/reset")
        assert client.call(deepmimic_interfaces.Reset.Request(env_ids=[0])).success
        latest = user.frames[-1]
        expected = reference.clips["run"].sample(reference.node.now() - reference.start, reference.anchor)
        np.testing.assert_allclose(simulator.backend.qpos.numpy()[0, :2], expected.root_pos[:2], atol=1e-5)
        assert latest.clip_name == "run"
        # The policy node (no run policy here: it holds) keeps no anchor for a clip it does not act on;
        # for walk it recovers the reference node's anchor from the frames.
        user.select("walk")
        bus.run_for(0.1)
        if anchored:
            assert policy.anchor is not None and reference.anchor is not None
            assert abs(policy.anchor.yaw - reference.anchor.yaw) < 1e-6
            np.testing.assert_allclose(policy.anchor.shift, reference.anchor.shift, atol=1e-5)
        else:
            assert policy.anchor is None
    finally:
        for wrapper in (reference, simulator, policy):
            wrapper.node.shutdown()
        simulator.backend.close()


def test_a_switch_blend_moves_the_policys_reference_from_the_old_clip_into_the_new(graph_of, two_clip_student):
    """``switch_blend``: for that many seconds after a switch the policy node's reference is the old
    clip, going on, cross-faded into the new one (anchored): at the switch it is the old clip's pose,
    from ``switch_blend`` on the new clip's alone."""
    bus, reference, _, policy, user = graph_of(two_clip_student, clips="run", switch_blend=0.5)
    bus.run_for(2.0)
    assert policy.blend is None
    user.select("run")
    bus.run_for(0.1)
    blend = policy.blend
    assert blend is not None and blend.old.name.endswith("walk") and blend.new.name.endswith("run")
    assert 1.9 < blend.old_time < 2.2  # walk's time at the switch
    walk, run = policy.controller.clip("walk"), policy.controller.clip("run")
    torch.testing.assert_close(blend.hinge_angles(0.0), walk.hinge_angles(blend.old_time))
    torch.testing.assert_close(blend.hinge_angles(0.5), run.hinge_angles(0.5))
    middle = blend.hinge_angles(0.25)
    assert not torch.allclose(middle, walk.hinge_angles(blend.old_time + 0.25), atol=1e-3)
    assert not torch.allclose(middle, run.hinge_angles(0.25), atol=1e-3)
    # Both clips are placed where they play: at the switch the blended root is the walk reference's.
    position, _ = blend.body_pose(0.0)
    walk_position, _ = walk.body_pose(blend.old_time)
    torch.testing.assert_close(position, walk_position, atol=1e-5, rtol=0)
    run_position, _ = run.body_pose(0.5)
    torch.testing.assert_close(blend.body_pose(0.5)[0], reference.anchor.position(run_position), atol=1e-5, rtol=0)
    # The observation and the targets use the blend while it lasts, then the new clip alone.
    qpos, qvel = run.state(0.1)
    blended = policy.controller.observation(qpos[0], qvel[0], "run", 0.1, anchor=policy.anchor, blend=blend)
    plain = policy.controller.observation(qpos[0], qvel[0], "run", 0.1, anchor=policy.anchor)
    assert not torch.allclose(blended, plain)
    bus.run_for(0.6)
    assert policy.blend is None and policy.acted_with == two_clip_student


def test_without_switch_blend_the_new_clip_acts_at_once(graph_of, two_clip_student):
    bus, _, _, policy, user = graph_of(two_clip_student, clips="run")
    bus.run_for(0.5)
    user.select("run")
    bus.run_for(0.1)
    assert policy.blend is None

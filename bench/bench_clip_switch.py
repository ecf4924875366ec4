"""Clip switches in the deploy graph: does the character survive a switch, with and without anchoring?

Usage: ``python bench/bench_clip_switch.py [--checkpoint policies/humanoid3d_student.pt]
[--pairs walk:run run:walk ...] [--switch-at 2.0 2.25 2.5 2.75] [--after 5] [--out bench/results/clip_switch.json]``

The deploy graph of ``deepmimic launch deploy`` (reference, simulator and policy nodes) composed in
this process on the in-process transport with a manual clock, so that every trial is deterministic
and runs as fast as the CPU allows. The policy is one clip-conditioned student acting for every
clip. A trial plays the first clip from its start for ``switch_at`` seconds, publishes the second
clip's name on ``/select_clip`` and goes on for ``after`` seconds. The switch times spread over
a gait cycle, so the switch meets the character at several phases. Each pair runs with the
reference node's ``anchor_switches`` on (the new clip starts where the reference is) and off (at
the clip's own origin).

Per trial:
- ``survived``: no body with ``EnableFallContact`` (root, chest, neck) touched the ground after the switch;
- ``hinge_error_rad``: mean |simulated - reference| hinge angle over the ``after`` seconds;
- ``root_distance_m``: horizontal distance of the root from the reference's root at the end (the
  reference as the nodes see it: anchored when anchoring is on).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sim import machine_info
from deepmimic_policy.nodes.policy_node import PolicyNode
from deepmimic_sim.nodes.reference_motion_node import ReferenceMotionNode
from deepmimic_sim.nodes.simulator_node import SimulatorNode
from deepmimic_transport.inprocess import Bus, ManualClock
from deepmimic_transport.messages import std_msgs

import deepmimic_transport as transport

STEP = 0.1  # seconds of graph time per check


def _node(bus: Bus, name: str, cls: type, **parameters):
    return cls(transport.create_node(name, backend="inprocess", bus=bus, parameters=parameters))


def trial(checkpoint: str, first: str, second: str, switch_at: float, after: float, anchored: bool,
          blend: float = 0.0) -> dict:
    """One switch from ``first`` to ``second`` after ``switch_at`` seconds; figures of the ``after`` seconds."""
    bus = Bus(clock=ManualClock())
    policy = _node(bus, "policy", PolicyNode, checkpoint=checkpoint, switch_blend=blend)
    reference = _node(bus, "reference_motion", ReferenceMotionNode, motion=first, clips=second,
                      anchor_switches=anchored)
    simulator = _node(bus, "simulator", SimulatorNode, motion=first, initial_state="reference", clips=second)
    user = transport.create_node("user", backend="inprocess", bus=bus)
    select = user.create_publisher(std_msgs.String, "/select_clip", "reliable")
    fall_bodies = np.array([b is not None and b.fall_contact for b in reference.clip.character.bodies])
    try:
        fell_before = False
        for _ in range(round(switch_at / STEP)):
            bus.run_for(STEP)
            fell_before |= bool((simulator.backend.ground_contact.numpy()[0] & fall_bodies).any())
        select.publish(std_msgs.String(data=second))
        bus.spin_until_idle()
        fell, errors = False, []
        for _ in range(round(after / STEP)):
            bus.run_for(STEP)
            fell |= bool((simulator.backend.ground_contact.numpy()[0] & fall_bodies).any())
            ref = reference.clip.sample(reference.node.now() - reference.start, reference.anchor)
            errors.append(float(np.abs(simulator.backend.qpos.numpy()[0, 7:] - ref.hinge_positions).mean()))
        root = simulator.backend.qpos.numpy()[0, :2]
        return {"first": first, "second": second, "switch_at_s": switch_at, "anchored": anchored, "blend_s": blend,
                "fell_before_switch": fell_before, "survived": not fell, "hinge_error_rad": float(np.mean(errors)),
                "root_distance_m": float(np.linalg.norm(root - ref.root_pos[:2])),
                "policy_acted_with": str(policy.acted_with)}
    finally:
        for wrapper in (reference, simulator, policy):
            wrapper.node.shutdown()
        user.shutdown()
        simulator.backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default="policies/humanoid3d_student.pt")
    parser.add_argument("--pairs", nargs="+", default=["walk:jog", "jog:walk", "walk:run", "run:walk", "jog:run",
                                                       "run:jog"])
    parser.add_argument("--switch-at", type=float, nargs="+", default=[2.0, 2.25, 2.5, 2.75])
    parser.add_argument("--after", type=float, default=5.0)
    parser.add_argument("--blend", type=float, nargs="+", default=[],
                        help="also run anchored switches with the policy node's switch_blend at these seconds")
    parser.add_argument("--out", default="bench/results/clip_switch.json")
    args = parser.parse_args()
    started = time.perf_counter()
    info = machine_info()
    settings = [(True, 0.0), (False, 0.0)] + [(True, b) for b in args.blend if b > 0]  # (anchored, blend)
    trials = []
    for pair in args.pairs:
        first, second = pair.split(":")
        for anchored, blend in settings:
            for at in args.switch_at:
                trials.append(trial(args.checkpoint, first, second, at, args.after, anchored, blend))
    print(f"\n{'switch':<12} {'anchored':>8} {'blend s':>8} {'survived':>9} {'hinge err (rad)':>16} "
          f"{'root dist (m)':>14}")
    summary = []
    for pair in args.pairs:
        first, second = pair.split(":")
        for anchored, blend in settings:
            rows = [t for t in trials
                    if (t["first"], t["second"], t["anchored"], t["blend_s"]) == (first, second, anchored, blend)]
            line = {"switch": pair, "anchored": anchored, "blend_s": blend,
                    "survived": sum(t["survived"] for t in rows), "trials": len(rows),
                    "hinge_error_rad": float(np.mean([t["hinge_error_rad"] for t in rows])),
                    "root_distance_m": float(np.median([t["root_distance_m"] for t in rows]))}
            summary.append(line)
            print(f"{pair:<12} {anchored!s:>8} {blend:>8.2f} {line['survived']:>5} / {line['trials']} "
                  f"{line['hinge_error_rad']:>16.3f} {line['root_distance_m']:>14.2f}")
    out = {"machine": info, "checkpoint": args.checkpoint, "after_s": args.after, "switch_at_s": args.switch_at,
           "blend_s": args.blend,
           "summary": summary, "trials": trials, "wall_s": time.perf_counter() - started}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

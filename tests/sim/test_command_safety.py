"""The safety layer: batched clamping of PD targets, absurd commands refused, throttled reports."""

from __future__ import annotations

import numpy as np
import pytest
from deepmimic_sim.backends.mujoco_model import load_model
from deepmimic_sim.command_safety import CommandSafety, SafetyLimits, apply_limits

from deepmimic_mocap import load_character


@pytest.fixture(scope="module")
def limits():
    model, hinges = load_model(load_character("humanoid3d"), None)
    return SafetyLimits.from_model(model, hinges, max_rate=30.0, torque_margin=2.0, limit_slack=0.0), hinges


def test_limits_come_from_the_model(limits):
    lim, hinges = limits
    knee = hinges.index("right_knee")
    assert (lim.lower[knee], lim.upper[knee]) == pytest.approx((-3.14, 0.0))
    chest = hinges.index("chest_x")  # unlimited spherical hinge: +-pi
    assert (lim.lower[chest], lim.upper[chest]) == pytest.approx((-np.pi, np.pi))
    assert lim.max_offset[chest] == pytest.approx(2.0 * 200 / 1000)  # margin * torque limit / kp
    assert lim.max_offset[knee] == pytest.approx(2.0 * 150 / 500)


def test_each_limit_is_applied_batched(limits):
    lim, hinges = limits
    n, h = 5, len(hinges)
    q = np.zeros((n, h))
    prev = np.zeros((n, h))
    targets = np.zeros((n, h))
    targets[0, 0] = 0.9          # rate: 30 rad/s * 1/30 s = 1 rad: allowed; torque window 0.4: clamped
    targets[1, 3] = np.nan        # non-finite: the previous target
    knee = hinges.index("right_knee")
    targets[2, knee] = 0.2        # past the knee's limit (0)
    q[3, :] = 0.5
    prev[3, :] = 0.5
    targets[3, :] = 0.5 + 0.01    # a small step near q: unchanged
    safe, changed = apply_limits(targets, q, prev, lim, 1.0 / 30.0)
    assert safe.shape == (n, h) and np.isfinite(safe).all()
    assert safe[0, 0] == pytest.approx(0.4) and changed["torque"][0, 0] and not changed["rate"][0, 0]
    assert safe[1, 3] == 0.0 and changed["nonfinite"][1, 3]
    assert safe[2, knee] == 0.0 and changed["joint_limit"][2, knee]
    knee3 = safe[3].copy()
    assert np.allclose(np.delete(knee3, [knee, hinges.index("left_knee")]), 0.51)
    # Rate: a far target from a far previous one moves at most max_rate * dt.
    safe, changed = apply_limits(np.full((1, h), 3.0), np.zeros((1, h)), np.zeros((1, h)), lim, 0.01)
    assert np.allclose(safe[0, 0], 0.3) and changed["rate"][0, 0]
    assert (safe >= lim.lower).all() and (safe <= lim.upper).all()


def test_absurd_commands_are_refused_whole_and_reports_are_throttled(limits):
    lim, hinges = limits
    safety = CommandSafety(lim, warn_interval=1.0)
    assert safety.refuse(np.full(len(hinges), 1e9)) is not None
    assert "non-finite" in safety.refuse(np.full(len(hinges), np.nan))
    assert safety.refuse(np.zeros(len(hinges))) is None
    safety.reset(np.zeros(len(hinges)), 0.0)
    lines = []
    for step in range(90):  # 3 s at 30 Hz, every command clamped, one dropped per step
        now = (step + 1) / 30.0
        safety.drop()
        out = safety(np.full(len(hinges), 2.0), np.zeros(len(hinges)), now)
        assert np.abs(out).max() <= np.pi
        line = safety.warning(now)
        if line:
            lines.append(line)
    assert 3 <= len(lines) <= 4  # at most one per second
    assert safety.clamped_steps == 90 and safety.dropped == 90
    assert "dropped" in lines[0] and "torque" in lines[0]


def test_a_burst_of_commands_moves_one_control_period_each(limits):
    """Commands arriving 1 ms apart (a late network, a policy answering queued states) are not frozen.

    Each answers a state one control period after the last, so the rate limit grants each at least
    ``min_dt``; measured by arrival alone the second would be held to 1 ms of motion.
    """
    lim, _ = limits
    dt = 1.0 / 30
    start = 0.5 * (lim.lower + lim.upper)  # mid-range: no joint-limit clamp
    step = np.full_like(start, 0.5 * lim.max_rate * dt)  # half the motion one period allows
    burst, by_arrival = CommandSafety(lim, min_dt=dt), CommandSafety(lim)
    for safety in (burst, by_arrival):
        safety.reset(start, now=0.0)
    assert np.allclose(burst(start + step, None, now=0.001), start + step)
    assert burst.clamped["rate"] == 0
    assert np.allclose(by_arrival(start + step, None, now=0.001), start + lim.max_rate * 0.001)
    assert by_arrival.clamped["rate"] == len(start)
    # A genuinely fast command is still limited to one period's motion.
    assert np.allclose(burst(start + 10 * step, None, now=0.002), start + 3 * step)
    assert burst.clamped["rate"] == len(start)

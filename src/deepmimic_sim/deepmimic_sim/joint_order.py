"""Joint names and orders between a robot's ros2_control interfaces and the model's hinges.

ros2_control's ``joint_state_broadcaster`` publishes ``joint_states`` with the robot's joint names
in an order of its own (often alphabetical, or the URDF's), possibly with joints the model does not
have (grippers, wheels); a ``forward_command_controller`` takes ``commands`` as a bare array in the
order of its ``joints`` parameter. Our graph uses the model's hinge names in ``qpos`` order
(``deepmimic_sim.robot_state``). This module holds the pure name and index logic; the bridge node
(``nodes/ros2_control_bridge_node.py``) only wires it to topics.

- :func:`parse_joint_map` reads the ``joint_map`` parameter (``"robot_name:model_name"`` strings).
- :func:`gather_indices` gives, for each wanted name, its index in a list of names; missing or
  doubled names raise :class:`JointOrderError` naming them.
- :class:`JointReorder` caches the indices of one source order and reorders value arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


class JointOrderError(ValueError):
    """Names that cannot be matched: missing, doubled, or mapped onto the same model joint."""


def parse_joint_map(entries: Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """``{robot_name: model_name}`` from ``["robot:model", ...]`` (a ROS 2 string-array parameter) or a mapping.

    Raises:
        JointOrderError: An entry without exactly one ``:``, an empty name, a robot name given
            twice, or two robot names mapped onto one model name.
    """
    if entries is None:
        return {}
    if isinstance(entries, Mapping):
        pairs = [(str(k), str(v)) for k, v in entries.items()]
    else:
        pairs = []
        for entry in entries:
            parts = str(entry).split(":")
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                raise JointOrderError(f"joint_map entry {entry!r}: expected 'robot_joint:model_joint'")
            pairs.append((parts[0].strip(), parts[1].strip()))
    mapping: dict[str, str] = {}
    for robot, model in pairs:
        if robot in mapping:
            raise JointOrderError(f"joint_map: robot joint {robot!r} is mapped twice")
        mapping[robot] = model
    targets = list(mapping.values())
    doubled = sorted({m for m in targets if targets.count(m) > 1})
    if doubled:
        raise JointOrderError(f"joint_map: several robot joints map onto {doubled}")
    return mapping


def rename(names: Sequence[str], joint_map: Mapping[str, str]) -> list[str]:
    """``names`` with each robot name replaced by its model name (names not in the map unchanged)."""
    return [joint_map.get(name, name) for name in names]


def gather_indices(names: Sequence[str], wanted: Sequence[str], what: str = "names") -> np.ndarray:
    """Index into ``names`` of each of ``wanted`` (so ``values[idx]`` is in ``wanted``'s order).

    Extra entries in ``names`` are ignored.

    Raises:
        JointOrderError: A wanted name is missing from ``names``, or appears in ``names`` more than
            once, or ``wanted`` repeats a name.
    """
    position: dict[str, int] = {}
    doubled = set()
    for i, name in enumerate(names):
        if name in position:
            doubled.add(name)
        position[name] = i
    if len(set(wanted)) != len(wanted):
        repeated = sorted({w for w in wanted if list(wanted).count(w) > 1})
        raise JointOrderError(f"{what}: the wanted order repeats {repeated}")
    missing = [w for w in wanted if w not in position]
    if missing:
        more = " ..." if len(missing) > 5 else ""
        raise JointOrderError(f"{what}: {len(missing)} joint(s) missing: {missing[:5]}{more}")
    doubled &= set(wanted)
    if doubled:
        raise JointOrderError(f"{what}: joint(s) listed more than once: {sorted(doubled)}")
    return np.array([position[w] for w in wanted], dtype=np.int64)


def reorder(values: Sequence[float] | np.ndarray, indices: np.ndarray) -> list[float]:
    """``values`` taken at ``indices`` as a list of floats; an empty ``values`` stays empty."""
    if len(values) == 0:
        return []
    return np.asarray(values, dtype=np.float64)[indices].tolist()


class JointReorder:
    """Reorder arrays from varying source name orders into one target order, caching per source order.

    Args:
        target: The names wanted, in order (e.g. the model's hinges).
        joint_map: ``{source_name: target_name}`` applied to source names first.
        what: Word used in error messages.
    """

    def __init__(self, target: Sequence[str], joint_map: Mapping[str, str] | None = None, what: str = "names") -> None:
        self.target = tuple(target)
        self.joint_map = dict(joint_map or {})
        self.what = what
        self._cache: dict[tuple[str, ...], np.ndarray] = {}

    def indices(self, source: Sequence[str]) -> np.ndarray:
        """Index into ``source`` of each target name (JointOrderError when one cannot be found)."""
        key = tuple(source)
        cached = self._cache.get(key)
        if cached is None:
            cached = gather_indices(rename(key, self.joint_map), self.target, self.what)
            if len(self._cache) < 64:  # a driver uses one or two orders; do not grow without bound
                self._cache[key] = cached
        return cached

    def __call__(self, source: Sequence[str], *arrays: Sequence[float]) -> list[list[float]]:
        """Each of ``arrays`` (aligned with ``source``; empty allowed) in the target order."""
        idx = self.indices(source)
        return [reorder(a, idx) for a in arrays]


def command_indices(model_names: Sequence[str], controller_joints: Sequence[str],
                    joint_map: Mapping[str, str] | None = None) -> np.ndarray:
    """Index into a model-order command of each controller joint (robot names, renamed by ``joint_map``).

    ``commands[idx]`` is the forward_command_controller's array. Every controller joint must be a
    model hinge; model hinges the controller does not list are not sent.

    Raises:
        JointOrderError: A controller joint that is no model hinge, or one listed twice.
    """
    renamed = rename(controller_joints, dict(joint_map or {}))
    return gather_indices(model_names, renamed, "controller_joints")


class OdomPairing:
    """Pairs a robot's odometry with the joint-state stamps, so ``states`` and ``odom`` share a stamp.

    The policy node acts on a ``states``/``odom`` pair with equal stamps (as the simulator
    publishes them). A robot's joint_state_broadcaster and its state estimator stamp independently,
    so the bridge republishes the estimator's odometry unchanged except for the stamp: the newest
    odometry is paired with the newest joint-state stamp not yet paired, whichever of the two
    arrives second; pairs whose stamps differ by more than ``max_age_s`` are refused.

    Args:
        max_age_s: Largest ``|odom stamp - states stamp|`` accepted (s).
    """

    def __init__(self, max_age_s: float = 0.1) -> None:
        if max_age_s <= 0:
            raise ValueError(f"max_age_s must be positive, got {max_age_s}")
        self.max_age_s = float(max_age_s)
        self._states_stamp: float | None = None
        self._states_tag = None
        self._odom = None
        self._odom_stamp: float | None = None

    def on_states(self, stamp: float, tag=None):
        """A new joint-state stamp (``tag``: returned with it, e.g. the message's stamp); returns
        ``(odom, tag)`` to publish, or None (see :meth:`pair`)."""
        self._states_stamp, self._states_tag = float(stamp), tag
        return self.pair()

    def on_odom(self, odom, stamp: float):
        """A new odometry message stamped ``stamp``; returns ``(odom, tag)`` to publish, or None."""
        self._odom, self._odom_stamp = odom, float(stamp)
        return self.pair()

    def pair(self):
        """``(odom, tag of the joint states)`` when a fresh odometry and an unpaired states stamp are both there.

        Raises:
            JointOrderError: The two stamps are more than ``max_age_s`` apart (both are consumed).
        """
        if self._odom is None or self._states_stamp is None:
            return None
        odom, odom_stamp, stamp, tag = self._odom, self._odom_stamp, self._states_stamp, self._states_tag
        self._odom = self._odom_stamp = self._states_stamp = self._states_tag = None
        if abs(odom_stamp - stamp) > self.max_age_s:
            raise JointOrderError(f"odometry stamped {odom_stamp:.3f} s is {abs(odom_stamp - stamp):.3f} s from the "
                                  f"joint states ({stamp:.3f} s); more than max_odom_age {self.max_age_s:g} s")
        return odom, tag

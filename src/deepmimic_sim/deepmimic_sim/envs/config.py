"""Configuration of the imitation environment: typed dataclasses hold the only defaults.

YAML files only override these; unknown keys, wrong types and values outside the ranges declared
with ``bounded`` are errors (``deepmimic_sim.typed_config``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..typed_config import ConfigError, bounded, from_dict, load_yaml_config

__all__ = ["NOISE_GROUPS", "ActionCfg", "ConfigError", "ImitationEnvCfg", "ObservationCfg", "RandomizationCfg",
           "RewardCfg", "TerminationCfg", "from_dict", "load_env_config"]

#: Observation groups that ``RandomizationCfg.observation_noise`` may name (the measured state;
#: phase and reference targets come from the clip and carry no noise).
NOISE_GROUPS = ("root_height", "body_pos", "body_quat", "body_lin_vel", "body_ang_vel")


@dataclass
class RewardCfg:
    """DeepMimic's imitation reward: ``sum_k w_k exp(-scale_k * err_k)`` (paper defaults).

    Attributes:
        pose_weight, pose_scale: Local joint rotations (rotation angle of ``q_sim * q_ref^-1``, squared, summed).
        velocity_weight, velocity_scale: Local joint angular velocities.
        end_effector_weight, end_effector_scale: Hand and foot positions relative to the root.
        com_weight, com_scale: Centre-of-mass position, world.
        root_weight, root_scale: Root pose and velocity, world (DeepMimic's released code: weight 0.2,
            scale 5; off in the paper). Without it nothing rewards staying on the reference's path.
        use_joint_weights: Weight joints by DeepMimic's ``DiffWeight`` instead of equally.
        action_rate_weight: Action-rate penalty: ``action_rate_weight * sum_i (a_i - a_i_prev)^2`` is
            subtracted from the reward (``a``: the clipped, normalised actions; 0 on an episode's
            first step), logged as ``reward/action_rate`` (the sum, unweighted). 0: off.
    """

    pose_weight: float = bounded(0.65, minimum=0.0)
    pose_scale: float = bounded(2.0, minimum=0.0)
    velocity_weight: float = bounded(0.1, minimum=0.0)
    velocity_scale: float = bounded(0.1, minimum=0.0)
    end_effector_weight: float = bounded(0.15, minimum=0.0)
    end_effector_scale: float = bounded(40.0, minimum=0.0)
    com_weight: float = bounded(0.1, minimum=0.0)
    com_scale: float = bounded(10.0, minimum=0.0)
    root_weight: float = bounded(0.0, minimum=0.0)
    root_scale: float = bounded(5.0, minimum=0.0)
    use_joint_weights: bool = False
    action_rate_weight: float = bounded(0.0, minimum=0.0)


@dataclass
class TerminationCfg:
    """When an episode ends.

    Attributes:
        fall_contact: End on ground contact of a body whose ``EnableFallContact`` is set.
        allowed_contacts: Bodies (by name) whose ground contact never ends an episode, whatever the
            character file says: DeepMimic relaxes the fall test for clips that touch the ground
            on purpose (crawl, roll, get-ups).
        no_fall_test_clips: Clips whose episodes skip the fall test when ``fall_contact`` is on: a
            multi-clip environment (a student of several teachers) whose clips need different rules,
            such as the get-ups beside the walk. Names not among the environment's clips are ignored
            (an evaluation of one clip keeps its student's list).
        max_body_distance: End when the mean body distance from the reference exceeds this (m); ``None``: off.
        episode_length_s: Time limit (a truncation, not a failure).
    """

    fall_contact: bool = True
    allowed_contacts: list[str] = field(default_factory=list)
    no_fall_test_clips: list[str] = field(default_factory=list)
    max_body_distance: float | None = bounded(None, minimum=0.0, exclusive_minimum=True)
    episode_length_s: float = bounded(20.0, minimum=0.0, exclusive_minimum=True)


@dataclass
class ObservationCfg:
    """What the policy sees (DeepMimic's 197-D state by default).

    Attributes:
        phase: Include the clip phase in ``[0, 1)``.
        future_steps: Control steps ahead at which to add reference body positions and rotations
            (MimicKit uses ``[1, 2, 3]``); empty: none.
    """

    phase: bool = True
    future_steps: list[int] = field(default_factory=list)


@dataclass
class ActionCfg:
    """How actions become PD targets: ``target = offset + scale * clip(action)``.

    Attributes:
        mode: ``"absolute"``: offset is the middle of each hinge's range and scale half the range
            (capped at ``max_scale``), DeepMimic's normalisation; ``"residual"``: offset is the
            reference pose at the next control step and scale is ``residual_scale``.
        max_scale: Cap on the absolute-mode scale, rad.
        residual_scale: Scale in residual mode, rad.
        residual_effort_scale: When > 0, the residual scale of each hinge is this times its torque
            limit over its kp (BeyondMimic's action scale, 0.25 effort / stiffness) instead of
            ``residual_scale``: a robot with soft PD gains (the G1: kp 28-99 N m/rad) needs targets
            far from the joint to carry its weight, which one scale for all joints cannot give.
        clip: Actions are clipped to ``[-clip, clip]``; NaN actions become 0 and are counted.
    """

    mode: str = bounded("absolute", choices=("absolute", "residual"))
    max_scale: float = bounded(3.14159, minimum=0.0, exclusive_minimum=True)
    residual_scale: float = bounded(0.5, minimum=0.0, exclusive_minimum=True)
    residual_effort_scale: float = bounded(0.0, minimum=0.0)
    clip: float = bounded(1.5, minimum=0.0, exclusive_minimum=True)


@dataclass
class RandomizationCfg:
    """Domain randomisation and observation noise for sim-to-real transfer (``envs/randomization.py``).

    Off unless ``enabled``; each range is ``[low, high]`` (uniform) or ``None`` (not randomised).
    Every environment draws its physics and delay again at each reset.

    Attributes:
        enabled: Master switch. ``deepmimic eval`` evaluates with it off unless ``--randomize``.
        friction: Scale of every geom's sliding friction (the floor's too, so the contact's
            friction, the larger of the two, scales the same). One draw per environment.
        mass: Scale of each link's mass and inertia, one draw per link.
        kp: Scale of each position actuator's stiffness, one draw per actuator.
        kd: Scale of each position actuator's damping, one draw per actuator.
        action_delay: Control steps ``[min, max]`` between a policy's targets and the physics
            (drawn per environment, integers).
        observation_noise: Half-width of uniform noise added to each observation group, in the
            group's units (``NOISE_GROUPS``: m, quaternion components, m/s, rad/s).
        pool_size: Randomised physics models kept; each environment takes one of them at random
            at every reset (a model copy per environment would cost about 0.9 MB each).
        seed: Seed of the randomisation's own random numbers (apart from the initial states'),
            combined with the environment's ``seed``.
    """

    enabled: bool = False
    friction: list[float] | None = bounded(None, minimum=0.0, pair=True)
    mass: list[float] | None = bounded(None, minimum=0.0, pair=True)
    kp: list[float] | None = bounded(None, minimum=0.0, pair=True)
    kd: list[float] | None = bounded(None, minimum=0.0, pair=True)
    action_delay: list[int] | None = bounded(None, minimum=0, maximum=10, pair=True)
    observation_noise: dict[str, float] | None = bounded(None, minimum=0.0, keys=NOISE_GROUPS)
    pool_size: int = bounded(32, minimum=1)
    seed: int = 1


@dataclass
class TransitionCfg:
    """Episodes that begin with a clip switch, as the deploy graph's reference node makes one.

    At a switch the reference node starts the new clip from its beginning, anchored where the
    character is, while the character is still in the old clip's motion. With ``fraction`` > 0, that
    share of the episodes whose clip is one of ``clips`` starts so: the character in the state of
    another of ``clips`` at a random time, turned and moved onto the episode clip's start (root
    position on the ground and heading; its height and tilt stay), and the episode clip from time 0.

    Attributes:
        fraction: Share of eligible episode starts that are transitions (0: none, DeepMimic's RSI only).
        clips: Clips switched between (at least two of ``motions``): clips a robot can be switched
            out of at any moment, such as walk, jog and run (not a get-up, lying for most of its clip).
        max_body_distance: The drift test of a transition episode (m), instead of
            ``termination.max_body_distance``: the new clip starts at its own speed (run: 3.6 m/s)
            while the character still moves at the old one's (walk: 1 m/s), so the reference gets
            metres ahead before the character has changed gait; ``None``: no drift test in them.
        blend_s: Seconds over which the reference cross-fades from the old clip (going on from the
            state the character started in) into the new one, as the policy node's ``switch_blend``
            does (``deepmimic_sim.reference.ClipBlend``); 0: the new clip at once. A residual policy
            commands targets within ``action.residual_scale x action.clip`` of the reference pose,
            and at a switch a third of the hinges are farther than that from the new clip's pose.
    """

    fraction: float = bounded(0.0, minimum=0.0, maximum=1.0)
    clips: list[str] = field(default_factory=list)
    max_body_distance: float | None = bounded(3.0, minimum=0.0, exclusive_minimum=True)
    blend_s: float = bounded(0.0, minimum=0.0)


@dataclass
class ImitationEnvCfg:
    """The whole environment.

    Attributes:
        character: DeepMimic character name.
        motions: Clip names or paths (bundled names such as ``walk``); several clips are sampled
            uniformly unless ``motion_weights`` is given.
        motion_weights: Sampling weight per clip, or ``None``.
        num_envs: Environments stepped together.
        backend: Physics backend name (``mujoco``).
        substeps: Physics steps per control step (300 Hz physics / 10 = 30 Hz control).
        device: Torch device for observations and rewards.
        seed: Seed of the environment's random numbers (initial states).
        reward, termination, observation, action, randomization, transitions: See their classes.
    """

    character: str = "humanoid3d"
    motions: list[str] = field(default_factory=lambda: ["walk"])
    motion_weights: list[float] | None = None
    num_envs: int = bounded(16, minimum=1)
    backend: str = "mujoco"
    substeps: int = bounded(10, minimum=1)
    device: str = "cpu"
    seed: int = 0
    reward: RewardCfg = field(default_factory=RewardCfg)
    termination: TerminationCfg = field(default_factory=TerminationCfg)
    observation: ObservationCfg = field(default_factory=ObservationCfg)
    action: ActionCfg = field(default_factory=ActionCfg)
    randomization: RandomizationCfg = field(default_factory=RandomizationCfg)
    transitions: TransitionCfg = field(default_factory=TransitionCfg)


def load_env_config(path: str | Path) -> ImitationEnvCfg:
    """The ``env`` section of an experiment YAML, after its ``base:`` file (as ``load_experiment`` reads it).

    For processes that build only the environment (the simulator node in train mode).

    Raises:
        ConfigError: One line naming the file, line, key, value and what is allowed.
    """
    return load_yaml_config(ImitationEnvCfg, path, section="env")

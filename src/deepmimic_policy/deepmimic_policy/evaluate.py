"""Evaluation of a trained policy: tracking metrics over a batch of rollouts, and a video of one.

Protocol (``evaluate_checkpoint``):

- The environment is the checkpoint's own (``experiment.env``) with ``num_envs``, ``seed``, the time
  limit (``seconds``) and optionally the clip overridden, ``auto_reset=False`` and tracking recorded.
- Every environment runs ONE rollout of ``seconds`` from a reference-state start: the clip time is
  drawn by the environment's generator, seeded with ``seed``, so the starts are spread over the clip
  and the same seed gives the same starts. A non-looping clip may end a rollout earlier (a
  truncation, not a failure).
- The policy acts deterministically (the mean action).
- Early termination (a fall, drifting from the reference, a diverged simulation) ends that
  environment's rollout as a survival failure at that step. Nothing is reset: the batch keeps
  stepping, and the finished environment is masked out, so its metrics freeze at the step that ended it
  (that step still counts).
- Means (errors, reward) are over alive env-steps. ``survival`` is the share of rollouts that never
  terminate; ``mean_survival_time_s`` the mean time until termination or the end of the rollout;
  ``success_rate`` the share that survive and whose MPJPE (global) never exceeds 0.5 m.
- Clips that do not loop (get-ups, for example) are evaluated over the whole clip: every rollout
  starts at the clip's first frame and lasts until the clip's end (or ``seconds``, if shorter), and
  success means reaching the end on track; the metrics say so (``success_criterion``,
  ``reached_clip_end``) instead of calling it survival over ``seconds``.

The arithmetic is in ``summarise`` (pure, tested on hand-made numbers); the stepping in ``run_rollout``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from deepmimic_sim.envs import ImitationEnv
from deepmimic_sim.envs.config import ImitationEnvCfg

from .checkpoint import CheckpointError
from .policy import Policy

FAIL_MPJPE_M = 0.5  # a rollout whose mean body-position error exceeds this (m) has failed
VIDEO_FPS = 30.0
TRACKING_KEYS = ("joint_rotation_error_rad", "mpjpe_global_m", "mpjpe_root_relative_m", "root_position_error_m")
StepCallback = Callable[[int, dict[str, torch.Tensor]], None]


# ----------------------------------------------------------------------------------- the arithmetic
def alive_masks(done: torch.Tensor) -> torch.Tensor:
    """Which env-steps count, from when rollouts ended.

    Args:
        done: ``done[t, n]``: environment ``n``'s rollout ended at step ``t``. Shape: ``(T, N)``.

    Returns:
        ``alive[t, n]``: the rollout had not ended before step ``t`` (the ending step counts). Shape: ``(T, N)``.
    """
    done = done.bool().int()
    return (torch.cumsum(done, dim=0) - done) == 0


def summarise(tracking: dict[str, torch.Tensor], alive: torch.Tensor, terminated: torch.Tensor,
              reward: torch.Tensor, control_dt: float, fail_mpjpe_m: float = FAIL_MPJPE_M) -> dict[str, float]:
    """Evaluation metrics of a batch of rollouts.

    Args:
        tracking: ``ImitationEnv.tracking_errors`` per step (``TRACKING_KEYS``, metres and radians). Each ``(T, N)``.
        alive: Env-steps that count (see ``alive_masks``). Shape: ``(T, N)``.
        terminated: Early terminations (only alive ones count). Shape: ``(T, N)``.
        reward: Reward per env-step. Shape: ``(T, N)``.
        control_dt: Seconds per step.
        fail_mpjpe_m: MPJPE (global) above which a rollout has failed.

    Returns:
        Means over alive env-steps (MPJPE in mm), ``survival``, ``mean_survival_time_s``, ``success_rate``,
        ``reward_per_step``, ``env_steps`` and ``rollouts``.
    """
    alive = alive.bool()
    weight = alive.double()
    steps = float(weight.sum())

    def mean(values: torch.Tensor) -> float:
        return float((values.double() * weight).sum()) / max(steps, 1.0)

    survived = ~(terminated.bool() & alive).any(dim=0)
    off_track = ((tracking["mpjpe_global_m"] > fail_mpjpe_m) & alive).any(dim=0)
    return {
        "joint_rotation_error_rad": mean(tracking["joint_rotation_error_rad"]),
        "mpjpe_global_mm": 1000.0 * mean(tracking["mpjpe_global_m"]),
        "mpjpe_root_relative_mm": 1000.0 * mean(tracking["mpjpe_root_relative_m"]),
        "root_position_error_m": mean(tracking["root_position_error_m"]),
        "survival": float(survived.double().mean()),
        "mean_survival_time_s": float(weight.sum(dim=0).mean()) * control_dt,
        "success_rate": float((survived & ~off_track).double().mean()),
        "reward_per_step": mean(reward),
        "env_steps": int(steps),
        "rollouts": int(alive.shape[1]),
    }


# ------------------------------------------------------------------------------------- the rollout
@dataclass
class Rollout:
    """What ``run_rollout`` recorded.

    Attributes:
        tracking: Tracking errors per step. Each: ``(T, N)``.
        alive: Env-steps that count. Shape: ``(T, N)``.
        terminated: Early terminations. Shape: ``(T, N)``.
        reward: Rewards. Shape: ``(T, N)``.
        control_dt: Seconds per step.
        qpos, ref_qpos: Model ``qpos`` of the recorded environment and of its reference, from the start
            to the end of its rollout (``None`` when none was recorded). Shape: ``(T0 + 1, nq)``.
    """

    tracking: dict[str, torch.Tensor]
    alive: torch.Tensor
    terminated: torch.Tensor
    reward: torch.Tensor
    control_dt: float
    qpos: np.ndarray | None = None
    ref_qpos: np.ndarray | None = None
    termination_causes: dict[str, int] | None = None

    def summary(self, fail_mpjpe_m: float = FAIL_MPJPE_M) -> dict[str, Any]:
        """``summarise`` of this rollout, plus how many rollouts each termination test ended."""
        out: dict[str, Any] = summarise(self.tracking, self.alive, self.terminated, self.reward, self.control_dt,
                                        fail_mpjpe_m)
        if self.termination_causes is not None:
            out["terminations_by_cause"] = dict(self.termination_causes)
        return out


def make_eval_env(cfg: ImitationEnvCfg, seconds: float, num_envs: int, seed: int = 0,
                  motion: str | list[str] | None = None, device: str = "cpu",
                  backend: str | None = None, randomize: bool = False) -> ImitationEnv:
    """The evaluation environment: ``cfg`` with the overrides of the protocol, no automatic resets.

    Args:
        cfg: The training environment (a copy is changed, not ``cfg``).
        seconds: Rollout length (the time limit).
        num_envs: Rollouts run together.
        seed: Seed of the initial states.
        motion: Clip name(s) or path(s) to evaluate on instead of the training clips.
        device: Torch device of the environment.
        backend: Physics backend instead of the training one (e.g. ``mujoco`` for a policy trained on
            ``mujoco_warp``: the CPU reference physics).
        randomize: Evaluate with the training's domain randomisation and observation noise
            (``env.randomization``); off by default whatever the training used (nominal physics).

    Raises:
        ValueError: ``randomize`` for an experiment that configures no randomisation.

    Clips that do not loop start at their first frame (see the module docstring).
    """
    if seconds <= 0 or num_envs < 1:
        raise ValueError(f"seconds must be positive and num_envs at least 1, got {seconds} and {num_envs}")
    cfg = replace(cfg, num_envs=num_envs, seed=seed, device=device,
                  termination=replace(cfg.termination, episode_length_s=float(seconds)),
                  transitions=replace(cfg.transitions, fraction=0.0))  # each clip from its own states
    if motion is not None:
        cfg = replace(cfg, motions=[motion] if isinstance(motion, str) else list(motion), motion_weights=None)
    if backend is not None:
        cfg = replace(cfg, backend=backend)
    if randomize and not randomization_configured(cfg):
        raise ValueError("--randomize: the policy's experiment configures no randomisation (env.randomization: "
                         "friction, mass, kp, kd, action_delay or observation_noise)")
    cfg = replace(cfg, randomization=replace(cfg.randomization, enabled=bool(randomize)))
    env = ImitationEnv(cfg, auto_reset=False)
    if not bool(env.motion_lib.loop_wrap.any()):  # whole-clip evaluation from the first frame
        env.reset(times=torch.zeros(num_envs))
    env.record_tracking = True
    return env


def randomization_configured(cfg: ImitationEnvCfg) -> bool:
    """Whether ``cfg.randomization`` names anything to randomise (whether or not it is enabled)."""
    r = cfg.randomization
    return any(v is not None for v in (r.friction, r.mass, r.kp, r.kd, r.action_delay)) or any(
        (r.observation_noise or {}).values())


def success_criterion(env: ImitationEnv, seconds: float) -> dict[str, Any]:
    """What a successful rollout means in ``env``: surviving ``seconds``, or reaching the clip's end."""
    if bool(env.motion_lib.loop_wrap.any()):
        return {"success_criterion": f"survive {seconds:g} s on track (global MPJPE <= {FAIL_MPJPE_M} m)"}
    clip_s = float(np.max(env.motion_lib.durations))
    return {"success_criterion": f"reach the end of the clip ({min(clip_s, seconds):.2f} s) on track "
                                 f"(global MPJPE <= {FAIL_MPJPE_M} m)", "clip_seconds": clip_s}


def _qpos_pair(env: ImitationEnv, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Simulated and reference ``qpos`` of environment ``index`` now."""
    ref = env.reference()
    ref_qpos = env.mapping.qpos(ref.root_pos[index], ref.root_quat[index], ref.local_quat[index])
    # The backend's getters are live views of its state: copy, or every recorded frame is the last one.
    return env.backend.qpos[index].double().cpu().numpy().copy(), ref_qpos.double().cpu().numpy().copy()


def run_rollout(policy: Policy, env: ImitationEnv, record_env: int | None = 0,
                on_step: StepCallback | None = None) -> Rollout:
    """One rollout of every environment from its current (reset) state until each has ended.

    Args:
        policy: Deterministic policy.
        env: An environment from ``make_eval_env`` (no automatic resets, tracking recorded).
        record_env: Environment whose poses (and reference poses) to record for a video; ``None``: none.
        on_step: Called after every step with the step index and ``reward``, ``alive``, ``terminated`` and
            the tracking errors (each ``(N,)``).
    """
    if policy.env_obs_dim != env.num_obs or policy.num_actions != env.num_actions:
        raise CheckpointError(f"{policy.path}: the policy reads {policy.env_obs_dim} observations and gives "
                              f"{policy.num_actions} actions, but its environment gives {env.num_obs} observations "
                              f"and takes {env.num_actions} actions (a checkpoint of another observation layout?)")
    ended = torch.zeros(env.num_envs, dtype=torch.bool, device=env.device)
    steps: list[dict[str, torch.Tensor]] = []
    poses = [_qpos_pair(env, record_env)] if record_env is not None else []
    for t in range(max(1, env.max_episode_steps)):
        _, reward, terminated, truncated, info = env.step(policy.act(policy.observation(env.obs, env.motion_ids)))
        step = {"reward": reward, "alive": ~ended, "terminated": terminated & ~ended, **info["tracking"],
                **{f"cause/{k}": v & terminated & ~ended for k, v in info["termination_causes"].items()}}
        steps.append(step)
        if record_env is not None and not ended[record_env]:
            poses.append(_qpos_pair(env, record_env))
        if on_step is not None:
            on_step(t, step)
        ended = ended | terminated | truncated
        if bool(ended.all()):
            break
    stacked = {key: torch.stack([s[key] for s in steps]) for key in steps[0]}
    qpos, ref_qpos = (np.stack([p[i] for p in poses]) if poses else None for i in (0, 1))
    causes = {k.removeprefix("cause/"): int(v.any(dim=0).sum()) for k, v in stacked.items() if k.startswith("cause/")}
    return Rollout({k: stacked[k] for k in TRACKING_KEYS}, stacked["alive"], stacked["terminated"],
                   stacked["reward"], env.control_dt, qpos, ref_qpos, causes)


# ---------------------------------------------------------------------------------------- video
def frame_indices(num_states: int, control_dt: float, fps: float = VIDEO_FPS) -> np.ndarray:
    """Indices of the recorded states (one per control step, from time 0) nearest to video frames at ``fps``."""
    duration = (num_states - 1) * control_dt
    frames = int(np.floor(duration * fps + 1e-6)) + 1
    return np.minimum(np.round(np.arange(frames) / fps / control_dt).astype(int), num_states - 1)


def write_rollout_video(rollout: Rollout, path: str | Path, character: str, layout: str = "side-by-side",
                        fps: float = VIDEO_FPS, width: int = 640, height: int = 360) -> Path:
    """Render the recorded environment beside (or overlaid on) its reference ghost to ``path``.

    Raises:
        GLUnavailableError: No offscreen OpenGL here.
    """
    from deepmimic_sim.render import ClipRenderer, write_video

    if rollout.qpos is None or rollout.ref_qpos is None:
        raise ValueError("the rollout recorded no poses (record_env=None)")
    index = frame_indices(len(rollout.qpos), rollout.control_dt, fps)
    with ClipRenderer(character, width, height) as renderer:
        if layout == "side-by-side":
            renderer.ref_offset = renderer.side_by_side_offset()
        elif layout != "overlay":
            raise ValueError(f"layout must be 'overlay' or 'side-by-side', got {layout!r}")
        frames = renderer.render_frames(rollout.qpos[index], rollout.ref_qpos[index])
    return write_video(frames, path, fps)


def _try_video(rollout: Rollout, path: Path, character: str) -> tuple[Path | None, str | None]:
    """The video, or ``None`` and why it was skipped (no OpenGL)."""
    from deepmimic_sim.render import GLUnavailableError

    try:
        return write_rollout_video(rollout, path, character), None
    except GLUnavailableError as err:
        return None, f"skipped: {err}"


# ----------------------------------------------------------------------------------- entry points
def default_out_dir(checkpoint: str | Path) -> Path:
    """``<checkpoint folder>/eval_<checkpoint name>``."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent / f"eval_{checkpoint.stem}"


def evaluate_checkpoint(checkpoint: str | Path, seconds: float = 20.0, num_envs: int = 32,
                        out_dir: str | Path | None = None, video: bool = True, seed: int = 0,
                        motion: str | list[str] | None = None, device: str = "cpu",
                        backend: str | None = None, randomize: bool = False) -> dict[str, Any]:
    """Evaluate a checkpoint's policy (see the module docstring for the protocol).

    Args:
        checkpoint: ``model_<iteration>.pt``.
        seconds: Length of every rollout.
        num_envs: Rollouts (run as one batch).
        out_dir: Where ``metrics.json`` and ``rollout.mp4`` go (default ``default_out_dir``).
        video: Render environment 0 beside its reference at 30 fps (skipped, with a note, without OpenGL).
        seed: Seed of the initial states.
        motion: Clip(s) to evaluate on instead of the training clips.
        device: Torch device.
        backend: Physics backend instead of the checkpoint's (``mujoco``, ``mujoco_warp``).
        randomize: With the training's domain randomisation (``make_eval_env``); recorded in the
            metrics as ``randomized`` (and the settings as ``randomization``).

    Returns:
        ``{"metrics": dict, "metrics_path": Path, "video_path": Path | None}``.

    Raises:
        CheckpointError: Missing, damaged or foreign checkpoint.
    """
    policy = Policy.load(checkpoint, device)
    env = make_eval_env(policy.experiment.env, seconds, num_envs, seed, motion, device, backend, randomize)
    policy.bind_motions(list(env.cfg.motions))
    rollout = run_rollout(policy, env, record_env=0 if video else None)
    out = Path(out_dir) if out_dir is not None else default_out_dir(checkpoint)
    out.mkdir(parents=True, exist_ok=True)
    metrics: dict[str, Any] = {
        "checkpoint": str(checkpoint), "iteration": policy.iteration, "samples_trained": policy.samples,
        "clips": list(env.cfg.motions), "character": env.cfg.character, "seconds": float(seconds),
        "seed": seed, "control_dt_s": env.control_dt, "success_mpjpe_threshold_m": FAIL_MPJPE_M,
        "backend": env.cfg.backend, "randomized": bool(randomize), **success_criterion(env, seconds),
        **rollout.summary(),
    }
    if randomize:
        metrics["randomization"] = asdict(env.cfg.randomization)
    if "clip_seconds" in metrics:  # non-looping: survival means reaching the clip's end
        metrics["reached_clip_end"] = metrics.pop("survival")
    video_path, note = _try_video(rollout, out / "rollout.mp4", env.cfg.character) if video else (None, "disabled")
    metrics["video"] = str(video_path) if video_path else None
    if note:
        metrics["video_note"] = note
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    return {"metrics": metrics, "metrics_path": metrics_path, "video_path": video_path}


class PerSecond:
    """Averages one environment's step figures over each second of simulated time (for live printing).

    Args:
        control_dt: Seconds per step.
        emit: Called with ``{"time_s", "reward", "joint_rotation_error_rad", "mpjpe_global_mm",
            "root_position_error_m", "status"}`` at the end of every second and of the rollout.
        env_index: The environment followed.
    """

    def __init__(self, control_dt: float, emit: Callable[[dict[str, Any]], None], env_index: int = 0) -> None:
        self.control_dt, self.emit, self.env_index = control_dt, emit, env_index
        self.steps_per_second = max(1, round(1.0 / control_dt))
        self._sums: dict[str, float] = {}
        self._count, self._fell, self._done = 0, False, False

    def __call__(self, t: int, step: dict[str, torch.Tensor]) -> None:
        """Take step ``t`` (a ``run_rollout`` callback)."""
        i = self.env_index
        if self._done or not bool(step["alive"][i]):
            return
        for key in ("reward", *TRACKING_KEYS):
            self._sums[key] = self._sums.get(key, 0.0) + float(step[key][i])
        self._count += 1
        self._fell = bool(step["terminated"][i])
        if self._fell or (t + 1) % self.steps_per_second == 0:
            self._flush(t)
        self._done = self._fell

    def _flush(self, t: int) -> None:
        n = max(self._count, 1)
        self.emit({"time_s": (t + 1) * self.control_dt, "reward": self._sums["reward"] / n,
                   "joint_rotation_error_rad": self._sums["joint_rotation_error_rad"] / n,
                   "mpjpe_global_mm": 1000.0 * self._sums["mpjpe_global_m"] / n,
                   "root_position_error_m": self._sums["root_position_error_m"] / n,
                   "status": "terminated" if self._fell else "ok"})
        self._sums, self._count = {}, 0

    def finish(self, t: int) -> None:
        """Emit the part-second left at the end of the rollout (step ``t`` was the last)."""
        if self._count and not self._done:
            self._flush(t)


def play_checkpoint(checkpoint: str | Path, seconds: float = 10.0, out: str | Path | None = None,
                    render: bool = True, seed: int = 0, motion: str | list[str] | None = None,
                    on_second: Callable[[dict[str, Any]], None] | None = None,
                    layout: str = "side-by-side") -> dict[str, Any]:
    """One rollout of one environment: a video beside the reference and/or per-second live figures.

    Args:
        checkpoint: ``model_<iteration>.pt``.
        seconds: Rollout length (it ends earlier on early termination).
        out: Video file (``.mp4`` or ``.gif``) when ``render``.
        render: Render the video (needs OpenGL).
        seed: Seed of the initial state.
        motion: Clip to play instead of the training clip.
        on_second: Called with each second's mean figures (see ``PerSecond``).
        layout: ``"side-by-side"`` or ``"overlay"``.

    Returns:
        ``{"metrics": summarise of the rollout, "video_path": Path | None}``.

    Raises:
        CheckpointError: Bad checkpoint. GLUnavailableError: ``render`` without OpenGL.
    """
    policy = Policy.load(checkpoint)
    env = make_eval_env(policy.experiment.env, seconds, 1, seed, motion)
    policy.bind_motions(list(env.cfg.motions))
    live = PerSecond(env.control_dt, on_second) if on_second is not None else None
    rollout = run_rollout(policy, env, record_env=0 if render else None, on_step=live)
    if live is not None:
        live.finish(len(rollout.reward) - 1)
    video_path = None
    if render:
        out = Path(out) if out is not None else Path("runs") / "play.mp4"
        video_path = write_rollout_video(rollout, out, env.cfg.character, layout)
    return {"metrics": rollout.summary(), "video_path": video_path}

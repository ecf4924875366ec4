"""``deepmimic eval`` (tracking metrics of a checkpoint) and ``deepmimic play`` (one rollout, video or live figures).

Both are registered here; torch, MuJoCo and the policy package are imported only in the handlers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from deepmimic.arg_types import non_negative_int, positive_float, positive_int

# (metrics key, label, format) of the eval table.
TABLE = (
    ("joint_rotation_error_rad", "joint rotation error", "{:.4f} rad"),
    ("mpjpe_global_mm", "MPJPE (global)", "{:.1f} mm"),
    ("mpjpe_root_relative_mm", "MPJPE (root-relative)", "{:.1f} mm"),
    ("root_position_error_m", "root position error", "{:.3f} m"),
    ("survival", "survival", "{:.1%}"),
    ("reached_clip_end", "reached the clip's end", "{:.1%}"),
    ("mean_survival_time_s", "mean survival time", "{:.2f} s"),
    ("success_rate", "success rate", "{:.1%}"),
    ("reward_per_step", "reward per step", "{:.4f}"),
    ("env_steps", "env-steps", "{:d}"),
    ("rollouts", "rollouts", "{:d}"),
    ("clips", "clip(s)", "{}"),
    ("iteration", "iteration", "{:d}"),
    ("samples_trained", "samples trained", "{:,d}"),
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``eval``, ``play`` and ``export``."""
    _add_eval(subparsers)
    _add_play(subparsers)
    _add_export(subparsers)


def _add_eval(subparsers: argparse._SubParsersAction) -> None:
    ev = subparsers.add_parser("eval", help="tracking metrics of a trained policy over a batch of rollouts",
                               description="Run one deterministic rollout per environment from reference-state "
                                           "starts and report tracking errors, survival and success; writes "
                                           "metrics.json and a video of environment 0 beside its reference.")
    ev.add_argument("checkpoint", help="checkpoint file (runs/<name>/model_<iteration>.pt)")
    ev.add_argument("--seconds", type=positive_float, default=20.0, help="length of every rollout (default: 20)")
    ev.add_argument("--num-envs", type=positive_int, default=32, help="rollouts (default: 32)")
    ev.add_argument("--out", help="output folder (default: <checkpoint folder>/eval_<checkpoint name>)")
    ev.add_argument("--no-video", action="store_true", help="skip the video")
    ev.add_argument("--seed", type=non_negative_int, default=0, help="seed of the initial states (default: 0)")
    ev.add_argument("--motion", help="evaluate on this clip instead of the training clip(s)")
    ev.add_argument("--backend", choices=("mujoco", "mujoco_warp"),
                    help="physics backend instead of the checkpoint's (e.g. mujoco for a policy trained on the GPU)")
    ev.add_argument("--randomize", action="store_true",
                    help="evaluate with the training's domain randomisation and observation noise "
                         "(env.randomization; default: nominal physics): the sim-to-sim robustness check")
    ev.set_defaults(handler=run_eval)


def _add_play(subparsers: argparse._SubParsersAction) -> None:
    play = subparsers.add_parser("play", help="one rollout of a trained policy to a video, or live figures",
                                 description="Run one deterministic rollout and render it beside the reference "
                                             "(or, with --no-render, print per-second figures).")
    play.add_argument("checkpoint", help="checkpoint file (runs/<name>/model_<iteration>.pt)")
    play.add_argument("--seconds", type=positive_float, default=10.0, help="rollout length (default: 10)")
    play.add_argument("--out", default="runs/play.mp4", help="video file, .mp4 or .gif (default: runs/play.mp4)")
    play.add_argument("--no-render", action="store_true", help="print per-second figures instead of rendering")
    play.add_argument("--seed", type=non_negative_int, default=0, help="seed of the initial state (default: 0)")
    play.add_argument("--motion", help="play this clip instead of the training clip")
    play.add_argument("--overlay", action="store_true", help="draw the reference on the character, not beside it")
    play.set_defaults(handler=run_play)


def _check(args: argparse.Namespace) -> None:
    from deepmimic.cli import CommandError

    if not Path(args.checkpoint).is_file():
        raise CommandError(f"no such checkpoint file: {args.checkpoint}")


def format_table(metrics: dict[str, Any]) -> str:
    """The eval metrics as aligned ``label  value`` lines."""
    rows = []
    for key, label, fmt in TABLE:
        if key in metrics:
            value = ", ".join(metrics[key]) if isinstance(metrics[key], list) else metrics[key]
            rows.append((label, fmt.format(value)))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate, print the table and where the files went."""
    _check(args)
    from deepmimic_policy.evaluate import evaluate_checkpoint, randomization_configured
    from deepmimic_policy.policy import Policy

    from deepmimic.cli import CommandError

    if args.randomize and not randomization_configured(Policy.load(args.checkpoint).experiment.env):
        raise CommandError(f"--randomize: {args.checkpoint} was trained without env.randomization settings "
                           "(friction, mass, kp, kd, action_delay, observation_noise): nothing to randomise")
    result = evaluate_checkpoint(args.checkpoint, seconds=args.seconds, num_envs=args.num_envs, out_dir=args.out,
                                 video=not args.no_video, seed=args.seed, motion=args.motion, backend=args.backend,
                                 randomize=args.randomize)
    metrics = result["metrics"]
    physics = "randomised physics" if metrics["randomized"] else "nominal physics"
    print(f"{args.checkpoint}: {metrics['rollouts']} rollouts of {args.seconds:g} s, {physics}")
    print(format_table(metrics))
    print(f"success means: {metrics['success_criterion']}")
    causes = metrics.get("terminations_by_cause") or {}
    if any(causes.values()):
        print("early terminations: " + ", ".join(f"{name} {count}" for name, count in causes.items()))
    print(f"metrics: {result['metrics_path']}")
    video = result["video_path"] or f"none ({metrics.get('video_note', 'disabled')})"
    print(f"video:   {video}")
    return 0


def _print_second(row: dict[str, Any]) -> None:
    print(f"t={row['time_s']:5.1f} s  reward {row['reward']:.3f}  rot err {row['joint_rotation_error_rad']:.3f} rad  "
          f"MPJPE {row['mpjpe_global_mm']:6.1f} mm  root {row['root_position_error_m']:.3f} m  {row['status']}",
          flush=True)


def run_play(args: argparse.Namespace) -> int:
    """Play one rollout; print per-second figures live with ``--no-render``, else write the video."""
    from deepmimic.cli import CommandError

    _check(args)
    out = Path(args.out)
    if not args.no_render and out.suffix.lower() not in (".mp4", ".gif"):
        raise CommandError(f"--out must end in .mp4 or .gif, got '{out.name}'")
    from deepmimic_policy.evaluate import play_checkpoint
    from deepmimic_sim.render import GLUnavailableError

    try:
        result = play_checkpoint(args.checkpoint, seconds=args.seconds, out=out, render=not args.no_render,
                                 seed=args.seed, motion=args.motion,
                                 on_second=_print_second if args.no_render else None,
                                 layout="overlay" if args.overlay else "side-by-side")
    except GLUnavailableError as err:
        raise CommandError(f"{err} (or use --no-render)") from None
    m = result["metrics"]
    outcome = "survived" if m["survival"] == 1.0 else "terminated early"
    print(f"{outcome} after {m['mean_survival_time_s']:.2f} s: rot err {m['joint_rotation_error_rad']:.3f} rad, "
          f"MPJPE {m['mpjpe_global_mm']:.1f} mm, reward/step {m['reward_per_step']:.3f}")
    if result["video_path"]:
        print(f"wrote {result['video_path']}")
    return 0


def _add_export(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser("export", help="write a small policy-only checkpoint (no critic or optimiser)")
    export.add_argument("checkpoint", help="training checkpoint")
    export.add_argument("out", help="output file (e.g. policies/humanoid3d_walk.pt, or .onnx with --onnx)")
    export.add_argument("--onnx", action="store_true",
                        help="write the deterministic actor as ONNX (input 'obs', output 'actions') instead")
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Strip a checkpoint down to what running the policy needs (or export its actor to ONNX)."""
    if args.onnx:
        from deepmimic_policy.onnx_export import export_onnx

        out = export_onnx(args.checkpoint, args.out)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
        return 0
    from deepmimic_policy.checkpoint import export_policy

    out = export_policy(args.checkpoint, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0

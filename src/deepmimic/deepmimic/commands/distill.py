"""``deepmimic distill``: behaviour cloning or DAgger of one or several teacher checkpoints into a student.

torch, MuJoCo and the policy package are imported only in the handler.
"""

from __future__ import annotations

import argparse
from typing import Any

# (metrics key, label, format) of the teacher/student table.
COLUMNS = (
    ("joint_rotation_error_rad", "rot err rad", "{:.4f}"),
    ("mpjpe_global_mm", "MPJPE mm", "{:.1f}"),
    ("root_position_error_m", "root err m", "{:.3f}"),
    ("survival", "survival", "{:.0%}"),
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``distill``."""
    p = subparsers.add_parser(
        "distill", help="distil teacher policies into one student (behaviour cloning or DAgger)",
        description="Record the teachers' deterministic actions in the environment and train a student to "
                    "reproduce them. Several single-clip teachers give one student conditioned on the clip "
                    "(a one-hot appended to the observation). Writes <out>/model_<rounds>.pt and "
                    "<out>/distillation.json, and prints each clip's tracking errors for teacher and student.")
    p.add_argument("--teachers", nargs="+", required=True, metavar="CKPT", help="teacher checkpoints (one per clip)")
    p.add_argument("--out", required=True, help="output folder of the student (runs/student)")
    p.add_argument("--method", choices=("bc", "dagger"), default="dagger", help="default: dagger")
    p.add_argument("--steps", type=int, default=1000,
                   help="control steps of the batched environment recorded in all (samples = steps x num-envs)")
    p.add_argument("--num-envs", type=int, default=64, help="environments while recording (default: 64)")
    p.add_argument("--rounds", type=int, default=5, help="DAgger rounds (default: 5)")
    p.add_argument("--beta-decay", type=float, default=0.5, help="DAgger teacher probability beta_i = decay^i")
    p.add_argument("--epochs", type=int, default=10, help="passes over the dataset per round (default: 10)")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-seconds", type=float, default=10.0,
                   help="rollout length of the teacher/student comparison (0: skip)")
    p.add_argument("--eval-envs", type=int, default=16, help="rollouts per clip in the comparison")
    p.set_defaults(handler=run_distill)


def _table(tracking: dict[str, dict[str, dict[str, Any]]]) -> str:
    header = f"{'clip':<16}{'policy':<9}" + "".join(f"{label:>13}" for _, label, _ in COLUMNS)
    lines = [header]
    for clip, pair in tracking.items():
        for name, metrics in pair.items():
            cells = "".join(f"{fmt.format(metrics[key]):>13}" for key, _, fmt in COLUMNS)
            lines.append(f"{clip:<16}{name:<9}{cells}")
    return "\n".join(lines)


def run_distill(args: argparse.Namespace) -> int:
    """Distil, save the student and print the rounds and the tracking comparison."""
    from deepmimic_policy.checkpoint import CheckpointError
    from deepmimic_policy.distillation import DistillCfg, distill
    from deepmimic_sim.typed_config import override

    from deepmimic.cli import CommandError

    flags = {"steps": "--steps", "num_envs": "--num-envs", "rounds": "--rounds", "beta_decay": "--beta-decay",
             "epochs": "--epochs", "batch_size": "--batch-size", "learning_rate": "--lr", "seed": "--seed",
             "eval_seconds": "--eval-seconds", "eval_envs": "--eval-envs"}
    cfg = DistillCfg(method=args.method)
    for key, flag in flags.items():  # each value checked against DistillCfg's declared type and range
        value = getattr(args, "lr" if key == "learning_rate" else key)
        cfg = override(cfg, {key: 1 if key == "rounds" and args.method == "bc" else value}, where=flag)
    try:
        report = distill(args.teachers, args.out, cfg)
    except (CheckpointError, ValueError) as err:
        raise CommandError(str(err)) from None
    for record in report["rounds"]:
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
    if "tracking" in report:
        print(_table(report["tracking"]))
    print(f"student {report['checkpoint']} ({args.method}, clips {report['clips']})")
    return 0

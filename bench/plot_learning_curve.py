"""Learning curve of a training run from its history.jsonl: episode length, tracking error and
reward against samples and wall-clock. Writes a PNG and a JSON summary of milestones.

    python bench/plot_learning_curve.py runs/walk_cpu --out docs/figures/walk_learning_curve.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load_history(run_dir: Path) -> list[dict]:
    """The run's per-iteration records."""
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines() if line.strip()]


def smooth(values: list[float], window: int = 10) -> list[float]:
    """Trailing mean over ``window`` iterations."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def milestones(rows: list[dict], max_episode_s: float) -> dict:
    """Samples and wall-clock when the smoothed episode length and joint error first cross thresholds."""
    ep = smooth([r.get("episode_length_s", 0.0) for r in rows])
    err = smooth([r.get("joint_rotation_error_rad", 1.0) for r in rows])
    out = {}
    for frac in (0.25, 0.5, 0.9):
        hit = next((r for r, e in zip(rows, ep) if e >= frac * max_episode_s), None)
        out[f"episode_{int(frac * 100)}pct_of_limit"] = None if hit is None else {
            "samples": hit["samples"], "wall_s": hit["wall_s"]}
    # The error is measured only while characters are up, so it counts once they also stay up.
    hit = next((r for r, e, length in zip(rows, err, ep) if e < 0.15 and length >= 0.9 * max_episode_s), None)
    out["learned_episode_90pct_and_joint_error_below_0.15_rad"] = None if hit is None else {
        "samples": hit["samples"], "wall_s": hit["wall_s"]}
    last = rows[-1]
    out["last"] = {k: last.get(k) for k in ("iteration", "samples", "wall_s", "episode_length_s",
                                             "joint_rotation_error_rad", "reward_per_step")}
    return out


def plot(rows: list[dict], out: Path, title: str) -> None:
    """Three panels against millions of samples."""
    samples = [r["samples"] / 1e6 for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    panels = [("episode_length_s", "episode length (s)"), ("joint_rotation_error_rad", "joint rotation error (rad)"),
              ("reward_per_step", "reward per step")]
    for ax, (key, label) in zip(axes, panels):
        values = [r.get(key, float("nan")) for r in rows]
        ax.plot(samples, values, alpha=0.3, color="tab:blue")
        ax.plot(samples, smooth(values), color="tab:blue")
        ax.set_xlabel("samples (millions)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    hours = rows[-1]["wall_s"] / 3600
    fig.suptitle(f"{title}: {rows[-1]['samples'] / 1e6:.1f} M samples in {hours:.2f} h of 2-core CPU")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main() -> None:
    """Plot and summarise a run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/figures/learning_curve.png"))
    parser.add_argument("--episode-limit", type=float, default=10.0, help="training episode length, s")
    args = parser.parse_args()
    rows = load_history(args.run_dir)
    plot(rows, args.out, args.run_dir.name)
    summary = milestones(rows, args.episode_limit)
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

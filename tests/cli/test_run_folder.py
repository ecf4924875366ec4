"""Run folders are never mixed, and a run killed with SIGKILL resumes without repeating iterations."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _experiment(folder: Path) -> Path:
    """The walk experiment, small: 4 environments, 4 steps per iteration, a checkpoint every 3 iterations."""
    path = folder / "small.yaml"
    path.write_text(f"base: {ROOT / 'config' / 'humanoid3d_walk.yaml'}\nenv:\n  num_envs: 4\n"
                    "train:\n  num_steps_per_env: 4\n  save_interval: 3\n  actor:\n    hidden_dims: [32]\n"
                    "  critic:\n    hidden_dims: [32]\n")
    return path


def _train(config: Path, run_dir: Path, iterations: int, *extra: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "deepmimic.cli", "train", "--config", str(config), "--run-dir",
                             str(run_dir), "--iterations", str(iterations), "--no-eval", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT, **kwargs)


def _iterations(run_dir: Path) -> list[int]:
    history = run_dir / "history.jsonl"
    if not history.is_file():
        return []
    return [json.loads(line)["iteration"] for line in history.read_text().splitlines() if line.endswith("}")]


def _newest(run_dir: Path) -> int:
    return max((int(p.stem.split("_")[1]) for p in run_dir.glob("model_*.pt")), default=0)


def _steps(run_dir: Path) -> list[int]:
    """Steps of the TensorBoard scalar ``reward_per_step``, as TensorBoard shows them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return [e.step for e in events.Scalars("reward_per_step")] if "reward_per_step" in events.Tags()["scalars"] else []


def test_killed_run_resumes_without_duplicates(tmp_path):
    config, run_dir = _experiment(tmp_path), tmp_path / "run"
    process = _train(config, run_dir, 1000)
    deadline = time.monotonic() + 240
    # Kill it when two iterations past a checkpoint are logged (frozen with SIGSTOP while we look).
    while True:
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.poll() else ""
        process.send_signal(signal.SIGSTOP)
        if _newest(run_dir) >= 3 and max(_iterations(run_dir)) >= _newest(run_dir) + 2:
            break
        process.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    newest = _newest(run_dir)
    assert max(_iterations(run_dir)) >= newest + 2 and max(_steps(run_dir)) >= newest + 2  # work to undo
    stale = run_dir / ".model_4.pt.x1y2.tmp"  # what a save killed half-way leaves
    stale.write_bytes(b"partial")

    again = _train(config, run_dir, 1000)  # without --resume: refused, nothing touched
    _, err = again.communicate(timeout=120)
    assert again.returncode == 2 and "is not empty" in err and "--resume" in err
    assert stale.exists()

    resumed = _train(config, run_dir, newest + 3, "--resume")
    _, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, err
    iterations = _iterations(run_dir)
    assert iterations == list(range(1, newest + 4)), iterations  # each iteration once, in order
    assert not stale.exists()

    assert _steps(run_dir) == list(range(1, newest + 4))  # TensorBoard too: the steps past the checkpoint purged

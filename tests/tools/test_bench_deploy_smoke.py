"""bench/bench_deploy.py runs end to end with tiny durations and writes a sane JSON (rates are not judged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("cyclonedds", reason="cyclonedds is not installed; DDS not tested")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    committed = ROOT / "policies/humanoid3d_walk.pt"
    if committed.is_file():
        return committed
    run_dir = tmp_path_factory.mktemp("tiny_run")
    config = ROOT / "config/humanoid3d_walk.yaml"
    subprocess.run([sys.executable, "-m", "deepmimic.cli", "train", "--config", str(config),
                    "--iterations", "1", "--num-envs", "4", "--run-dir", str(run_dir), "--no-eval"],
                   check=True, capture_output=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return run_dir / "model_1.pt"


def test_bench_deploy_smoke(checkpoint, loopback_dds, tmp_path):
    out = tmp_path / "deploy.json"
    command = [sys.executable, str(ROOT / "bench/bench_deploy.py"), "--seconds", "1", "--warmup", "0.3",
               "--free-seconds", "0.3", "--checkpoint", str(checkpoint), "--out", str(out),
               "--domain", loopback_dds["ROS_DOMAIN_ID"]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180,
                          env={**loopback_dds, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "states rate Hz" in done.stdout
    result = json.loads(out.read_text())
    assert {"machine", "checkpoint", "settings", "dds", "composed", "verdict"} <= set(result)
    assert result["machine"]["cpu_count"] >= 1
    dds = result["dds"]
    assert dds["node_tracebacks"] == []
    # One second at 30 Hz: the graph ran (a busy machine may slow it, so the bounds are loose).
    assert dds["states"]["count"] >= 10 and 10.0 < dds["states"]["rate_hz"] < 40.0
    assert 10.0 < dds["reference"]["rate_hz"] < 40.0
    latency = dds["latency"]
    assert latency["matched"] >= 5
    # stamp_to_command_written converts DDS wall-clock source stamps to the monotonic clock and is only
    # indicative (it can be off by tens of ms), so it is not checked here.
    for key in ("stamp_to_command_arrival", "states_arrival_to_command_arrival"):
        stats = latency[key]
        assert stats["n"] >= 5 and 0.0 <= stats["p50_ms"] <= stats["p99_ms"] <= stats["max_ms"] < 1000.0, (key, stats)
    # Arrival here comes after the stamp: the stamp is taken first, on the same monotonic clock.
    assert latency["stamp_to_command_arrival"]["p50_ms"] >= latency["states_arrival_to_command_arrival"]["p50_ms"]
    share = dds["cpu"]["others_cpu_share"]
    assert share is None or 0.0 <= share <= 1.0
    assert all(v is None or v >= 0.0 for v in dds["cpu"]["nodes_cores"].values())
    composed = result["composed"]
    assert composed["realtime"]["states"]["count"] >= 10
    assert composed["free_running"]["steps"] > 0 and composed["free_running"]["steps_per_s"] > 0

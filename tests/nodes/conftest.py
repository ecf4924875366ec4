"""Node tests: a tiny checkpoint made once per session, and loopback-only DDS for the DDS test."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_DOMAINS = (1 + (os.getpid() * 41 + 7 + k) % 232 for k in itertools.count())


def _train_tiny(config: str, run_dir: Path) -> Path:
    """One PPO iteration of ``config`` on 4 environments into ``run_dir`` (a few seconds); the checkpoint."""
    command = [sys.executable, "-m", "deepmimic.cli", "train", "--config", str(ROOT / config),
               "--iterations", "1", "--num-envs", "4", "--run-dir", str(run_dir), "--no-eval"]
    subprocess.run(command, check=True, capture_output=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    checkpoint = run_dir / "model_1.pt"
    assert checkpoint.exists()
    return checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained walk policy: one PPO iteration on 4 environments (a few seconds)."""
    return _train_tiny("config/humanoid3d_walk.yaml", tmp_path_factory.mktemp("tiny_run"))


@pytest.fixture(scope="session")
def tiny_run_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained run policy (config/humanoid3d_run.yaml), made as ``tiny_checkpoint``."""
    return _train_tiny("config/humanoid3d_run.yaml", tmp_path_factory.mktemp("tiny_run_clip"))


@pytest.fixture
def loopback_dds(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Loopback-only Cyclone configuration and a domain of the test's own; returns the environment."""
    from deepmimic_transport.dds_wire import loopback_config

    monkeypatch.setenv("CYCLONEDDS_URI", loopback_config())
    monkeypatch.setenv("ROS_DOMAIN_ID", str(next(_DOMAINS)))
    monkeypatch.delenv("DEEPMIMIC_TRANSPORT", raising=False)
    return dict(os.environ)


def _stop_process(process: subprocess.Popen) -> str:
    """Terminate a helper process (kill it if it hangs) and return everything it printed."""
    if process.poll() is None:
        process.terminate()
    try:
        output, _ = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.fixture
def stop_process():
    """``stop_process(popen) -> output``: end a helper process the test started."""
    return _stop_process


def _spin_beside(nodes: list, process: subprocess.Popen, seconds: float, until=lambda: False) -> bool:
    """Spin ``nodes`` until ``until()`` holds, ``process`` exits or ``seconds`` pass; returns ``until()``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if until() or process.poll() is not None:
            return until()
        for node in nodes:
            node.spin_once(0.002)
    return until()


@pytest.fixture
def spin_beside():
    """``spin_beside(nodes, process, seconds, until)``: spin test-side nodes next to a helper process."""
    return _spin_beside

"""``deepmimic motion info`` and ``deepmimic motion convert`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from deepmimic.cli import main

from deepmimic_mocap import load_motion

G1 = "locomujoco/02-constspeed_UnitreeG1.npz"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The CLI as users run it, in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "deepmimic.cli", *args], capture_output=True, text=True,
                          timeout=300)


def info_json(capsys: pytest.CaptureFixture, target: str | Path) -> dict:
    assert main(["motion", "info", str(target), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_info_walk_json(capsys):
    summary = info_json(capsys, "walk")
    assert summary["frames"] == 39
    assert summary["fps"] == pytest.approx(30.0, abs=0.01)
    assert summary["loop"] == "wrap"
    assert summary["root_travel_m"] == pytest.approx(1.24, abs=0.01)
    assert summary["format"] == "deepmimic" and summary["skeleton"] == "humanoid3d"
    assert summary["joints"] == 15 and summary["dof_pos"] == 36 and summary["dof_vel"] == 28


def test_info_walk_table():
    result = run_cli("motion", "info", "walk")
    assert result.returncode == 0, result.stderr
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert rows["frames"] == "39" and rows["loop"] == "wrap" and rows["format"] == "deepmimic"
    assert float(rows["fps"]) == pytest.approx(30.0, abs=0.01)
    assert float(rows["root_travel_m"]) == pytest.approx(1.24, abs=0.01)
    assert rows["joint_names"].startswith("root, chest, neck, right_hip")
    for key in ("name", "source", "duration_s", "joints", "root_height_m", "lowest_joint_m"):
        assert key in rows


def test_info_locomujoco(capsys, data_dir):
    summary = info_json(capsys, data_dir / G1)
    assert summary["format"] == "locomujoco" and summary["variant"] == "v0 per-joint"
    assert summary["frames"] == 500 and summary["fps"] == pytest.approx(500.0)
    assert summary["root_travel_m"] == pytest.approx(0.9775, abs=1e-3)
    assert "lowest_joint_m" not in summary  # no geometry, no forward kinematics


def test_info_bvh(capsys, data_dir):
    pytest.importorskip("deepmimic_mocap.formats.bvh")
    summary = info_json(capsys, data_dir / "cmu" / "02_01.bvh")
    assert summary["format"] == "bvh"
    assert summary["frames"] in (343, 344)  # 343 capture frames, plus the rest pose unless dropped
    assert summary["fps"] == pytest.approx(120.0, rel=1e-3)


def test_info_amc(capsys, data_dir):
    pytest.importorskip("deepmimic_mocap.formats.asf_amc")
    summary = info_json(capsys, data_dir / "cmu" / "35_01.amc")  # 35.asf is found beside it
    assert summary["format"] == "asf_amc"
    assert summary["frames"] == 358
    assert summary["fps"] == pytest.approx(120.0, rel=1e-3)


def test_convert_walk_round_trips(tmp_path):
    out = tmp_path / "out.txt"
    result = run_cli("motion", "convert", "walk", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {out}: 39 frames")
    original, again = load_motion("walk"), load_motion(out)
    assert again.num_frames == 39 and again.loop == original.loop
    np.testing.assert_allclose(again.frame_times, original.frame_times, atol=1e-9)
    np.testing.assert_allclose(again.body_pos(), original.body_pos(), atol=1e-7)


def test_convert_loop_override(tmp_path, capsys):
    out = tmp_path / "once.txt"
    assert main(["motion", "convert", "walk", str(out), "--loop", "none"]) == 0
    assert json.loads(out.read_text())["Loop"] == "none"


def test_convert_locomujoco_refuses_cleanly(tmp_path, data_dir):
    out = tmp_path / "g1.txt"
    result = run_cli("motion", "convert", str(data_dir / G1), str(out))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepmimic motion: error: ")
    assert "without its geometry" in lines[0] and "cannot be retargeted onto humanoid3d" in lines[0]
    assert not out.exists()


def test_unknown_clip_lists_bundled_clips():
    result = run_cli("motion", "info", "no_such_clip")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepmimic motion: error: ")
    assert "no_such_clip" in lines[0]
    assert "bundled:" in lines[0] and "humanoid3d_walk" in lines[0] and "dog3d_trot" in lines[0]


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("deepmimic")
    if not script.exists():
        pytest.skip("no deepmimic console script beside this interpreter")
    result = subprocess.run([str(script), "motion", "info", "walk", "--json"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and json.loads(result.stdout)["frames"] == 39

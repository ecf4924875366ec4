"""Bad configurations and arguments, as a user types them: each is ONE line on stderr, exit code 2, no traceback.

The table holds one row per misuse: the command line (``{tmp}`` is a scratch folder with the
files the rows need) and a piece of the message that must name what is wrong. The rows run
``deepmimic.cli.main`` in this process (an exception escaping it fails the test, as a traceback
would); ``test_real_process`` runs a few of them as the installed command, end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
WALK = ROOT / "config" / "humanoid3d_walk.yaml"
POLICY = ROOT / "policies" / "humanoid3d_walk.pt"
CMU_BVH = ROOT / "src/deepmimic_mocap/deepmimic_mocap/data/cmu/02_01.bvh"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
TRAIN = ["train", "--config", str(WALK), "--no-eval"]


def _experiment(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(f"base: {WALK}\n{body}")


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the table's rows read."""
    folder = tmp_path_factory.mktemp("bad_input")
    _experiment(folder, "unknown_key.yaml", "env:\n  num_env: 4\n")
    _experiment(folder, "many.yaml", "env:\n  num_envs: \"many\"\n")
    _experiment(folder, "fractional.yaml", "env:\n  num_envs: 2.5\n")
    _experiment(folder, "save_zero.yaml", "train:\n  save_interval: 0\n")
    _experiment(folder, "bad_mode.yaml", "env:\n  action:\n    mode: sideways\n")
    _experiment(folder, "gamma.yaml", "train:\n  algorithm:\n    gamma: 1.5\n")
    (folder / "broken.yaml").write_text("env:\n  num_envs: [1, 2\n  substeps: 3\n")
    (folder / "a_file").write_text("not a folder\n")
    (folder / "used_run").mkdir()
    (folder / "used_run" / "model_5.pt").write_bytes(b"x")
    (folder / "binary.bvh").write_bytes(os.urandom(2_000_000))
    (folder / "out").mkdir()
    data = torch.load(POLICY, weights_only=True)
    bad = {**data, "actor_state_dict": dict(data["actor_state_dict"])}
    key = next(k for k, v in bad["actor_state_dict"].items() if v.is_floating_point() and v.dim() == 2)
    bad["actor_state_dict"][key] = torch.full_like(bad["actor_state_dict"][key], float("nan"))
    torch.save(bad, folder / "nan.pt")
    other = {**data, "experiment": {**data["experiment"], "env": {**data["experiment"]["env"],
                                                                  "observation": {"phase": False, "future_steps": []}}}}
    torch.save(other, folder / "other_obs.pt")
    return folder


# (id, arguments, a piece of the one-line message)
CASES = [
    ("unknown key", [*TRAIN, "--config", "{tmp}/unknown_key.yaml"], "unknown_key.yaml:3: env.num_env: unknown key"),
    ("num_envs string", [*TRAIN, "--config", "{tmp}/many.yaml"], "env.num_envs = 'many': expected an integer"),
    ("num_envs fraction", [*TRAIN, "--config", "{tmp}/fractional.yaml"], "env.num_envs = 2.5: expected an integer"),
    ("save_interval 0", [*TRAIN, "--config", "{tmp}/save_zero.yaml"], "train.save_interval = 0: must be >= 1"),
    ("choice", [*TRAIN, "--config", "{tmp}/bad_mode.yaml"],
     "env.action.mode = 'sideways': allowed: absolute, residual"),
    ("range", [*TRAIN, "--config", "{tmp}/gamma.yaml"], "train.algorithm.gamma = 1.5: must be <= 1"),
    ("bad YAML", [*TRAIN, "--config", "{tmp}/broken.yaml"], "broken.yaml:3: invalid YAML"),
    ("missing config", [*TRAIN, "--config", "{tmp}/nope.yaml"], "nope.yaml: no such file"),
    ("--num-envs 0", [*TRAIN, "--num-envs", "0"], "--num-envs: env.num_envs = 0: must be >= 1"),
    ("--num-envs many", [*TRAIN, "--num-envs", "many"], "argument --num-envs: invalid int value: 'many'"),
    ("--iterations -1", [*TRAIN, "--iterations", "-1"], "--iterations: train.max_iterations = -1: must be >= 1"),
    ("run dir is a file", [*TRAIN, "--run-dir", "{tmp}/a_file"], "a_file is a file, not a folder"),
    ("run dir in use", [*TRAIN, "--run-dir", "{tmp}/used_run"], "used_run is not empty (holds model_5.pt)"),
    ("launch clip", ["launch", "deploy", "clip:=nonexistent"], "clip:=nonexistent: no motion file or bundled motion"),
    ("launch count", ["launch", "train", "num_envs:=-3"], "num_envs:=-3: expected an integer >= 0"),
    ("launch bool", ["launch", "deploy", "simulate:=maybe"], "enabled must be true or false, got 'maybe'"),
    ("launch unknown", ["launch", "deploy", "speed:=3"], "unknown launch argument 'speed'"),
    ("launch checkpoint", ["launch", "deploy", "checkpoint:={tmp}/nan.pt"], "NaN or infinite values"),
    ("eval NaN weights", ["eval", "{tmp}/nan.pt", "--no-video", "--seconds", "1"], "NaN or infinite values"),
    ("export NaN weights", ["export", "{tmp}/nan.pt", "{tmp}/out/x.pt"], "NaN or infinite values"),
    ("eval observation size", ["eval", "{tmp}/other_obs.pt", "--no-video", "--seconds", "0.1", "--num-envs", "1"],
     "but its environment gives"),
    ("eval BVH", ["eval", str(POLICY), "--motion", str(CMU_BVH), "--no-video", "--seconds", "0.1"],
     "retarget it once with `deepmimic motion convert"),
    ("eval --seconds 0", ["eval", str(POLICY), "--seconds", "0"], "argument --seconds: 0 is out of range"),
    ("convert to a folder", ["motion", "convert", str(CMU_BVH), "{tmp}/out"], "out is a folder"),
    ("convert suffix", ["motion", "convert", str(CMU_BVH), "{tmp}/out/x.bvh"], "end in .txt or .json"),
    ("binary BVH", ["motion", "info", "{tmp}/binary.bvh"], "binary data, not a .bvh text file"),
    ("topic name", ["topic", "echo", "bad name!!"], "'bad name!!' is not a valid topic name"),
    ("topic count", ["topic", "echo", "/states", "--count", "0"], "argument --count: 0 is out of range"),
    ("bone map", ["motion", "convert", str(CMU_BVH), "{tmp}/out/x.txt", "--bone-map", "nope"],
     "no bone map file or built-in scheme 'nope'"),
]


def _check(tmp: Path, code: int, stderr: str, expected: str) -> None:
    lines = stderr.strip().splitlines()
    assert code == 2, stderr[-2000:]
    assert "Traceback" not in stderr and len(lines) == 1, stderr[-2000:]
    assert lines[0].startswith("deepmimic ") and ": error: " in lines[0]
    assert expected in lines[0], lines[0]
    assert len(lines[0]) <= 600
    assert not (tmp / "out" / "x.pt").exists() and not (tmp / "out" / "x.txt").exists()


@pytest.mark.parametrize(("args", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_line_exit_2(tmp, args, expected, capsys, monkeypatch):
    from deepmimic.cli import main

    monkeypatch.chdir(ROOT)
    try:
        code = main([a.replace("{tmp}", str(tmp)) for a in args])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    _check(tmp, code, capsys.readouterr().err, expected)


@pytest.mark.parametrize("case", ["num_envs string", "launch clip", "binary BVH", "topic name"])
def test_real_process(tmp, case):
    _, args, expected = next(c for c in CASES if c[0] == case)
    argv = [a.replace("{tmp}", str(tmp)) for a in args]
    result = subprocess.run([sys.executable, "-m", "deepmimic.cli", *argv], capture_output=True, text=True,
                            timeout=300, env=ENV, cwd=ROOT)
    _check(tmp, result.returncode, result.stderr, expected)

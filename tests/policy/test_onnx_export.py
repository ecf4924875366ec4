"""ONNX export: onnxruntime gives the same actions as torch for the committed walk policy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from deepmimic_policy.onnx_export import export_onnx
from deepmimic_policy.policy import Policy

WALK = Path(__file__).resolve().parents[2] / "policies" / "humanoid3d_walk.pt"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_onnx(WALK, tmp_path_factory.mktemp("onnx") / "walk.onnx")


def test_onnx_actions_match_torch(exported):
    policy = Policy.load(WALK)
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for batch in (1, 257):  # the batch size is dynamic
        obs = rng.normal(0.0, 2.0, size=(batch, policy.obs_dim)).astype(np.float32)
        onnx_actions = session.run(["actions"], {"obs": obs})[0]
        torch_actions = policy.act(torch.from_numpy(obs)).numpy()
        assert onnx_actions.shape == (batch, policy.num_actions)
        np.testing.assert_allclose(onnx_actions, torch_actions, atol=1e-4, rtol=1e-4)
    # and the check can fail: a different policy's actions differ
    assert np.abs(onnx_actions - 0.5 * torch_actions).max() > 1e-2


def test_onnx_metadata_names_the_joints(exported):
    meta = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    policy = Policy.load(WALK)
    assert meta["character"] == "humanoid3d" and int(meta["num_actions"]) == policy.num_actions
    names = json.loads(meta["joint_names"])
    assert len(names) == policy.num_actions and names[0] == "chest_x"


def test_cli_export_onnx(tmp_path):
    out = tmp_path / "walk.onnx"
    result = subprocess.run([sys.executable, "-m", "deepmimic.cli", "export", str(WALK), str(out), "--onnx"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert out.is_file() and "wrote" in result.stdout

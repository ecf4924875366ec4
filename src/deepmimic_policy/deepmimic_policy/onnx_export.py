"""Export a policy to ONNX, for runtimes without PyTorch (onnxruntime on a robot's computer).

The exported graph is the actor's deterministic path as rsl-rl exports it (``model.as_onnx()``:
observation normaliser, network, mean of the action distribution): input ``obs`` ``(N, obs_dim)``
float32, output ``actions`` ``(N, num_actions)``, with a dynamic batch size. The graph's metadata
records what a runtime needs to use it: the character, the hinge names in action order, the
action mode and the control period, and the checkpoint's iteration.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .policy import Policy

OPSET = 18  # as rsl-rl's OnPolicyRunner.export_policy_to_onnx


def export_onnx(checkpoint: str | Path, out: str | Path) -> Path:
    """Write the deterministic actor of ``checkpoint`` as an ONNX file at ``out``.

    Raises:
        CheckpointError: The checkpoint cannot be loaded.
        ValueError: A clip-conditioned student (its one-hot input is not exported yet).
    """
    import onnx
    from deepmimic_sim.model.joint_mapping import JointMapping

    policy = Policy.load(checkpoint)
    if policy.num_clips:
        raise ValueError(f"{checkpoint}: clip-conditioned students are not exported to ONNX")
    model = policy.actor.as_onnx(verbose=False).to("cpu").eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, model.get_dummy_inputs(), str(out), export_params=True, opset_version=OPSET,
                      input_names=model.input_names, output_names=model.output_names,
                      dynamic_axes={"obs": {0: "batch"}, "actions": {0: "batch"}}, dynamo=False)
    env = policy.experiment.env
    from deepmimic_mocap import load_character

    hinges = JointMapping(load_character(env.character)).hinge_names
    graph = onnx.load(str(out))
    meta = {"character": env.character, "joint_names": json.dumps(list(hinges)), "action_mode": env.action.mode,
            "obs_dim": str(policy.obs_dim), "num_actions": str(policy.num_actions),
            "iteration": str(policy.iteration), "source": Path(checkpoint).name}
    for key, value in meta.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(out))
    return out

"""Forward kinematics batched by tree depth gives, bit for bit, what a joint-by-joint loop gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepmimic_mocap import load_character
from deepmimic_mocap import rotations as rot
from deepmimic_mocap.kinematics import forward_kinematics


def joint_by_joint(skeleton, root_pos, root_quat, local_quat):
    """The straightforward loop over joints (the previous implementation)."""
    pos, quat = [root_pos], [root_quat]
    for j in range(1, skeleton.num_joints):
        p = int(skeleton.parents[j])
        offset = torch.as_tensor(skeleton.offsets[j], dtype=root_pos.dtype).expand(root_pos.shape)
        rest = torch.as_tensor(skeleton.rest_quat[j], dtype=root_pos.dtype).expand(root_quat.shape)
        pos.append(pos[p] + rot.quat_rotate(quat[p], offset))
        quat.append(rot.quat_mul(rot.quat_mul(quat[p], rest), local_quat[..., j, :]))
    return torch.stack(pos, dim=-2), torch.stack(quat, dim=-2)


@pytest.mark.parametrize("character", ["humanoid3d", "dog3d"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_levels_match_the_joint_loop_exactly(character, dtype):
    sk = load_character(character).skeleton
    gen = torch.Generator().manual_seed(3)
    n = 257
    root_pos = torch.randn(n, 3, generator=gen, dtype=dtype)
    root_quat = rot.quat_normalize(torch.randn(n, 4, generator=gen, dtype=dtype))
    local = rot.quat_normalize(torch.randn(n, sk.num_joints, 4, generator=gen, dtype=dtype))
    pos, quat = forward_kinematics(sk, root_pos, root_quat, local)
    ref_pos, ref_quat = joint_by_joint(sk, root_pos, root_quat, local)
    assert torch.equal(pos, ref_pos) and torch.equal(quat, ref_quat)
    np_pos, np_quat = forward_kinematics(sk, root_pos.numpy(), root_quat.numpy(), local.numpy())
    assert np.allclose(np_pos, ref_pos.numpy(), atol=1e-5 if dtype == torch.float32 else 1e-12)
    assert np.allclose(np_quat, ref_quat.numpy(), atol=1e-5 if dtype == torch.float32 else 1e-12)

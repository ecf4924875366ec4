"""The Isaac Gym adapter: registered, and a clear error where Isaac Gym is missing (everywhere we run).

Where ``isaacgym`` imports, the contract tests in test_mujoco_backend.py run against the adapter.
"""

from __future__ import annotations

import importlib.util

import pytest
from deepmimic_sim.backends import make_backend


def test_isaacgym_adapter_says_what_is_missing():
    """The Isaac Gym adapter is registered; without isaacgym, choosing it names what to install."""
    from deepmimic_sim.backends import BACKENDS

    assert "isaacgym" in BACKENDS
    if importlib.util.find_spec("isaacgym") is not None:
        pytest.skip("isaacgym is installed: the contract tests run against the adapter instead")
    with pytest.raises(ImportError, match="Isaac Gym Preview 4"):
        make_backend("isaacgym", num_envs=1)

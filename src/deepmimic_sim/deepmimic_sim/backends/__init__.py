"""Physics backends, chosen by name through one registry (lazy imports: only the chosen
simulator is ever imported)."""

from __future__ import annotations

import importlib
from typing import Any

from .base import PhysicsBackend

BACKENDS: dict[str, str] = {
    "mujoco": "deepmimic_sim.backends.mujoco_cpu:MujocoCpuBackend",
    "mujoco_warp": "deepmimic_sim.backends.mujoco_warp:MujocoWarpBackend",
    "isaacgym": "deepmimic_sim.backends.isaacgym:IsaacGymBackend",  # written, not run (no Isaac Gym here)
}


def make_backend(name: str, **kwargs: Any) -> PhysicsBackend:
    """Build the backend registered under ``name``; unknown names list the valid ones."""
    if name not in BACKENDS:
        raise KeyError(f"unknown physics backend '{name}'; backends: {', '.join(BACKENDS)}")
    module_name, attr = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module_name), attr)(**kwargs)


__all__ = ["BACKENDS", "PhysicsBackend", "make_backend"]

"""deepmimic_sim: batched physics for the DeepMimic imitation task.

Importing the package registers one Gymnasium id per bundled clip (``DeepMimic/HumanoidWalk-v0``).
"""

from .gym_env import register_envs

ENV_IDS = register_envs()

__all__ = ["ENV_IDS"]

"""The imitation task: configuration, reward, observation and termination terms, the batched env."""

from .config import ImitationEnvCfg
from .imitation_env import ImitationEnv

__all__ = ["ImitationEnv", "ImitationEnvCfg"]

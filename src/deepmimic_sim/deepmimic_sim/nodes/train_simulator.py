"""Simulator node, train mode: N environments stepped in one batch for a trainer node.

Protocol (one message each way per control step, every environment in it):

- subscribes ``actions`` (deepmimic_interfaces/BatchedAction): ``reset`` resets every environment,
  a request without actions only observes, otherwise the actions step them all
  (``ImitationEnv.step``; episodes that end restart at once);
- publishes ``transitions`` (deepmimic_interfaces/BatchedTransition) with the request's ``step``.

Requests are answered in order, once: a request with the step just answered gets the same reply
again (the trainer re-sends when a reply is late, e.g. while DDS discovery completes), an older one
is ignored. Wrong-sized actions are dropped with a logged error; NaN actions are zeroed and counted
by the environment. The environment comes from the experiment YAML's ``env`` section (parameter
``config``), with ``num_envs`` and ``backend`` overrides.
"""

from __future__ import annotations

from deepmimic_transport.messages import deepmimic_interfaces
from deepmimic_transport.validation import validate_batched_action

import deepmimic_transport as transport

from ..envs import ImitationEnv
from ..envs.config import ImitationEnvCfg, load_env_config
from ..typed_config import override
from .transitions import action_tensor, transition_message


def env_config(path: str, num_envs: int = 0, backend: str = "") -> ImitationEnvCfg:
    """The ``env`` section of an experiment YAML (``base:`` files merged), with overrides (0/"" keep)."""
    overrides = {k: v for k, v in (("num_envs", num_envs), ("backend", backend)) if v}
    return override(load_env_config(path), overrides, where=path)


class TrainSimulatorNode:
    """Answers each BatchedAction with one BatchedTransition of all environments."""

    def __init__(self, node: transport.Node) -> None:
        self.node = node
        path = node.declare_parameter("config", "config/humanoid3d_walk.yaml")
        num_envs = int(node.declare_parameter("num_envs", 0))
        backend = node.declare_parameter("backend", "")
        seed = int(node.declare_parameter("seed", 0))
        cfg = override(env_config(path, num_envs, backend), {"seed": seed}, where="seed")
        self.env = ImitationEnv(cfg)
        self.env.record_tracking = True
        self.sim_time = 0.0
        self.last_step: int | None = None
        self.last_reply: deepmimic_interfaces.BatchedTransition | None = None
        self.transitions_pub = node.create_publisher(deepmimic_interfaces.BatchedTransition, "transitions", "reliable")
        self.actions_sub = node.create_subscription(deepmimic_interfaces.BatchedAction, "actions", self.on_actions,
                                                    "reliable")
        node.get_logger().info(f"train mode: {self.env.num_envs} environments of {cfg.motions} on {cfg.backend}, "
                               f"{self.env.num_obs} observations, {self.env.num_actions} actions")

    def on_actions(self, msg: deepmimic_interfaces.BatchedAction) -> None:
        """Reset or step, then publish the transition (InvalidMessageError: dropped by the transport)."""
        if self.last_step is not None and msg.step <= self.last_step:
            if msg.step == self.last_step:
                self.transitions_pub.publish(self.last_reply)
            return
        validate_batched_action(msg, self.env.num_envs, self.env.num_actions)
        env = self.env
        if msg.reset:
            reply = transition_message(msg.step, self.sim_time, env.control_dt, env.num_actions, env.reset())
        elif msg.num_envs == 0:
            reply = transition_message(msg.step, self.sim_time, env.control_dt, env.num_actions, env.obs)
        else:
            obs, reward, terminated, truncated, info = env.step(action_tensor(msg))
            self.sim_time += env.control_dt
            reply = transition_message(msg.step, self.sim_time, env.control_dt, env.num_actions, obs, reward,
                                       terminated, truncated, info)
        self.last_step, self.last_reply = msg.step, reply
        self.transitions_pub.publish(reply)

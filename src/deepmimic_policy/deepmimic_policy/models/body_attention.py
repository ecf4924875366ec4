"""An experimental actor/critic: a transformer over per-body tokens instead of a flat MLP trunk.

DeepMimic's observation is ``[phase, root height, pos 3xB, quat 4xB, lin vel 3xB, ang vel 3xB]``
(B = 15 bodies for humanoid3d, 197 values), optionally followed by reference targets ``k`` steps
ahead (``B x 7`` each: positions then rotations) and any extra context (a distilled student's
clip one-hot). ``BodyTokenEncoder`` regroups it into one token per body (13 features, plus 7 per
future frame, plus the global features broadcast: phase, height and extra context), adds a
learned body embedding, runs a small transformer encoder over the B tokens, mean-pools them and
appends the global features. ``BodyAttentionModel`` is rsl-rl's ``MLPModel`` with that encoder in
front of its MLP head, so PPO, the distribution, normalisation and checkpoints work unchanged.

Select it in an experiment file with
``class_name: deepmimic_policy.models.body_attention:BodyAttentionModel``.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
from rsl_rl.models import MLPModel
from rsl_rl.modules import HiddenState
from tensordict import TensorDict

BODY_FEATURES = 13  # pos 3 + quat 4 + lin vel 3 + ang vel 3
FUTURE_FEATURES = 7  # reference pos 3 + quat 4 per future frame


class BodyTokenEncoder(nn.Module):
    """Flat DeepMimic observation -> per-body tokens -> transformer -> pooled latent.

    Attributes:
        num_context: Trailing features after the body (and future) blocks, treated as global.
        output_dim: Size of the latent: ``d_model + num_global + num_context``.
    """

    def __init__(self, obs_dim: int, num_bodies: int = 15, num_global: int = 2, num_future: int = 0,
                 d_model: int = 64, num_heads: int = 4, num_layers: int = 2, ff_dim: int = 128) -> None:
        """Build the encoder.

        Args:
            obs_dim: Length of the (normalised) observation vector.
            num_bodies: B, bodies of the character.
            num_global: Leading global features (phase and root height: 2; 1 without phase).
            num_future: Reference frames ahead in the observation (``observation.future_steps``).
            d_model: Token width.
            num_heads: Attention heads.
            num_layers: Transformer encoder layers.
            ff_dim: Width of the transformer's feed-forward layers.

        Raises:
            ValueError: ``obs_dim`` too small for the body layout.
        """
        super().__init__()
        self.num_bodies, self.num_global, self.num_future = num_bodies, num_global, num_future
        self.body_block = num_bodies * BODY_FEATURES
        self.future_block = num_future * num_bodies * FUTURE_FEATURES
        self.num_context = obs_dim - num_global - self.body_block - self.future_block
        if self.num_context < 0:
            raise ValueError(f"observation of {obs_dim} values is too short for {num_global} global values, "
                             f"{num_bodies} bodies and {num_future} future frames")
        context_dim = num_global + self.num_context
        token_dim = BODY_FEATURES + num_future * FUTURE_FEATURES + context_dim
        self.token_in = nn.Linear(token_dim, d_model)
        self.body_embedding = nn.Parameter(0.02 * torch.randn(num_bodies, d_model))
        layer = nn.TransformerEncoderLayer(d_model, num_heads, ff_dim, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.output_dim = d_model + context_dim

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-body features ``(N, B, 13 + 7k)`` and global context ``(N, num_global + num_context)``."""
        n, b, g = x.shape[0], self.num_bodies, self.num_global
        body = x[:, g:g + self.body_block]
        parts = [body[:, :3 * b].reshape(n, b, 3), body[:, 3 * b:7 * b].reshape(n, b, 4),
                 body[:, 7 * b:10 * b].reshape(n, b, 3), body[:, 10 * b:].reshape(n, b, 3)]
        start = g + self.body_block
        for _ in range(self.num_future):
            frame = x[:, start:start + 7 * b]  # FUTURE_FEATURES (a literal for TorchScript)
            parts += [frame[:, :3 * b].reshape(n, b, 3), frame[:, 3 * b:].reshape(n, b, 4)]
            start += 7 * b
        context = torch.cat([x[:, :g], x[:, start:]], dim=-1)
        return torch.cat(parts, dim=-1), context

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Latent of observations ``x`` ``(N, obs_dim)``; shape ``(N, output_dim)``."""
        bodies, context = self.split(x)
        tokens = torch.cat([bodies, context[:, None, :].expand(-1, self.num_bodies, -1)], dim=-1)
        hidden = self.transformer(self.token_in(tokens) + self.body_embedding)
        return torch.cat([self.norm(hidden).mean(dim=1), context], dim=-1)


class BodyAttentionModel(MLPModel):
    """rsl-rl ``MLPModel`` whose input goes through ``BodyTokenEncoder`` before the MLP head.

    Same constructor arguments as ``MLPModel`` (``hidden_dims`` are the head's) plus the encoder's;
    ``forward``, distributions, ``update_normalization`` and state dicts behave as in ``MLPModel``.
    """

    def __init__(self, obs: TensorDict, obs_groups: dict[str, list[str]], obs_set: str, output_dim: int,
                 hidden_dims: tuple[int, ...] | list[int] = (256, 128), activation: str = "elu",
                 obs_normalization: bool = False, distribution_cfg: dict | None = None, num_bodies: int = 15,
                 num_global: int = 2, num_future: int = 0, d_model: int = 64, num_heads: int = 4,
                 num_layers: int = 2, ff_dim: int = 128) -> None:
        """Build the model (see ``MLPModel`` and ``BodyTokenEncoder`` for the arguments)."""
        # MLPModel.__init__ asks _get_latent_dim() for the head's input size: the encoder is built there.
        self._encoder_kwargs = {"num_bodies": num_bodies, "num_global": num_global, "num_future": num_future,
                                "d_model": d_model, "num_heads": num_heads, "num_layers": num_layers,
                                "ff_dim": ff_dim}
        super().__init__(obs, obs_groups, obs_set, output_dim, hidden_dims, activation, obs_normalization,
                         distribution_cfg)

    def _get_latent_dim(self) -> int:
        """Build the encoder (the observation size is known now) and return its output size."""
        self.encoder = BodyTokenEncoder(self.obs_dim, **self._encoder_kwargs)
        return self.encoder.output_dim

    def get_latent(self, obs: TensorDict, masks: torch.Tensor | None = None,
                   hidden_state: HiddenState = None) -> torch.Tensor:
        """Normalised observations through the body encoder."""
        return self.encoder(super().get_latent(obs, masks, hidden_state))

    def as_jit(self) -> nn.Module:
        """TorchScript-friendly deterministic copy (input: concatenated observations)."""
        return _ExportBodyAttentionModel(self)

    def as_onnx(self, verbose: bool) -> nn.Module:
        """ONNX-export wrapper (input ``obs``, output ``actions``)."""
        return _ExportBodyAttentionModel(self)


class _ExportBodyAttentionModel(nn.Module):
    """Deterministic inference on pre-concatenated observations: normaliser, encoder, head, mean."""

    is_recurrent: bool = False

    def __init__(self, model: BodyAttentionModel) -> None:
        super().__init__()
        self.obs_normalizer = copy.deepcopy(model.obs_normalizer)
        self.encoder = copy.deepcopy(model.encoder)
        self.mlp = copy.deepcopy(model.mlp)
        dist = model.distribution
        self.deterministic_output = dist.as_deterministic_output_module() if dist is not None else nn.Identity()
        self.input_size = model.obs_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Actions for observations ``x`` ``(N, obs_dim)``."""
        return self.deterministic_output(self.mlp(self.encoder(self.obs_normalizer(x))))

    @torch.jit.export
    def reset(self) -> None:
        """No recurrent state."""

    def get_dummy_inputs(self) -> tuple[torch.Tensor]:
        """One zero observation for ONNX tracing."""
        return (torch.zeros(1, self.input_size),)

    @property
    def input_names(self) -> list[str]:
        """ONNX input names."""
        return ["obs"]

    @property
    def output_names(self) -> list[str]:
        """ONNX output names."""
        return ["actions"]

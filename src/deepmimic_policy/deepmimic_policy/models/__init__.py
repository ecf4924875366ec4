"""Experimental network architectures, drop-in replacements for rsl-rl's ``MLPModel``.

Select one in an experiment file by ``class_name: "module:Class"``, for example
``deepmimic_policy.models.body_attention:BodyAttentionModel``.
"""

from .body_attention import BodyAttentionModel, BodyTokenEncoder

__all__ = ["BodyAttentionModel", "BodyTokenEncoder"]

"""Choosing a transport by name."""

from __future__ import annotations

import importlib.util

import pytest
from deepmimic_transport.inprocess import Bus, InProcessNode

import deepmimic_transport as transport


def test_backend_by_argument_and_environment(monkeypatch):
    assert isinstance(transport.create_node("a", backend="inprocess", bus=Bus()), InProcessNode)
    monkeypatch.setenv("DEEPMIMIC_TRANSPORT", "inprocess")
    assert transport.default_backend() == "inprocess"
    assert isinstance(transport.create_node("b", bus=Bus()), InProcessNode)


def test_default_is_dds_even_with_rclpy_installed(monkeypatch):
    """make setup installs rclpy; the default transport stays Cyclone DDS (rclpy only when asked for)."""
    monkeypatch.delenv("DEEPMIMIC_TRANSPORT", raising=False)
    assert transport.default_backend() == "dds"
    monkeypatch.setenv("DEEPMIMIC_TRANSPORT", "rclpy")
    assert transport.default_backend() == "rclpy"


def test_unknown_backend():
    with pytest.raises(ValueError, match="inprocess, dds, rclpy"):
        transport.node_class("zmq")


def test_rclpy_backend_is_there_or_says_what_is_missing():
    """make setup installs rclpy (the `ros` extra); without it, choosing rclpy says how to get it."""
    if importlib.util.find_spec("rclpy") is not None:
        assert transport.node_class("rclpy").__name__ == "RclpyNode"
    else:
        with pytest.raises(ImportError, match="deepmimic_transport\\[ros\\]"):
            transport.node_class("rclpy")


def test_flat_parameters_are_taken_as_this_nodes():
    node = transport.create_node("n", backend="inprocess", bus=Bus(), parameters={"gain": 2.0})
    assert node.declare_parameter("gain", 1.0) == 2.0

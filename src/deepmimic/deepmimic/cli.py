"""The ``deepmimic`` command: one entry point, one subcommand module per area.

Each area module exposes ``add_parser(subparsers)``; its handlers are imported lazily so that,
for example, ``deepmimic motion info`` never imports torch or MuJoCo.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand name -> module that defines it.
COMMANDS: dict[str, str] = {
    "motion": "deepmimic.commands.motion",
    "train": "deepmimic.commands.train",
    "sim": "deepmimic.commands.sim",
    "eval": "deepmimic.commands.evaluate",  # registers ``eval`` and ``play``
    "distill": "deepmimic.commands.distill",
    "topic": "deepmimic.commands.topic",
    "bag": "deepmimic.commands.bag",
    "launch": "deepmimic.commands.launch",
}


class CommandError(Exception):
    """An error the CLI reports as one line on stderr, with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(prog="deepmimic", description="DeepMimic as a ROS 2 system.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMANDS.values():
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def _checkpoint_error() -> tuple[type[Exception], ...]:
    """``CheckpointError`` once its module is loaded (only then can one be raised; importing it needs torch)."""
    module = sys.modules.get("deepmimic_policy.checkpoint")
    return (module.CheckpointError,) if module is not None else ()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    from deepmimic_mocap.errors import MotionFormatError

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (MotionFormatError, CommandError, FileNotFoundError, KeyError, *_checkpoint_error()) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"deepmimic {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # Run the importable module's main, not this __main__ copy: handlers raise
    # deepmimic.cli.CommandError, which only that module's main catches.
    from deepmimic.cli import main as _main

    sys.exit(_main())

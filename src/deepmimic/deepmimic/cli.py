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


# Errors about the user's input, reported as one line with exit code 2: (module, class). Each is
# looked up only once its module is loaded (only then can one be raised), so that, for example,
# ``deepmimic motion info`` never imports torch to catch a CheckpointError.
INPUT_ERRORS = (
    ("deepmimic_sim.typed_config", "ConfigError"),
    ("deepmimic_policy.checkpoint", "CheckpointError"),
    ("deepmimic_policy.run_folder", "RunFolderError"),
    ("deepmimic.graph", "GraphError"),
    ("deepmimic.launch_checks", "LaunchArgumentError"),
)


class CommandError(Exception):
    """An error the CLI reports as one line on stderr, with exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (``deepmimic train: error: ...``), exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print ``PROG: error: MESSAGE`` (no usage block) and exit with 2."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = OneLineParser(prog="deepmimic", description="DeepMimic as a ROS 2 system.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMANDS.values():
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def _input_errors() -> tuple[type[Exception], ...]:
    """The ``INPUT_ERRORS`` classes whose modules are loaded."""
    return tuple(getattr(sys.modules[module], name) for module, name in INPUT_ERRORS if module in sys.modules)


def one_line(message: object, limit: int = 500) -> str:
    """``message`` on one line, at most ``limit`` characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    from deepmimic_mocap.errors import MotionFormatError

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (MotionFormatError, CommandError, FileNotFoundError, KeyError, *_input_errors()) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"deepmimic {args.command}: error: {one_line(message)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # Run the importable module's main, not this __main__ copy: handlers raise
    # deepmimic.cli.CommandError, which only that module's main catches.
    from deepmimic.cli import main as _main

    sys.exit(_main())

"""Launch arguments checked before any node starts: one line naming the argument, its value and what is allowed.

A graph file declares what each argument is with ``check:`` (``clip: {default: walk, check: motion}``);
``check_arguments`` runs the check of every argument that has one, so a wrong ``clip:=nonexistent``
is one error from the launcher instead of a traceback from each node that reads it.

Checks: ``motion`` (a bundled clip name or a motion file that loads), ``checkpoint`` (a checkpoint
that loads, finite weights), ``experiment`` (an experiment YAML that validates), ``count`` (an
integer >= 0), ``positive`` (an integer >= 1), ``bool``, ``backend`` (a registered physics
backend, or '' for the experiment's), ``run_folder`` (usable with the graph's ``resume`` and
``config`` arguments), ``character`` (a character that loads), ``ros2_control`` (a bool, true
only with ``simulate:=false``), ``clips`` (comma-separated motions that load),
``clip_checkpoints`` (comma-separated ``clip=checkpoint`` pairs: clips among ``clip``/``clips``,
checkpoints that load and fit the ``checkpoint`` argument's character and sizes, and a policy for
the start ``clip``). ``checkpoint`` also checks the policy's character against a ``character`` argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml


class LaunchArgumentError(ValueError):
    """A launch argument with a value that cannot work (one line)."""


def _typed(value: Any) -> Any:
    if isinstance(value, str) and value:
        try:
            loaded = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return value if loaded is None or isinstance(loaded, (dict, list)) else loaded
    return value


def _motion(value: Any, _values: Mapping[str, Any]) -> None:
    from deepmimic_mocap import load_motion

    load_motion(str(value))  # a bundled name or a file that reads (binary files are refused from their first KiB)


def _checkpoint(value: Any, values: Mapping[str, Any]) -> None:
    from deepmimic_policy.checkpoint import load_checkpoint

    data = load_checkpoint(str(value))
    trained = (data.get("experiment") or {}).get("env", {}).get("character", "humanoid3d")
    if "character" in values and trained != values["character"]:
        raise ValueError(f"a policy for '{trained}', not for character:={values['character']} "
                         f"(add character:={trained})")


def _clips(value: Any, values: Mapping[str, Any]) -> None:
    from deepmimic_transport.parameters import comma_list

    for clip in comma_list(str(value or ""), "clips"):
        _motion(clip, values)


def _sizes(data: Mapping[str, Any]) -> tuple[str, int, int]:
    """(character, observation size without a clip one-hot, actions) of a checkpoint dictionary."""
    character = (data.get("experiment") or {}).get("env", {}).get("character", "humanoid3d")
    one_hot = (data.get("clip_conditioning") or {}).get("num_clips", 0)
    return character, int(data.get("obs_dim", 0)) - int(one_hot), int(data.get("num_actions", 0))


def _clip_checkpoints(value: Any, values: Mapping[str, Any]) -> None:
    from deepmimic_policy.checkpoint import load_checkpoint
    from deepmimic_transport.parameters import comma_list, comma_mapping

    mapping = comma_mapping(str(value or ""), "checkpoints")
    playable = [str(values.get("clip", "")), *comma_list(str(values.get("clips") or ""), "clips")]
    main = load_checkpoint(str(values["checkpoint"])) if values.get("checkpoint") else None
    for clip, path in mapping.items():
        if clip not in playable:
            raise ValueError(f"'{clip}' is not a clip the reference plays "
                             f"(clip:= and clips:= give {', '.join(playable)})")
        sizes = _sizes(load_checkpoint(path))
        if main is not None and sizes != _sizes(main):
            raise ValueError(f"{path}: a policy for {sizes[0]} with {sizes[1]} observations and {sizes[2]} actions "
                             f"does not fit checkpoint:={values['checkpoint']} "
                             f"({', '.join(str(s) for s in _sizes(main))})")
    start = playable[0]
    trained = (main.get("experiment") or {}).get("env", {}).get("motions", []) if main is not None else []
    if main is not None and start not in mapping and start not in trained:
        raise ValueError(f"no policy for clip:={start}: checkpoint:={values['checkpoint']} was trained on "
                         f"{', '.join(trained)} (add checkpoints:={start}=<checkpoint>)")


def _character(value: Any, _values: Mapping[str, Any]) -> None:
    from deepmimic_mocap import load_character

    load_character(str(value))


def _ros2_control(value: Any, values: Mapping[str, Any]) -> None:
    _bool(value, values)
    if _typed(value) and _typed(values.get("simulate", False)):
        raise ValueError("needs simulate:=false (the bridge stands in for the simulator: both would "
                         "publish states)")


def _experiment(value: Any, _values: Mapping[str, Any]) -> None:
    from deepmimic_policy.config import load_experiment

    load_experiment(str(value))


def _integer(minimum: int) -> Callable[[Any, Mapping[str, Any]], None]:
    def check(value: Any, _values: Mapping[str, Any]) -> None:
        value = _typed(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise LaunchArgumentError(f"an integer >= {minimum}")
    return check


def _seconds(value: Any, _values: Mapping[str, Any]) -> None:
    value = _typed(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise LaunchArgumentError("a number of seconds >= 0")


def _bool(value: Any, _values: Mapping[str, Any]) -> None:
    if not isinstance(_typed(value), bool):
        raise LaunchArgumentError("true or false")


def _backend(value: Any, _values: Mapping[str, Any]) -> None:
    from deepmimic_sim.backends import BACKENDS

    if value not in ("", None, *BACKENDS):
        raise LaunchArgumentError(f"one of {', '.join(BACKENDS)} (or '' for the experiment's)")


def _run_folder(value: Any, values: Mapping[str, Any]) -> None:
    from deepmimic_policy.run_folder import check_run_folder

    path = str(value or "") or str(Path("runs") / f"{Path(str(values.get('config', 'run'))).stem}_graph")
    check_run_folder(path, bool(_typed(values.get("resume", False))))


CHECKS: dict[str, Callable[[Any, Mapping[str, Any]], None]] = {
    "motion": _motion, "checkpoint": _checkpoint, "experiment": _experiment, "count": _integer(0),
    "positive": _integer(1), "seconds": _seconds, "bool": _bool, "backend": _backend, "run_folder": _run_folder,
    "character": _character, "ros2_control": _ros2_control, "clips": _clips, "clip_checkpoints": _clip_checkpoints,
}


def check_arguments(checks: Mapping[str, str], values: Mapping[str, Any]) -> None:
    """Run the declared check of every argument.

    Args:
        checks: Check name by argument name (arguments without a check are absent).
        values: Argument values (defaults, then the command line's).

    Raises:
        LaunchArgumentError: One line: ``name:=value: what is wrong``.
    """
    from deepmimic_mocap.errors import MotionFormatError

    for name, kind in checks.items():
        if kind not in CHECKS:
            raise LaunchArgumentError(f"argument {name!r}: unknown check {kind!r}; checks: {', '.join(CHECKS)}")
        value = values.get(name)
        try:
            CHECKS[kind](value, values)
        except LaunchArgumentError as err:
            raise LaunchArgumentError(f"{name}:={value}: expected {err}") from None
        except (MotionFormatError, FileNotFoundError, KeyError, ValueError) as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise LaunchArgumentError(f"{name}:={value}: {message}") from None

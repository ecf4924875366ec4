"""argparse ``type=`` checkers for command-line values that are not configuration fields.

Values that override a configuration (``train --num-envs``) are checked by the configuration's own
declared types and ranges (``deepmimic_sim.typed_config``); these cover the rest (counts, seconds,
topic names). A bad value is one line naming the option, the value and what is allowed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def number(kind: type, minimum: float, *, exclusive: bool = False) -> Callable[[str], float]:
    """A converter to ``kind`` (int or float) that refuses values below ``minimum`` (or equal, ``exclusive``)."""
    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if value != value or (value <= minimum if exclusive else value < minimum) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {'>' if exclusive else '>='} {minimum:g}"
                                             + (" and finite" if kind is float else ""))
        return value
    convert.__name__ = kind.__name__  # argparse names the type in its messages
    return convert


positive_int = number(int, 1)
non_negative_int = number(int, 0)
positive_float = number(float, 0.0, exclusive=True)
non_negative_float = number(float, 0.0)


def topic_name(text: str) -> str:
    """A valid ROS 2 topic name (``/states``, ``states``, ``ns/topic``)."""
    from deepmimic_transport.names import expand

    try:
        expand(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not a valid topic name (letters, digits and "
                                         "underscores, separated by '/', not starting with a digit)") from None
    return text

"""Reading the JSON files DeepMimic uses (clips, characters), with errors that name the line."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import MotionFormatError


def read_json_object(path: Path, expected: str) -> tuple[dict, str]:
    """The top-level object of a JSON file and the file's text.

    Args:
        path: The file.
        expected: What the object should hold, for the error message (``"'Frames'"``).

    Raises:
        MotionFormatError: Empty file, invalid JSON (with its line), or a top level that is not an object.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise MotionFormatError(path, "file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        hint = " (the file ends early: truncated?)" if err.pos >= len(text.rstrip()) else ""
        raise MotionFormatError(path, f"invalid JSON: {err.msg}{hint}", line=err.lineno) from None
    except RecursionError:
        raise MotionFormatError(path, "invalid JSON: brackets nested too deeply") from None
    except ValueError as err:  # e.g. an integer longer than Python's 4300-digit limit
        raise MotionFormatError(path, f"invalid JSON: {str(err).split(';')[0]}") from None
    if not isinstance(data, dict):
        raise MotionFormatError(path, f"top level must be an object with {expected}", line=1)
    return data, text

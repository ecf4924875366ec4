"""The one error type for bad motion and character input."""

from __future__ import annotations

from pathlib import Path

MAX_MESSAGE = 400  # characters


class MotionFormatError(ValueError):
    """A motion or character file that cannot be read, with where the problem is.

    The message reads ``file:line: message`` (or ``file: frame 12: message``), so the CLI can
    print it as it is and editors can jump to the spot.
    """

    def __init__(
        self,
        path: str | Path | None,
        message: str,
        *,
        line: int | None = None,
        frame: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else "<memory>"
        self.line = line
        self.frame = frame
        self.field = field
        self.message = message
        where = self.path
        if line is not None:
            where += f":{line}"
        parts = [where]
        if frame is not None:
            parts.append(f"frame {frame}")
        if field is not None:
            parts.append(f"field '{field}'")
        text = ": ".join(parts) + ": " + message
        if len(text) > MAX_MESSAGE:  # a quoted token of a huge one-line file must not flood the terminal
            text = text[: MAX_MESSAGE - 3] + "..."
        super().__init__(text)

"""Find the characters and clips that ship with the package, by name or by path.

Names are what users type: ``walk`` means ``humanoid3d_walk``; ``dog3d_trot`` is a dog clip.
A path to an existing file always wins.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
CHARACTER_DIR = DATA_DIR / "characters"
CONTROLLER_DIR = DATA_DIR / "controllers"
MOTION_DIR = DATA_DIR / "motions"
DEFAULT_CHARACTER = "humanoid3d"


def _resolve(name_or_path: str | Path, directory: Path, prefix: str, kind: str,
             suffixes: tuple[str, ...] = (".txt",)) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    name = str(name_or_path)
    for candidate in (directory / f"{stem}{suffix}" for stem in (name, f"{prefix}{name}") for suffix in suffixes):
        if candidate.is_file():
            return candidate
    valid = ", ".join(sorted(p.stem for suffix in suffixes for p in directory.glob(f"*{suffix}")))
    raise FileNotFoundError(f"no {kind} file or bundled {kind} named '{name}'; bundled: {valid}")


def resolve_character(name_or_path: str | Path) -> Path:
    """Path of a character file (``humanoid3d``, ``dog3d``, the robot ``g1`` or a path)."""
    return _resolve(name_or_path, CHARACTER_DIR, "", "character", (".txt", ".yaml"))


def bundled_characters() -> list[str]:
    """Names of the bundled characters (DeepMimic files and robot YAML files)."""
    return sorted(p.stem for suffix in (".txt", ".yaml") for p in CHARACTER_DIR.glob(f"*{suffix}"))


def resolve_controller(name_or_path: str | Path) -> Path:
    """Path of a controller file (``humanoid3d`` finds ``humanoid3d_ctrl.txt``, or a path)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    return _resolve(f"{name_or_path}_ctrl", CONTROLLER_DIR, "", "controller")


def resolve_motion(name_or_path: str | Path) -> Path:
    """Path of a motion file: a path, a bundled clip (``humanoid3d_walk``) or a short name (``walk``)."""
    return _resolve(name_or_path, MOTION_DIR, f"{DEFAULT_CHARACTER}_", "motion")


def bundled_motions(character: str | None = None) -> list[Path]:
    """The bundled DeepMimic clips, optionally only those of one character."""
    paths = sorted(MOTION_DIR.glob("*.txt"))
    return [p for p in paths if character is None or p.stem.startswith(character + "_")]

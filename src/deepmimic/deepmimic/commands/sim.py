"""``deepmimic sim``: the MuJoCo side. ``view`` renders a clip to a video file.

Each action registers itself in ``add_parser`` through its own ``_add_<action>`` function and
imports MuJoCo only in its handler.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from deepmimic.arg_types import non_negative_float, positive_float


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``sim`` area and its actions."""
    sim = subparsers.add_parser("sim", help="MuJoCo models, simulation and rendering")
    sub = sim.add_subparsers(dest="sim_command", required=True, metavar="ACTION")
    _add_view(sub)
    _add_build_model(sub)


# ------------------------------------------------------------------------------------ view
def _add_view(sub: argparse._SubParsersAction) -> None:
    """Register ``sim view``."""
    view = sub.add_parser("view", help="render a motion clip offscreen to an .mp4 or .gif",
                          description="Render a clip on a character (the opaque 'sim' character) with the same "
                                      "clip as the translucent reference ghost, offscreen, to a video file.")
    view.add_argument("--motion", required=True, help="motion file (any supported format) or bundled clip name")
    view.add_argument("--asf", help="skeleton file for an .amc (default: found beside it)")
    view.add_argument("--character", default="humanoid3d", help="character (clips of other skeletons are retargeted)")
    view.add_argument("--bone-map", help="bone map for retargeting BVH/ASF: a YAML file or a built-in scheme name "
                                         "(default: detected from the bone names and the skeleton)")
    view.add_argument("--out", help="output .mp4 or .gif (default: runs/<motion name>.mp4)")
    view.add_argument("--seconds", type=positive_float, default=4.0,
                      help="length; looping clips repeat, others hold their last pose (default: 4)")
    view.add_argument("--fps", type=positive_float, default=30.0, help="video frame rate (default: 30)")
    view.add_argument("--width", type=int, default=640, help="frame width in pixels (default: 640)")
    view.add_argument("--height", type=int, default=360, help="frame height in pixels (default: 360)")
    layout = view.add_mutually_exclusive_group()
    layout.add_argument("--overlay", dest="layout", action="store_const", const="overlay",
                        help="draw the ghost on the character (default)")
    layout.add_argument("--side-by-side", dest="layout", action="store_const", const="side-by-side",
                        help="draw the ghost 1 m to the right of the character")
    view.set_defaults(handler=run_view, layout="overlay")


def _check_view_args(args: argparse.Namespace) -> Path:
    """Validate sizes, rate and output; return the output path."""
    from deepmimic.cli import CommandError

    if args.width < 16 or args.height < 16 or args.width > 4096 or args.height > 4096:
        raise CommandError(f"frame size {args.width}x{args.height} must be between 16 and 4096 pixels")
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".mp4", ".gif"):
        raise CommandError(f"--out must end in .mp4 or .gif, got '{out.name}'")
    return out


def _view_motion(args: argparse.Namespace) -> Any:
    """The clip (a ``deepmimic_mocap.Motion``) on ``args.character``, retargeted when its skeleton differs."""
    from deepmimic_mocap.convert import convert_to_character
    from deepmimic_mocap.errors import MotionFormatError

    from deepmimic.cli import CommandError
    from deepmimic_mocap import load_motion

    motion = load_motion(args.motion, asf=args.asf) if args.asf else load_motion(args.motion)
    try:
        return convert_to_character(motion, args.character, bone_map=args.bone_map)[0]
    except ValueError as err:
        if isinstance(err, MotionFormatError):
            raise
        raise CommandError(str(err)) from None


def run_view(args: argparse.Namespace) -> int:
    """Render the clip as the sim character with itself as the ghost; print path, frames and time."""
    from deepmimic.cli import CommandError

    out = _check_view_args(args)
    motion = _view_motion(args)
    from deepmimic_sim.render import GLUnavailableError, clip_qpos, render_frames, write_video

    out = out or Path("runs") / f"{Path(args.motion).stem}.mp4"
    qpos = clip_qpos(motion, args.character, args.fps, args.seconds)
    start = time.perf_counter()
    try:
        frames = render_frames(qpos, qpos, args.width, args.height, args.fps, args.character, args.layout)
    except GLUnavailableError as err:
        raise CommandError(str(err)) from None
    seconds = time.perf_counter() - start
    write_video(frames, out, args.fps)
    print(f"wrote {out}: {len(frames)} frames, {len(frames) / args.fps:.2f} s at {args.fps:g} fps, "
          f"{args.width}x{args.height}, {args.layout}; rendered in {seconds:.2f} s "
          f"({1000 * seconds / len(frames):.1f} ms/frame)")
    return 0


def _add_build_model(sub: argparse._SubParsersAction) -> None:
    """Register ``sim build-model``."""
    build = sub.add_parser("build-model", help="generate a character's MJCF from its DeepMimic character and "
                                                "controller files")
    build.add_argument("--character", default="humanoid3d", help="bundled character name or character file")
    build.add_argument("--controller", help="controller file (default: the character's bundled one)")
    build.add_argument("--out", help="output .xml (default: the package's shipped model of a bundled character)")
    build.add_argument("--timestep", type=positive_float, help="physics step in seconds (default 1/300)")
    build.add_argument("--armature", type=non_negative_float, help="rotor inertia per hinge (default 0.01)")
    build.set_defaults(handler=run_build_model)


def run_build_model(args: argparse.Namespace) -> int:
    """Write the MJCF and print what it holds."""
    import dataclasses

    import mujoco
    from deepmimic_sim.model.character_mjcf import ModelOptions, build_mjcf, shipped_model_path
    from deepmimic_sim.model.controller import load_controller

    from deepmimic_mocap import load_character

    character = load_character(args.character)
    overrides = {k: v for k, v in (("timestep", args.timestep), ("armature", args.armature)) if v is not None}
    options = dataclasses.replace(ModelOptions(), **overrides)
    xml = build_mjcf(character, load_controller(character, args.controller), options)
    out = Path(args.out) if args.out else shipped_model_path(character.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(xml)
    model = mujoco.MjModel.from_xml_string(xml)
    print(f"wrote {out}: {model.nbody - 1} bodies, {model.nu} actuated hinges, mass {model.body_mass.sum():.2f} kg, "
          f"timestep {model.opt.timestep:.6g} s")
    return 0

"""``deepmimic motion``: inspect and convert motion files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``motion info`` and ``motion convert``."""
    motion = subparsers.add_parser("motion", help="inspect and convert motion capture")
    sub = motion.add_subparsers(dest="motion_command", required=True, metavar="ACTION")

    info = sub.add_parser("info", help="format, frames, duration, fps, joints, loop mode, root travel")
    info.add_argument("file", help="motion file (DeepMimic .txt/.json, .bvh, .amc, .npz) or bundled clip name")
    info.add_argument("--asf", help="skeleton file for an .amc (default: found beside it)")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(handler=run_info)

    convert = sub.add_parser("convert", help="convert any supported file to DeepMimic JSON for humanoid3d")
    convert.add_argument("input", help="motion file or bundled clip name")
    convert.add_argument("output", help="output DeepMimic motion file (.txt or .json)")
    convert.add_argument("--asf", help="skeleton file for an .amc (default: found beside it)")
    convert.add_argument("--character", default="humanoid3d", help="target character (humanoid3d, dog3d, g1)")
    convert.add_argument("--bone-map", help="bone map for BVH/ASF input: a YAML file or a built-in scheme name "
                                            "(default: detected from the bone names and the skeleton)")
    convert.add_argument("--loop", choices=["wrap", "none"], help="loop mode of the output (default: keep)")
    convert.add_argument("--report", help="write retargeting quality figures to this JSON file")
    convert.set_defaults(handler=run_convert)


def _load(path: str, asf: str | None):
    from deepmimic_mocap import load_motion

    return load_motion(path, asf=asf) if asf else load_motion(path)


def run_info(args: argparse.Namespace) -> int:
    """Print a clip's summary."""
    from deepmimic_mocap.summary import motion_summary

    summary = motion_summary(_load(args.file, args.asf))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        shown = ", ".join(value) if key == "joint_names" else value
        print(f"{key:<{width}}  {shown}")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    """Convert (retargeting when needed) and write DeepMimic JSON."""
    from deepmimic_mocap.convert import convert_to_character
    from deepmimic_mocap.errors import MotionFormatError

    from deepmimic.cli import CommandError

    out = Path(args.output)
    if out.is_dir():
        raise CommandError(f"output {out} is a folder; give a file name ending in .txt or .json")
    if out.suffix.lower() not in (".txt", ".json"):
        raise CommandError(f"output {out.name}: DeepMimic motion files end in .txt or .json")
    if not out.parent.is_dir():
        raise CommandError(f"output {out}: folder {out.parent} does not exist")
    motion = _load(args.input, args.asf)
    try:
        result, report = convert_to_character(motion, args.character, bone_map=args.bone_map, loop=args.loop)
    except ValueError as err:  # documented: a joint-space clip without geometry cannot be retargeted
        if isinstance(err, MotionFormatError):
            raise
        raise CommandError(str(err)) from None
    from deepmimic_mocap import load_character
    from deepmimic_mocap.formats.deepmimic_json import save_deepmimic_motion
    from deepmimic_sim.model.self_collision import resolve_self_collision, self_collision

    character = load_character(args.character)
    retargeted = motion.skeleton.has_geometry and motion.skeleton.joint_names != character.skeleton.joint_names
    if retargeted:  # move the arms out of the body where the retargeting put them into it
        result, collisions = resolve_self_collision(result, character)
    else:
        collisions = self_collision(result, character)
    report = {**report, **collisions}
    save_deepmimic_motion(result, args.output)
    print(f"wrote {args.output}: {result.num_frames} frames, {result.duration:.3f} s, loop {result.loop.value}")
    if report:
        for key, value in report.items():
            print(f"  {key}: {value}")
        if args.report:
            Path(args.report).write_text(json.dumps(report, indent=2))
    return 0

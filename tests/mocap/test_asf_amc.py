"""ASF/AMC reader: values and positions against an independent reading of the Acclaim formula
(bone world matrix = parent @ C @ M @ C^-1, tip = parent tip + length * matrix @ direction),
figures of the CMU 35_01 walk, axis orders, units, skeleton lookup and bad files."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from deepmimic_mocap.formats.asf_amc import find_asf, load_amc, read_amc, read_asf
from deepmimic_mocap.kinematics import forward_kinematics_dof
from scipy.spatial.transform import Rotation

from deepmimic_mocap import Motion, MotionFormatError, load_motion

Y_TO_Z = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # (x, y, z) -> (x, -z, y)


@pytest.fixture(scope="module")
def cmu_dir(data_dir: Path) -> Path:
    return data_dir / "cmu"


@pytest.fixture(scope="module")
def walk(cmu_dir: Path) -> Motion:
    return load_motion(cmu_dir / "35_01.amc")


# ---------------------------------------------------------------------- the second method
def simple_asf(text: str) -> tuple[dict, dict, dict, list[list[str]]]:
    """``(units, root, bones, hierarchy lines)`` of a well-formed ASF, read naively."""
    units, root, bones, hierarchy = {}, {}, {}, []
    section, bone = "", {}
    for words in (line.split() for line in text.splitlines()):
        if not words or words[0].startswith("#"):
            continue
        if words[0].startswith(":"):
            section = words[0]
        elif section == ":units":
            units[words[0]] = words[1]
        elif section == ":root":
            root[words[0]] = words[1:]
        elif section == ":bonedata" and words[0] in ("begin", "end"):
            bones.update({bone["name"]: bone} if words[0] == "end" else {})
            bone = {"dof": []}
        elif section == ":bonedata":
            bone[words[0]] = words[1:] if words[0] in ("dof", "axis") else (words[1] if len(words) == 2 else words[1:])
        elif section == ":hierarchy" and words[0] not in ("begin", "end"):
            hierarchy.append(words)
    return units, root, bones, hierarchy


def simple_amc(text: str) -> list[dict[str, np.ndarray]]:
    """One ``{bone: values}`` per frame."""
    frames: list[dict[str, np.ndarray]] = []
    for words in (line.split() for line in text.splitlines()):
        if not words or words[0][0] in "#:":
            continue
        if len(words) == 1 and words[0].isdigit():
            frames.append({})
        else:
            frames[-1][words[0]] = np.array(words[1:], dtype=float)
    return frames


def euler(order: str, angles_xyz: np.ndarray) -> np.ndarray:
    """Matrices of rotations about x, y, z (degrees) applied in ``order``: "XYZ" is Rz Ry Rx."""
    letters = [ "XYZ".index(c) for c in order.upper()]
    return Rotation.from_euler(order.lower(), angles_xyz[..., letters], degrees=True).as_matrix()


def classic_fk(asf_text: str, amc_text: str) -> tuple[dict, dict, dict, float]:
    """``(bone start, bone tip, bone world matrix)`` by name, y-up, ASF units; and metres per unit."""
    units, root, bones, hierarchy = simple_asf(asf_text)
    frames = simple_amc(amc_text)
    values = np.array([f["root"] for f in frames])
    trans, angles = np.zeros((len(frames), 3)), np.zeros((len(frames), 3))
    for i, channel in enumerate(root["order"]):
        (trans if channel[0] == "T" else angles)[:, "XYZ".index(channel[1])] = values[:, i]
    c_root = euler(root["axis"][0], np.array(root["orientation"], dtype=float))
    world = {"root": c_root @ euler(root["axis"][0], angles) @ c_root.T}
    start, tip = {}, {"root": trans}
    for parent, *children in hierarchy:
        for child in children:
            bone = bones[child]
            dof = np.zeros((len(frames), 3))
            for i, name in enumerate(bone["dof"]):
                dof[:, "xyz".index(name[1])] = [f[child][i] for f in frames]
            c = euler(bone["axis"][3], np.array(bone["axis"][:3], dtype=float))
            world[child] = world[parent] @ c @ euler(bone["axis"][3], dof) @ c.T
            start[child] = tip[parent]
            direction = np.array(bone["direction"], dtype=float) * float(bone["length"])
            tip[child] = tip[parent] + world[child] @ direction
    return start, tip, world, 0.0254 / float(units["length"])


def assert_matches_classic(motion, asf_text: str, amc_text: str, atol: float = 1e-6) -> None:
    start, tip, world, unit = classic_fk(asf_text, amc_text)
    pos, quat = forward_kinematics_dof(motion.skeleton, motion.root_pos, motion.root_quat, motion.dof_pos)
    names = motion.skeleton.joint_names
    assert set(names) == {"root", *start, *(f"{b}_end" for b in tip if b != "root" and b not in
                                            {p for p, *_ in simple_asf(asf_text)[3]})}
    for bone in start:
        np.testing.assert_allclose(pos[:, names.index(bone)], unit * start[bone] @ Y_TO_Z.T, atol=atol, err_msg=bone)
        w, x, y, z = np.moveaxis(quat[:, names.index(bone)], -1, 0)
        got = Rotation.from_quat(np.stack([x, y, z, w], axis=-1)).as_matrix()
        np.testing.assert_allclose(got, Y_TO_Z @ world[bone] @ Y_TO_Z.T, atol=1e-9, err_msg=bone)
        if f"{bone}_end" in names:
            np.testing.assert_allclose(pos[:, names.index(f"{bone}_end")], unit * tip[bone] @ Y_TO_Z.T, atol=atol)
    np.testing.assert_allclose(motion.root_pos, unit * tip["root"] @ Y_TO_Z.T, atol=atol)


# ------------------------------------------------------------------------------- the tests
def test_positions_and_orientations_match_the_classic_formula(cmu_dir: Path, walk):
    asf_text = (cmu_dir / "35.asf").read_text()
    amc_text = (cmu_dir / "35_01.amc").read_text()
    assert_matches_classic(walk, asf_text, amc_text)


def test_raw_values_match_a_naive_reading(cmu_dir: Path):
    asf = read_asf(cmu_dir / "35.asf")
    amc = read_amc(cmu_dir / "35_01.amc", asf)
    frames = simple_amc((cmu_dir / "35_01.amc").read_text())
    assert len(frames) == len(amc.frame_numbers) == 358
    np.testing.assert_array_equal(amc.frame_numbers, np.arange(1, 359))
    for bone in ("root", "lfemur", "rtibia", "lfoot", "head", "rthumb"):
        np.testing.assert_array_equal(amc.values[bone], np.array([f[bone] for f in frames]))
    np.testing.assert_allclose(amc.values["root"][0], [4.40047, 17.8934, -21.0986, -0.943965, -8.37963, -7.42612])
    assert asf.length_unit == pytest.approx(0.0254 / 0.45)
    assert asf.bones["lfoot"].dof == ("rx", "rz") and asf.bones["lfoot"].order == "XYZ"
    np.testing.assert_allclose(np.degrees(asf.bones["lhumerus"].axis), [180.0, -30.0, -90.0])


def test_cmu_walk_figures(cmu_dir: Path, walk):
    assert walk.num_frames == 358
    assert walk.fps == pytest.approx(120.0, rel=1e-9)
    assert walk.meta["angle_unit"] == "deg" and walk.meta["asf"].endswith("35.asf")
    assert walk.skeleton.num_joints == 38  # root, 30 bones, 7 leaf tips
    names = walk.skeleton.joint_names
    body = walk.body_pos()
    head = body[:, names.index("head_end"), 2]
    feet = body[:, [names.index(n) for n in ("ltoes_end", "rtoes_end", "lfoot", "rfoot")], 2].min(axis=1)
    # Measured: head top 1.62-1.66 m, lowest foot point 0.6-5.4 cm above the capture floor.
    assert head.min() > 1.55 and head.max() < 1.75 and (head - feet).min() > 1.5
    assert feet.min() > -0.02 and feet.max() < 0.08
    assert walk.root_pos[:, 2].min() > 0.95 and walk.root_pos[:, 2].max() < 1.06  # hips 0.99-1.03 m
    # 3.83 m in 2.98 s (1.29 m/s) along the file's +z (our -y).
    assert walk.root_travel() == pytest.approx(3.83, abs=0.02)
    assert walk.root_pos[-1, 1] - walk.root_pos[0, 1] < -3.8
    # The skeleton itself, standing at rest (toe tip to head top): 1.61 m.
    rest = load_amc(cmu_dir / "35.asf").body_pos()[0, :, 2]
    assert rest.max() - rest.min() == pytest.approx(1.610, abs=0.005)


SMALL_ASF_ORDERS = {"axis XYZ": "axis ZXY", "axis 0 0 20  XYZ": "axis 10 -30 20  ZYX",
                    "axis 0 0 0   XYZ": "axis 45 5 -60   YXZ", "orientation 0 0 0": "orientation 5 10 -20"}


def _copy_small(fixtures_dir: Path, tmp_path: Path, asf_edits: dict | None = None) -> Path:
    asf_text = (fixtures_dir / "malformed" / "amc.asf").read_text()
    for old, new in (asf_edits or {}).items():
        assert old in asf_text
        asf_text = asf_text.replace(old, new)
    (tmp_path / "small.asf").write_text(asf_text)
    amc_text = (fixtures_dir / "malformed" / "amc_wrong_count.amc").read_text().replace("23.4436 1.0", "23.4436")
    (tmp_path / "small_01.amc").write_text(amc_text)
    return tmp_path / "small_01.amc"


def test_other_axis_orders_and_root_orientation(fixtures_dir: Path, tmp_path: Path):
    amc = _copy_small(fixtures_dir, tmp_path, SMALL_ASF_ORDERS)
    motion = load_motion(amc)
    assert read_asf(tmp_path / "small.asf").root_axis == "ZXY"
    assert_matches_classic(motion, (tmp_path / "small.asf").read_text(), amc.read_text(), atol=1e-9)


def test_radians_root_order_and_fps(fixtures_dir: Path, tmp_path: Path):
    amc = _copy_small(fixtures_dir, tmp_path)
    degrees = load_motion(amc)
    frames = simple_amc(amc.read_text())
    lines = ["#", ":RADIANS"]
    for number, frame in enumerate(frames, 1):
        lines.append(str(number))
        root = frame.pop("root")
        lines.append("root " + " ".join(repr(float(v)) for v in [*np.radians(root[[5, 3, 4]]), *root[[1, 2, 0]]]))
        lines += [f"{bone} " + " ".join(repr(float(v)) for v in np.radians(vals)) for bone, vals in frame.items()]
    radians_amc = tmp_path / "small_02.amc"
    radians_amc.write_text("\n".join(lines) + "\n")
    asf = tmp_path / "small.asf"
    asf.write_text(asf.read_text().replace("order TX TY TZ RX RY RZ", "order RZ RX RY TY TZ TX"))
    radians = load_amc(radians_amc, fps=60.0)
    assert radians.meta["angle_unit"] == "rad" and radians.meta["root_order"] == "RZ RX RY TY TZ TX"
    np.testing.assert_allclose(radians.frame_times, [0.0, 1 / 60, 2 / 60])
    np.testing.assert_allclose(radians.body_pos(), degrees.body_pos(), atol=1e-12)


def test_skeleton_lookup(fixtures_dir: Path, tmp_path: Path):
    amc = _copy_small(fixtures_dir, tmp_path)
    assert find_asf(amc) == tmp_path / "small.asf"  # the stem before the first '_'
    shutil.copy(tmp_path / "small.asf", tmp_path / "small_01.asf")
    shutil.copy(tmp_path / "small.asf", tmp_path / "other.asf")
    assert find_asf(amc) == tmp_path / "small.asf"
    (tmp_path / "small.asf").unlink()
    assert find_asf(amc) == tmp_path / "small_01.asf"  # then the AMC's own stem
    (tmp_path / "small_01.asf").unlink()
    assert find_asf(amc) == tmp_path / "other.asf"  # then the only .asf there
    shutil.copy(tmp_path / "other.asf", tmp_path / "third.asf")
    with pytest.raises(MotionFormatError, match=r"small_01\.amc: no skeleton file: looked for small\.asf and "
                       r"small_01\.asf beside it and found 2 other \.asf files; pass asf=PATH"):
        load_motion(amc)
    assert load_motion(amc, asf=tmp_path / "third.asf").num_frames == 3


def test_translation_dofs_are_recorded(fixtures_dir: Path, tmp_path: Path):
    amc = _copy_small(fixtures_dir, tmp_path, {"dof rx\n": "dof rx l\n"})
    amc.write_text(amc.read_text().replace("ltibia 22.5608", "ltibia 22.5608 0.5")
                   .replace("ltibia 23.4436", "ltibia 23.4436 0.5").replace("ltibia 24.3262", "ltibia 24.3262 0.5"))
    motion = load_motion(amc)
    assert motion.meta["ignored_dofs"] == {"ltibia": ["l"]}


def test_malformed_asf_amc_fixtures(fixtures_dir: Path):
    files = sorted((fixtures_dir / "malformed").glob("a[sm][fc]_*.amc"))
    assert sum(p.name.startswith("amc_") for p in files) >= 5 and sum(p.name.startswith("asf_") for p in files) >= 5
    for path in files:
        with pytest.raises(MotionFormatError) as err:
            load_motion(path)
        for expected in [path.name, *path.with_name(path.name + ".expected").read_text().splitlines()]:
            assert expected in str(err.value), (expected, str(err.value))

"""MotionLib against values worked out by hand from the Motion arrays, on NumPy and torch."""

import numpy as np
import pytest
import torch

from deepmimic_mocap import LoopMode, Motion, load_motion
from deepmimic_mocap import rotations as rot
from deepmimic_mocap.motion_lib import MotionFrames, MotionLib

FIELDS = ("root_pos", "root_quat", "local_quat", "dof_pos", "root_lin_vel", "root_ang_vel", "joint_ang_vel", "dof_vel")
VEL_FIELDS = ("root_lin_vel", "root_ang_vel", "joint_ang_vel", "dof_vel")


@pytest.fixture(scope="module")
def clips() -> dict[str, Motion]:
    return {name: load_motion(name) for name in ("walk", "jump", "roll", "getup_faceup", "backflip")}


def _frames(lib: MotionLib, ids, times) -> MotionFrames:
    return lib.get_frames(np.asarray(ids), np.asarray(times, dtype=np.float64))


def _np(frames: MotionFrames) -> dict[str, np.ndarray]:
    return {f: np.asarray(getattr(frames, f).cpu() if torch.is_tensor(getattr(frames, f)) else getattr(frames, f))
            for f in FIELDS}


def _assert_frames_close(a: MotionFrames, b: MotionFrames, atol: float, fields=FIELDS) -> None:
    a, b = _np(a), _np(b)
    for f in fields:
        np.testing.assert_allclose(a[f], b[f], atol=atol, rtol=0, err_msg=f)


def _fd_vel(motion: Motion, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finite-difference velocities of frame pair (k, k + 1) by hand: root linear/angular (world), joints (local)."""
    dt = motion.frame_times[k + 1] - motion.frame_times[k]
    local = motion.local_quat()
    lin = (motion.root_pos[k + 1] - motion.root_pos[k]) / dt
    ang = rot.angular_velocity(motion.root_quat[k], motion.root_quat[k + 1], dt)
    joint = rot.angular_velocity(local[k], local[k + 1], dt, local=True)
    return lin, ang, joint


def test_keyframe_times_give_the_frames_exactly(clips):
    walk = clips["walk"]
    lib = MotionLib([walk])
    ks = np.arange(walk.num_frames - 1)
    fr = _frames(lib, np.zeros(len(ks), int), walk.frame_times[ks])
    np.testing.assert_allclose(fr.root_pos, walk.root_pos[ks], atol=1e-12)
    np.testing.assert_allclose(fr.root_quat, walk.root_quat[ks], atol=1e-12)
    np.testing.assert_allclose(fr.local_quat, walk.local_quat()[ks], atol=1e-12)
    np.testing.assert_allclose(fr.dof_pos, walk.dof_pos[ks], atol=1e-12)
    assert fr.local_quat.shape == (len(ks), 15, 4) and fr.dof_pos.shape == (len(ks), 36)
    assert fr.joint_ang_vel.shape == (len(ks), 15, 3) and fr.dof_vel.shape == (len(ks), 28)
    np.testing.assert_array_equal(fr.root_quat, fr.local_quat[:, 0])
    for k in (0, 7, 20):
        lin, ang, joint = _fd_vel(walk, k)
        np.testing.assert_allclose(fr.root_lin_vel[k], lin, atol=1e-9)
        np.testing.assert_allclose(fr.root_ang_vel[k], ang, atol=1e-9)
        np.testing.assert_allclose(fr.joint_ang_vel[k], joint, atol=1e-9)


def test_halfway_is_the_slerp_and_lerp_midpoint(clips):
    walk = clips["walk"]
    lib = MotionLib([walk])
    k = 10
    t0, t1 = walk.frame_times[k], walk.frame_times[k + 1]
    fr = _frames(lib, [0], [0.5 * (t0 + t1)])
    np.testing.assert_allclose(fr.root_pos[0], 0.5 * (walk.root_pos[k] + walk.root_pos[k + 1]), atol=1e-12)
    # Halfway along the shorter arc: the normalised sum of the two sign-aligned quaternions.
    q0, q1 = walk.local_quat()[k], walk.local_quat()[k + 1]
    q1 = np.where((np.sum(q0 * q1, axis=-1) < 0)[:, None], -q1, q1)
    mid = (q0 + q1) / np.linalg.norm(q0 + q1, axis=-1, keepdims=True)
    np.testing.assert_allclose(fr.local_quat[0], mid, atol=1e-12)
    np.testing.assert_allclose(fr.local_quat[0], rot.quat_slerp(q0, q1, np.full(15, 0.5)), atol=1e-12)
    # A knee is a hinge: its angle is the mean of the two.
    knee = walk.skeleton.dof_pos_slice(walk.skeleton.index("right_knee")).start
    assert fr.dof_pos[0, knee] == pytest.approx(0.5 * (walk.dof_pos[k, knee] + walk.dof_pos[k + 1, knee]), abs=1e-12)
    # Velocities: the mean of the finite differences of the pairs (k, k+1) and (k+1, k+2).
    for got, a, b in zip((fr.root_lin_vel[0], fr.root_ang_vel[0], fr.joint_ang_vel[0]), _fd_vel(walk, k),
                         _fd_vel(walk, k + 1), strict=True):
        np.testing.assert_allclose(got, 0.5 * (a + b), atol=1e-9)


def test_wrap_clip_repeats_with_root_drift(clips):
    walk = clips["walk"]
    lib = MotionLib([walk])
    drift = np.array([*(walk.root_pos[-1, :2] - walk.root_pos[0, :2]), 0.0])
    np.testing.assert_allclose(lib.root_drift[0], drift)
    assert drift[0] > 1.2  # the walk moves about 1.24 m forward per cycle
    dur = walk.duration
    base = _frames(lib, [0, 0], [0.1, dur - 0.1])
    later = _frames(lib, [0, 0], [2 * dur + 0.1, -0.1])
    np.testing.assert_allclose(later.root_pos[0], base.root_pos[0] + 2 * drift, atol=1e-9)
    np.testing.assert_allclose(later.root_pos[1], base.root_pos[1] - drift, atol=1e-9)  # negative time: cycle -1
    for f in FIELDS[1:]:
        np.testing.assert_allclose(getattr(later, f), getattr(base, f), atol=1e-9, err_msg=f)


def test_packed_frames_and_their_velocities(clips):
    walk, getup = clips["walk"], clips["getup_faceup"]
    lib = MotionLib([walk, getup])
    packed = lib.frame_arrays()
    np.testing.assert_array_equal(lib.num_frames, [walk.num_frames, getup.num_frames])
    np.testing.assert_array_equal(lib.frame_offsets, [0, walk.num_frames])
    np.testing.assert_array_equal(lib.loop_wrap, [True, False])
    np.testing.assert_allclose(lib.durations, [walk.duration, getup.duration])
    end = walk.num_frames
    assert packed["local_quat"].shape == (end + getup.num_frames, 15, 4)
    np.testing.assert_allclose(packed["local_quat"][:end], walk.local_quat(), atol=1e-12)
    np.testing.assert_allclose(packed["local_quat"][end:, 0], getup.root_quat, atol=1e-12)
    np.testing.assert_allclose(packed["root_pos"][end:], getup.root_pos)
    np.testing.assert_allclose(packed["frame_times"][end:], getup.frame_times)
    # Frame i's velocity is from frame i to i + 1; the wrap clip's last frame takes frame 0's
    # (0 -> 1 of the next cycle), the non-looping clip's last frame repeats the one before.
    lin, ang, joint = _fd_vel(walk, 4)
    np.testing.assert_allclose(packed["root_lin_vel"][4], lin, atol=1e-12)
    np.testing.assert_allclose(packed["root_ang_vel"][4], ang, atol=1e-12)
    np.testing.assert_allclose(packed["joint_ang_vel"][4], joint, atol=1e-12)
    for key in ("root_lin_vel", "root_ang_vel", "joint_ang_vel"):
        np.testing.assert_array_equal(packed[key][end - 1], packed[key][0])
        np.testing.assert_array_equal(packed[key][-1], packed[key][-2])


def test_wrap_velocity_is_continuous_across_the_cycle(clips):
    walk = clips["walk"]
    fr = _frames(MotionLib([walk]), [0, 0], [walk.duration - 1e-9, 0.0])
    for f in VEL_FIELDS:
        np.testing.assert_allclose(getattr(fr, f)[0], getattr(fr, f)[1], atol=1e-5, err_msg=f)


def test_none_clip_holds_its_ends_standing_still(clips):
    getup = clips["getup_faceup"]
    assert getup.loop == LoopMode.NONE
    lib = MotionLib([getup])
    np.testing.assert_allclose(lib.root_drift, 0.0)
    dur = getup.duration
    fr = _frames(lib, [0, 0, 0, 0], [dur + 1.0, 10 * dur, -0.5, dur])
    for i, k in ((0, -1), (1, -1), (2, 0)):
        np.testing.assert_allclose(fr.root_pos[i], getup.root_pos[k], atol=1e-12)
        np.testing.assert_allclose(fr.root_quat[i], getup.root_quat[k], atol=1e-12)
        np.testing.assert_allclose(fr.dof_pos[i], getup.dof_pos[k], atol=1e-12)
        for f in VEL_FIELDS:
            assert np.all(getattr(fr, f)[i] == 0.0), f
    # At the end itself the clip still moves: the last frame repeats the previous velocity.
    np.testing.assert_allclose(fr.root_lin_vel[3], _fd_vel(getup, getup.num_frames - 2)[0], atol=1e-9)


def test_velocities_match_finite_differences_of_samples(clips):
    """At keyframes the reported velocities are the forward derivatives of the interpolated poses."""
    lib = MotionLib(list(clips.values()))
    h = 1e-6
    ids, times = [], []
    for i, m in enumerate(clips.values()):
        ks = np.linspace(0, m.num_frames - 2, 6).astype(int)
        ids += [i] * len(ks)
        times += list(m.frame_times[ks])
    a, b = _frames(lib, ids, times), _frames(lib, ids, np.asarray(times) + h)
    np.testing.assert_allclose(a.root_lin_vel, (b.root_pos - a.root_pos) / h, atol=1e-5)
    np.testing.assert_allclose(a.root_ang_vel, rot.angular_velocity(a.root_quat, b.root_quat, h), atol=1e-5)
    np.testing.assert_allclose(a.joint_ang_vel, rot.angular_velocity(a.local_quat, b.local_quat, h, local=True),
                               atol=1e-5)
    knees = [lib.skeleton.dof_pos_slice(j).start for j in lib.skeleton.revolute_joints]
    rates = lib.skeleton.dof_vel_from_local_ang_vel(a.joint_ang_vel)
    np.testing.assert_allclose(a.dof_vel, rates, atol=1e-9)
    np.testing.assert_allclose(a.dof_pos[:, knees] + h * rates[:, _rev_vel_columns(lib)], b.dof_pos[:, knees],
                               atol=1e-9)


def _rev_vel_columns(lib: MotionLib) -> list[int]:
    sk, col, out = lib.skeleton, 0, []
    for j, jt in enumerate(sk.joint_types):
        if j in sk.revolute_joints:
            out.append(col)
        col += {"spherical": 3, "revolute": 1}.get(jt.value, 0)
    return out


def test_packed_fields_agree_with_the_skeleton_packers(clips):
    lib = MotionLib(list(clips.values()))
    rng = np.random.default_rng(1)
    ids = lib.sample_motions(200, generator=rng)
    fr = lib.get_frames(ids, lib.sample_times(ids, generator=rng) * 3.0 - 1.0)
    np.testing.assert_allclose(fr.dof_pos, lib.skeleton.dof_pos_from_local_quat(fr.local_quat), atol=1e-12)
    np.testing.assert_allclose(fr.dof_vel, lib.skeleton.dof_vel_from_local_ang_vel(fr.joint_ang_vel), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(fr.local_quat, axis=-1), 1.0, atol=1e-12)


def test_many_clips_in_one_call_match_single_clip_libraries(clips):
    names = ["walk", "jump", "roll", "getup_faceup"]  # 30 fps, 60 fps, non-uniform, non-looping
    assert np.ptp(np.diff(clips["roll"].frame_times)) > 1e-3
    motions = [clips[n] for n in names]
    lib = MotionLib(motions)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, len(names), 500)
    times = rng.uniform(-3.0, 8.0, 500)
    times[:4] = [m.frame_times[3] for m in motions]
    ids[:4] = np.arange(4)
    together = lib.get_frames(ids, times)
    for i, m in enumerate(motions):
        sel = ids == i
        alone = MotionLib([m]).get_frames(np.zeros(sel.sum(), int), times[sel])
        for f in FIELDS:
            np.testing.assert_allclose(getattr(together, f)[sel], getattr(alone, f), atol=1e-9,
                                       err_msg=f"{names[i]} {f}")


@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_torch_cpu_matches_numpy(clips, dtype, atol):
    motions = list(clips.values())
    lib_np, lib_t = MotionLib(motions), MotionLib(motions, device="cpu", dtype=dtype)
    rng = np.random.default_rng(2)
    ids = rng.integers(0, len(motions), 300)
    # Times exactly representable in float32, including negative ones and several cycles.
    times = rng.uniform(-2.0, 6.0, 300).astype(np.float32).astype(np.float64)
    a = lib_np.get_frames(ids, times)
    b = lib_t.get_frames(torch.from_numpy(ids), torch.from_numpy(times).to(dtype))
    assert isinstance(b.local_quat, torch.Tensor) and b.local_quat.dtype == dtype
    _assert_frames_close(a, b, atol, fields=("root_pos", "root_quat", "local_quat", "dof_pos"))
    # Velocities change by up to ~4 rad/s between frames 1/60 s apart (flips, rolls): float32
    # rounding of times of a few seconds (~5e-7 s) moves the blend by ~3e-5 and them by ~1e-4.
    _assert_frames_close(a, b, 50 * atol, fields=VEL_FIELDS)
    np.testing.assert_allclose(lib_t.phase(torch.from_numpy(ids), torch.from_numpy(times)).numpy(),
                               lib_np.phase(ids, times), atol=atol)
    np.testing.assert_allclose(lib_t.body_pos(b).numpy(), lib_np.body_pos(a), atol=10 * atol)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_numpy(clips):
    motions = list(clips.values())
    lib_np, lib_c = MotionLib(motions), MotionLib(motions, device="cuda")
    ids = np.arange(200) % len(motions)
    times = np.linspace(-2.0, 6.0, 200).astype(np.float32).astype(np.float64)
    b = lib_c.get_frames(torch.from_numpy(ids).cuda(), torch.from_numpy(times).float().cuda())
    assert b.local_quat.is_cuda
    _assert_frames_close(lib_np.get_frames(ids, times), b, 1e-4)


def test_phase(clips):
    walk, getup = clips["walk"], clips["getup_faceup"]
    lib = MotionLib([walk, getup])
    d0, d1 = walk.duration, getup.duration
    ids = [0, 0, 0, 0, 1, 1, 1, 1]
    times = [0.25 * d0, 2.25 * d0, -0.25 * d0, d0, 0.5 * d1, 2.0 * d1, -1.0, d1]
    np.testing.assert_allclose(lib.phase(ids, times), [0.25, 0.25, 0.75, 0.0, 0.5, 1.0, 0.0, 1.0], atol=1e-12)
    p = lib.phase(np.zeros(1000, int), np.linspace(-5, 5, 1000))
    assert p.min() >= 0.0 and p.max() < 1.0


@pytest.mark.parametrize("device", [None, "cpu"])
def test_sampling(clips, device):
    motions = [clips["walk"], clips["jump"], clips["getup_faceup"]]
    lib = MotionLib(motions, device=device)
    gen = np.random.default_rng(3) if device is None else torch.Generator().manual_seed(3)
    ids = lib.sample_motions(3000, generator=gen)
    counts = np.bincount(np.asarray(ids), minlength=3)
    assert counts.min() > 800  # uniform over clips
    only_one = lib.sample_motions(50, generator=gen, weights=[0.0, 1.0, 0.0])
    assert (np.asarray(only_one) == 1).all()
    truncate = 0.5
    times = np.asarray(lib.sample_times(ids, truncate_time=truncate, generator=gen))
    limit = np.array([m.duration for m in motions])[np.asarray(ids)] - truncate
    assert times.min() >= 0.0 and (times <= limit + 1e-6).all()
    assert (times > 0.9 * limit).any()
    with pytest.raises(ValueError, match="weights"):
        lib.sample_motions(5, weights=[1.0, 2.0])


def test_forward_kinematics_of_frames_matches_the_motion(clips):
    lib = MotionLib([clips["walk"], clips["backflip"]])
    for i, m in enumerate(lib.motions):
        ks = np.arange(0, m.num_frames - 1, 3)
        fr = lib.get_frames(np.full(len(ks), i), m.frame_times[ks])
        np.testing.assert_allclose(lib.body_pos(fr), m.body_pos()[ks], atol=1e-10)


def test_one_frame_clips(clips):
    walk = clips["walk"]
    single = [Motion(walk.skeleton, [0.0], walk.root_pos[5:6], walk.root_quat[5:6], walk.dof_pos[5:6], loop)
              for loop in (LoopMode.WRAP, LoopMode.NONE)]
    lib = MotionLib([walk, *single])
    fr = lib.get_frames([1, 1, 2, 2, 0], [0.0, 3.7, -1.0, 2.0, 0.0])
    for i in range(4):
        np.testing.assert_allclose(fr.root_pos[i], walk.root_pos[5], atol=1e-12)
        np.testing.assert_allclose(fr.dof_pos[i], walk.dof_pos[5], atol=1e-12)
        for f in VEL_FIELDS:
            assert np.all(getattr(fr, f)[i] == 0.0)
    np.testing.assert_allclose(fr.root_pos[4], walk.root_pos[0], atol=1e-12)
    np.testing.assert_allclose(lib.phase([1, 2], [0.3, 0.3]), [0.0, 0.0])
    np.testing.assert_allclose(lib.sample_times([1, 2]), [0.0, 0.0])


def test_other_skeleton_and_mismatch(clips):
    trot = load_motion("dog3d_trot")
    fr = MotionLib([trot]).get_frames([0, 0], trot.frame_times[[2, 5]])
    np.testing.assert_allclose(fr.dof_pos, trot.dof_pos[[2, 5]], atol=1e-12)
    with pytest.raises(ValueError, match="share one skeleton"):
        MotionLib([clips["walk"], trot])
    with pytest.raises(ValueError, match="at least one clip"):
        MotionLib([])


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_blend_goes_from_one_frame_set_to_the_other(backend):
    """``MotionLib.blend``: weight 0 and 1 give the two inputs, between them the rotations are slerped
    (unit quaternions, on the shorter arc) and the packed ``dof_pos`` follows the blended rotations."""
    from deepmimic_mocap.motion_lib import blend_weight

    lib = MotionLib([load_motion("walk"), load_motion("run")], device="cpu" if backend == "torch" else None)
    xp = torch if backend == "torch" else np
    ids0, ids1 = xp.zeros(4, dtype=xp.int64), xp.ones(4, dtype=xp.int64)
    times = xp.asarray([0.0, 0.3, 0.6, 0.9], dtype=xp.float32)
    a, b = lib.get_frames(ids0, times), lib.get_frames(ids1, times)
    for weight, expected in ((0.0, a), (1.0, b)):
        mixed = lib.blend(a, b, xp.full((4,), weight, dtype=xp.float32))
        np.testing.assert_allclose(np.asarray(mixed.root_pos), np.asarray(expected.root_pos), atol=1e-6)
        same = np.abs(np.sum(np.asarray(mixed.local_quat) * np.asarray(expected.local_quat), axis=-1))
        np.testing.assert_allclose(same, 1.0, atol=1e-5)  # the same rotations (up to the sign)
        np.testing.assert_allclose(np.asarray(mixed.joint_ang_vel), np.asarray(expected.joint_ang_vel), atol=1e-5)
    half = lib.blend(a, b, xp.full((4,), 0.5, dtype=xp.float32))
    np.testing.assert_allclose(np.linalg.norm(np.asarray(half.local_quat), axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(half.root_pos), (np.asarray(a.root_pos) + np.asarray(b.root_pos)) / 2,
                               atol=1e-6)
    angle_a = np.asarray(rot.quat_angle_between(xp.asarray(half.local_quat), a.local_quat))
    angle_b = np.asarray(rot.quat_angle_between(xp.asarray(half.local_quat), b.local_quat))
    np.testing.assert_allclose(angle_a, angle_b, atol=1e-3)  # halfway in angle
    repacked = lib.blend(half, half, xp.zeros(4, dtype=xp.float32))
    np.testing.assert_allclose(np.asarray(repacked.dof_pos), np.asarray(half.dof_pos), atol=1e-6)
    np.testing.assert_allclose(blend_weight(np.array([-1.0, 0.0, 0.25, 0.5, 2.0]), 0.5), [0, 0, 0.5, 1, 1])

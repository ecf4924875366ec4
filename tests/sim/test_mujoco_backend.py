"""Contract tests of the physics backends (``deepmimic_sim.backends.PhysicsBackend``).

Everything above the "MuJoCo CPU only" line runs against every registered backend that can be
built here (``make`` fixture): a future GPU backend is tested by registering it in ``BACKENDS``.
Tests that make MuJoCo print warnings (it appends them to ``MUJOCO_LOG.TXT`` in the working
directory) run in a private temporary directory.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable, Iterator
from functools import cache, partial
from pathlib import Path

import numpy as np
import pytest
import torch
from deepmimic_mocap.skeleton import JointType
from deepmimic_sim.backends import BACKENDS, PhysicsBackend, make_backend
from deepmimic_sim.model.joint_mapping import JointMapping

from deepmimic_mocap import load_character, load_motion

MakeBackend = Callable[..., PhysicsBackend]
STAND_SECONDS = 0.5


def _importable(name: str) -> bool:
    try:
        importlib.import_module(BACKENDS[name].split(":")[0])
    except (ImportError, RuntimeError):
        return False
    return True


@pytest.fixture(params=[pytest.param(n, marks=pytest.mark.skipif(not _importable(n), reason=f"{n} unavailable"))
                        for n in BACKENDS])
def make(request: pytest.FixtureRequest) -> MakeBackend:
    """Builds the parametrized backend: ``make(num_envs=4, character="humanoid3d", ...)``."""
    return partial(make_backend, request.param)


@pytest.fixture
def private_cwd() -> Iterator[Path]:
    """A private working directory, for tests that make MuJoCo write ``MUJOCO_LOG.TXT`` (not pytest's
    ``tmp_path``: concurrent pytest sessions prune each other's old base directories)."""
    old = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(old)


@cache
def _mapping(character: str) -> JointMapping:
    return JointMapping(load_character(character))


def _clip_state(clip: str = "humanoid3d_walk", frame: int = 0, n: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` copies of a clip frame as (qpos, qvel), zero velocity."""
    motion = load_motion(clip)
    mapping = _mapping(motion.skeleton.name)
    qpos = mapping.qpos(motion.root_pos[frame], motion.root_quat[frame], motion.local_quat()[frame])
    qpos = torch.from_numpy(np.tile(qpos, (n, 1)))
    return qpos, torch.zeros(n, 6 + mapping.num_hinges, dtype=torch.float64)


def _reset_all(backend: PhysicsBackend, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
    backend.reset(torch.arange(backend.num_envs), qpos, qvel)


def _hold(backend: PhysicsBackend, targets: torch.Tensor, seconds: float) -> list[torch.Tensor]:
    """Step with fixed targets for ``seconds``; returns the qpos after every step."""
    out = []
    for _ in range(round(seconds / backend.control_dt)):
        backend.step(targets)
        out.append(backend.qpos.clone())
    return out


def _torque_limits(character: str, hinge_names: tuple[str, ...]) -> np.ndarray:
    """Per-hinge torque limit from the character file (hinge ``<joint>_x`` belongs to ``<joint>``)."""
    char = load_character(character)
    limit = {}
    for j, name in enumerate(char.skeleton.joint_names):
        if char.skeleton.joint_types[j] == JointType.SPHERICAL:
            limit.update({f"{name}_{a}": char.torque_limits[j] for a in "xyz"})
        elif char.skeleton.joint_types[j] == JointType.REVOLUTE:
            limit[name] = char.torque_limits[j]
    return np.array([limit[h] for h in hinge_names])


# ---------------------------------------------------------------------------------------- contract
@pytest.mark.parametrize("character", ["humanoid3d", "dog3d"])
def test_names_and_shapes(make: MakeBackend, character: str) -> None:
    n = 3
    backend = make(character=character, num_envs=n)
    char = load_character(character)
    assert backend.body_names == tuple(char.skeleton.joint_names)
    assert backend.hinge_names == tuple(_mapping(character).hinge_names)
    assert backend.control_dt == pytest.approx(backend.physics_dt * backend.substeps)
    nb, nh = len(backend.body_names), backend.num_hinges
    expected = {"qpos": (n, 7 + nh), "qvel": (n, 6 + nh), "body_pos_w": (n, nb, 3), "body_quat_w": (n, nb, 4),
                "body_lin_vel_w": (n, nb, 3), "body_ang_vel_w": (n, nb, 3), "com_pos_w": (n, 3), "com_vel_w": (n, 3)}
    for name, shape in expected.items():
        value = getattr(backend, name)
        assert tuple(value.shape) == shape, name
        assert value.dtype in (torch.float32, torch.float64), name
        assert value.device == backend.device, name
        assert torch.isfinite(value).all(), name
    for name, shape in {"ground_contact": (n, nb), "diverged": (n,)}.items():
        value = getattr(backend, name)
        assert tuple(value.shape) == shape and value.dtype == torch.bool, name


def test_reset_subset_leaves_others(make: MakeBackend) -> None:
    backend = make(num_envs=4)
    qpos, qvel = _clip_state(n=4)
    _reset_all(backend, qpos, qvel)
    _hold(backend, qpos[:, 7:], 0.2)
    before = {k: getattr(backend, k).clone() for k in ("qpos", "qvel", "body_pos_w", "com_pos_w")}
    new_qpos, new_qvel = _clip_state("humanoid3d_jump", 10, 2)
    new_qvel[:, 0] = 0.5
    backend.reset(torch.tensor([1, 2]), new_qpos, new_qvel)
    for key, value in before.items():
        assert torch.equal(getattr(backend, key)[[0, 3]], value[[0, 3]]), key
    assert torch.allclose(backend.qpos[[1, 2]], new_qpos.to(backend.qpos))
    assert torch.allclose(backend.qvel[[1, 2]], new_qvel.to(backend.qvel))
    assert torch.allclose(backend.body_pos_w[1, 0], new_qpos[0, :3].to(backend.body_pos_w))


@pytest.mark.parametrize(("clip", "min_height"), [("humanoid3d_walk", 0.7), ("dog3d_trot", 0.4)])
def test_holding_first_frame_keeps_standing(make: MakeBackend, clip: str, min_height: float) -> None:
    qpos, qvel = _clip_state(clip)
    backend = make(character=clip.split("_")[0], num_envs=1)
    _reset_all(backend, qpos, qvel)
    heights = torch.stack([q[0, 2] for q in _hold(backend, qpos[:, 7:], STAND_SECONDS)])
    assert heights.min() > min_height, f"root fell to {heights.min():.3f} m within {STAND_SECONDS} s"
    assert not backend.diverged.any()


def test_pd_tracks_a_hinge_target(make: MakeBackend) -> None:
    qpos, qvel = _clip_state()
    backend = make(num_envs=2)
    _reset_all(backend, qpos.repeat(2, 1), qvel.repeat(2, 1))
    hinge = backend.hinge_names.index("right_elbow")
    targets = qpos[:, 7:].repeat(2, 1)
    targets[1, hinge] += 0.8
    _hold(backend, targets, 0.3)
    moved = backend.qpos[1, 7 + hinge] - backend.qpos[0, 7 + hinge]
    assert 0.5 < moved < 1.0, f"elbow moved {moved:.3f} rad towards a +0.8 rad target"


def test_torques_stay_within_limits(make: MakeBackend) -> None:
    backend = make(num_envs=2)
    if not hasattr(backend, "actuator_force"):
        pytest.skip("backend does not report actuator forces")
    qpos, qvel = _clip_state(n=2)
    _reset_all(backend, qpos, qvel)
    limits = torch.from_numpy(_torque_limits("humanoid3d", backend.hinge_names)).to(backend.actuator_force)
    targets = qpos[:, 7:] + torch.tensor([2.0, -2.0], dtype=torch.float64)[:, None]
    saturated = torch.zeros(backend.num_hinges, dtype=torch.bool)
    for _ in range(5):
        backend.step(targets)
        force = backend.actuator_force.abs()
        assert (force <= limits * (1 + 1e-9)).all(), "actuator force beyond its torque limit"
        saturated |= (force >= limits * (1 - 1e-6)).any(dim=0).cpu()
    assert saturated.sum() >= backend.num_hinges // 2, "large target errors should saturate most hinges"


def test_nonfinite_targets_are_replaced_and_counted(make: MakeBackend) -> None:
    backend = make(num_envs=2)
    qpos, qvel = _clip_state(n=2)
    _reset_all(backend, qpos, qvel)
    targets = qpos[:, 7:].clone()
    targets[0, 3], targets[1, 5], targets[1, 6] = float("nan"), float("inf"), -float("inf")
    count = getattr(backend, "nonfinite_targets", 0)
    backend.step(targets)
    assert torch.isfinite(backend.qpos).all() and torch.isfinite(backend.body_pos_w).all()
    assert not backend.diverged.any()
    if hasattr(backend, "nonfinite_targets"):
        assert backend.nonfinite_targets == count + 3


@pytest.mark.parametrize("shape", [(2, 27), (3, 28), (28,), (2, 28, 1)])
def test_wrong_target_shape_raises(make: MakeBackend, shape: tuple[int, ...]) -> None:
    backend = make(num_envs=2)
    with pytest.raises(ValueError, match=r"\(2, 28\).*" + ", ".join(str(s) for s in shape)):
        backend.step(torch.zeros(shape, dtype=torch.float64))


def _exploding_run(make: MakeBackend, qvel_bad: torch.Tensor | None, steps: int = 5) -> PhysicsBackend:
    """Three walking envs; env 1 gets ``qvel_bad`` (None: a normal env) and is not reset (the flag sticks)."""
    backend = make(num_envs=3)
    qpos, qvel = _clip_state(n=3)
    if qvel_bad is not None:
        qvel[1] = qvel_bad
    _reset_all(backend, qpos, qvel)
    for _ in range(steps):
        backend.step(qpos[:, 7:])
    return backend


@pytest.mark.parametrize("case", ["launched", "huge_qvel", "beyond_mjmaxval"])
@pytest.mark.usefixtures("private_cwd")
def test_exploding_env_is_flagged_and_isolated(make: MakeBackend, case: str) -> None:
    """``launched``: 2 km/s upwards, finite but beyond the qvel limit; the others make MuJoCo reset the env."""
    nv = 6 + _mapping("humanoid3d").num_hinges
    bad = {"launched": torch.tensor([0.0, 0.0, 2e3] + [0.0] * (nv - 3)), "huge_qvel": torch.full((nv,), 1e5),
           "beyond_mjmaxval": torch.full((nv,), 1e11)}[case].double()
    exploded, normal = _exploding_run(make, bad), _exploding_run(make, None)
    assert exploded.diverged.tolist() == [False, True, False]
    assert not normal.diverged.any()
    for key in ("qpos", "qvel", "body_pos_w", "body_lin_vel_w", "com_pos_w", "ground_contact"):
        assert torch.equal(getattr(exploded, key)[[0, 2]], getattr(normal, key)[[0, 2]]), key
    qpos, qvel = _clip_state()
    exploded.reset(torch.tensor([1]), qpos, qvel)
    assert not exploded.diverged.any()
    exploded.step(exploded.qpos[:, 7:].clone())
    assert not exploded.diverged.any()


@pytest.mark.parametrize(("character", "feet", "off_ground"), [
    ("humanoid3d", ("right_ankle", "left_ankle"), ("neck", "chest", "root", "right_wrist")),
    ("dog3d", ("left_finger", "right_finger", "left_toe", "right_toe"), ("head", "spine1", "tail1")),
])
def test_ground_contact_when_standing(make: MakeBackend, character: str, feet: tuple[str, ...],
                                      off_ground: tuple[str, ...]) -> None:
    backend = make(character=character, num_envs=1)
    qpos = torch.zeros(1, 7 + backend.num_hinges, dtype=torch.float64)
    qpos[0, 2], qpos[0, 3] = 0.9, 1.0  # rest pose, dropped from 0.9 m (feet a few cm above the floor)
    _reset_all(backend, qpos, torch.zeros(1, 6 + backend.num_hinges, dtype=torch.float64))
    _hold(backend, qpos[:, 7:], STAND_SECONDS)
    contact = dict(zip(backend.body_names, backend.ground_contact[0].tolist(), strict=True))
    assert all(contact[b] for b in feet), contact
    assert not any(contact[b] for b in off_ground), contact


def _random_run(make: MakeBackend, steps: int = 15, **kwargs) -> list[torch.Tensor]:
    backend = make(num_envs=5, **kwargs)
    qpos, qvel = _clip_state("humanoid3d_run", 3, 5)
    _reset_all(backend, qpos, qvel)
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(steps):
        backend.step(qpos[:, 7:] + 0.3 * torch.randn(qpos[:, 7:].shape, generator=gen, dtype=torch.float64))
        out += [backend.qpos.clone(), backend.body_pos_w.clone(), backend.ground_contact.clone()]
    return out


def test_deterministic(make: MakeBackend) -> None:
    first, second = _random_run(make), _random_run(make)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


# ---------------------------------------------------------------------------------------- MuJoCo CPU only
def test_mujoco_results_independent_of_threads() -> None:
    one = _random_run(partial(make_backend, "mujoco"), nthread=1)
    two = _random_run(partial(make_backend, "mujoco"), nthread=2)
    assert all(torch.equal(a, b) for a, b in zip(one, two, strict=True))


def test_mujoco_readings_describe_the_state_after_the_step() -> None:
    """Sensors are read at the final state (no one-substep lag): compare with mj_forward there."""
    import mujoco

    backend = make_backend("mujoco", num_envs=3, nthread=2)
    qpos, qvel = _clip_state("humanoid3d_run", 5, 3)
    _reset_all(backend, qpos, qvel)
    _hold(backend, qpos[:, 7:], 0.2)
    model, data = backend.model, mujoco.MjData(backend.model)
    ids = [model.body(name).id for name in backend.body_names]
    for env in range(3):
        data.qpos[:], data.qvel[:] = backend.qpos[env].numpy(), backend.qvel[env].numpy()
        mujoco.mj_forward(model, data)
        np.testing.assert_array_equal(data.xpos[ids], backend.body_pos_w[env].numpy())
        np.testing.assert_allclose(data.xquat[ids], backend.body_quat_w[env].numpy(), atol=1e-12)
        np.testing.assert_array_equal(data.subtree_com[ids[0]], backend.com_pos_w[env].numpy())
        touching = {model.body(model.geom_bodyid[c.geom[i]]).name for c in data.contact[:data.ncon] for i in (0, 1)}
        assert {b for b, c in zip(backend.body_names, backend.ground_contact[env], strict=True) if c} == \
            touching - {"world"}


def test_mujoco_getters_are_zero_copy_views() -> None:
    backend = make_backend("mujoco", num_envs=2)
    pos = backend.body_pos_w
    assert pos.dtype == torch.float64 and pos is backend.body_pos_w
    qpos, qvel = _clip_state(n=2)
    _reset_all(backend, qpos, qvel)
    assert torch.equal(pos[:, 0], qpos[:, :3])  # the earlier tensor sees the reset


def test_mujoco_rejects_bad_reset_input() -> None:
    backend = make_backend("mujoco", num_envs=2)
    qpos, qvel = _clip_state(n=2)
    with pytest.raises(ValueError, match="finite"):
        backend.reset(torch.arange(2), qpos * float("nan"), qvel)
    with pytest.raises(ValueError, match=r"qvel must have shape \(2, 34\)"):
        backend.reset(torch.arange(2), qpos, qvel[:, :5])
    with pytest.raises(ValueError, match="env_ids"):
        backend.reset(torch.tensor([0, 2]), qpos, qvel)


def test_mujoco_hinge_order_matches_model() -> None:
    backend = make_backend("mujoco")
    model = backend.model
    assert [model.actuator(i).name for i in range(model.nu)] == list(backend.hinge_names)
    assert [model.joint(i).name for i in range(1, model.njnt)] == list(backend.hinge_names)


def test_mujoco_model_path_must_match_the_character() -> None:
    from deepmimic_sim.model.character_mjcf import shipped_model_path

    backend = make_backend("mujoco", model_path=shipped_model_path("humanoid3d"))
    assert backend.model.nu == backend.num_hinges
    with pytest.raises(ValueError, match="bodies"):
        make_backend("mujoco", character="dog3d", model_path=shipped_model_path("humanoid3d"))

"""The generated character models: figures from the DeepMimic files, and the shipped copies."""

import mujoco
import numpy as np
import pytest

from deepmimic_mocap import load_character
from deepmimic_sim.model.character_mjcf import build_mjcf, hinge_names, shipped_model_path
from deepmimic_sim.model.controller import load_controller


@pytest.mark.parametrize("character", ["humanoid3d", "dog3d"])
def test_shipped_model_is_the_generated_one(character):
    # Regenerate with `deepmimic sim build-model --character NAME` when this fails.
    assert shipped_model_path(character).read_text() == build_mjcf(character)


def test_humanoid_model_figures():
    character = load_character("humanoid3d")
    model = mujoco.MjModel.from_xml_path(str(shipped_model_path("humanoid3d")))
    assert model.body_mass.sum() == pytest.approx(45.0)
    assert model.nu == 28 and model.nq == 35 and model.nv == 34
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, i) for i in range(model.nu)]
    assert names == hinge_names(character)
    controller = load_controller(character)
    knee = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, "right_knee")
    assert model.actuator_gainprm[knee, 0] == controller.kp[character.skeleton.index("right_knee")] == 500
    np.testing.assert_allclose(model.actuator_forcerange[knee], [-150, 150])
    # Knees bend one way only; spherical hinges are unlimited, as DeepMimic simulates them.
    knee_joint = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "right_knee")
    np.testing.assert_allclose(model.jnt_range[knee_joint], [-3.14, 0.0])
    assert not model.jnt_limited[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "right_hip_x")]
    # Body geoms collide with the floor only.
    floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    body_geoms = [g for g in range(model.ngeom) if g != floor]
    assert all(model.geom_contype[g] & model.geom_conaffinity[h] == 0 for g in body_geoms for h in body_geoms)

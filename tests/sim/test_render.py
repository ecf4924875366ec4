"""Offscreen rendering of the sim character and its reference ghost, video files and ``deepmimic sim view``.

Skipped when no offscreen OpenGL backend works (install ``libosmesa6``, or the EGL packages named
in ``deepmimic_sim.render.GL_PACKAGES``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from deepmimic_sim.render import (
    GL_PACKAGES,
    REF_PREFIX,
    SIM_PREFIX,
    CameraSettings,
    ClipRenderer,
    GLUnavailableError,
    build_scene_spec,
    clip_qpos,
    gl_available,
    render_frames,
    select_gl_backend,
    write_video,
)

from deepmimic_mocap import load_motion

W, H = 160, 96
FPS = 10.0


@pytest.fixture(scope="module")
def gl() -> None:
    """Skip the module's rendering tests when no offscreen OpenGL backend works."""
    if not gl_available():
        pytest.skip(f"no offscreen OpenGL backend (MUJOCO_GL egl/osmesa); on Debian install "
                    f"`{GL_PACKAGES['osmesa']}` or `{GL_PACKAGES['egl']}`")


@pytest.fixture(scope="module")
def walk_qpos() -> np.ndarray:
    """One second of the walk clip at 10 fps as humanoid3d ``qpos``. Shape: ``(10, 35)``."""
    return clip_qpos(load_motion("walk"), "humanoid3d", FPS, 1.0)


def _mask(image: np.ndarray, empty: np.ndarray, threshold: int = 25) -> np.ndarray:
    """Pixels that differ from the empty scene. Shape: ``(H, W)``, bool."""
    return np.abs(image.astype(np.int16) - empty.astype(np.int16)).max(axis=-1) > threshold


def _centroid_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean())


# ------------------------------------------------------------------------------ the model
def test_scene_has_sim_and_ghost_copies() -> None:
    model = build_scene_spec("humanoid3d", W, H).compile()
    names = [model.geom(i).name for i in range(model.ngeom)]
    sim = np.array([n.startswith(SIM_PREFIX) for n in names])
    ref = np.array([n.startswith(REF_PREFIX) for n in names])
    assert sim.sum() == ref.sum() > 10
    assert (model.geom_rgba[sim, 3] == 1.0).all()
    assert (model.geom_rgba[ref, 3] < 0.5).all()
    assert not model.geom_contype[ref].any() and not model.geom_conaffinity[ref].any()
    actuators = [model.actuator(i).name for i in range(model.nu)]
    assert len(actuators) == 28 and all(a.startswith(SIM_PREFIX) for a in actuators)
    assert model.nq == 2 * 35


def test_user_mujoco_gl_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    assert select_gl_backend() == "osmesa"
    monkeypatch.setenv("MUJOCO_GL", "nonsense")
    with pytest.raises(GLUnavailableError, match="MUJOCO_GL"):
        select_gl_backend()


def test_automatic_choice_is_written_to_the_environment(gl: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    backend = select_gl_backend()
    assert backend in ("egl", "osmesa")
    import os

    assert os.environ["MUJOCO_GL"] == backend


# ------------------------------------------------------------------------------ frames
def test_frames_have_the_requested_shape(gl: None, walk_qpos: np.ndarray) -> None:
    frames = render_frames(walk_qpos[:3], walk_qpos[:3], W, H, FPS)
    assert len(frames) == 3
    assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in frames)


def test_character_is_visible_and_moves_with_its_root(gl: None, walk_qpos: np.ndarray) -> None:
    with ClipRenderer(width=W, height=H, camera=CameraSettings(track=False)) as renderer:
        empty = renderer.render_frame(None, None, look_at=walk_qpos[0, :2])
        first, last = renderer.render_frames(walk_qpos[[0, -1]])
    start, end = _mask(first, empty), _mask(last, empty)
    assert start.mean() > 0.01 and end.mean() > 0.01  # the character covers >1% of the frame
    travel = walk_qpos[-1, 0] - walk_qpos[0, 0]  # along +x: screen right in the default side view
    assert travel > 0.5
    assert _centroid_x(end) - _centroid_x(start) > 0.1 * W


def test_tracking_camera_keeps_the_character_in_frame(gl: None, walk_qpos: np.ndarray) -> None:
    with ClipRenderer(width=W, height=H) as renderer:
        frames = renderer.render_frames(walk_qpos)
        empties = [renderer.render_frame(None, None, look_at=q[:2]) for q in walk_qpos[[0, -1]]]
    masks = [_mask(f, e) for f, e in zip([frames[0], frames[-1]], empties, strict=True)]
    assert all(abs(_centroid_x(m) - W / 2) < W / 6 for m in masks)
    assert not np.array_equal(frames[0], frames[-1])  # the pose changes


def test_ghost_is_a_translucent_different_colour(gl: None, walk_qpos: np.ndarray) -> None:
    q = walk_qpos[0]
    with ClipRenderer(width=W, height=H) as renderer:
        empty = renderer.render_frame(None, None, look_at=q[:2])
        sim_only, ghost_only = renderer.render_frame(q, None), renderer.render_frame(None, q, look_at=q[:2])
        both = renderer.render_frame(q, q)
    assert not np.array_equal(both, sim_only)
    sim_mask, ghost_mask = _mask(sim_only, empty), _mask(ghost_only, empty)
    assert ghost_mask.mean() > 0.01
    sim_rgb, ghost_rgb = sim_only[sim_mask].mean(axis=0), ghost_only[ghost_mask].mean(axis=0)
    assert ghost_rgb[0] > ghost_rgb[2] and sim_rgb[2] > sim_rgb[0]  # orange ghost, blue-grey character


def test_character_shows_through_the_ghost(gl: None, walk_qpos: np.ndarray) -> None:
    q = walk_qpos[0]
    # The ghost 0.4 m nearer the camera than the character, so that it covers part of it.
    with ClipRenderer(width=W, height=H, ref_offset=(0.0, -0.4, 0.0)) as renderer:
        empty, sim = renderer.render_frame(None, None, look_at=q[:2]), renderer.render_frame(q, None)
        ghost, both = renderer.render_frame(None, q, look_at=q[:2]), renderer.render_frame(q, q)
    covered = _mask(ghost, empty) & _mask(sim, empty)
    assert covered.sum() > 50
    # An opaque ghost would hide the character there (median difference 0); alpha 0.3 gives about 50.
    difference = np.abs(both.astype(np.int16) - ghost.astype(np.int16)).max(axis=-1)
    assert np.median(difference[covered]) > 20


def test_side_by_side_puts_the_ghost_to_the_right(gl: None, walk_qpos: np.ndarray) -> None:
    q = walk_qpos[:1]
    with ClipRenderer(width=W, height=H) as renderer:
        renderer.ref_offset = renderer.side_by_side_offset()
        empty = renderer.render_frame(None, None, look_at=q[0, :2])
        sim, ghost = renderer.render_frames(q)[0], renderer.render_frame(None, q[0], look_at=q[0, :2])
    assert _centroid_x(_mask(ghost, empty)) - _centroid_x(_mask(sim, empty)) > 0.15 * W


def test_bad_pose_shapes_are_rejected(gl: None, walk_qpos: np.ndarray) -> None:
    with ClipRenderer(width=W, height=H) as renderer:
        with pytest.raises(ValueError, match="qpos_sim"):
            renderer.render_frames(walk_qpos[:, :30])
        with pytest.raises(ValueError, match="frames"):
            renderer.render_frames(walk_qpos[:3], walk_qpos[:2])


# ------------------------------------------------------------------------------ files
@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_video_round_trip(gl: None, walk_qpos: np.ndarray, tmp_path: Path, suffix: str) -> None:
    frames = render_frames(walk_qpos[:5], walk_qpos[:5], W, H, FPS)
    path = write_video(frames, tmp_path / f"walk{suffix}", FPS)
    import imageio.v2 as imageio

    reader = imageio.get_reader(path)
    read = [np.asarray(f) for f in reader]
    reader.close()
    assert len(read) == 5
    assert read[0].shape[:2] == (H, W)


def test_mp4_drops_an_odd_row_and_column(tmp_path: Path) -> None:
    frames = [np.full((33, 41, 3), 10 * i, dtype=np.uint8) for i in range(3)]
    import imageio.v2 as imageio

    reader = imageio.get_reader(write_video(frames, tmp_path / "odd.mp4", 10))
    assert reader.get_data(0).shape == (32, 40, 3)
    reader.close()


def test_unknown_video_extension_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.avi"):
        write_video([np.zeros((8, 8, 3), np.uint8)], tmp_path / "x.avi")


# ------------------------------------------------------------------------------ command line
def test_sim_view_writes_a_video(gl: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from deepmimic.cli import main

    out = tmp_path / "walk.gif"
    rc = main(["sim", "view", "--motion", "walk", "--seconds", "0.3", "--fps", "10", "--width", "96",
               "--height", "64", "--side-by-side", "--out", str(out)])
    assert rc == 0 and out.is_file()
    assert f"wrote {out}: 3 frames" in capsys.readouterr().out


def test_sim_view_rejects_a_bad_extension(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from deepmimic.cli import main

    assert main(["sim", "view", "--motion", "walk", "--out", str(tmp_path / "walk.avi")]) == 2
    assert ".mp4 or .gif" in capsys.readouterr().err

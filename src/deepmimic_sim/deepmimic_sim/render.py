"""Offscreen MuJoCo rendering of a character next to a translucent reference ghost, and video files.

One ``MjModel`` holds two copies of a character: ``sim/`` (opaque, the simulated or policy-driven
character, actuators kept) and ``ref/`` (a translucent ghost showing the reference motion: no
actuators, no contacts). Frames come from ``qpos`` sequences by ``mj_kinematics`` only, so the same
renderer shows kinematic clips, recorded rollouts and trained policies.

OpenGL without a display: ``select_gl_backend`` honours a user-set ``MUJOCO_GL``, else tries EGL
then OSMesa (Mesa's llvmpipe on a CPU-only machine; the GPU's driver when there is one), each
probed in a short subprocess because a failed EGL start poisons PyOpenGL's platform choice for the
process. MuJoCo reads ``MUJOCO_GL`` only once, when ``mujoco`` is first imported, so the renderer
creates its context from the chosen backend module itself and works whatever imported ``mujoco``
first.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from .model.character_mjcf import build_mjcf, shipped_model_path

# Backends tried in order when MUJOCO_GL is unset, and the Debian packages each one needs.
GL_BACKENDS = ("egl", "osmesa")
GL_PACKAGES = {"egl": "libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0", "osmesa": "libosmesa6"}
_CONTEXT_MODULES = {"egl": "mujoco.egl", "osmesa": "mujoco.osmesa", "glfw": "mujoco.glfw", "glx": "mujoco.glfw"}
_PROBE = ("import mujoco\n"
          "ctx = mujoco.GLContext(16, 16)\nctx.make_current()\n"
          "mujoco.MjrContext(mujoco.MjModel.from_xml_string('<mujoco/>'), 150).free()\nctx.free()\n")

SIM_PREFIX, REF_PREFIX = "sim/", "ref/"
GHOST_RGBA = (1.0, 0.55, 0.15, 0.3)
SIM_GROUP, REF_GROUP = 1, 2  # geom groups: hide a character by switching its group off
SIDE_BY_SIDE_GAP = 1.0  # metres between the sim and the ghost with ``layout="side-by-side"``

_SCENE_XML = """<mujoco model="render_scene">
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1=".55 .65 .75" rgb2=".15 .18 .22" width="32" height="512"/>
    <texture name="grid" type="2d" builtin="checker" width="512" height="512" rgb1=".25 .28 .32" rgb2=".32 .35 .4"/>
    <material name="grid" texture="grid" texrepeat="1 1" texuniform="true"/>
  </asset>
  <visual>
    <headlight ambient=".4 .4 .4" diffuse=".6 .6 .6"/>
    <map znear="0.02" zfar="100"/>
    <quality shadowsize="1024"/>
  </visual>
  <worldbody>
    <light name="sun" pos="0 0 6" dir="0.2 0.3 -1" directional="true"/>
    <geom name="floor" type="plane" size="0 0 0.05" material="grid" contype="0" conaffinity="1" friction="0.9"/>
  </worldbody>
</mujoco>
"""


class GLUnavailableError(RuntimeError):
    """No OpenGL backend can render offscreen on this machine."""


def _probe_backend(backend: str) -> str | None:
    """Try ``backend`` in a fresh interpreter; ``None`` when it renders, else the error's last line."""
    env = {**os.environ, "MUJOCO_GL": backend}
    env.pop("PYOPENGL_PLATFORM", None)
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    if proc.returncode == 0:
        return None
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit code {proc.returncode}"


def select_gl_backend() -> str:
    """The offscreen OpenGL backend to use: ``MUJOCO_GL`` if set, else the first of EGL, OSMesa that works.

    The choice is written to ``MUJOCO_GL`` so later calls and child processes reuse it.

    Raises:
        GLUnavailableError: Neither backend works; the message names the Debian packages to install.
    """
    chosen = os.environ.get("MUJOCO_GL", "").strip().lower()
    if chosen:
        if chosen not in _CONTEXT_MODULES:
            raise GLUnavailableError(f"MUJOCO_GL={chosen!r} cannot render offscreen; use one of "
                                     f"{', '.join(_CONTEXT_MODULES)} (or unset it to choose automatically)")
        return chosen
    errors = {}
    for backend in GL_BACKENDS:
        errors[backend] = _probe_backend(backend)
        if errors[backend] is None:
            os.environ["MUJOCO_GL"] = backend
            return backend
    tried = "; ".join(f"{b}: {e}" for b, e in errors.items())
    raise GLUnavailableError(
        f"no offscreen OpenGL backend works ({tried}). Install Mesa's software renderer, e.g. on Debian/Ubuntu "
        f"`apt-get install -y --no-install-recommends {GL_PACKAGES['osmesa']}` (OSMesa) or "
        f"`apt-get install -y --no-install-recommends {GL_PACKAGES['egl']}` (EGL), or set MUJOCO_GL")


def gl_available() -> bool:
    """Whether an offscreen OpenGL backend works here, a user-set ``MUJOCO_GL`` included (for skipping tests)."""
    try:
        return _probe_backend(select_gl_backend()) is None
    except GLUnavailableError:
        return False


# ------------------------------------------------------------------------------------ the scene
def _character_spec(character: str) -> mujoco.MjSpec:
    """The character's shipped MJCF (``assets/<name>.xml``), or one generated from its DeepMimic files."""
    path = shipped_model_path(character)
    return mujoco.MjSpec.from_file(str(path)) if path.is_file() else mujoco.MjSpec.from_string(build_mjcf(character))


def _attach(scene: mujoco.MjSpec, character: str, prefix: str) -> mujoco.MjsBody:
    """Attach a copy of the character's root body subtree (with its actuators) under ``prefix``."""
    child = _character_spec(character)
    for key in list(child.keys):  # a robot's keyframes (the G1's `home`) do not fit the two-character scene
        child.delete(key)
    child.nkey = 0
    scene.option.timestep, scene.option.integrator = child.option.timestep, child.option.integrator
    return scene.worldbody.add_frame().attach_body(child.worldbody.first_body(), prefix, "")


def _style(root: mujoco.MjsBody, group: int, rgba: Sequence[float] | None) -> None:
    """Put the subtree's geoms in ``group``; make them contact-free and recoloured when ``rgba`` is given."""
    for geom in root.find_all(mujoco.mjtObj.mjOBJ_GEOM):
        geom.group = group
        if rgba is not None:
            geom.rgba, geom.contype, geom.conaffinity = rgba, 0, 0


def build_scene_spec(character: str = "humanoid3d", width: int = 640, height: int = 360, samples: int = 4,
                     ghost_rgba: Sequence[float] = GHOST_RGBA) -> mujoco.MjSpec:
    """Floor, light, sky, the ``sim/`` character and its ``ref/`` ghost (translucent, no actuators or contacts).

    ``width``, ``height``: the offscreen framebuffer; ``samples``: multisampling (0 renders about twice as
    fast on Mesa's llvmpipe, with jagged edges).
    """
    spec = mujoco.MjSpec.from_string(_SCENE_XML)
    spec.visual.global_.offwidth, spec.visual.global_.offheight = width, height
    spec.visual.quality.offsamples = samples
    _style(_attach(spec, character, SIM_PREFIX), SIM_GROUP, None)
    _style(_attach(spec, character, REF_PREFIX), REF_GROUP, ghost_rgba)
    for actuator in [a for a in spec.actuators if a.name.startswith(REF_PREFIX)]:
        spec.delete(actuator)
    return spec


# ------------------------------------------------------------------------------------ rendering
@dataclass(frozen=True)
class CameraSettings:
    """A side view that follows the sim root horizontally at a fixed height, like DeepMimic's viewer.

    Attributes:
        distance: Camera distance from the point it looks at, m (``None``: 2 character heights).
        azimuth: Degrees; 90 looks along +y, so a character walking along +x moves to the right.
        elevation: Degrees; negative looks down.
        height: Height of the point looked at, m (``None``: 0.55 character heights).
        track: Follow the sim root; ``False`` keeps looking at the first frame's root.
    """

    distance: float | None = None
    azimuth: float = 90.0
    elevation: float = -12.0
    height: float | None = None
    track: bool = True


def side_by_side_offset(azimuth: float = 90.0, gap: float = SIDE_BY_SIDE_GAP) -> np.ndarray:
    """A world shift of ``gap`` metres along the screen-right axis of a camera at ``azimuth`` degrees."""
    az = np.deg2rad(azimuth)
    return gap * np.array([np.sin(az), -np.cos(az), 0.0])


def _root_qposadr(model: mujoco.MjModel, prefix: str) -> int:
    """Where the free root joint of the character attached under ``prefix`` starts in ``qpos``."""
    return next(int(model.jnt_qposadr[j]) for j in range(model.njnt)
                if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE and model.joint(j).name.startswith(prefix))


def _free_gl(context: Any, mjr: mujoco.MjrContext) -> None:
    """Free a MuJoCo render context, then its GL context."""
    context.make_current()
    mjr.free()
    context.free()


class _OffscreenGL:
    """A GL context of the selected backend with MuJoCo's offscreen framebuffer.

    Freed by ``close`` or, at the latest, at interpreter exit (before modules are torn down, which
    OSMesa's own finaliser does not survive).
    """

    def __init__(self, model: mujoco.MjModel, width: int, height: int) -> None:
        self.backend = select_gl_backend()
        try:
            self.context = importlib.import_module(_CONTEXT_MODULES[self.backend]).GLContext(width, height)
            self.context.make_current()
            self.mjr = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150.value)
        except (ImportError, OSError, RuntimeError, AttributeError, mujoco.FatalError) as err:  # a failing MUJOCO_GL
            raise GLUnavailableError(f"MUJOCO_GL={self.backend} cannot create an OpenGL context ({err}); unset it, "
                                     f"or install e.g. `{GL_PACKAGES['osmesa']}` (osmesa) or "
                                     f"`{GL_PACKAGES['egl']}` (egl)") from err
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN.value, self.mjr)
        self.rect = mujoco.MjrRect(0, 0, width, height)
        self._finalizer = weakref.finalize(self, _free_gl, self.context, self.mjr)

    def read(self, scene: mujoco.MjvScene) -> np.ndarray:
        """Render ``scene`` and return its RGB pixels, top row first. Shape: ``(H, W, 3)``, uint8."""
        if not self._finalizer.alive:
            raise RuntimeError("the renderer is closed")
        self.context.make_current()
        mujoco.mjr_render(self.rect, scene, self.mjr)
        pixels = np.empty((self.rect.height, self.rect.width, 3), dtype=np.uint8)
        mujoco.mjr_readPixels(pixels, None, self.rect, self.mjr)
        return np.ascontiguousarray(pixels[::-1])

    def close(self) -> None:
        """Free the GL resources (once; later calls do nothing)."""
        self._finalizer()


class ClipRenderer:
    """Renders ``sim/`` character poses, optionally with a ``ref/`` ghost, to RGB frames.

    Args:
        character: Character name (``humanoid3d``, ``dog3d``).
        width, height: Frame size in pixels.
        ref_offset: World shift of the ghost's root, m; ``(0, 0, 0)`` overlays it on the sim
            character. ``side_by_side_offset`` gives a shift that puts it beside the sim on screen.
        camera: Camera placement.
        samples: Multisampling of the framebuffer (anti-aliasing; 0 is faster on a CPU).

    Attributes:
        model: The two-character model; ``nq_character`` is the ``qpos`` size of one character.

    Use as a context manager (or call ``close``) to free the GL context.
    """

    def __init__(self, character: str = "humanoid3d", width: int = 640, height: int = 360,
                 ref_offset: Sequence[float] = (0.0, 0.0, 0.0), camera: CameraSettings | None = None,
                 samples: int = 4) -> None:
        self.model = build_scene_spec(character, width, height, samples).compile()
        self.data = mujoco.MjData(self.model)
        self.width, self.height = width, height
        self.ref_offset = np.asarray(ref_offset, dtype=np.float64)
        self.camera_settings = camera or CameraSettings()
        self._sim_adr, self._ref_adr = _root_qposadr(self.model, SIM_PREFIX), _root_qposadr(self.model, REF_PREFIX)
        self.nq_character = self._ref_adr - self._sim_adr
        self._qpos0 = self.model.qpos0.copy()
        self._char_height = self._character_height()
        self._scene = mujoco.MjvScene(self.model, maxgeom=1000)
        self._option = mujoco.MjvOption()
        self._camera = mujoco.MjvCamera()
        self._gl = _OffscreenGL(self.model, width, height)

    @property
    def backend(self) -> str:
        """The OpenGL backend in use (``egl``, ``osmesa``...)."""
        return self._gl.backend

    def _character_height(self) -> float:
        """Top minus bottom of the sim character's geoms in its default pose, m."""
        mujoco.mj_kinematics(self.model, self.data)
        sim = self.model.geom_group == SIM_GROUP
        z, r = self.data.geom_xpos[sim, 2], self.model.geom_rbound[sim]
        return float((z + r).max() - (z - r).min())

    def side_by_side_offset(self, gap: float = SIDE_BY_SIDE_GAP) -> np.ndarray:
        """A ghost shift of ``gap`` metres to the right on screen for this renderer's camera."""
        return side_by_side_offset(self.camera_settings.azimuth, gap)

    def _check(self, qpos: np.ndarray | None, name: str) -> np.ndarray | None:
        """``qpos`` as float64 ``(T, nq_character)``, or a ``ValueError`` naming ``name``."""
        if qpos is None:
            return None
        qpos = np.asarray(qpos, dtype=np.float64)
        if qpos.ndim != 2 or qpos.shape[1] != self.nq_character:
            raise ValueError(f"{name} must have shape (T, {self.nq_character}), got {qpos.shape}")
        return qpos

    def _aim(self, root_xy: np.ndarray) -> None:
        """Point the free camera at ``root_xy`` (and halfway to the ghost) at the fixed height."""
        cam, s = self._camera, self.camera_settings
        cam.type = mujoco.mjtCamera.mjCAMERA_FREE
        cam.azimuth, cam.elevation = s.azimuth, s.elevation
        cam.distance = s.distance or 2.0 * self._char_height
        cam.lookat[:2] = root_xy + 0.5 * self.ref_offset[:2]
        cam.lookat[2] = s.height if s.height is not None else 0.55 * self._char_height

    def render_frame(self, qpos_sim: np.ndarray | None, qpos_ref: np.ndarray | None = None,
                     look_at: np.ndarray | None = None) -> np.ndarray:
        """One frame; a ``None`` pose hides that character. Shape: ``(H, W, 3)``, uint8.

        ``look_at``: horizontal point to aim at (default: the sim root, else the ghost's root).
        """
        nq, qpos = self.nq_character, self._qpos0.copy()
        if qpos_sim is not None:
            qpos[self._sim_adr:self._sim_adr + nq] = qpos_sim
        if qpos_ref is not None:
            qpos[self._ref_adr:self._ref_adr + nq] = qpos_ref
            qpos[self._ref_adr:self._ref_adr + 3] += self.ref_offset
        self.data.qpos[:] = qpos
        mujoco.mj_kinematics(self.model, self.data)
        self._option.geomgroup[SIM_GROUP] = qpos_sim is not None
        self._option.geomgroup[REF_GROUP] = qpos_ref is not None
        if look_at is None:
            source = qpos_sim if qpos_sim is not None else qpos_ref
            look_at = np.zeros(2) if source is None else np.asarray(source[:2])
        self._aim(np.asarray(look_at, dtype=np.float64)[:2])
        mujoco.mjv_updateScene(self.model, self.data, self._option, None, self._camera,
                               mujoco.mjtCatBit.mjCAT_ALL.value, self._scene)
        return self._gl.read(self._scene)

    def render_frames(self, qpos_sim: np.ndarray, qpos_ref: np.ndarray | None = None) -> list[np.ndarray]:
        """Frames of a pose sequence ``(T, nq)`` with an optional ghost sequence of the same length."""
        qpos_sim, qpos_ref = self._check(qpos_sim, "qpos_sim"), self._check(qpos_ref, "qpos_ref")
        if qpos_ref is not None and len(qpos_ref) != len(qpos_sim):
            raise ValueError(f"qpos_ref has {len(qpos_ref)} frames, qpos_sim {len(qpos_sim)}")
        fixed = None if self.camera_settings.track else qpos_sim[0, :2]
        return [self.render_frame(q, None if qpos_ref is None else qpos_ref[t], fixed)
                for t, q in enumerate(qpos_sim)]

    def close(self) -> None:
        """Free the GL resources (also done on leaving a ``with`` block)."""
        self._gl.close()

    def __enter__(self) -> ClipRenderer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def render_frames(qpos_sim: np.ndarray, qpos_ref: np.ndarray | None = None, width: int = 640, height: int = 360,
                  fps: float = 30.0, character: str = "humanoid3d", layout: str = "overlay",
                  camera: CameraSettings | None = None) -> list[np.ndarray]:
    """Render a pose sequence ``(T, nq)`` (and an optional reference ``(T, nq)`` as a ghost) to RGB frames.

    Args:
        qpos_sim, qpos_ref: ``qpos`` of one character per frame (the character model's layout).
        width, height: Frame size in pixels.
        fps: Frame rate of the sequences (kept for the video writer; poses are rendered as given).
        character: Character name.
        layout: ``"overlay"`` (ghost on the sim character) or ``"side-by-side"`` (ghost 1 m to the right).
        camera: Camera placement.

    Returns:
        ``T`` arrays of shape ``(height, width, 3)``, uint8.
    """
    del fps  # one frame per pose; the rate only matters when the frames are written out
    camera = camera or CameraSettings()
    offsets = {"overlay": np.zeros(3), "side-by-side": side_by_side_offset(camera.azimuth)}
    if layout not in offsets:
        raise ValueError(f"layout must be 'overlay' or 'side-by-side', got {layout!r}")
    with ClipRenderer(character, width, height, ref_offset=offsets[layout], camera=camera) as renderer:
        return renderer.render_frames(qpos_sim, qpos_ref)


# ------------------------------------------------------------------------------------ clips and files
def clip_qpos(motion: Any, character: str = "humanoid3d", fps: float = 30.0,
              seconds: float | None = None) -> np.ndarray:
    """A clip sampled at ``fps`` as model ``qpos`` ``(T, nq)``; looping clips go on cycle after cycle.

    Args:
        motion: A ``deepmimic_mocap.Motion`` on ``character``'s skeleton (see ``convert_to_character``).
        seconds: Length; ``None`` plays the clip once.
    """
    from deepmimic_mocap.characters import load_character
    from deepmimic_mocap.motion_lib import MotionLib

    from .model.joint_mapping import JointMapping

    seconds = motion.duration if seconds is None else seconds
    times = np.arange(max(1, round(seconds * fps))) / fps
    frames = MotionLib(motion).get_frames(np.zeros(len(times), dtype=np.int64), times)
    mapping = JointMapping(load_character(character))
    return np.asarray(mapping.qpos(frames.root_pos, frames.root_quat, frames.local_quat))


def write_video(frames: Sequence[np.ndarray], path: str | Path, fps: float = 30.0) -> Path:
    """Write frames as ``.mp4`` (H.264 by imageio-ffmpeg's bundled ffmpeg) or ``.gif`` (Pillow), by extension.

    A GIF merges identical consecutive frames into one longer frame.
    """
    path, suffix = Path(path), Path(path).suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"unsupported video extension '{path.suffix}'; use .mp4 or .gif")
    if not len(frames):
        raise ValueError("no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":  # Pillow: adaptive palette per frame, durations in whole 10 ms steps
        from PIL import Image

        images = [Image.fromarray(np.asarray(f)) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000.0 / fps), loop=0)
    else:
        import imageio.v2 as imageio

        # yuv420p needs even sizes: drop an odd last row or column rather than rescale.
        even = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]
        imageio.mimwrite(path, even, format="FFMPEG", fps=fps, codec="libx264", quality=7,
                         macro_block_size=1, ffmpeg_log_level="error")
    return path

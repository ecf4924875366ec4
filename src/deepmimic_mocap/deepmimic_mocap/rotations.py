"""Rotation maths, written once for the whole project.

Conventions, used everywhere in deepmimic:
- Quaternions are ``(w, x, y, z)`` (MuJoCo's order), shape ``(..., 4)``. Convert only at
  boundaries that use another order (Isaac Gym's xyzw).
- World frame is REP-103: x forward, y left, z up. Loaders of y-up formats convert on load.
- ``quat_mul(a, b)`` applies ``b`` first, then ``a`` (matrix order).
- Euler angles: ``quat_from_euler(angles, "ZYX")`` is ``Rz(a0) @ Ry(a1) @ Rx(a2)``, the order
  in which BVH lists its channels.

Every function takes NumPy arrays or torch tensors (any device) and returns the same kind; the
array namespace is picked per call with ``array_api_compat`` so that no code is duplicated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as array_device
from array_api_compat import numpy as compat_numpy

Array = Any  # numpy.ndarray | torch.Tensor

# quat_mul's terms: component i of a * b is sum_k sign[i, k] * a[A[i, k]] * b[B[i, k]].
_MUL_A = np.array([[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]])
_MUL_B = np.array([[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 1], [3, 2, 1, 0]])
_MUL_SIGN = {c: np.array([[1, -1, -1, -1], [1, 1, 1, -1], [1, -1, 1, 1], [1, 1, -1, 1]], dtype=c) for c in "fd"}
_CROSS_1, _CROSS_2 = np.array([1, 2, 0]), np.array([2, 0, 1])  # (a x b)_i = a[i+1] b[i+2] - a[i+2] b[i+1]
_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}
_EPS = 1e-9


def namespace(*arrays: Array) -> Any:
    """The arrays' namespace (``array_namespace``; NumPy arrays answered without its checks, which
    cost more than the maths on one environment's arrays)."""
    if type(arrays[0]) is np.ndarray and (len(arrays) == 1 or all(type(a) is np.ndarray for a in arrays)):
        return compat_numpy
    return array_namespace(*arrays)


_xp = namespace


def cross(xp: Any, a: Array, b: Array) -> Array:
    """Cross product over the last axis (``(..., 3)``). NumPy: the same products and differences as
    ``np.cross`` without its axis handling (~20x faster on small arrays); torch: ``linalg.cross``."""
    if xp is not compat_numpy:
        return xp.linalg.cross(a, b)
    return a[..., _CROSS_1] * b[..., _CROSS_2] - a[..., _CROSS_2] * b[..., _CROSS_1]


def quat_identity(shape: tuple[int, ...], like: Array) -> Array:
    """Identity quaternions of shape ``shape + (4,)`` with the dtype and device of ``like``."""
    xp = _xp(like)
    q = xp.zeros((*shape, 4), dtype=like.dtype, device=array_device(like))
    q[..., 0] = 1.0
    return q


def quat_mul(a: Array, b: Array) -> Array:
    """Hamilton product ``a * b`` (rotate by ``b``, then by ``a``). Shape: ``(..., 4)``."""
    xp = _xp(a, b)
    if xp is compat_numpy:  # the same products, summed in the same order, in four NumPy calls
        terms = a[..., _MUL_A] * b[..., _MUL_B]
        terms *= _MUL_SIGN[terms.dtype.char] if terms.dtype.char in _MUL_SIGN else _MUL_SIGN["d"].astype(terms.dtype)
        return terms.sum(axis=-1)
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return xp.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_conj(q: Array) -> Array:
    """Conjugate, the inverse of a unit quaternion. Shape: ``(..., 4)``."""
    xp = _xp(q)
    return xp.concat([q[..., :1], -q[..., 1:]], axis=-1)


def quat_from_xyzw(q: Array) -> Array:
    """``(w, x, y, z)`` from a scalar-last ``(x, y, z, w)`` quaternion (Isaac Gym, PhysX). Shape: ``(..., 4)``."""
    xp = _xp(q)
    return xp.concat([q[..., 3:], q[..., :3]], axis=-1)


def quat_to_xyzw(q: Array) -> Array:
    """Scalar-last ``(x, y, z, w)`` from ``(w, x, y, z)``. Shape: ``(..., 4)``."""
    xp = _xp(q)
    return xp.concat([q[..., 1:], q[..., :1]], axis=-1)


def quat_norm(q: Array) -> Array:
    """Euclidean norm of each quaternion. Shape: ``(...,)``."""
    xp = _xp(q)
    return xp.sqrt(xp.sum(q * q, axis=-1))


def quat_normalize(q: Array) -> Array:
    """Unit quaternions with a non-negative ``w`` (one of the two equal signs, chosen stably)."""
    xp = _xp(q)
    q = q / xp.clip(quat_norm(q), _EPS, None)[..., None]
    return xp.where(q[..., :1] < 0, -q, q)


def quat_rotate(q: Array, v: Array) -> Array:
    """Rotate vectors ``v`` (shape ``(..., 3)``) by unit quaternions ``q`` (shape ``(..., 4)``)."""
    xp = _xp(q, v)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * cross(xp, u, v)
    return v + w * t + cross(xp, u, t)


def quat_rotate_inverse(q: Array, v: Array) -> Array:
    """Rotate vectors by the inverse of unit quaternions ``q``."""
    return quat_rotate(quat_conj(q), v)


def quat_from_axis_angle(axis: Array, angle: Array) -> Array:
    """Quaternion of a rotation by ``angle`` (shape ``(...,)``) about unit ``axis`` (``(..., 3)``)."""
    xp = _xp(axis, angle)
    half = 0.5 * angle
    return xp.concat([xp.cos(half)[..., None], axis * xp.sin(half)[..., None]], axis=-1)


def quat_from_rotvec(rotvec: Array) -> Array:
    """Exponential map: rotation vector (axis times angle, ``(..., 3)``) to unit quaternion."""
    xp = _xp(rotvec)
    angle = xp.sqrt(xp.sum(rotvec * rotvec, axis=-1))
    half = 0.5 * angle
    # sin(half)/angle -> 0.5 as angle -> 0; the series keeps gradients and values finite.
    small = angle < 1e-6
    safe = xp.where(small, xp.ones_like(angle), angle)
    scale = xp.where(small, 0.5 - angle * angle / 48.0, xp.sin(half) / safe)
    return xp.concat([xp.cos(half)[..., None], rotvec * scale[..., None]], axis=-1)


def quat_to_rotvec(q: Array) -> Array:
    """Logarithmic map: unit quaternion to rotation vector with angle in ``[0, pi]``."""
    xp = _xp(q)
    q = xp.where(q[..., :1] < 0, -q, q)  # shortest rotation
    v = q[..., 1:]
    s = xp.sqrt(xp.sum(v * v, axis=-1))
    angle = 2.0 * xp.atan2(s, q[..., 0])
    small = s < 1e-8
    scale = xp.where(small, 2.0 / xp.clip(q[..., 0], _EPS, None), angle / xp.where(small, xp.ones_like(s), s))
    return v * scale[..., None]


def quat_angle(q: Array) -> Array:
    """Rotation angle in ``[0, pi]`` of each quaternion: ``2 acos(|w|)``, computed stably."""
    xp = _xp(q)
    v = q[..., 1:]
    return 2.0 * xp.atan2(xp.sqrt(xp.sum(v * v, axis=-1)), xp.abs(q[..., 0]))


def quat_angle_between(q0: Array, q1: Array) -> Array:
    """Angle of the rotation ``q1 * q0^-1`` that takes ``q0`` to ``q1``. Shape: ``(...,)``."""
    return quat_angle(quat_mul(q1, quat_conj(q0)))


def quat_slerp(q0: Array, q1: Array, t: Array) -> Array:
    """Spherical linear interpolation along the shorter arc; ``t`` has shape ``(...,)``."""
    xp = _xp(q0, q1, t)
    dot = xp.sum(q0 * q1, axis=-1)
    q1 = xp.where((dot < 0)[..., None], -q1, q1)
    dot = xp.abs(dot)
    theta = xp.acos(xp.clip(dot, -1.0, 1.0))
    sin_theta = xp.sin(theta)
    near = sin_theta < 1e-6
    safe = xp.where(near, xp.ones_like(sin_theta), sin_theta)
    w0 = xp.where(near, 1.0 - t, xp.sin((1.0 - t) * theta) / safe)
    w1 = xp.where(near, t, xp.sin(t * theta) / safe)
    return quat_normalize_sign_free(w0[..., None] * q0 + w1[..., None] * q1)


def quat_normalize_sign_free(q: Array) -> Array:
    """Scale to unit length without changing the sign (keeps interpolation continuous)."""
    xp = _xp(q)
    return q / xp.clip(quat_norm(q), _EPS, None)[..., None]


def quat_from_euler(angles: Array, order: str) -> Array:
    """Quaternion of ``R(order[0], a0) @ R(order[1], a1) @ R(order[2], a2)``.

    Args:
        angles: Angles in radians. Shape: ``(..., 3)``, one per letter of ``order``.
        order: Three axis letters such as ``"ZYX"``; the rightmost rotation is applied first.
    """
    xp = _xp(angles)
    if len(order) != 3 or any(c not in _AXIS_INDEX for c in order.upper()):
        raise ValueError(f"Euler order must be three of X, Y, Z, got {order!r}")
    result = None
    for i, axis_name in enumerate(order.upper()):
        axis = [0.0, 0.0, 0.0]
        axis[_AXIS_INDEX[axis_name]] = 1.0
        axis_arr = xp.asarray(axis, dtype=angles.dtype, device=array_device(angles))
        q = quat_from_axis_angle(xp.broadcast_to(axis_arr, angles.shape), angles[..., i])
        result = q if result is None else quat_mul(result, q)
    return result


def quat_to_euler(q: Array, order: str) -> Array:
    """Angles ``(a0, a1, a2)`` with ``quat_from_euler(angles, order) == q`` (Tait-Bryan orders).

    The middle angle lies in ``[-pi/2, pi/2]``; at its ends (gimbal lock) the split between the
    outer two is one of many that give the same rotation. Shape: ``(..., 3)``.
    """
    xp = _xp(q)
    axes = [_AXIS_INDEX[c] for c in order.upper()]
    if len(axes) != 3 or len(set(axes)) != 3:
        raise ValueError(f"Euler order must name three different axes, got {order!r}")
    i, j, k = axes
    sign = 1.0 if (i, j, k) in ((0, 1, 2), (1, 2, 0), (2, 0, 1)) else -1.0
    m = quat_to_matrix(q)
    a1 = xp.asin(xp.clip(sign * m[..., i, k], -1.0, 1.0))
    a0 = xp.atan2(-sign * m[..., j, k], m[..., k, k])
    a2 = xp.atan2(-sign * m[..., i, j], m[..., i, i])
    locked = xp.abs(m[..., i, k]) > 1.0 - 1e-9
    # Gimbal lock: put the whole outer rotation into a0 (a2 = 0), read from the other entries.
    a0_locked = xp.atan2(sign * m[..., k, j], m[..., j, j])
    a0 = xp.where(locked, a0_locked, a0)
    a2 = xp.where(locked, xp.zeros_like(a2), a2)
    return xp.stack([a0, a1, a2], axis=-1)


def euler_rates_from_ang_vel(angles: Array, ang_vel: Array, order: str) -> Array:
    """Rates of the Euler angles of ``quat_from_euler(angles, order)`` for a local angular velocity.

    With ``R = R0(a0) R1(a1) R2(a2)``, the angular velocity in the rotated (child) frame is
    ``w = R2^T R1^T e0 a0' + R2^T e1 a1' + e2 a2'``; this solves that 3x3 system per element
    (damped near gimbal lock so it stays finite). This is how a ball joint's velocity maps onto
    three hinges. Shapes: ``angles`` and ``ang_vel`` ``(..., 3)``, result ``(..., 3)``.
    """
    xp = _xp(angles, ang_vel)
    axes = []
    for name in order.upper():
        e = [0.0, 0.0, 0.0]
        e[_AXIS_INDEX[name]] = 1.0
        axes.append(xp.broadcast_to(xp.asarray(e, dtype=angles.dtype, device=array_device(angles)), angles.shape))
    q1 = quat_from_axis_angle(axes[1], angles[..., 1])
    q2 = quat_from_axis_angle(axes[2], angles[..., 2])
    col0 = quat_rotate_inverse(q2, quat_rotate_inverse(q1, axes[0]))
    col1 = quat_rotate_inverse(q2, axes[1])
    m = xp.stack([col0, col1, axes[2]], axis=-1)  # (..., 3, 3), columns per angle
    mt = xp.matrix_transpose(m) if hasattr(xp, "matrix_transpose") else xp.swapaxes(m, -1, -2)
    damping = 1e-9 * xp.eye(3, dtype=angles.dtype, device=array_device(angles))
    rhs = xp.matmul(mt, ang_vel[..., None])
    return xp.linalg.solve(xp.matmul(mt, m) + damping, rhs)[..., 0]


def quat_to_matrix(q: Array) -> Array:
    """Rotation matrices of unit quaternions. Shape: ``(..., 3, 3)``."""
    xp = _xp(q)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return xp.stack([xp.stack(r, axis=-1) for r in rows], axis=-2)


def quat_between(u: Array, v: Array) -> Array:
    """Smallest rotation taking direction ``u`` to direction ``v`` (both ``(..., 3)``)."""
    xp = _xp(u, v)
    u = u / xp.clip(xp.linalg.vector_norm(u, axis=-1), _EPS, None)[..., None]
    v = v / xp.clip(xp.linalg.vector_norm(v, axis=-1), _EPS, None)[..., None]
    dot = xp.sum(u * v, axis=-1)
    axis = cross(xp, u, v)
    # Opposite vectors: rotate by pi about any axis orthogonal to u.
    opposite = dot < -1.0 + 1e-9
    x_axis = xp.asarray([1.0, 0.0, 0.0], dtype=u.dtype, device=array_device(u))
    y_axis = xp.asarray([0.0, 1.0, 0.0], dtype=u.dtype, device=array_device(u))
    helper = xp.where(xp.abs(u[..., :1]) < 0.9, x_axis, y_axis)
    ortho = cross(xp, u, helper)
    axis = xp.where(opposite[..., None], ortho, axis)
    w = xp.where(opposite, xp.zeros_like(dot), 1.0 + dot)
    return quat_normalize(xp.concat([w[..., None], axis], axis=-1))


def quat_twist_angle(q: Array, axis: Array) -> Array:
    """Signed angle of the twist of ``q`` about unit ``axis`` (swing-twist decomposition)."""
    xp = _xp(q, axis)
    proj = xp.sum(q[..., 1:] * axis, axis=-1)
    angle = 2.0 * xp.atan2(proj, q[..., 0])
    # Wrap to [-pi, pi].
    return xp.atan2(xp.sin(angle), xp.cos(angle))


def quat_yaw(q: Array) -> Array:
    """Heading angle about world z of the body's forward (x) axis. Shape: ``(...,)``."""
    xp = _xp(q)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return xp.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def quat_from_yaw(yaw: Array) -> Array:
    """Rotation by ``yaw`` about world z. Shape: ``yaw.shape + (4,)``."""
    xp = _xp(yaw)
    zeros = xp.zeros_like(yaw)
    return xp.stack([xp.cos(0.5 * yaw), zeros, zeros, xp.sin(0.5 * yaw)], axis=-1)


def angular_velocity(q0: Array, q1: Array, dt: float | Array, local: bool = False) -> Array:
    """Angular velocity that takes ``q0`` to ``q1`` in ``dt`` seconds. Shape: ``(..., 3)``.

    ``local=False`` gives it in the parent (world) frame, ``log(q1 q0^-1)/dt``; ``local=True``
    in the rotating frame, ``log(q0^-1 q1)/dt`` (MuJoCo's convention for ball joints).
    """
    dq = quat_mul(quat_conj(q0), q1) if local else quat_mul(q1, quat_conj(q0))
    return quat_to_rotvec(dq) / dt

"""Rotation maths against hand-worked values and scipy, on numpy and torch."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from deepmimic_mocap import rotations as rot

RNG = np.random.default_rng(0)


def _random_quats(n: int) -> np.ndarray:
    return rot.quat_normalize(RNG.normal(size=(n, 4)))


def _to_scipy(q: np.ndarray) -> Rotation:
    return Rotation.from_quat(q[..., [1, 2, 3, 0]])


def test_mul_and_rotate_match_scipy():
    a, b = _random_quats(50), _random_quats(50)
    v = RNG.normal(size=(50, 3))
    expected = (_to_scipy(a) * _to_scipy(b)).apply(v)
    np.testing.assert_allclose(rot.quat_rotate(rot.quat_mul(a, b), v), expected, atol=1e-12)


def test_scalar_last_order_is_scipys_and_round_trips():
    q = _random_quats(20)
    xyzw = rot.quat_to_xyzw(q)
    np.testing.assert_allclose(Rotation.from_quat(xyzw).as_matrix(), _to_scipy(q).as_matrix(), atol=1e-12)
    np.testing.assert_array_equal(rot.quat_from_xyzw(xyzw), q)
    torch.testing.assert_close(rot.quat_from_xyzw(rot.quat_to_xyzw(torch.from_numpy(q))), torch.from_numpy(q))


def test_quarter_turn_about_z_maps_x_to_y():
    q = rot.quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), np.array(np.pi / 2))
    np.testing.assert_allclose(rot.quat_rotate(q, np.array([1.0, 0.0, 0.0])), [0.0, 1.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("order", ["ZYX", "XYZ", "YXZ", "ZXY"])
def test_euler_matches_scipy_intrinsic(order):
    angles = RNG.uniform(-3, 3, size=(20, 3))
    expected = Rotation.from_euler(order, angles).as_matrix()  # upper case: intrinsic, R = R0 R1 R2
    np.testing.assert_allclose(rot.quat_to_matrix(rot.quat_from_euler(angles, order)), expected, atol=1e-12)


def test_rotvec_round_trip_and_small_angles():
    rv = RNG.normal(size=(100, 3))
    rv *= (3.0 * RNG.uniform(size=(100, 1))) / np.linalg.norm(rv, axis=1, keepdims=True)  # angles below pi
    rv[:5] *= 1e-9
    np.testing.assert_allclose(rot.quat_to_rotvec(rot.quat_from_rotvec(rv)), rv, atol=1e-9)


def test_slerp_halfway_is_half_angle():
    q0 = rot.quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), np.array(0.2))
    q1 = rot.quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), np.array(1.0))
    mid = rot.quat_slerp(q0, q1, np.array(0.5))
    np.testing.assert_allclose(mid, rot.quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), np.array(0.6)), atol=1e-12)
    # The shorter arc is taken even when the second quaternion has the other sign.
    np.testing.assert_allclose(np.abs(rot.quat_slerp(q0, -q1, np.array(0.5))), np.abs(mid), atol=1e-12)


def test_angle_between_is_relative_rotation_angle():
    q0 = _random_quats(10)
    delta = rot.quat_from_axis_angle(np.tile([1.0, 0.0, 0.0], (10, 1)), np.full(10, 0.3))
    np.testing.assert_allclose(rot.quat_angle_between(q0, rot.quat_mul(delta, q0)), 0.3, atol=1e-9)


def test_between_takes_u_to_v_including_opposite():
    u = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    v = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 1.0], [-1.0, 0.0, 0.0]])
    q = rot.quat_between(u, v)
    np.testing.assert_allclose(rot.quat_rotate(q, u), v / np.linalg.norm(v, axis=1, keepdims=True), atol=1e-9)


def test_twist_angle_and_yaw():
    axis = np.array([0.0, -1.0, 0.0])
    q = rot.quat_from_axis_angle(axis, np.array(-1.2))
    assert rot.quat_twist_angle(q, axis) == pytest.approx(-1.2)
    assert rot.quat_yaw(rot.quat_from_yaw(np.array(2.5))) == pytest.approx(2.5)


def test_angular_velocity_world_and_local():
    q0 = _random_quats(1)[0]
    omega = np.array([0.1, -0.4, 0.3])
    q1 = rot.quat_mul(rot.quat_from_rotvec(omega * 0.01), q0)
    np.testing.assert_allclose(rot.angular_velocity(q0, q1, 0.01), omega, atol=1e-9)
    np.testing.assert_allclose(rot.angular_velocity(q0, q1, 0.01, local=True), rot.quat_rotate_inverse(q0, omega),
                               atol=1e-9)


def test_torch_gives_the_same_numbers():
    a, b = _random_quats(8), _random_quats(8)
    t = torch.linspace(0, 1, 8, dtype=torch.float64)
    out = rot.quat_slerp(torch.from_numpy(a), torch.from_numpy(b), t)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), rot.quat_slerp(a, b, t.numpy()), atol=1e-12)
    np.testing.assert_allclose(rot.quat_from_euler(torch.from_numpy(a[:, :3]), "ZYX").numpy(),
                               rot.quat_from_euler(a[:, :3], "ZYX"), atol=1e-12)


@pytest.mark.parametrize("order", ["XYZ", "ZYX", "YXZ", "XZY", "YZX", "ZXY"])
def test_euler_round_trip_every_order(order):
    q = _random_quats(200)
    angles = rot.quat_to_euler(q, order)
    np.testing.assert_allclose(rot.quat_angle_between(q, rot.quat_from_euler(angles, order)), 0.0, atol=1e-7)
    np.testing.assert_allclose(angles, Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_euler(order), atol=1e-7)


def test_euler_at_gimbal_lock_reproduces_rotation():
    angles = np.array([[0.3, np.pi / 2, -0.4], [0.1, -np.pi / 2, 0.7]])
    q = rot.quat_from_euler(angles, "XYZ")
    back = rot.quat_from_euler(rot.quat_to_euler(q, "XYZ"), "XYZ")
    np.testing.assert_allclose(rot.quat_angle_between(q, back), 0.0, atol=1e-6)


@pytest.mark.parametrize("order", ["XYZ", "ZYX"])
def test_euler_rates_reproduce_the_rotation_change(order):
    angles = RNG.uniform(-1.2, 1.2, size=(50, 3))
    omega = RNG.normal(size=(50, 3))
    rates = rot.euler_rates_from_ang_vel(angles, omega, order)
    dt = 1e-6
    q0 = rot.quat_from_euler(angles, order)
    q1 = rot.quat_from_euler(angles + rates * dt, order)
    np.testing.assert_allclose(rot.angular_velocity(q0, q1, dt, local=True), omega, atol=1e-4)
    torch_rates = rot.euler_rates_from_ang_vel(torch.from_numpy(angles), torch.from_numpy(omega), order)
    np.testing.assert_allclose(torch_rates.numpy(), rates, atol=1e-9)

import numpy as np
import pytest
from numpy.testing import assert_allclose

from remot_data.motion.camera import (
    estimate_pan_tilt_deg,
    look_at_pose,
    pan_tilt_matrix_deg,
    rotate_camera_deg,
    wrap_deg,
)

# (name, pose 1 kwargs, pose 2 kwargs, expected (pan_right_deg, tilt_up_deg))
SCENARIOS = [
    ("still", dict(heading_deg=30, elevation_deg=5), dict(heading_deg=30, elevation_deg=5), (0.0, 0.0)),
    ("pan right 10", dict(heading_deg=0, elevation_deg=0), dict(heading_deg=-10, elevation_deg=0), (10.0, 0.0)),
    ("pan left 10", dict(heading_deg=0, elevation_deg=0), dict(heading_deg=10, elevation_deg=0), (-10.0, 0.0)),
    ("tilt up 15", dict(heading_deg=45, elevation_deg=0), dict(heading_deg=45, elevation_deg=15), (0.0, 15.0)),
    ("tilt down 20", dict(heading_deg=45, elevation_deg=10), dict(heading_deg=45, elevation_deg=-10), (0.0, -20.0)),
    ("yaw 90 left", dict(heading_deg=0, elevation_deg=0), dict(heading_deg=90, elevation_deg=0), (-90.0, 0.0)),
    (
        "wrap +179 to -179 is left 2",
        dict(heading_deg=179, elevation_deg=0),
        dict(heading_deg=-179, elevation_deg=0),
        (-2.0, 0.0),
    ),
    (
        "wrap -179 to +179 is right 2",
        dict(heading_deg=-179, elevation_deg=0),
        dict(heading_deg=179, elevation_deg=0),
        (2.0, 0.0),
    ),
    (
        "roll only",
        dict(heading_deg=10, elevation_deg=0, roll_deg=0),
        dict(heading_deg=10, elevation_deg=0, roll_deg=40),
        (0.0, 0.0),
    ),
    (
        "pan right under roll",
        dict(heading_deg=0, elevation_deg=5, roll_deg=25),
        dict(heading_deg=-12, elevation_deg=5, roll_deg=-30),
        (12.0, 0.0),
    ),
]


@pytest.mark.parametrize("pose_1, pose_2, expected", [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_pan_tilt_known_answers(pose_1, pose_2, expected):
    pan, tilt = estimate_pan_tilt_deg(look_at_pose(**pose_1), look_at_pose(**pose_2))
    assert_allclose([pan, tilt], expected, atol=1e-9)


def test_hand_built_camera_axes_follow_opencv_convention():
    # Camera looking along world +x with x_cam pointing to world -y (its right) and y_cam to world -z (down).
    T1 = np.eye(4)
    T1[:3, :3] = [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]
    assert_allclose(T1, look_at_pose(heading_deg=0, elevation_deg=0), atol=1e-12)
    # Turn 90 degrees clockwise seen from above: now looking along world -y, which is to the right.
    T2 = np.eye(4)
    T2[:3, :3] = [[-1, 0, 0], [0, 0, -1], [0, -1, 0]]
    assert_allclose(estimate_pan_tilt_deg(T1, T2), (90.0, 0.0), atol=1e-9)


def test_rotate_camera_round_trip():
    T = look_at_pose(heading_deg=-70, elevation_deg=8, position_xyz_m=(1, 2, 3))
    T2 = rotate_camera_deg(T, pan_right_deg=17.5, tilt_up_deg=-6.0)
    assert_allclose(estimate_pan_tilt_deg(T, T2), (17.5, -6.0), atol=1e-9)
    assert_allclose(T2[:3, 3], T[:3, 3])
    assert_allclose(np.linalg.det(T2[:3, :3]), 1.0)


def test_matrix_is_antisymmetric_and_matches_pairwise():
    rng = np.random.default_rng(0)
    poses = np.stack(
        [
            look_at_pose(heading_deg=h, elevation_deg=e)
            for h, e in zip(rng.uniform(-180, 180, 6), rng.uniform(-40, 40, 6), strict=True)
        ]
    )
    pan, tilt = pan_tilt_matrix_deg(poses)
    assert_allclose(pan, -pan.T, atol=1e-9)
    assert_allclose(tilt, -tilt.T, atol=1e-9)
    assert_allclose([pan[1, 4], tilt[1, 4]], estimate_pan_tilt_deg(poses[1], poses[4]))


def test_wrap_deg_range():
    assert_allclose(wrap_deg([180.0, -180.0, 540.0, 359.0]), [-180.0, -180.0, -180.0, -1.0])

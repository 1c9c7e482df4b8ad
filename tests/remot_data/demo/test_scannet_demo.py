import math

import numpy as np
import pytest

from remot_data.demo.scannet import DemoScanNetConfig, make_panorama, render_view, write_demo_scannet
from remot_data.motion.camera import estimate_pan_tilt_deg, look_at_pose, rotate_camera_deg
from remot_data.sources.scannet import read_scannet_scene

WIDTH, HEIGHT = 160, 120
FOCAL = WIDTH / (2 * math.tan(math.radians(30)))


def _shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Return (dx, dy) such that b(x) ~ a(x - dx): phase correlation of two gray images."""
    fa, fb = np.fft.fft2(a.mean(axis=2)), np.fft.fft2(b.mean(axis=2))
    r = np.fft.ifft2(fb * np.conj(fa) / (np.abs(fb * np.conj(fa)) + 1e-9)).real
    dy, dx = np.unravel_index(np.argmax(r), r.shape)
    return (dx - r.shape[1] if dx > r.shape[1] // 2 else dx), (dy - r.shape[0] if dy > r.shape[0] // 2 else dy)


@pytest.mark.parametrize(
    "pan_right, tilt_up, expected_dx_sign, expected_dy_sign",
    [(5.0, 0.0, -1, 0), (-5.0, 0.0, 1, 0), (0.0, 5.0, 0, 1), (0.0, -5.0, 0, -1)],
    ids=[
        "pan right: content moves left",
        "pan left: content moves right",
        "tilt up: content moves down",
        "tilt down: content moves up",
    ],
)
def test_rendered_pixels_show_the_pose_change(pan_right, tilt_up, expected_dx_sign, expected_dy_sign):
    panorama = make_panorama(np.random.default_rng(1))
    T1 = look_at_pose(heading_deg=20, elevation_deg=0)
    T2 = rotate_camera_deg(T1, pan_right_deg=pan_right, tilt_up_deg=tilt_up)
    a = render_view(panorama, T1, width=WIDTH, height=HEIGHT, focal_px=FOCAL).astype(float)
    b = render_view(panorama, T2, width=WIDTH, height=HEIGHT, focal_px=FOCAL).astype(float)
    dx, dy = _shift(a, b)
    expected = FOCAL * math.tan(math.radians(5.0))  # ~6.9 px
    assert np.sign(dx) == expected_dx_sign and np.sign(dy) == expected_dy_sign
    assert abs(abs(dx) + abs(dy) - expected) <= 1.5


def test_demo_is_deterministic_and_poses_match_what_is_rendered(tmp_path):
    config = DemoScanNetConfig(n_scenes=1, n_frames=6, width=64, height=48, seed=11)
    write_demo_scannet(tmp_path / "a", config)
    write_demo_scannet(tmp_path / "b", config)
    for name in ("pose/3.txt", "color/3.jpg", "intrinsic/intrinsic_color.txt"):
        assert (tmp_path / "a" / "scene0000_00" / name).read_bytes() == (
            tmp_path / "b" / "scene0000_00" / name
        ).read_bytes()
    clip = read_scannet_scene(tmp_path / "a" / "scene0000_00")
    assert clip.focal_px == pytest.approx(64 / (2 * math.tan(math.radians(30))), abs=1e-5)
    pan, tilt = estimate_pan_tilt_deg(clip.T_world_cam[0], clip.T_world_cam[5])
    assert abs(pan) + abs(tilt) > 0.5  # the demo camera moves

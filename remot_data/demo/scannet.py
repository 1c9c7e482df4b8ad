"""Demo corpus, ScanNet part: scenes rendered by a pinhole camera turning inside a textured panorama.

The colour frames are rendered from exactly the poses written to ``pose/<i>.txt``, so the pixels show the
annotated rotation (a right pan moves the content left). Deterministic from the seed. Imports numpy and Pillow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from remot_data.motion.camera import look_at_pose
from remot_data.sources.scannet import COLOR_DIR, INTRINSIC_COLOR_PATH, POSE_DIR, write_scannet_pose

PANORAMA_SIZE = (2048, 1024)


@dataclass(frozen=True, kw_only=True)
class DemoScanNetConfig:
    """Size and motion of the demo scenes.

    Attributes:
        n_scenes: Number of scenes (``scene0000_00`` ...).
        n_frames: Frames per scene.
        width: Frame width, pixels.
        height: Frame height, pixels.
        hfov_deg: Horizontal field of view.
        pan_amplitude_deg: Amplitude of the heading oscillation.
        tilt_amplitude_deg: Amplitude of the elevation oscillation.
        period_frames: Period of the heading oscillation; the elevation's is 1.3 times longer.
        seed: Seed of textures and trajectories.
    """

    n_scenes: int = 10
    n_frames: int = 120
    width: int = 256
    height: int = 192
    hfov_deg: float = 60.0
    pan_amplitude_deg: float = 28.0
    tilt_amplitude_deg: float = 22.0
    period_frames: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        """Check sizes are positive."""
        if min(self.n_scenes, self.n_frames, self.width, self.height, self.period_frames) < 1:
            raise ValueError(f"demo sizes must be >= 1, got {self}")


def make_panorama(rng: np.random.Generator, size: tuple[int, int] = PANORAMA_SIZE) -> npt.NDArray[np.uint8]:
    """Return an equirectangular texture (H, W, 3) of smooth colour noise with bold shapes on it."""
    width, height = size
    coarse = rng.integers(40, 200, size=(8, 16, 3), dtype=np.uint8)
    base = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(base)
    for _ in range(140):
        x, y = int(rng.integers(0, width)), int(rng.integers(height // 8, height * 7 // 8))
        w, h = int(rng.integers(20, 120)), int(rng.integers(20, 120))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            draw.rectangle([x, y, x + w, y + h], fill=colour, outline=(0, 0, 0), width=3)
        else:
            draw.ellipse([x, y, x + w, y + h], fill=colour, outline=(255, 255, 255), width=3)
    return np.asarray(base, dtype=np.uint8)


def render_view(
    panorama: npt.NDArray[np.uint8], T_world_cam: npt.NDArray[np.float64], *, width: int, height: int, focal_px: float
) -> npt.NDArray[np.uint8]:
    """Render what a pinhole camera (OpenCV axes) sees of a panorama at infinity.

    Args:
        panorama: Equirectangular texture, shape (H, W, 3); column 0 is heading +180°, rows go from +90° to -90°.
        T_world_cam: Camera-to-world pose, shape (4, 4).
        width: Output width.
        height: Output height.
        focal_px: Focal length in pixels (square pixels, principal point at the centre).

    Returns:
        The image, shape (height, width, 3).
    """
    u, v = np.meshgrid(np.arange(width) + 0.5 - width / 2.0, np.arange(height) + 0.5 - height / 2.0)
    rays = np.stack([u, v, np.full_like(u, focal_px)], axis=-1) @ T_world_cam[:3, :3].T
    heading = np.arctan2(rays[..., 1], rays[..., 0])
    elevation = np.arctan2(rays[..., 2], np.hypot(rays[..., 0], rays[..., 1]))
    pano_h, pano_w = panorama.shape[:2]
    # Heading grows to the left, so columns run the other way round for the view not to be mirrored.
    cols = ((math.pi - heading) / (2 * math.pi) * pano_w).astype(np.int64) % pano_w
    rows = np.clip(((math.pi / 2 - elevation) / math.pi * pano_h).astype(np.int64), 0, pano_h - 1)
    return panorama[rows, cols]


def demo_trajectory(config: DemoScanNetConfig, scene_index: int) -> npt.NDArray[np.float64]:
    """Return the camera-to-world poses (n_frames, 4, 4) of one demo scene: pan/tilt sweeps with a little roll."""
    rng = np.random.default_rng([config.seed, scene_index, 1])
    t = np.arange(config.n_frames, dtype=np.float64)
    phase_h, phase_e = rng.uniform(0, 2 * math.pi, size=2)
    heading0 = rng.uniform(-180.0, 180.0)
    # Scenes cycle through pan-only, tilt-only and combined sweeps, so every direction label occurs.
    kind = scene_index % 3
    pan_amp = config.pan_amplitude_deg if kind != 1 else 0.0
    tilt_amp = config.tilt_amplitude_deg if kind != 0 else 0.0
    heading = heading0 + pan_amp * np.sin(2 * math.pi * t / config.period_frames + phase_h)
    elevation = tilt_amp * np.sin(2 * math.pi * t / (1.3 * config.period_frames) + phase_e)
    roll = 3.0 * np.sin(2 * math.pi * t / 37.0)
    position = rng.uniform(-1.0, 1.0, size=3) + np.array([2.0, 2.0, 1.4])
    return np.stack(
        [
            look_at_pose(heading_deg=h, elevation_deg=e, roll_deg=r, position_xyz_m=tuple(position))
            for h, e, r in zip(heading, elevation, roll, strict=True)
        ]
    )


def write_demo_scannet(root: Path, config: DemoScanNetConfig | None = None) -> list[Path]:
    """Write the ScanNet part of the demo corpus under ``root`` and return the scene directories.

    Each scene gets ``pose/<i>.txt`` (camera-to-world, ``%f``), ``color/<i>.jpg`` and
    ``intrinsic/intrinsic_color.txt``, as SensReader exports them.
    """
    config = config or DemoScanNetConfig()
    focal = config.width / (2.0 * math.tan(math.radians(config.hfov_deg) / 2.0))
    K = np.eye(4)
    K[0, 0] = K[1, 1] = focal
    K[0, 2], K[1, 2] = config.width / 2.0, config.height / 2.0
    scenes = []
    for s in range(config.n_scenes):
        scene_dir = Path(root) / f"scene{s:04d}_00"
        (scene_dir / COLOR_DIR).mkdir(parents=True, exist_ok=True)
        (scene_dir / POSE_DIR).mkdir(parents=True, exist_ok=True)
        panorama = make_panorama(np.random.default_rng([config.seed, s, 0]))
        (scene_dir / INTRINSIC_COLOR_PATH).parent.mkdir(exist_ok=True)
        np.savetxt(scene_dir / INTRINSIC_COLOR_PATH, K, fmt="%f")
        for i, T in enumerate(demo_trajectory(config, s)):
            write_scannet_pose(scene_dir / POSE_DIR / f"{i}.txt", T)
            pixels = render_view(panorama, T, width=config.width, height=config.height, focal_px=focal)
            Image.fromarray(pixels).save(scene_dir / COLOR_DIR / f"{i}.jpg", quality=90)
        scenes.append(scene_dir)
    return scenes

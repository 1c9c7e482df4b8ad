"""Factories that write real ScanNet exports (and build datasets from them) for tests. Nothing is downloaded."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from remot_data.demo.scannet import DemoScanNetConfig, make_panorama, render_view, write_demo_scannet
from remot_data.frames import FrameConfig
from remot_data.motion.camera import look_at_pose
from remot_data.pipeline import BuildConfig, SourceInput, build_dataset
from remot_data.records import Clip, FrameRef
from remot_data.sources.scannet import write_scannet_pose

SMALL_DEMO = DemoScanNetConfig(n_scenes=6, n_frames=90, width=128, height=96, seed=3)
SMALL_BUILD = BuildConfig(frames=FrameConfig(max_side_px=64, jpeg_quality=80), batch_size=2)


def make_pose_series(headings_deg, elevations_deg=None, rolls_deg=None) -> np.ndarray:
    """Return camera-to-world poses (N, 4, 4) with the given heading / elevation / roll per frame."""
    n = len(headings_deg)
    elevations_deg = np.zeros(n) if elevations_deg is None else elevations_deg
    rolls_deg = np.zeros(n) if rolls_deg is None else rolls_deg
    return np.stack(
        [
            look_at_pose(heading_deg=h, elevation_deg=e, roll_deg=r)
            for h, e, r in zip(headings_deg, elevations_deg, rolls_deg, strict=True)
        ]
    )


def make_pose_clip(
    poses: np.ndarray,
    *,
    clip_id: str = "scene9999_00",
    width: int = 640,
    height: int = 480,
    hfov_deg: float = 60.0,
    fps: float | None = None,
    frame_numbers=None,
) -> Clip:
    """Return a Clip over the poses with placeholder frame refs (for rule tests: no pixels needed).

    ``fps`` gives the clip times (frame number / fps); ``frame_numbers`` numbers the frames (default 0, 1, ...).
    """
    focal = width / (2 * math.tan(math.radians(hfov_deg) / 2))
    numbers = range(len(poses)) if frame_numbers is None else frame_numbers
    frames = tuple(FrameRef(frame_index=int(i), image_path=Path(f"{i}.jpg")) for i in numbers)
    return Clip(
        source="scannet",
        clip_id=clip_id,
        frames=frames,
        T_world_cam=poses,
        focal_px=focal,
        image_width_px=width,
        image_height_px=height,
        fps=fps,
    )


def write_scannet_export(
    scene_dir: Path, poses: np.ndarray, *, width: int = 64, height: int = 48, seed: int = 0
) -> Path:
    """Write one ScanNet scene export (pose/<i>.txt, color/<i>.jpg rendered from the poses)."""
    panorama = make_panorama(np.random.default_rng(seed), size=(512, 256))
    focal = width / (2 * math.tan(math.radians(30)))
    (scene_dir / "color").mkdir(parents=True, exist_ok=True)
    for i, T in enumerate(poses):
        write_scannet_pose(scene_dir / "pose" / f"{i}.txt", T)
        Image.fromarray(render_view(panorama, T, width=width, height=height, focal_px=focal)).save(
            scene_dir / "color" / f"{i}.jpg"
        )
    return scene_dir


@pytest.fixture(scope="session")
def demo_scannet_root(tmp_path_factory) -> Path:
    """A small demo corpus in the ScanNet export format (6 scenes, 90 frames, 128x96)."""
    root = tmp_path_factory.mktemp("scannet_corpus")
    write_demo_scannet(root, SMALL_DEMO)
    return root


@pytest.fixture(scope="session")
def built_dataset(demo_scannet_root, tmp_path_factory) -> Path:
    """A dataset directory built (without Prefect) from the small demo corpus."""
    out = tmp_path_factory.mktemp("built") / "dataset"
    build_dataset([SourceInput(source="scannet", path=str(demo_scannet_root))], out, SMALL_BUILD)
    return out

"""Factories that write real LeRobot v3.0 datasets (parquet + mp4) for tests, through the demo generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from remot_data.demo.lerobot import DemoLeRobotConfig, write_demo_lerobot
from remot_data.frames import encode_video
from remot_data.sources.lerobot_mapping import load_lerobot_mapping

DEMO_MAPPING = load_lerobot_mapping("remot_demo")
SMALL_LEROBOT = DemoLeRobotConfig(n_episodes=4, episodes_per_file=2, n_frames=60, width=96, height=72, seed=2)


def make_index_video(path: Path, *, n_frames: int = 40, fps: int = 10, width: int = 64, height: int = 48) -> Path:
    """Write an mp4 whose frame i shows i: top half gray 10 * (i % 25), bottom half gray 10 * (i // 25) (< 650 frames).

    Steps of 10 gray levels survive H.264 (flat areas come back within a few levels).
    """
    frames = []
    for i in range(n_frames):
        frame = np.full((height, width, 3), 10 * (i % 25), np.uint8)
        frame[height // 2 :] = 10 * (i // 25)
        frames.append(frame)
    encode_video(frames, path, fps=fps, gop=8)
    return path


def frame_number_of(pixels: np.ndarray) -> int:
    """Return the frame index shown by a frame of ``make_index_video`` (read away from the halves' edge)."""
    h = pixels.shape[0]
    top, bottom = pixels[: h // 4].mean(), pixels[3 * h // 4 :].mean()
    return int(round(float(bottom) / 10)) * 25 + int(round(float(top) / 10))


@pytest.fixture(scope="session")
def demo_lerobot_root(tmp_path_factory) -> Path:
    """A small LeRobot v3.0 dataset of the drawn robot (4 episodes, 2 per data/video file)."""
    return write_demo_lerobot(tmp_path_factory.mktemp("lerobot") / "robot", SMALL_LEROBOT)


@pytest.fixture(scope="session")
def built_robot_dataset(demo_lerobot_root, tmp_path_factory) -> Path:
    """A dataset directory built (without Prefect) from the small LeRobot demo dataset."""
    from remot_data.pipeline import SourceInput, build_dataset
    from tests.factories.scannet import SMALL_BUILD

    out = tmp_path_factory.mktemp("built_robot") / "dataset"
    build_dataset(
        [SourceInput(source="lerobot", path=demo_lerobot_root, lerobot_mapping=DEMO_MAPPING)], out, SMALL_BUILD
    )
    return out

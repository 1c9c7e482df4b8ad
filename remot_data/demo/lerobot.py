"""Demo corpus, LeRobot v3.0 part: a drawn two-arm robot whose end effectors and grippers move as the telemetry says.

The head camera looks forward (+x), so the robot's left arm is on the image's left; an end effector at base-frame
(y, z) is drawn at image (u, v) = (W/2 - y·S, H·0.62 - z·S). Grippers are two fingers whose gap is the opening
width written to the state. Several episodes share each data file and each video file, as in real v3.0 datasets.
Deterministic from the seed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from PIL import Image, ImageDraw

from remot_data.frames import encode_video
from remot_data.sources.lerobot_layout import (
    CODEBASE_VERSION,
    DEFAULT_DATA_PATH,
    DEFAULT_EPISODES_PATH,
    DEFAULT_VIDEO_PATH,
    INFO_PATH,
    STATS_PATH,
    TASKS_PATH,
)
from remot_data.table import write_parquet

VIDEO_KEY = "observation.images.head"
STATE_NAMES = [
    "left_ee_x",
    "left_ee_y",
    "left_ee_z",
    "left_gripper",
    "right_ee_x",
    "right_ee_y",
    "right_ee_z",
    "right_gripper",
]
# The joint-space twin records, per arm, the joints of remot_data/robots/remot_demo/two_arm.urdf instead.
ARM_JOINTS = ("shoulder_yaw", "shoulder_pitch", "elbow_pitch")
JOINT_STATE_NAMES = [f"{side}_{name}" for side in ("left", "right") for name in (*ARM_JOINTS, "gripper")]
SHOULDER_XYZ_M = {"left": (0.0, 0.27, 0.10), "right": (0.0, -0.27, 0.10)}
LINK_M = 0.35  # upper arm and forearm of two_arm.urdf
MAX_OPENING_M = 0.08
# Per arm: lateral (y) range and vertical (z) range of the end effector, metres.
Y_RANGE = {"left": (0.12, 0.42), "right": (-0.42, -0.12)}
Z_RANGE = (-0.15, 0.25)
SEGMENTS = (
    "left",
    "right",
    "up",
    "down",
    "up_left",
    "up_right",
    "down_left",
    "down_right",
    "open",
    "close",
    "half",
    "hold",
)


@dataclass(frozen=True, kw_only=True)
class DemoLeRobotConfig:
    """Size and motion of the demo robot dataset.

    Attributes:
        n_episodes: Episodes.
        episodes_per_file: Episodes concatenated in each data / video file.
        n_frames: Frames per episode.
        fps: Frame rate.
        width: Image width.
        height: Image height.
        seed: Seed of trajectories.
        joint_space: Record joint angles of ``two_arm.urdf`` (the same motion) instead of end-effector positions.
    """

    n_episodes: int = 8
    episodes_per_file: int = 4
    n_frames: int = 100
    joint_space: bool = False
    fps: int = 10
    width: int = 192
    height: int = 144
    seed: int = 0


def make_episode_state(config: DemoLeRobotConfig, episode: int) -> npt.NDArray[np.float64]:
    """Return the state (n_frames, 8) of one episode: per arm, segments of straight moves and gripper actions."""
    rng = np.random.default_rng([config.seed, episode, 7])
    state = np.zeros((config.n_frames, len(STATE_NAMES)))
    for a, arm in enumerate(("left", "right")):
        y = float(np.mean(Y_RANGE[arm]))
        z = 0.05
        opening = MAX_OPENING_M
        t = 0
        while t < config.n_frames:
            length = int(rng.integers(6, 12))
            kind = SEGMENTS[int(rng.integers(0, len(SEGMENTS)))]
            dy = {"left": 1, "right": -1, "up_left": 1, "up_right": -1, "down_left": 1, "down_right": -1}.get(kind, 0)
            dz = {"up": 1, "down": -1, "up_left": 1, "up_right": 1, "down_left": -1, "down_right": -1}.get(kind, 0)
            step = float(rng.uniform(0.10, 0.20))
            y1 = float(np.clip(y + dy * step, *Y_RANGE[arm]))
            z1 = float(np.clip(z + dz * step, *Z_RANGE))
            o1 = {"open": MAX_OPENING_M, "close": 0.0, "half": MAX_OPENING_M / 2}.get(kind, opening)
            for k in range(length):
                if t >= config.n_frames:
                    break
                w = 0.5 - 0.5 * math.cos(math.pi * (k + 1) / length)  # smooth start and stop
                state[t, 4 * a : 4 * a + 4] = [0.40, y + (y1 - y) * w, z + (z1 - z) * w, opening + (o1 - opening) * w]
                t += 1
            y, z, opening = y1, z1, o1
    return state


def arm_joint_angles(ee_xyz_m: npt.NDArray[np.float64], arm: str) -> npt.NDArray[np.float64]:
    """Return the joints (shoulder yaw, shoulder pitch, elbow pitch; radians) that put an arm's end effector there.

    Closed-form inverse of ``two_arm.urdf`` (elbow up): yaw points the arm at the target, then a two-link planar arm
    reaches it. Pitch joints turn about +y, so a positive angle lowers the link (elevation = -angle).

    Args:
        ee_xyz_m: End-effector positions (N, 3), base frame.
        arm: ``left`` or ``right``.

    Returns:
        Joint angles (N, 3).
    """
    d = np.asarray(ee_xyz_m, dtype=np.float64) - np.asarray(SHOULDER_XYZ_M[arm])
    yaw = np.arctan2(d[:, 1], d[:, 0])
    reach, height = np.hypot(d[:, 0], d[:, 1]), d[:, 2]
    cos_elbow = (reach**2 + height**2 - 2 * LINK_M**2) / (2 * LINK_M**2)
    elbow = -np.arccos(np.clip(cos_elbow, -1.0, 1.0))  # elevation of the forearm relative to the upper arm
    shoulder = np.arctan2(height, reach) - np.arctan2(LINK_M * np.sin(elbow), LINK_M + LINK_M * np.cos(elbow))
    return np.stack([yaw, -shoulder, -elbow], axis=1)


def to_joint_state(state: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return the joint-space state (N, 8) (``JOINT_STATE_NAMES``) of an end-effector state (N, 8) (``STATE_NAMES``)."""
    out = np.zeros_like(state)
    for a, arm in enumerate(("left", "right")):
        out[:, 4 * a : 4 * a + 3] = arm_joint_angles(state[:, 4 * a : 4 * a + 3], arm)
        out[:, 4 * a + 3] = state[:, 4 * a + 3]
    return out


def render_robot(state: npt.NDArray[np.float64], *, width: int, height: int) -> npt.NDArray[np.uint8]:
    """Draw the two arms and grippers of one state vector (8,) as seen from the head camera."""
    image = Image.new("RGB", (width, height), (205, 195, 170))
    draw = ImageDraw.Draw(image)
    for k in range(0, width, 16):  # table texture, fixed: only the arms move
        draw.line([(k, int(height * 0.8)), (k + 30, height)], fill=(185, 175, 150), width=2)
    scale = width / 1.0
    for a, (arm, colour) in enumerate((("left", (40, 90, 200)), ("right", (220, 120, 30)))):
        _, y, z, opening = state[4 * a : 4 * a + 4]
        u, v = width / 2 - y * scale, height * 0.62 - z * scale
        shoulder = (width * (0.1 if arm == "left" else 0.9), height)
        elbow = ((shoulder[0] + u) / 2, (shoulder[1] + v) / 2 + height * 0.08)
        unit = width / 192  # drawing sizes scale with the image, so the two arms never overlap
        draw.line([shoulder, elbow, (u, v + 6 * unit)], fill=colour, width=max(2, round(7 * unit)))
        # The gripper: two fingers whose gap is the opening width, joined by a bar (at most 0.075 W wide).
        gap = width * (0.015 + 0.06 * opening / MAX_OPENING_M)
        finger = max(1.0, 2 * unit)
        for side in (-1, 1):
            x = u + side * gap
            draw.rectangle([x - finger, v - 10 * unit, x + finger, v + 6 * unit], fill=(30, 30, 30))
        draw.rectangle([u - gap - finger, v + 4 * unit, u + gap + finger, v + 8 * unit], fill=(30, 30, 30))
    return np.asarray(image, dtype=np.uint8)


def write_demo_lerobot(root: Path, config: DemoLeRobotConfig | None = None) -> Path:
    """Write a LeRobot v3.0 dataset of the drawn robot under ``root`` and return ``root``."""
    config = config or DemoLeRobotConfig()
    root = Path(root)
    states = [make_episode_state(config, e) for e in range(config.n_episodes)]
    episodes, global_index = [], 0
    for file_index, first in enumerate(range(0, config.n_episodes, config.episodes_per_file)):
        members = list(range(first, min(first + config.episodes_per_file, config.n_episodes)))
        rows, frames, offset = [], [], 0.0
        for e in members:
            n = len(states[e])
            recorded = to_joint_state(states[e]) if config.joint_space else states[e]
            for i in range(n):
                rows.append(
                    {
                        "observation.state": recorded[i].tolist(),
                        "action": recorded[i].tolist(),
                        "timestamp": np.float32(i / config.fps),
                        "frame_index": i,
                        "episode_index": e,
                        "index": global_index + i,
                        "task_index": 0,
                    }
                )
                frames.append(render_robot(states[e][i], width=config.width, height=config.height))
            episodes.append(
                {
                    "episode_index": e,
                    "tasks": ["move the arms"],
                    "length": n,
                    "data/chunk_index": 0,
                    "data/file_index": file_index,
                    "dataset_from_index": global_index,
                    "dataset_to_index": global_index + n,
                    f"videos/{VIDEO_KEY}/chunk_index": 0,
                    f"videos/{VIDEO_KEY}/file_index": file_index,
                    f"videos/{VIDEO_KEY}/from_timestamp": offset,
                    f"videos/{VIDEO_KEY}/to_timestamp": offset + n / config.fps,
                    "meta/episodes/chunk_index": 0,
                    "meta/episodes/file_index": 0,
                }
            )
            offset += n / config.fps
            global_index += n
        write_parquet(pa.Table.from_pylist(rows), root / DEFAULT_DATA_PATH.format(chunk_index=0, file_index=file_index))
        encode_video(
            frames,
            root / DEFAULT_VIDEO_PATH.format(video_key=VIDEO_KEY, chunk_index=0, file_index=file_index),
            fps=config.fps,
        )
    write_parquet(pa.Table.from_pylist(episodes), root / DEFAULT_EPISODES_PATH.format(chunk_index=0, file_index=0))
    write_parquet(pa.table({"task_index": [0], "task": ["move the arms"]}), root / TASKS_PATH)
    every = np.concatenate([to_joint_state(s) for s in states] if config.joint_space else states)
    names = JOINT_STATE_NAMES if config.joint_space else STATE_NAMES
    vector = {"dtype": "float64", "shape": [len(names)], "names": names}
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": "remot_demo_two_arm",
        "total_episodes": config.n_episodes,
        "total_frames": int(len(every)),
        "total_tasks": 1,
        "chunks_size": 1000,
        "fps": config.fps,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "splits": {"train": f"0:{config.n_episodes}"},
        "data_path": DEFAULT_DATA_PATH,
        "video_path": DEFAULT_VIDEO_PATH,
        "features": {
            "observation.state": vector,
            "action": vector,
            VIDEO_KEY: {
                "dtype": "video",
                "shape": [config.height, config.width, 3],
                "names": ["height", "width", "channels"],
                "info": {
                    "video.fps": float(config.fps),
                    "video.height": config.height,
                    "video.width": config.width,
                    "video.channels": 3,
                    "video.codec": "h264",
                    "video.pix_fmt": "yuv420p",
                    "video.is_depth_map": False,
                    "has_audio": False,
                },
            },
            "timestamp": {"dtype": "float32", "shape": [1], "names": None},
            "frame_index": {"dtype": "int64", "shape": [1], "names": None},
            "episode_index": {"dtype": "int64", "shape": [1], "names": None},
            "index": {"dtype": "int64", "shape": [1], "names": None},
            "task_index": {"dtype": "int64", "shape": [1], "names": None},
        },
    }
    (root / INFO_PATH).write_text(json.dumps(info, indent=2) + "\n")
    stats = {
        "observation.state": {
            "min": every.min(axis=0).tolist(),
            "max": every.max(axis=0).tolist(),
            "mean": every.mean(axis=0).tolist(),
            "std": every.std(axis=0).tolist(),
            "count": [int(len(every))],
        }
    }
    (root / STATS_PATH).write_text(json.dumps(stats, indent=2) + "\n")
    return root

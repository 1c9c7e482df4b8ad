"""Demo corpus, nuScenes part: drives down a street past walking people and parked and moving cars.

Written as nuScenes tables (``v1.0-mini``: scene, sample, sample_data, ego_pose, calibrated_sensor, sensor,
sample_annotation, instance, category, visibility, log) plus front-camera keyframes at 2 Hz. Each frame is drawn by
projecting every object's 3D box with the reader's own geometry (``sources/nuscenes.py``) and filling its image box,
nearer objects over farther ones; visibility bins are measured on the drawing. So the pixels show the annotated
positions, counts and speeds. A LIDAR_TOP record per sample checks that readers pick the camera. Deterministic from
the seed. Imports numpy, pinocchio (through the reader) and Pillow.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from remot_data.sources.nuscenes import box_corners, project_box

VERSION = "v1.0-mini"
CAMERA_TO_EGO = {"translation": [1.7, 0.0, 1.5], "rotation": [0.5, -0.5, 0.5, -0.5]}  # x right/y down/z fwd -> ego
CATEGORIES = {"pedestrian": "human.pedestrian.adult", "car": "vehicle.car", "barrier": "movable_object.barrier"}


@dataclass(frozen=True, kw_only=True)
class DemoNuScenesConfig:
    """Size and traffic of the demo drives.

    Attributes:
        n_scenes: Number of scenes (``scene-0001`` ...).
        n_samples: Keyframes per scene (2 Hz).
        width: Image width, pixels.
        height: Image height, pixels.
        focal_px: Camera focal length, pixels.
        n_people: People per scene.
        n_cars: Other cars per scene.
        seed: Seed of the layout.
    """

    n_scenes: int = 4
    n_samples: int = 40
    width: int = 320
    height: int = 180
    focal_px: float = 180.0
    n_people: int = 20
    n_cars: int = 6
    seed: int = 0


def _yaw_quaternion(yaw: float) -> list[float]:
    return [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = (int(c) for c in rng.integers(30, 230, size=3))
    return r, max(g, 110), b  # never red: red marks a question's object


def write_demo_nuscenes(root: Path, config: DemoNuScenesConfig = DemoNuScenesConfig()) -> Path:
    """Write the demo drives as a nuScenes dataroot under ``root``; return ``root``."""
    root = Path(root)
    rng = np.random.default_rng(config.seed + 7001)
    tables: dict[str, list[dict]] = {
        name: [] for name in ("scene", "sample", "sample_data", "ego_pose", "sample_annotation", "instance", "log")
    }
    tables["sensor"] = [
        {"token": "sensor-cam-front", "channel": "CAM_FRONT", "modality": "camera"},
        {"token": "sensor-lidar-top", "channel": "LIDAR_TOP", "modality": "lidar"},
    ]
    K = [[config.focal_px, 0.0, config.width / 2], [0.0, config.focal_px, config.height / 2], [0.0, 0.0, 1.0]]
    tables["calibrated_sensor"] = [
        {"token": "calib-cam-front", "sensor_token": "sensor-cam-front", "camera_intrinsic": K, **CAMERA_TO_EGO},
        {
            "token": "calib-lidar-top",
            "sensor_token": "sensor-lidar-top",
            "camera_intrinsic": [],
            "translation": [0.9, 0.0, 1.8],
            "rotation": [1.0, 0.0, 0.0, 0.0],
        },
    ]
    tables["category"] = [{"token": f"category-{k}", "name": v, "description": k} for k, v in CATEGORIES.items()]
    tables["visibility"] = [
        {"token": str(i + 1), "level": level, "description": f"visibility of whole object is {level}"}
        for i, level in enumerate(("v0-40", "v40-60", "v60-80", "v80-100"))
    ]
    camera = np.eye(4)
    camera[:3, :3] = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    camera[:3, 3] = CAMERA_TO_EGO["translation"]
    start_us = 1_600_000_000_000_000
    for s in range(config.n_scenes):
        _write_scene(root, s, rng, config, tables, camera, np.asarray(K), start_us + s * 60_000_000)
    version_dir = root / VERSION
    version_dir.mkdir(parents=True, exist_ok=True)
    for name, records in tables.items():
        (version_dir / f"{name}.json").write_text(json.dumps(records, indent=0))
    return root


def _write_scene(
    root: Path,
    s: int,
    rng: np.random.Generator,
    config: DemoNuScenesConfig,
    tables: dict[str, list[dict]],
    camera: np.ndarray,
    K: np.ndarray,
    start_us: int,
) -> None:
    n = config.n_samples
    t = np.arange(n) * 0.5
    # the ego car on a winding road, from the origin along +x: it slows to about 1.5 m/s and speeds up to about 6 m/s
    # every 8 s, and its heading swings +-20 degrees every 10 s (so it turns left and right within seconds)
    speed = 3.6 + 2.2 * np.sin(2 * np.pi * t / 8.0 + rng.uniform(0, 6.3))
    yaw = np.radians(20.0) * np.sin(2 * np.pi * t / 10.0 + rng.uniform(0, 6.3))
    ego_xy = np.zeros((n, 2))
    for i in range(1, n):
        step = speed[i - 1] * 0.5
        ego_xy[i] = ego_xy[i - 1] + step * np.array([math.cos(yaw[i - 1]), math.sin(yaw[i - 1])])
    # objects: (name, size w/l/h, positions (n, 2) world, yaw per frame, colour)
    objects = []
    for k in range(config.n_people + config.n_cars + 3):
        kind = "pedestrian" if k < config.n_people else ("car" if k < config.n_people + config.n_cars else "barrier")
        x0 = rng.uniform(8, speed.mean() * t[-1] + 15)
        side = rng.choice([-1, 1])
        if kind == "pedestrian":
            size = [0.6, 0.6, 1.75]
            lateral = side * rng.uniform(3, 5.5)
            paces = rng.choice([0.6, 1.2, 2.4], size=n)  # strolling, walking, hurrying, changing at each keyframe pair
            paces = np.repeat(paces[::3], 3)[:n]
            v = paces * rng.choice([-1, 1])
            along = x0 + np.concatenate([[0.0], np.cumsum(v[:-1] * 0.5)])
            positions = np.c_[along, np.full(n, lateral)]
            heading = np.where(v >= 0, 0.0, math.pi)
        elif kind == "car":
            size = [1.9, 4.5, 1.6]
            lateral = side * rng.uniform(2.5, 3.5)
            v = np.full(n, rng.choice([0.0, rng.uniform(3, 9)]))
            along = x0 + np.concatenate([[0.0], np.cumsum(v[:-1] * 0.5)])
            positions = np.c_[along, np.full(n, lateral)]
            heading = np.zeros(n)
        else:
            size = [0.5, 2.0, 1.0]
            positions = np.c_[np.full(n, x0), np.full(n, side * rng.uniform(5, 8))]
            heading = np.zeros(n)
        objects.append((kind, size, positions, heading, _colour(rng)))
    name = f"scene-{s + 1:04d}"
    log_token = f"log-{s}"
    tables["log"].append({"token": log_token, "logfile": f"demo-{s}", "vehicle": "demo", "location": "remot-town"})
    scene_token = f"scene-token-{s}"
    instance_tokens = []
    for k, (kind, *_rest) in enumerate(objects):
        token = f"instance-{s}-{k}"
        instance_tokens.append(token)
        tables["instance"].append(
            {
                "token": token,
                "category_token": f"category-{kind}",
                "nbr_annotations": 0,
                "first_annotation_token": "",
                "last_annotation_token": "",
            }
        )
    sample_tokens = [f"sample-{s}-{i}" for i in range(n)]
    tables["scene"].append(
        {
            "token": scene_token,
            "name": name,
            "description": "demo drive",
            "log_token": log_token,
            "nbr_samples": n,
            "first_sample_token": sample_tokens[0],
            "last_sample_token": sample_tokens[-1],
        }
    )
    # each drive has its own street: sky, tarmac and a row of buildings on both sides (drawn, not annotated, like
    # nuScenes' surroundings), so frames of different drives do not look alike
    sky = (int(rng.integers(120, 200)), int(rng.integers(160, 220)), int(rng.integers(200, 250)))
    ground = tuple(int(v) for v in rng.integers(70, 130, size=3))
    buildings = []
    x = -20.0
    while x < speed.mean() * t[-1] + 80:
        length = float(rng.uniform(6, 18))
        for side in (-1, 1):
            height = float(rng.uniform(4, 16))
            lateral = side * float(rng.uniform(9, 13))
            buildings.append(([x + length / 2, lateral, height / 2], [6.0, length, height], _colour(rng)))
        x += length + float(rng.uniform(0, 4))
    for i in range(n):
        stamp = start_us + int(t[i] * 1e6)
        tables["sample"].append(
            {
                "token": sample_tokens[i],
                "timestamp": stamp,
                "scene_token": scene_token,
                "prev": sample_tokens[i - 1] if i else "",
                "next": sample_tokens[i + 1] if i + 1 < n else "",
            }
        )
        ego_token = f"ego-{s}-{i}"
        ego = {
            "token": ego_token,
            "timestamp": stamp,
            "translation": [*ego_xy[i], 0.0],
            "rotation": _yaw_quaternion(yaw[i]),
        }
        tables["ego_pose"].append(ego)
        file_name = f"samples/CAM_FRONT/demo-{s}__CAM_FRONT__{stamp}.jpg"
        for channel, calib in (("CAM_FRONT", "calib-cam-front"), ("LIDAR_TOP", "calib-lidar-top")):
            tables["sample_data"].append(
                {
                    "token": f"sd-{channel}-{s}-{i}",
                    "sample_token": sample_tokens[i],
                    "ego_pose_token": ego_token,
                    "calibrated_sensor_token": calib,
                    "timestamp": stamp,
                    "is_key_frame": True,
                    "filename": file_name if channel == "CAM_FRONT" else f"samples/LIDAR_TOP/demo-{s}__{stamp}.pcd.bin",
                    "fileformat": "jpg" if channel == "CAM_FRONT" else "pcd",
                    "width": config.width if channel == "CAM_FRONT" else 0,
                    "height": config.height if channel == "CAM_FRONT" else 0,
                    "prev": "",
                    "next": "",
                }
            )
        T_world_ego = np.eye(4)
        T_world_ego[:3, :3] = np.array(
            [[math.cos(yaw[i]), -math.sin(yaw[i]), 0.0], [math.sin(yaw[i]), math.cos(yaw[i]), 0.0], [0.0, 0.0, 1.0]]
        )
        T_world_ego[:3, 3] = [*ego_xy[i], 0.0]
        T_world_cam = T_world_ego @ camera
        image = Image.new("RGB", (config.width, config.height), sky)
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, config.height // 2, config.width, config.height), fill=ground)
        for centre, size, colour in sorted(
            buildings, key=lambda b: -float(np.hypot(b[0][0] - ego_xy[i, 0], b[0][1] - ego_xy[i, 1]))
        ):
            box = project_box(box_corners(centre, size, [1.0, 0.0, 0.0, 0.0]), T_world_cam, K)
            if box is not None:
                draw.rectangle((box[0], box[1], box[0] + box[2], box[1] + box[3]), fill=colour, outline=(40, 40, 40))
        owner = Image.new("I", image.size, 0)
        owner_draw = ImageDraw.Draw(owner)
        # every object within 60 m is annotated, as nuScenes does around the car; the camera sees those in front
        near = []
        for k, (_kind, size, positions, heading, colour) in enumerate(objects):
            depth = float(np.linalg.norm(positions[i] - ego_xy[i]))
            if depth > 60.0:
                continue
            centre = [float(positions[i, 0]), float(positions[i, 1]), size[2] / 2]
            rotation = _yaw_quaternion(float(heading[i]))
            box = project_box(box_corners(centre, size, rotation), T_world_cam, K)
            in_view = box is not None and not (
                box[0] > config.width or box[1] > config.height or box[0] + box[2] < 0 or box[1] + box[3] < 0
            )
            near.append((depth, k, box if in_view else None, centre, size, rotation, colour))
        for _depth, k, box, *_, colour in sorted(near, key=lambda item: -item[0]):  # far ones first
            if box is not None:
                x0, y0, w, h = box
                draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
                owner_draw.rectangle((x0, y0, x0 + w, y0 + h), fill=k + 1)
        pixels = np.asarray(owner)
        for _depth, k, box, centre, size, rotation, _ in near:
            visible = 1.0  # out of this camera's view: seen by the others (the demo has only this one)
            if box is not None:
                x0, y0, w, h = box
                inside = pixels[max(0, int(y0)) : max(0, int(y0 + h)), max(0, int(x0)) : max(0, int(x0 + w))]
                visible = 1.0 - np.count_nonzero((inside != k + 1) & (inside != 0)) / max(1.0, w * h)
            bin_token = "1" if visible < 0.4 else "2" if visible < 0.6 else "3" if visible < 0.8 else "4"
            tables["sample_annotation"].append(
                {
                    "token": f"ann-{s}-{i}-{k}",
                    "sample_token": sample_tokens[i],
                    "instance_token": instance_tokens[k],
                    "visibility_token": bin_token,
                    "attribute_tokens": [],
                    "translation": centre,
                    "size": size,
                    "rotation": rotation,
                    "num_lidar_pts": 10,
                    "num_radar_pts": 0,
                    "prev": "",
                    "next": "",
                }
            )
        (root / file_name).parent.mkdir(parents=True, exist_ok=True)
        image.save(root / file_name, quality=90)

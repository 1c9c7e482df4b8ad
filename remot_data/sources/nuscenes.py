"""Reader for nuScenes (``<dataroot>/<version>/*.json`` tables plus camera JPEGs), by plain JSON parsing.

One clip per scene: its front camera's keyframes (``CAM_FRONT``, 2 Hz, the annotated frames) in time order, the ego
vehicle's position and heading at each (tracks ``ego.xy_m``, ``ego.yaw_deg``, + = left, unwrapped), and every
annotated object projected into that camera as a 2D box (the 8 corners of its 3D box through the camera's
calibration and the ego pose; quaternions are (w, x, y, z), via pinocchio). Dangling tokens, missing fields and
unknown categories are errors naming the table file, the record's token and the field; nothing is dropped
silently. The devkit is not needed. Imports numpy, pinocchio and remot_data records only; never rules.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pinocchio as pin

from remot_data.errors import SourceFormatError
from remot_data.records import Clip, FrameRef, ObjectBoxes
from remot_data.sources.paths import contained_path, read_source_bytes, read_source_text

CAMERA = "CAM_FRONT"
# table -> fields every record must have (besides "token"), and the tables its *_token fields point into.
TABLES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "scene": (("name", "first_sample_token"), {"first_sample_token": "sample"}),
    "sample": (("timestamp", "scene_token", "next"), {"scene_token": "scene"}),
    "sample_data": (
        ("sample_token", "ego_pose_token", "calibrated_sensor_token", "filename", "timestamp", "is_key_frame"),
        {"sample_token": "sample", "ego_pose_token": "ego_pose", "calibrated_sensor_token": "calibrated_sensor"},
    ),
    "ego_pose": (("translation", "rotation"), {}),
    "calibrated_sensor": (("sensor_token", "translation", "rotation", "camera_intrinsic"), {"sensor_token": "sensor"}),
    "sensor": (("channel",), {}),
    "sample_annotation": (
        ("sample_token", "instance_token", "translation", "size", "rotation", "visibility_token"),
        {"sample_token": "sample", "instance_token": "instance"},
    ),
    "instance": (("category_token",), {"category_token": "category"}),
    "category": (("name",), {}),
}
# Fields besides the tokens that must hold text (a name, a channel, a file name, the next sample's token or "").
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "scene": ("name",),
    "sample": ("next",),
    "sample_data": ("filename",),
    "sensor": ("channel",),
    "category": ("name",),
}
# nuScenes category name prefix -> remot category (first match wins; every name must match one).
CATEGORY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("human.pedestrian.", "pedestrian"),
    ("vehicle.bicycle", "bicycle"),
    ("vehicle.", "vehicle"),
    ("movable_object.", "other"),
    ("static_object.", "other"),
    ("animal", "other"),
)
# Visibility bins (token -> fraction): nuScenes states them over all six cameras in bins; remot takes each bin's lower
# bound, so a 0-40 % object is not counted and the others are.
VISIBILITY_LOWER_BOUND = {"1": 0.0, "2": 0.4, "3": 0.6, "4": 0.8}
MIN_DEPTH_M = 0.1


def remot_category(name: str) -> str | None:
    """Return the remot category of a nuScenes category name, or None when no prefix matches.

    Example:
        >>> remot_category("human.pedestrian.adult"), remot_category("vehicle.bicycle"), remot_category("vehicle.car")
        ('pedestrian', 'bicycle', 'vehicle')
    """
    return next((category for prefix, category in CATEGORY_PREFIXES if name.startswith(prefix)), None)


def find_version_dir(dataroot: Path, version: str | None) -> Path:
    """Return ``<dataroot>/<version>``; without a version, the one folder holding ``scene.json``.

    Raises:
        SourceFormatError: If the folder is missing, or several versions are present and none is named.
    """
    dataroot = Path(dataroot)
    if version is not None:
        if not (dataroot / version / "scene.json").is_file():
            raise SourceFormatError(f"{dataroot / version}: no nuScenes tables (scene.json) for version {version!r}")
        return dataroot / version
    found = sorted(p.parent for p in dataroot.glob("*/scene.json"))
    if len(found) != 1:
        names = [p.name for p in found]
        raise SourceFormatError(
            f"{dataroot}: " + (f"several nuScenes versions {names}: name one" if found else "no */scene.json found")
        )
    return found[0]


def _read_records(path: Path) -> list[Any]:
    """Return the list a table file holds.

    Raises:
        SourceFormatError: Naming the file when it is missing, not JSON, or not a list.
    """
    try:
        records = json.loads(read_source_text(path))
    except FileNotFoundError:
        raise SourceFormatError(f"{path}: table missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceFormatError(f"{path}: cannot read as JSON: {exc}") from exc
    if not isinstance(records, list):
        raise SourceFormatError(f"{path}: expected a list of records, got {type(records).__name__}")
    return records


def _read_table(path: Path) -> dict[str, dict[str, Any]]:
    records = _read_records(path)
    table: dict[str, dict[str, Any]] = {}
    required, pointers = TABLES[path.stem]
    text = ("token", *pointers, *TEXT_FIELDS.get(path.stem, ()))
    for n, record in enumerate(records):
        if not isinstance(record, dict) or "token" not in record:
            raise SourceFormatError(f"{path}: record {n} has no token")
        missing = [f for f in required if f not in record]
        if missing:
            raise SourceFormatError(f"{path}: record {record['token']} has no field {missing[0]}")
        wrong = [f for f in text if not isinstance(record[f], str)]
        if wrong:
            raise SourceFormatError(
                f"{path}: record {record['token']!r} field {wrong[0]} must be text, got {record[wrong[0]]!r:.80}"
            )
        table[record["token"]] = record
    return table


@dataclass(frozen=True)
class NuScenesTables:
    """The tables of one nuScenes version, by token, checked for dangling tokens and unknown categories.

    Attributes:
        root: The dataroot (file names in ``sample_data`` are relative to it).
        version_dir: ``<dataroot>/<version>``.
        tables: Table name -> token -> record.
    """

    root: Path
    version_dir: Path
    tables: dict[str, dict[str, dict[str, Any]]]

    @classmethod
    def load(cls, dataroot: Path, version: str | None = None) -> NuScenesTables:
        """Read and check every table.

        Raises:
            SourceFormatError: Naming the table file, the record's token and the field of a dangling token, a
                missing field or an unknown category.
        """
        version_dir = find_version_dir(dataroot, version)
        tables = {name: _read_table(version_dir / f"{name}.json") for name in TABLES}
        for name, (_, pointers) in TABLES.items():
            for token, record in tables[name].items():
                for field, target in pointers.items():
                    value = record[field]
                    if value not in tables[target]:
                        raise SourceFormatError(
                            f"{version_dir / (name + '.json')}: record {token} field {field} points at {value!r}, "
                            f"which {target}.json does not hold"
                        )
        for token, record in tables["category"].items():
            if remot_category(record["name"]) is None:
                raise SourceFormatError(
                    f"{version_dir / 'category.json'}: record {token} field name {record['name']!r} is no known "
                    f"nuScenes category (expected one starting with {[p for p, _ in CATEGORY_PREFIXES]})"
                )
        for token, record in tables["sample_annotation"].items():
            if str(record["visibility_token"]) not in VISIBILITY_LOWER_BOUND:
                raise SourceFormatError(
                    f"{version_dir / 'sample_annotation.json'}: record {token} field visibility_token is "
                    f"{record['visibility_token']!r}, not one of {sorted(VISIBILITY_LOWER_BOUND)}"
                )
        return cls(root=Path(dataroot), version_dir=version_dir, tables=tables)

    @cached_property
    def tables_digest(self) -> str:
        """Return a SHA-256 over the table files (read once per load, not once per scene)."""
        digest = hashlib.sha256()
        for name in sorted(TABLES):
            digest.update(read_source_bytes(self.version_dir / f"{name}.json"))
        return digest.hexdigest()

    @cached_property
    def scene_by_name(self) -> dict[str, dict[str, Any]]:
        """Return scene records by scene name."""
        return {record["name"]: record for record in self.tables["scene"].values()}

    def log_of(self, scene_name: str) -> str:
        """Return the name of the drive (log) a scene was cut from: its ``log.json`` logfile, else its log token.

        Scenes without a log token are their own group.
        """
        token = self.scene_by_name[scene_name].get("log_token")
        if not token:
            return scene_name
        if not isinstance(token, str):
            raise SourceFormatError(
                f"{self.version_dir / 'scene.json'}: scene {scene_name} field log_token is {token!r}"
            )
        log = self.logs.get(token)
        return str(log.get("logfile") or token) if log else str(token)

    @cached_property
    def logs(self) -> dict[str, dict[str, Any]]:
        """Return ``log.json`` records by token (an optional table: empty when absent)."""
        path = self.version_dir / "log.json"
        if not path.is_file():
            return {}
        return {r["token"]: r for r in _read_records(path) if isinstance(r, dict) and isinstance(r.get("token"), str)}

    @cached_property
    def camera_keyframe_of_sample(self) -> dict[str, dict[str, Any]]:
        """Return the front camera's keyframe sample_data record of each sample token."""
        sensors = self.tables["sensor"]
        calibrations = self.tables["calibrated_sensor"]
        out = {}
        for record in self.tables["sample_data"].values():
            channel = sensors[calibrations[record["calibrated_sensor_token"]]["sensor_token"]]["channel"]
            if channel == CAMERA and record["is_key_frame"]:
                out[record["sample_token"]] = record
        return out

    @cached_property
    def annotations_of_sample(self) -> dict[str, list[dict[str, Any]]]:
        """Return the annotation records of each sample token."""
        out: dict[str, list[dict[str, Any]]] = {}
        for record in self.tables["sample_annotation"].values():
            out.setdefault(record["sample_token"], []).append(record)
        return out

    @cached_property
    def track_ids(self) -> dict[str, int]:
        """Return a stable integer per instance token (its order in instance.json)."""
        return {token: i + 1 for i, token in enumerate(self.tables["instance"])}


def load_tables(dataroot: Path, version: str | None) -> NuScenesTables:
    """Return the checked tables of a dataroot, read once per process while the files stay unchanged.

    Every scene of a build shares them; a table file rewritten since (size or modification time) is read again.
    """
    version_dir = find_version_dir(dataroot, version)
    stamp = tuple(
        (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else None
        for p in (version_dir / f"{name}.json" for name in sorted(TABLES))
    )
    return _load_tables(Path(dataroot), version, stamp)


@lru_cache(maxsize=4)
def _load_tables(dataroot: Path, version: str | None, stamp: tuple) -> NuScenesTables:
    del stamp  # part of the cache key only
    return NuScenesTables.load(dataroot, version)


def numbers(db: NuScenesTables, table: str, record: dict[str, Any], field: str, shape: tuple[int, ...]) -> Any:
    """Return a record's field as finite float64 numbers of ``shape`` (a float for ``()``).

    Raises:
        SourceFormatError: Naming the table file, the record's token, the field and the value otherwise; a
            ``rotation`` must also be a non-zero quaternion and a ``size`` positive.
    """
    value = record.get(field)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        array = None
    wanted = "a number" if shape == () else f"{'x'.join(map(str, shape))} numbers"
    bad = array is None or array.shape != shape or not np.isfinite(array).all() or isinstance(value, (str, bool))
    if not bad and field == "rotation":
        bad, wanted = not np.linalg.norm(array) > 1e-9, "a non-zero quaternion (w, x, y, z)"
    if not bad and field == "size":
        bad, wanted = not (array > 0).all(), "3 positive numbers"
    if bad:
        raise SourceFormatError(
            f"{db.version_dir / (table + '.json')}: record {record['token']} field {field} must be {wanted}, "
            f"got {value!r:.80}"
        )
    return float(array) if shape == () else array


def _pose(translation: Any, rotation: Any) -> npt.NDArray[np.float64]:
    w, x, y, z = (float(v) for v in rotation)
    T = np.eye(4)
    T[:3, :3] = pin.Quaternion(w, x, y, z).normalized().toRotationMatrix()
    T[:3, 3] = translation
    return T


def _record_pose(db: NuScenesTables, table: str, record: dict[str, Any]) -> npt.NDArray[np.float64]:
    """Return a record's ``translation`` and ``rotation`` as a 4x4 pose, both checked."""
    return _pose(numbers(db, table, record, "translation", (3,)), numbers(db, table, record, "rotation", (4,)))


def box_corners(translation: Any, size: Any, rotation: Any) -> npt.NDArray[np.float64]:
    """Return the 8 corners (8, 3) of a nuScenes box: centre, size (width, length, height), rotation (w, x, y, z).

    The box frame is x forward (length), y left (width), z up (height).

    Example:
        >>> c = box_corners([10.0, 0.0, 1.0], [2.0, 4.0, 2.0], [1.0, 0.0, 0.0, 0.0])
        >>> c.min(axis=0).tolist(), c.max(axis=0).tolist()
        ([8.0, -1.0, 0.0], [12.0, 1.0, 2.0])
    """
    w, length, h = size
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
    local = signs * np.array([length, w, h]) / 2
    return (_pose(translation, rotation) @ np.c_[local, np.ones(8)].T).T[:, :3]


def project_box(
    corners_world: npt.NDArray[np.float64],
    T_world_cam: npt.NDArray[np.float64],
    K: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64] | None:
    """Return the image box (left, top, width, height; unclipped) of 3D corners, or None when none is in front.

    Corners behind the camera are left out (a box reaching behind the camera is cut at the image plane's side).
    """
    cam = (np.linalg.inv(T_world_cam) @ np.c_[corners_world, np.ones(len(corners_world))].T).T[:, :3]
    front = cam[cam[:, 2] > MIN_DEPTH_M]
    if len(front) == 0:
        return None
    uv = (K @ front.T).T
    uv = uv[:, :2] / uv[:, 2:3]
    x0, y0 = uv.min(axis=0)
    x1, y1 = uv.max(axis=0)
    return np.array([x0, y0, x1 - x0, y1 - y0])


def scene_keyframes(db: NuScenesTables, scene_name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Return ``(sample, front-camera keyframe sample_data)`` of a scene in time order.

    Raises:
        SourceFormatError: If the scene's sample chain breaks or a sample has no front-camera keyframe.
    """
    out, token, seen = [], db.scene_by_name[scene_name]["first_sample_token"], set()
    while token:
        if token in seen or token not in db.tables["sample"]:
            raise SourceFormatError(
                f"{db.version_dir / 'sample.json'}: scene {scene_name} sample chain breaks at {token}"
            )
        seen.add(token)
        sample = db.tables["sample"][token]
        data = db.camera_keyframe_of_sample.get(token)
        if data is None:
            raise SourceFormatError(f"{db.version_dir / 'sample_data.json'}: sample {token} has no {CAMERA}")
        where = f"{db.version_dir / 'sample_data.json'}: record {data['token']}"
        contained_path(db.root, data["filename"], where=where, field="filename")
        out.append((sample, data))
        token = sample["next"]
    return out


def read_nuscenes_scene(db: NuScenesTables, scene_name: str) -> Clip:
    """Read one scene: front-camera keyframes in time order and every annotation projected into that camera.

    Raises:
        SourceFormatError: If the scene's sample chain breaks, a sample has no front-camera keyframe, or a
            calibration has no 3x3 intrinsic.
    """
    frames, objects_rows, ego_xy, ego_yaw = [], [], [], []
    t0, size = None, None
    for position, (sample, data) in enumerate(scene_keyframes(db, scene_name)):
        timestamp = numbers(db, "sample_data", data, "timestamp", ())
        t0 = timestamp if t0 is None else t0
        frames.append(
            FrameRef(frame_index=position, image_path=db.root / data["filename"], timestamp_s=(timestamp - t0) / 1e6)
        )
        if size is None:
            size = tuple(
                int(numbers(db, "sample_data", data, side, ())) if side in data else default
                for side, default in (("width", 1600), ("height", 900))
            )
            if min(size) < 1:
                raise SourceFormatError(f"{db.version_dir / 'sample_data.json'}: record {data['token']} size {size}")
        calibration = db.tables["calibrated_sensor"][data["calibrated_sensor_token"]]
        K = numbers(db, "calibrated_sensor", calibration, "camera_intrinsic", (3, 3))
        ego = db.tables["ego_pose"][data["ego_pose_token"]]
        T_world_ego = _record_pose(db, "ego_pose", ego)
        ego_xy.append(T_world_ego[:2, 3])
        ego_yaw.append(np.arctan2(T_world_ego[1, 0], T_world_ego[0, 0]))  # heading of the ego's +x (forward) axis
        T_world_cam = T_world_ego @ _record_pose(db, "calibrated_sensor", calibration)
        for annotation in db.annotations_of_sample.get(sample["token"], []):
            corners = box_corners(
                *(
                    numbers(db, "sample_annotation", annotation, f, n)
                    for f, n in (("translation", (3,)), ("size", (3,)), ("rotation", (4,)))
                )
            )
            box = project_box(corners, T_world_cam, K)
            if box is None or box[0] > size[0] or box[1] > size[1] or box[0] + box[2] < 0 or box[1] + box[3] < 0:
                continue  # not in this camera's view
            instance = db.tables["instance"][annotation["instance_token"]]
            objects_rows.append(
                (
                    position,
                    db.track_ids[annotation["instance_token"]],
                    remot_category(db.tables["category"][instance["category_token"]]["name"]),
                    box,
                    VISIBILITY_LOWER_BOUND[str(annotation["visibility_token"])],
                )
            )
    objects = ObjectBoxes(
        position=np.array([r[0] for r in objects_rows], dtype=np.int64),
        track_id=np.array([r[1] for r in objects_rows], dtype=np.int64),
        category=np.array([r[2] for r in objects_rows], dtype=str),
        box_xywh_px=np.array([r[3] for r in objects_rows], dtype=np.float64).reshape(-1, 4),
        visibility=np.array([r[4] for r in objects_rows], dtype=np.float64),
        considered=np.ones(len(objects_rows), dtype=bool),
    )
    width, height = size or (1600, 900)
    return Clip(
        source="nuscenes",
        clip_id=scene_name,
        frames=tuple(frames),
        image_width_px=width,
        image_height_px=height,
        objects=objects,
        tracks={"ego.xy_m": np.array(ego_xy), "ego.yaw_deg": np.degrees(np.unwrap(np.array(ego_yaw)))},
    )


def hash_nuscenes_scene(db: NuScenesTables, scene_name: str) -> str:
    """Return a SHA-256 over the version's table files and the scene's front-camera image names and sizes."""
    digest = hashlib.sha256(f"{scene_name}\0{db.tables_digest}".encode())
    for _, data in scene_keyframes(db, scene_name):  # the file names only: no box is projected to hash a scene
        path = db.root / data["filename"]
        digest.update(f"{path.name}\0{path.stat().st_size if path.is_file() else -1}\0".encode())
    return digest.hexdigest()

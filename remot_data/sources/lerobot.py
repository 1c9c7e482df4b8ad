"""Reader for LeRobot datasets v3.0: ``meta/info.json``, ``meta/episodes/…parquet``, ``data/…parquet``, ``videos/…mp4``.

Many episodes share one data file and one video file; a frame of an episode sits in its video at the episode's
``from_timestamp`` plus the frame's own ``timestamp``. A ``LeRobotMapping`` says which state names hold each arm's
end-effector position (robot base frame: x forward, y left, z up, metres; the camera looks along +x, so the
robot's left is the image's left) and gripper, and which gripper value means closed. Imports pyarrow and numpy.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from remot_data.config_files import load_yaml_model
from remot_data.errors import SourceFormatError
from remot_data.records import Clip, FrameRef, Reject

CODEBASE_VERSION = "v3.0"
LEGACY_VERSION = "v2.1"  # one parquet and one mp4 per episode, meta/episodes.jsonl; read, never written
LEGACY_EPISODES_PATH = "meta/episodes.jsonl"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
CHUNK_FILE_PATTERN = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DEFAULT_DATA_PATH = "data/" + CHUNK_FILE_PATTERN + ".parquet"
DEFAULT_VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE_PATTERN + ".mp4"
DEFAULT_EPISODES_PATH = "meta/episodes/" + CHUNK_FILE_PATTERN + ".parquet"
EPISODE_PREFIX = "episode_"
ArmName = Literal["left", "right"]


class ArmMapping(BaseModel):
    """State names of one arm (entries of the ``state_key`` feature's ``names``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    x: str = Field(description="End-effector forward position name (metres, robot base frame)")
    y: str = Field(description="End-effector left position name (metres, robot base frame)")
    z: str = Field(description="End-effector up position name (metres, robot base frame)")
    gripper: str = Field(description="Gripper value name")


def _demo_arms() -> dict[ArmName, ArmMapping]:
    return {
        side: ArmMapping(x=f"{side}_ee_x", y=f"{side}_ee_y", z=f"{side}_ee_z", gripper=f"{side}_gripper")
        for side in ("left", "right")
    }


class LeRobotMapping(BaseModel):
    """How a LeRobot dataset's features map to arms (the LeRobot source's options; defaults: the demo corpus's names).

    Given to ``remot build`` as a YAML file (``--lerobot-mapping``) or as ``BuildConfig.lerobot_mapping``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    state_key: str = Field("observation.state", description="Feature holding the state vector")
    video_key: str | None = Field(None, description="Camera feature to take frames from; None takes the first video")
    arms: dict[ArmName, ArmMapping] = Field(
        default_factory=_demo_arms, min_length=1, description="Arm (left/right) -> the state names of that arm"
    )
    gripper_closed_is: Literal["high", "low"] = Field(
        "low",
        description="high: larger gripper values mean more closed (DROID); low: an opening width (the demo). "
        "Values are normalised over the dataset to [0, 1], 1 = closed",
    )


@dataclass(frozen=True, kw_only=True)
class LeRobotInfo:
    """Typed ``meta/info.json``.

    Attributes:
        codebase_version: Format version (``v3.0``).
        fps: Frames per second.
        features: Feature name -> ``{dtype, shape, names, info}``.
        data_path: Data file template.
        video_path: Video file template.
        total_episodes: Number of episodes.
        chunks_size: Episodes per chunk folder (v2.1 paths use it).
    """

    codebase_version: str
    fps: float
    features: dict[str, Any]
    data_path: str
    video_path: str | None
    total_episodes: int
    chunks_size: int = 1000

    def state_names(self, key: str, path: Path) -> list[str]:
        """Return the names of a vector feature (a list, or a dict holding one list, as lerobot allows).

        Raises:
            SourceFormatError: If the feature is missing or unnamed.
        """
        feature = self.features.get(key)
        if feature is None:
            raise SourceFormatError(f"{path}: features has no {key!r}; present: {sorted(self.features)}")
        names = feature.get("names")
        if isinstance(names, dict) and len(names) == 1:
            names = next(iter(names.values()))
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise SourceFormatError(f"{path}: features[{key!r}].names must list one name per value, got {names!r}")
        return names

    def video_key(self, wanted: str | None, path: Path) -> str:
        """Return the camera feature to read (``wanted`` or the first video feature)."""
        videos = [k for k, f in self.features.items() if f.get("dtype") == "video"]
        if wanted is not None:
            if wanted not in videos:
                raise SourceFormatError(f"{path}: {wanted!r} is not a video feature; video features: {videos}")
            return wanted
        if not videos:
            raise SourceFormatError(f"{path}: dataset has no video feature (dtype 'video')")
        return videos[0]


def read_lerobot_info(root: Path) -> LeRobotInfo:
    """Read ``meta/info.json``.

    Raises:
        SourceFormatError: Naming the file and field that is missing or of the wrong type or version.
    """
    path = Path(root) / INFO_PATH
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise SourceFormatError(f"{path}: not a LeRobot dataset (no {INFO_PATH})") from err
    except json.JSONDecodeError as err:
        raise SourceFormatError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from err
    version = raw.get("codebase_version")
    if version not in (CODEBASE_VERSION, LEGACY_VERSION):
        raise SourceFormatError(
            f"{path}: codebase_version must be {CODEBASE_VERSION!r} (or {LEGACY_VERSION!r}), got {version!r} "
            "(convert older datasets with lerobot's conversion scripts)"
        )
    for key, kind in (("fps", (int, float)), ("features", dict), ("total_episodes", int)):
        if not isinstance(raw.get(key), kind):
            raise SourceFormatError(f"{path}: field {key!r} must be {kind}, got {raw.get(key)!r}")
    if raw["fps"] <= 0:
        raise SourceFormatError(f"{path}: fps must be positive, got {raw['fps']!r}")
    return LeRobotInfo(
        codebase_version=version,
        fps=float(raw["fps"]),
        features=raw["features"],
        data_path=raw.get("data_path", DEFAULT_DATA_PATH),
        video_path=raw.get("video_path", DEFAULT_VIDEO_PATH),
        total_episodes=raw["total_episodes"],
        chunks_size=int(raw.get("chunks_size", 1000)),
    )


def _read_legacy_episodes(root: Path, info: LeRobotInfo) -> list[dict[str, Any]]:
    """Read v2.1 ``meta/episodes.jsonl`` into v3.0-shaped rows (one data and video file per episode, from 0 s)."""
    path = Path(root) / LEGACY_EPISODES_PATH
    rows = []
    videos = [k for k, f in info.features.items() if f.get("dtype") == "video"]
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as err:
        raise SourceFormatError(f"{path}: a v2.1 dataset needs {LEGACY_EPISODES_PATH}") from err
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            index = int(json.loads(line)["episode_index"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise SourceFormatError(f"{path}:{lineno}: episode lines need an integer episode_index: {err}") from err
        chunk = index // info.chunks_size
        row: dict[str, Any] = {"episode_index": index, "data/chunk_index": chunk, "data/file_index": index}
        for key in videos:
            row.update(
                {
                    f"videos/{key}/chunk_index": chunk,
                    f"videos/{key}/file_index": index,
                    f"videos/{key}/from_timestamp": 0.0,
                }
            )
        rows.append(row)
    return sorted(rows, key=lambda r: r["episode_index"])


def read_lerobot_episodes(root: Path) -> list[dict[str, Any]]:
    """Read every episode's metadata row, sorted by episode index.

    v3.0: ``meta/episodes/chunk-*/file-*.parquet``; v2.1: ``meta/episodes.jsonl``, turned into the same row shape.

    Raises:
        SourceFormatError: If there are none or a file is unreadable.
    """
    info = read_lerobot_info(root)
    if info.codebase_version == LEGACY_VERSION:
        return _read_legacy_episodes(root, info)
    files = sorted((Path(root) / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        raise SourceFormatError(f"{root}: no episode metadata (meta/episodes/chunk-*/file-*.parquet)")
    rows = []
    for file in files:
        try:
            rows.extend(pq.read_table(file).to_pylist())
        except (OSError, pa.ArrowInvalid) as err:
            raise SourceFormatError(f"{file}: cannot read episode metadata: {err}") from err
    for row in rows:
        if "episode_index" not in row:
            raise SourceFormatError(f"{files[0]}: episode rows need 'episode_index'")
    return sorted(rows, key=lambda r: r["episode_index"])


def episode_clip_id(episode_index: int) -> str:
    """Return the clip id of an episode (``episode_000003``)."""
    return f"{EPISODE_PREFIX}{episode_index:06d}"


def list_lerobot_episodes(root: Path) -> list[str]:
    """Return the clip ids of every episode of a dataset."""
    read_lerobot_info(root)
    return [episode_clip_id(r["episode_index"]) for r in read_lerobot_episodes(root)]


def _dataset_stamp(root: Path) -> tuple[int, ...]:
    """Return the sizes and modification times of the metadata and data files: a cache key that changes with them."""
    files = sorted(p for sub in ("meta", "data") for p in (Path(root) / sub).rglob("*") if p.is_file())
    return tuple(v for p in files for v in (p.stat().st_mtime_ns, p.stat().st_size))


@functools.lru_cache(maxsize=8)
def _episode_index(root: str, stamp: tuple[int, ...]) -> dict[int, dict[str, Any]]:
    """Return ``{episode_index: metadata row}``, read once per dataset (every clip of a build needs it)."""
    return {row["episode_index"]: row for row in read_lerobot_episodes(Path(root))}


def _episode_row(root: Path, clip_id: str) -> dict[str, Any]:
    index = int(clip_id.removeprefix(EPISODE_PREFIX))
    rows = _episode_index(str(Path(root).resolve()), _dataset_stamp(root))
    if index not in rows:
        raise SourceFormatError(f"{root}: no episode {index} in meta/episodes")
    return rows[index]


def _data_file(root: Path, info: LeRobotInfo, meta: dict[str, Any]) -> Path:
    try:
        # v3.0 templates use chunk_index/file_index, v2.1 ones episode_chunk/episode_index: pass both.
        return Path(root) / info.data_path.format(
            chunk_index=meta["data/chunk_index"],
            file_index=meta["data/file_index"],
            episode_chunk=meta["data/chunk_index"],
            episode_index=meta["episode_index"],
        )
    except KeyError as err:
        raise SourceFormatError(f"{root}/meta/episodes: episode {meta['episode_index']} lacks {err.args[0]!r}") from err


def _video_file(root: Path, info: LeRobotInfo, meta: dict[str, Any], video_key: str) -> Path:
    """Return the video file holding an episode's frames (v3.0 or v2.1 template).

    Raises:
        SourceFormatError: If the episode metadata lacks the video's chunk or file index.
    """
    try:
        chunk, file = meta[f"videos/{video_key}/chunk_index"], meta[f"videos/{video_key}/file_index"]
    except KeyError as err:
        raise SourceFormatError(f"{root}/meta/episodes: episode {meta['episode_index']} lacks {err.args[0]!r}") from err
    return Path(root) / info.video_path.format(
        video_key=video_key,
        chunk_index=chunk,
        file_index=file,
        episode_chunk=chunk,
        episode_index=meta["episode_index"],
    )


def _episode_table(root: Path, info: LeRobotInfo, meta: dict[str, Any], state_key: str) -> pa.Table:
    path = _data_file(root, info, meta)
    try:
        table = pq.read_table(path, columns=["episode_index", "frame_index", "timestamp", state_key])
    except (OSError, pa.ArrowInvalid, KeyError) as err:
        raise SourceFormatError(
            f"{path}: cannot read episode {meta['episode_index']} columns "
            f"episode_index, frame_index, timestamp, {state_key}: {err}"
        ) from err
    table = table.filter(pc.equal(table.column("episode_index"), meta["episode_index"]))
    if len(table) == 0:
        raise SourceFormatError(f"{path}: no rows for episode {meta['episode_index']}")
    return table.sort_by("frame_index")


def gripper_range(root: Path, info: LeRobotInfo, mapping: LeRobotMapping) -> dict[str, tuple[float, float]]:
    """Return each arm's gripper (min, max) over the dataset, from ``meta/stats.json`` or the data files."""
    names = info.state_names(mapping.state_key, Path(root) / INFO_PATH)
    columns = tuple((arm, names.index(m.gripper)) for arm, m in mapping.arms.items())
    return dict(_gripper_range(str(Path(root).resolve()), _dataset_stamp(root), mapping.state_key, columns))


@functools.lru_cache(maxsize=8)
def _gripper_range(
    root: str, stamp: tuple[int, ...], state_key: str, columns: tuple[tuple[str, int], ...]
) -> tuple[tuple[str, tuple[float, float]], ...]:
    """Compute the gripper ranges once per dataset version (without stats.json this reads every data file)."""
    stats_path = Path(root) / STATS_PATH
    if stats_path.is_file():
        try:
            stats = json.loads(stats_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise SourceFormatError(f"{stats_path}:{err.lineno}: invalid JSON: {err.msg}") from err
        entry = stats.get(state_key, {}) if isinstance(stats, dict) else {}
        if isinstance(entry, dict) and "min" in entry and "max" in entry:
            try:
                return tuple((arm, (float(entry["min"][c]), float(entry["max"][c]))) for arm, c in columns)
            except (IndexError, KeyError, TypeError, ValueError) as err:
                raise SourceFormatError(
                    f"{stats_path}: {state_key}.min and .max must list a number per state value (index "
                    f"{max(c for _, c in columns)} is needed): {err}"
                ) from err
    values = np.concatenate(
        [
            np.asarray(pq.read_table(p, columns=[state_key]).column(0).to_pylist(), dtype=np.float64)
            for p in sorted((Path(root) / "data").glob("chunk-*/*.parquet"))
        ]
    )
    return tuple((arm, (float(np.nanmin(values[:, c])), float(np.nanmax(values[:, c])))) for arm, c in columns)


def read_lerobot_episode(root: Path, clip_id: str, mapping: LeRobotMapping) -> Clip:
    """Read one episode into a Clip with tracks ``<arm>.ee_xyz_m`` (N, 3) and ``<arm>.gripper_closed`` (N,).

    Frames whose state has a non-finite value are dropped and listed in ``Clip.dropped`` (reason
    ``non_finite_state``); the gripper is normalised over the dataset to [0, 1] with 1 = closed.

    Raises:
        SourceFormatError: Naming the file and field when metadata, names or columns are wrong.
    """
    root = Path(root)
    info = read_lerobot_info(root)
    meta = _episode_row(root, clip_id)
    info_path = root / INFO_PATH
    names = info.state_names(mapping.state_key, info_path)
    for arm, arm_map in mapping.arms.items():
        for name in (arm_map.x, arm_map.y, arm_map.z, arm_map.gripper):
            if name not in names:
                raise SourceFormatError(f"{info_path}: {mapping.state_key} has no {name!r} ({arm} arm); names: {names}")
    video_key = info.video_key(mapping.video_key, info_path)
    try:
        video = _video_file(root, info, meta, video_key)
        from_ts = float(meta[f"videos/{video_key}/from_timestamp"])
    except KeyError as err:
        raise SourceFormatError(f"{root}/meta/episodes: episode {meta['episode_index']} lacks {err.args[0]!r}") from err
    table = _episode_table(root, info, meta, mapping.state_key)
    state = np.asarray(table.column(mapping.state_key).to_pylist(), dtype=np.float64)
    if state.ndim != 2 or state.shape[1] != len(names):
        raise SourceFormatError(
            f"{_data_file(root, info, meta)}: {mapping.state_key} rows must have {len(names)} values"
        )
    frame_index = table.column("frame_index").to_numpy()
    timestamp = table.column("timestamp").to_numpy().astype(np.float64)
    ranges = gripper_range(root, info, mapping)
    finite = np.isfinite(state).all(axis=1)
    dropped = tuple(
        Reject(
            stage="read",
            source="lerobot",
            clip_id=clip_id,
            reason="non_finite_state",
            frame_index=int(f),
            path=str(_data_file(root, info, meta)),
            detail=f"{_data_file(root, info, meta)}: episode {meta['episode_index']} frame {int(f)}: "
            f"{mapping.state_key} has non-finite values {state[i][~np.isfinite(state[i])].tolist()}",
        )
        for i, f in enumerate(frame_index)
        if not finite[i]
    )
    tracks: dict[str, npt.NDArray[np.float64]] = {}
    for arm, arm_map in mapping.arms.items():
        tracks[f"{arm}.ee_xyz_m"] = state[finite][
            :, [names.index(arm_map.x), names.index(arm_map.y), names.index(arm_map.z)]
        ]
        low, high = ranges[arm]
        raw = state[finite][:, names.index(arm_map.gripper)]
        closed = (raw - low) / (high - low) if high > low else np.zeros_like(raw)
        tracks[f"{arm}.gripper_closed"] = closed if mapping.gripper_closed_is == "high" else 1.0 - closed
    frames = tuple(
        FrameRef(frame_index=int(f), video_path=video, timestamp_s=from_ts + float(t))
        for f, t, ok in zip(frame_index, timestamp, finite, strict=True)
        if ok
    )
    if not frames:
        raise SourceFormatError(f"{_data_file(root, info, meta)}: episode {meta['episode_index']} has no finite state")
    return Clip(source="lerobot", clip_id=clip_id, frames=frames, fps=info.fps, tracks=tracks, dropped=dropped)


def hash_lerobot_episode(root: Path, clip_id: str, mapping: LeRobotMapping) -> str:
    """Return a SHA-256 over the info and stats files, the episode's metadata and data rows, and its video's size."""
    root = Path(root)
    info = read_lerobot_info(root)
    meta = _episode_row(root, clip_id)
    digest = hashlib.sha256()
    for path in (root / INFO_PATH, root / STATS_PATH):
        if path.is_file():
            digest.update(path.read_bytes())
    digest.update(json.dumps(meta, sort_keys=True, default=str).encode())
    table = _episode_table(root, info, meta, mapping.state_key)
    digest.update(json.dumps(table.to_pydict(), default=str).encode())
    video_key = info.video_key(mapping.video_key, root / INFO_PATH)
    video = _video_file(root, info, meta, video_key)
    digest.update(f"{video.name}\0{video.stat().st_size if video.exists() else -1}".encode())
    return digest.hexdigest()


def load_lerobot_mapping(path: Path) -> LeRobotMapping:
    """Load a LeRobotMapping from YAML (``state_key``, ``video_key``, ``arms: {left: {x, y, z, gripper}}``, ...).

    Raises:
        ValueError: Naming the file and the unknown, missing or invalid key.
    """
    return load_yaml_model(LeRobotMapping, path, "LeRobot mapping")

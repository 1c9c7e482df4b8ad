"""Reader for LeRobot datasets v3.0 (and v2.0/v2.1): ``meta/info.json``, episode metadata, ``data/``, ``videos/``.

v3.0 keeps many episodes per data and video file; a frame of an episode sits in its video at the episode's
``from_timestamp`` plus the frame's own ``timestamp``. v2.x keeps one of each per episode. A ``LeRobotMapping``
(``lerobot_mapping.py``) says where each arm's end effector (recorded, or by forward kinematics from joints) and
gripper are, and which camera is the head/front view; ``check_lerobot_dataset`` holds it against ``meta/info.json``
once per dataset. Positions are in the robot base frame (x forward, y left, z up, metres) with the camera looking
along +x, so the robot's left is the image's left. Imports pyarrow, numpy and the kinematics module.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from remot_data.errors import SourceFormatError
from remot_data.motion.kinematics import KinematicChain, check_chain, end_effector_positions
from remot_data.records import Clip, FrameRef, Reject
from remot_data.sources.lerobot_mapping import (
    GripperSource,
    JointKinematics,
    LeRobotMapping,
    PositionNames,
    load_lerobot_mapping,
)

logger = logging.getLogger(__name__)

CODEBASE_VERSION = "v3.0"
# One parquet and one mp4 per episode, meta/episodes.jsonl (v2.0 and v2.1 share the layout); read, never written.
LEGACY_VERSIONS = ("v2.0", "v2.1")
LEGACY_EPISODES_PATH = "meta/episodes.jsonl"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
CHUNK_FILE_PATTERN = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DEFAULT_DATA_PATH = "data/" + CHUNK_FILE_PATTERN + ".parquet"
DEFAULT_VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE_PATTERN + ".mp4"
DEFAULT_EPISODES_PATH = "meta/episodes/" + CHUNK_FILE_PATTERN + ".parquet"
EPISODE_PREFIX = "episode_"
# Placeholders a data_path / video_path template may use (v3.0: chunk/file; v2.x: episode_chunk/episode_index).
PATH_FIELDS = ("chunk_index", "file_index", "episode_chunk", "episode_index", "video_key")
__all__ = ["LeRobotMapping", "load_lerobot_mapping"]


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

    @property
    def video_features(self) -> list[str]:
        """Return the names of the video features."""
        return [k for k, f in self.features.items() if isinstance(f, dict) and f.get("dtype") == "video"]

    def feature_names(self, key: str, path: Path) -> list[str]:
        """Return the value names of a vector feature.

        LeRobot writes them as a list, a dict holding one list (``{"motors": [...]}``) or a list holding one list.

        Raises:
            SourceFormatError: If the feature is missing or unnamed.
        """
        feature = self.features.get(key)
        if not isinstance(feature, dict):
            raise SourceFormatError(f"{path}: features has no {key!r}; present: {sorted(self.features)}")
        names = feature.get("names")
        if isinstance(names, dict) and len(names) == 1:
            names = next(iter(names.values()))
        if isinstance(names, list) and len(names) == 1 and isinstance(names[0], list):
            names = names[0]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise SourceFormatError(f"{path}: features[{key!r}].names must list one name per value, got {names!r}")
        return names

    def video_key(self, wanted: str | None, path: Path) -> str:
        """Return the head/front camera feature: ``wanted``, or the only video feature.

        Raises:
            SourceFormatError: If ``wanted`` is not a video feature, there is none, or several and none is named.
        """
        videos = self.video_features
        if wanted is not None:
            if wanted not in videos:
                raise SourceFormatError(f"{path}: {wanted!r} is not a video feature; video features: {videos}")
            return wanted
        if not videos:
            raise SourceFormatError(f"{path}: dataset has no video feature (dtype 'video')")
        if len(videos) > 1:
            raise SourceFormatError(
                f"{path}: {len(videos)} video features {videos} and the mapping names none: set video_key to the "
                "head/front camera (a wrist camera does not show the arm's motion)"
            )
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
    if not isinstance(raw, dict):
        raise SourceFormatError(f"{path}: must hold a JSON object, got a {type(raw).__name__}")
    version = raw.get("codebase_version")
    if version not in (CODEBASE_VERSION, *LEGACY_VERSIONS):
        raise SourceFormatError(
            f"{path}: codebase_version must be {CODEBASE_VERSION!r} (or one of {list(LEGACY_VERSIONS)}), got "
            f"{version!r} (convert older datasets with lerobot's conversion scripts)"
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
    """Read v2.x ``meta/episodes.jsonl`` into v3.0-shaped rows (one data and video file per episode, from 0 s)."""
    path = Path(root) / LEGACY_EPISODES_PATH
    rows = []
    videos = [k for k, f in info.features.items() if f.get("dtype") == "video"]
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as err:
        raise SourceFormatError(f"{path}: a {info.codebase_version} dataset needs {LEGACY_EPISODES_PATH}") from err
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

    v3.0: ``meta/episodes/chunk-*/file-*.parquet``; v2.x: ``meta/episodes.jsonl``, turned into the same row shape.

    Raises:
        SourceFormatError: If there are none or a file is unreadable.
    """
    info = read_lerobot_info(root)
    if info.codebase_version in LEGACY_VERSIONS:
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


def format_dataset_path(template: str, values: dict[str, Any], where: Path) -> str:
    """Fill a ``data_path`` / ``video_path`` template of ``meta/info.json``.

    Only the placeholders LeRobot defines (``PATH_FIELDS``) with plain format specs are allowed: the template
    comes from the dataset, and ``str.format`` would otherwise reach attributes of the values.

    Raises:
        SourceFormatError: Naming the template and the placeholder that is unknown or has no value.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise SourceFormatError(f"{where}: path template {template!r} is malformed: {err}") from err
    for _, field, _, conversion in parsed:
        if field is None:
            continue
        if field not in PATH_FIELDS or conversion:
            raise SourceFormatError(
                f"{where}: path template {template!r} uses {{{field}}}; allowed placeholders: {list(PATH_FIELDS)}"
            )
        if field not in values:
            raise SourceFormatError(f"{where}: path template {template!r} needs {field!r}, which the episode lacks")
    return template.format(**values)


def _path_values(meta: dict[str, Any], prefix: str) -> dict[str, Any]:
    chunk, file = meta.get(f"{prefix}/chunk_index"), meta.get(f"{prefix}/file_index")
    values = {"episode_index": meta["episode_index"], "chunk_index": chunk, "file_index": file, "episode_chunk": chunk}
    return {k: v for k, v in values.items() if v is not None}


def _data_file(root: Path, info: LeRobotInfo, meta: dict[str, Any]) -> Path:
    return Path(root) / format_dataset_path(info.data_path, _path_values(meta, "data"), Path(root) / INFO_PATH)


def _video_file(root: Path, info: LeRobotInfo, meta: dict[str, Any], video_key: str) -> Path:
    """Return the video file holding an episode's frames (v3.0 or v2.x template)."""
    if info.video_path is None:
        raise SourceFormatError(f"{Path(root) / INFO_PATH}: video_path is missing")
    values = {**_path_values(meta, f"videos/{video_key}"), "video_key": video_key}
    return Path(root) / format_dataset_path(info.video_path, values, Path(root) / INFO_PATH)


def _episode_table(root: Path, info: LeRobotInfo, meta: dict[str, Any], features: list[str]) -> pa.Table:
    """Return an episode's rows (``frame_index``, ``timestamp`` and ``features``), ordered by frame.

    A file without ``frame_index`` gets it from row order; a per-episode file without ``episode_index`` is taken
    whole.
    """
    path = _data_file(root, info, meta)
    if not path.is_file():
        raise SourceFormatError(f"{path}: data file of episode {meta['episode_index']} not found")
    try:
        present = set(pq.read_schema(path).names)
        missing = [c for c in ("timestamp", *features) if c not in present]
        if missing:
            raise SourceFormatError(f"{path}: no columns {missing}; columns: {sorted(present)}")
        wanted = [c for c in ("episode_index", "frame_index") if c in present]
        table = pq.read_table(path, columns=[*wanted, "timestamp", *dict.fromkeys(features)])
    except (OSError, pa.ArrowInvalid) as err:
        raise SourceFormatError(f"{path}: cannot read episode {meta['episode_index']}: {err}") from err
    if "episode_index" in present:
        table = table.filter(pc.equal(table.column("episode_index"), meta["episode_index"]))
    if len(table) == 0:
        raise SourceFormatError(f"{path}: no rows for episode {meta['episode_index']}")
    if "frame_index" not in present:  # rows are written in frame order
        table = table.append_column("frame_index", pa.array(np.arange(len(table), dtype=np.int64)))
    return table.sort_by("frame_index")


def _column_values(
    table: pa.Table, feature: str, names: list[str], wanted: tuple[str, ...], path: Path, info_path: Path
) -> npt.NDArray[np.float64]:
    """Return the wanted values of a feature, shape (rows, len(wanted)), checked against the feature's names."""
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise SourceFormatError(f"{info_path}: {feature} has no {unknown} (the mapping reads it); its names: {names}")
    values = np.asarray(table.column(feature).to_pylist(), dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.shape[1] != len(names):
        raise SourceFormatError(f"{path}: {feature} rows have {values.shape[1]} values for {len(names)} names")
    return values[:, [names.index(n) for n in wanted]]


@functools.lru_cache(maxsize=32)
def _value_range(root: str, stamp: tuple[int, ...], feature: str, column: int) -> tuple[float, float]:
    """Return (min, max) of one value over the dataset: from ``meta/stats.json``, else by reading every data file."""
    stats_path = Path(root) / STATS_PATH
    if stats_path.is_file():
        try:
            stats = json.loads(stats_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise SourceFormatError(f"{stats_path}:{err.lineno}: invalid JSON: {err.msg}") from err
        entry = stats.get(feature, {}) if isinstance(stats, dict) else {}
        if isinstance(entry, dict) and "min" in entry and "max" in entry:
            try:
                return float(np.ravel(entry["min"])[column]), float(np.ravel(entry["max"])[column])
            except (IndexError, TypeError, ValueError) as err:
                raise SourceFormatError(
                    f"{stats_path}: {feature}.min and .max must list a number per value (index {column} is needed): "
                    f"{err}"
                ) from err
    parts = [
        np.asarray(pq.read_table(p, columns=[feature]).column(0).to_pylist(), dtype=np.float64)
        for p in sorted((Path(root) / "data").rglob("*.parquet"))
    ]
    values = np.concatenate([p.reshape(len(p), -1) for p in parts])
    return float(np.nanmin(values[:, column])), float(np.nanmax(values[:, column]))


def gripper_closedness(
    root: Path, info: LeRobotInfo, mapping: LeRobotMapping, gripper: GripperSource, raw: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64] | None, str]:
    """Return the gripper's closedness (0 open .. 1 closed) from its recorded values, or None and why not.

    With the robot's open and closed values the scale is physical; otherwise it is the dataset's range, which must
    reach the gripper's ``min_range`` (a still gripper's noise would otherwise fill [0, 1]).
    """
    if gripper.open_value is not None and gripper.closed_value is not None:
        span = gripper.closed_value - gripper.open_value
        return np.clip((raw - gripper.open_value) / span, 0.0, 1.0), ""
    feature = mapping.feature_of(gripper)
    column = info.feature_names(feature, Path(root) / INFO_PATH).index(gripper.name)
    low, high = _value_range(str(Path(root).resolve()), _dataset_stamp(root), feature, column)
    if not high - low > max(gripper.min_range, 0.0) or high - low <= 0:
        return None, (
            f"{feature}[{gripper.name!r}] ranges over [{low:.6g}, {high:.6g}] in the whole dataset, a span below the "
            f"mapping's min_range {gripper.min_range:g}: treated as a still gripper, not normalised into labels"
        )
    closed = (raw - low) / (high - low)
    return (closed if gripper.closed_is == "high" else 1.0 - closed), ""


def _chain(arm_position: JointKinematics) -> KinematicChain:
    return KinematicChain(
        urdf=arm_position.urdf,
        joints=tuple(arm_position.joints.values()),
        base_frame=arm_position.base_frame,
        ee_frame=arm_position.ee_frame,
    )


def check_lerobot_dataset(root: Path, mapping: LeRobotMapping) -> None:
    """Hold a mapping against a dataset once, before any clip is read: one error lists every problem.

    Checks the metadata, that every named feature and value exists, the camera (named, or the only one) and that its
    first episode's video file exists, and that each URDF knows the joints and frames the mapping names.

    Raises:
        SourceFormatError: Naming ``meta/info.json`` (or the URDF / file) and each mismatch.
    """
    root = Path(root)
    info = read_lerobot_info(root)
    info_path = root / INFO_PATH
    problems: list[str] = []
    for arm, arm_map in mapping.arms.items():
        sources = [arm_map.position, *([arm_map.gripper] if arm_map.gripper else [])]
        for source in sources:
            feature = mapping.feature_of(source)
            try:
                names = info.feature_names(feature, info_path)
            except SourceFormatError as err:
                problems.append(f"{arm} arm: {err}")
                continue
            wanted = source.names() if not isinstance(source, GripperSource) else (source.name,)
            unknown = [n for n in wanted if n not in names]
            if unknown:
                problems.append(f"{arm} arm: {feature} has no {unknown}; its names: {names}")
        if isinstance(arm_map.position, JointKinematics):
            try:
                check_chain(_chain(arm_map.position))
            except ValueError as err:
                problems.append(f"{arm} arm: {err}")
    try:
        video_key = info.video_key(mapping.video_key, info_path)
        first = read_lerobot_episodes(root)[0]
        video = _video_file(root, info, first, video_key)
        if not video.is_file():
            problems.append(
                f"camera {video_key}: its video file {video} does not exist (episode {first['episode_index']})"
            )
    except (SourceFormatError, IndexError) as err:
        problems.append(str(err) or "no episodes")
    if problems:
        raise SourceFormatError(
            f"{info_path}: the LeRobot mapping{' for ' + mapping.robot if mapping.robot else ''} does not fit this "
            "dataset:\n  " + "\n  ".join(problems)
        )


def _timestamps(table: pa.Table, fps: float, where: str) -> npt.NDArray[np.float64]:
    """Return the episode's timestamps, corrected when they start exactly one frame late (a known export bug)."""
    timestamp = table.column("timestamp").to_numpy().astype(np.float64)
    offset_frames = timestamp[0] * fps
    if abs(offset_frames - 1.0) < 0.01:
        logger.warning("%s: timestamps start one frame late (%.4f s); shifted back by 1/fps", where, timestamp[0])
        return timestamp - 1.0 / fps
    if abs(offset_frames) >= 0.01:
        logger.warning(
            "%s: timestamps start at %.4f s (%.2f frames), not 0; used as they are", where, timestamp[0], offset_frames
        )
    return timestamp


def read_lerobot_episode(root: Path, clip_id: str, mapping: LeRobotMapping) -> Clip:
    """Read one episode into a Clip with tracks ``<arm>.ee_xyz_m`` (N, 3) and ``<arm>.gripper_closed`` (N,).

    Positions come from recorded names or from forward kinematics over the mapping's URDF. Frames where a value the
    mapping reads is not finite are dropped and listed in ``Clip.dropped`` (reason ``non_finite_state``); a gripper
    whose dataset range is too small gets no track and a ``gripper_range_too_small`` row.

    Raises:
        SourceFormatError: Naming the file and field when metadata, names or columns are wrong.
    """
    root = Path(root)
    info = read_lerobot_info(root)
    meta = _episode_row(root, clip_id)
    info_path = root / INFO_PATH
    video_key = info.video_key(mapping.video_key, info_path)
    video = _video_file(root, info, meta, video_key)
    from_ts = float(meta.get(f"videos/{video_key}/from_timestamp", 0.0))
    sources = {
        (arm, kind): source
        for arm, arm_map in mapping.arms.items()
        for kind, source in (("position", arm_map.position), ("gripper", arm_map.gripper))
        if source is not None
    }
    features = sorted({mapping.feature_of(s) for s in sources.values()})
    table = _episode_table(root, info, meta, features)
    data_path = _data_file(root, info, meta)
    values = {
        key: _column_values(
            table,
            mapping.feature_of(source),
            info.feature_names(mapping.feature_of(source), info_path),
            (source.name,) if isinstance(source, GripperSource) else source.names(),
            data_path,
            info_path,
        )
        for key, source in sources.items()
    }
    frame_index = table.column("frame_index").to_numpy()
    timestamp = _timestamps(table, info.fps, f"{data_path} episode {meta['episode_index']}")
    finite = np.all([np.isfinite(v).all(axis=1) for v in values.values()], axis=0)
    dropped = [
        Reject(
            stage="read",
            source="lerobot",
            clip_id=clip_id,
            reason="non_finite_state",
            frame_index=int(f),
            path=str(data_path),
            detail=f"{data_path}: episode {meta['episode_index']} frame {int(f)}: "
            + "; ".join(
                f"{arm} {kind} has non-finite values {v[i][~np.isfinite(v[i])].tolist()}"
                for (arm, kind), v in values.items()
                if not np.isfinite(v[i]).all()
            ),
        )
        for i, f in enumerate(frame_index)
        if not finite[i]
    ]
    if not finite.any():
        raise SourceFormatError(f"{data_path}: episode {meta['episode_index']} has no finite state")
    tracks: dict[str, npt.NDArray[np.float64]] = {}
    for (arm, kind), source in sources.items():
        raw = values[(arm, kind)][finite]
        if isinstance(source, PositionNames):
            tracks[f"{arm}.ee_xyz_m"] = raw
        elif isinstance(source, JointKinematics):
            q = np.deg2rad(raw) if source.units == "deg" else raw
            tracks[f"{arm}.ee_xyz_m"] = end_effector_positions(_chain(source), q)
        else:
            closed, why = gripper_closedness(root, info, mapping, source, raw[:, 0])
            if closed is None:
                dropped.append(
                    Reject(
                        stage="read",
                        source="lerobot",
                        clip_id=clip_id,
                        reason="gripper_range_too_small",
                        path=str(info_path),
                        detail=f"{arm} gripper: {why}",
                    )
                )
            else:
                tracks[f"{arm}.gripper_closed"] = closed
    frames = tuple(
        FrameRef(frame_index=int(f), video_path=video, timestamp_s=from_ts + float(t))
        for f, t, ok in zip(frame_index, timestamp, finite, strict=True)
        if ok
    )
    return Clip(source="lerobot", clip_id=clip_id, frames=frames, fps=info.fps, tracks=tracks, dropped=tuple(dropped))


def hash_lerobot_episode(root: Path, clip_id: str, mapping: LeRobotMapping) -> str:
    """Return a SHA-256 over info and stats files, the episode's metadata and rows, its video's size and the mapping."""
    root = Path(root)
    info = read_lerobot_info(root)
    meta = _episode_row(root, clip_id)
    digest = hashlib.sha256(mapping.digest().encode())
    for path in (root / INFO_PATH, root / STATS_PATH):
        if path.is_file():
            digest.update(path.read_bytes())
    digest.update(json.dumps(meta, sort_keys=True, default=str).encode())
    features = sorted(
        {mapping.feature_of(s) for a in mapping.arms.values() for s in (a.position, a.gripper) if s is not None}
    )
    table = _episode_table(root, info, meta, features)
    digest.update(json.dumps(table.to_pydict(), default=str).encode())
    video = _video_file(root, info, meta, info.video_key(mapping.video_key, root / INFO_PATH))
    digest.update(f"{video.name}\0{video.stat().st_size if video.exists() else -1}".encode())
    return digest.hexdigest()

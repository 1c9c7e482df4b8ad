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
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from remot_data.errors import SourceFormatError
from remot_data.frames import probe_video
from remot_data.motion.kinematics import KinematicChain, check_chain, end_effector_positions
from remot_data.records import Clip, FrameRef, Reject
from remot_data.sources.lerobot_layout import (
    INFO_PATH,
    STATS_PATH,
    LeRobotInfo,
    check_video_spans,
    data_file_of,
    dataset_stamp,
    episode_row,
    episode_rows,
    episode_table,
    list_lerobot_episodes,
    read_lerobot_info,
    video_file_of,
)
from remot_data.sources.lerobot_mapping import (
    GripperSource,
    JointKinematics,
    LeRobotMapping,
    PositionNames,
    load_lerobot_mapping,
)
from remot_data.sources.paths import read_source_bytes, read_source_text, require_regular_file

logger = logging.getLogger(__name__)
__all__ = [
    "LeRobotMapping",
    "check_lerobot_dataset",
    "list_lerobot_episodes",
    "load_lerobot_mapping",
    "read_lerobot_episode",
]


def _column_values(
    table: pa.Table, feature: str, names: list[str], wanted: tuple[str, ...], path: Path, info_path: Path
) -> npt.NDArray[np.float64]:
    """Return the wanted values of a feature, shape (rows, len(wanted)), checked against the feature's names."""
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise SourceFormatError(f"{info_path}: {feature} has no {unknown} (the mapping reads it); its names: {names}")
    try:
        values = np.asarray(table.column(feature).to_pylist(), dtype=np.float64)
    except (ValueError, TypeError) as err:  # text, ragged rows, nulls
        raise SourceFormatError(f"{path}: {feature} must hold rows of {len(names)} numbers: {err}") from err
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
            stats = json.loads(read_source_text(stats_path))
        except json.JSONDecodeError as err:
            raise SourceFormatError(f"{stats_path}:{err.lineno}: invalid JSON: {err.msg}") from err
        except (UnicodeDecodeError, OSError) as err:
            raise SourceFormatError(f"{stats_path}: cannot read as UTF-8 JSON: {err}") from err
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
        np.asarray(pq.read_table(require_regular_file(p), columns=[feature]).column(0).to_pylist(), dtype=np.float64)
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
    # stats.json lives in meta/; without it the range is read from every data file, which the stamp must then cover
    folders = ("meta",) if (Path(root) / STATS_PATH).is_file() else ("meta", "data")
    low, high = _value_range(str(Path(root).resolve()), dataset_stamp(root, folders), feature, column)
    if high - low <= gripper.min_range:  # min_range >= 0: a flat gripper is refused too
        return None, (
            f"{feature}[{gripper.name!r}] ranges over [{low:.6g}, {high:.6g}] in the whole dataset, a span below the "
            f"mapping's min_range {gripper.min_range:g}: treated as a still gripper, not normalised into labels"
        )
    closed = (raw - low) / (high - low)
    return (closed if gripper.closed_is == "high" else 1.0 - closed), ""


def kinematic_chain(arm_position: JointKinematics) -> KinematicChain:
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
                check_chain(kinematic_chain(arm_map.position))
            except ValueError as err:
                problems.append(f"{arm} arm: {err}")
    try:
        video_key = info.video_key(mapping.video_key, info_path)
        first = next(iter(episode_rows(root).values()))
        check_video_spans(list(episode_rows(root).values()), video_key, root / "meta" / "episodes")
        video = video_file_of(root, info, first, video_key)
        if not video.is_file():
            what = "is not a regular file (a FIFO, device or folder)" if video.exists() else "does not exist"
            problems.append(f"camera {video_key}: its video file {video} {what} (episode {first['episode_index']})")
    except (SourceFormatError, StopIteration) as err:
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


def check_timestamps(timestamp: npt.NDArray[np.float64], fps: float, where: Path, episode: int) -> None:
    """Refuse an episode whose timestamps start before its span or do not increase row by row.

    Raises:
        SourceFormatError: Naming the data file, the episode and the first bad row.
    """
    if len(timestamp) and timestamp[0] < -0.5 / fps:
        raise SourceFormatError(f"{where}: episode {episode}'s timestamps start at {timestamp[0]:.4f} s, before 0")
    backwards = np.flatnonzero(np.diff(timestamp) <= 0)
    if len(backwards):
        row = int(backwards[0]) + 1
        raise SourceFormatError(
            f"{where}: episode {episode}'s timestamps do not increase at row {row} ({timestamp[row - 1]:.4f} s, "
            f"then {timestamp[row]:.4f} s)"
        )


FPS_TOLERANCE = 0.01  # relative: 30 vs 29.97 passes, 30 vs 25 does not


def check_video_fps(video: Path, fps: float, where: Path) -> None:
    """Refuse a video whose frame rate disagrees with ``meta/info.json``'s: frames would be read at the wrong times.

    Raises:
        SourceFormatError: Naming the video, both rates and the metadata file.
        FrameExtractionError: If the video cannot be probed (it becomes the clip's reject).
    """
    stated = probe_video(video).fps
    if stated is not None and abs(stated - fps) > FPS_TOLERANCE * fps:
        raise SourceFormatError(f"{video}: the video runs at {stated:g} fps, {where} says fps {fps:g}")


def check_video_span(meta: dict, video_key: str, timestamp: npt.NDArray[np.float64], fps: float, where: Path) -> None:
    """Refuse an episode whose rows reach past its span of the video file (they would show another episode).

    v3.0 episode metadata gives ``from_timestamp`` and ``to_timestamp`` of each episode in its video file.

    Raises:
        SourceFormatError: Naming the episode, its rows' span and the video span.
    """
    start, end = meta.get(f"videos/{video_key}/from_timestamp"), meta.get(f"videos/{video_key}/to_timestamp")
    if start is None or end is None:
        return
    last = float(start) + float(timestamp.max())
    if last > float(end) + 0.5 / fps:
        raise SourceFormatError(
            f"{where.parent / 'episodes'}: episode {meta['episode_index']}'s rows run to {last:.3f} s of its video, "
            f"past the episode's span [{float(start):.3f}, {float(end):.3f}] s: they would show another episode"
        )


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
    meta = episode_row(root, clip_id)
    info_path = root / INFO_PATH
    video_key = info.video_key(mapping.video_key, info_path)
    video = video_file_of(root, info, meta, video_key)
    from_ts = float(meta.get(f"videos/{video_key}/from_timestamp", 0.0))
    sources = {
        (arm, kind): source
        for arm, arm_map in mapping.arms.items()
        for kind, source in (("position", arm_map.position), ("gripper", arm_map.gripper))
        if source is not None
    }
    features = sorted({mapping.feature_of(s) for s in sources.values()})
    table = episode_table(root, info, meta, features)
    data_path = data_file_of(root, info, meta)
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
    check_timestamps(timestamp, info.fps, data_path, meta["episode_index"])
    check_video_span(meta, video_key, timestamp, info.fps, root / INFO_PATH)
    check_video_fps(video, info.fps, root / INFO_PATH)
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
            tracks[f"{arm}.ee_xyz_m"] = end_effector_positions(kinematic_chain(source), source.radians(raw))
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
    meta = episode_row(root, clip_id)
    digest = hashlib.sha256(mapping.digest().encode())
    for path in (root / INFO_PATH, root / STATS_PATH):
        if path.is_file():
            digest.update(read_source_bytes(path))
    digest.update(json.dumps(meta, sort_keys=True, default=str).encode())
    features = sorted(
        {mapping.feature_of(s) for a in mapping.arms.values() for s in (a.position, a.gripper) if s is not None}
    )
    table = episode_table(root, info, meta, features)
    digest.update(json.dumps(table.to_pydict(), default=str).encode())
    video = video_file_of(root, info, meta, info.video_key(mapping.video_key, root / INFO_PATH))
    digest.update(f"{video.name}\0{video.stat().st_size if video.exists() else -1}".encode())
    return digest.hexdigest()

"""The on-disk layout of LeRobot datasets v3.0 and v2.x: ``meta/info.json``, episode metadata, path templates, rows.

v3.0 keeps many episodes per data and video file (an episode's frames start at its ``from_timestamp``); v2.0 and
v2.1 keep one of each per episode and list episodes in ``meta/episodes.jsonl``. Everything here reads files and
says which file and field is wrong; turning rows into clips is ``lerobot.py``'s job. Imports pyarrow and numpy.
"""

from __future__ import annotations

import functools
import json
import string
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from remot_data.errors import SourceFormatError
from remot_data.sources.paths import contained_path, read_source_text, require_regular_file

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


class LeRobotInfo(BaseModel):
    """Typed ``meta/info.json`` (keys remot does not use are ignored; the ones it uses are checked)."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    codebase_version: str = Field(description="Format version (read_lerobot_info checks it first)")
    fps: float = Field(gt=0, description="Frames per second")
    features: dict[str, Any] = Field(description="Feature name -> {dtype, shape, names, info}")
    data_path: str = Field(DEFAULT_DATA_PATH, description="Data file template")
    video_path: str | None = Field(DEFAULT_VIDEO_PATH, description="Video file template")
    total_episodes: int = Field(ge=0, description="Number of episodes")
    chunks_size: int = Field(1000, ge=1, description="Episodes per chunk folder (v2.x paths use it)")

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
        raw = json.loads(read_source_text(path))
    except FileNotFoundError as err:
        raise SourceFormatError(f"{path}: not a LeRobot dataset (no {INFO_PATH})") from err
    except json.JSONDecodeError as err:
        raise SourceFormatError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from err
    except (UnicodeDecodeError, OSError) as err:
        raise SourceFormatError(f"{path}: cannot read as UTF-8 JSON: {err}") from err
    if not isinstance(raw, dict):
        raise SourceFormatError(f"{path}: must hold a JSON object, got a {type(raw).__name__}")
    version = raw.get("codebase_version")
    if version not in (CODEBASE_VERSION, *LEGACY_VERSIONS):
        raise SourceFormatError(
            f"{path}: codebase_version must be {CODEBASE_VERSION!r} (or one of {list(LEGACY_VERSIONS)}), got "
            f"{version!r} (convert older datasets with lerobot's conversion scripts)"
        )
    try:
        return LeRobotInfo.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"field {'.'.join(str(p) for p in e['loc'])!r}: {e['msg']}, got {e.get('input')!r}"
            for e in err.errors(include_url=False)
        )
        raise SourceFormatError(f"{path}: {problems}") from err


def _read_legacy_episodes(root: Path, info: LeRobotInfo) -> list[dict[str, Any]]:
    """Read v2.x ``meta/episodes.jsonl`` into v3.0-shaped rows (one data and video file per episode, from 0 s)."""
    path = Path(root) / LEGACY_EPISODES_PATH
    rows = []
    videos = [k for k, f in info.features.items() if f.get("dtype") == "video"]
    try:
        lines = read_source_text(path).splitlines()
    except FileNotFoundError as err:
        raise SourceFormatError(f"{path}: a {info.codebase_version} dataset needs {LEGACY_EPISODES_PATH}") from err
    except (UnicodeDecodeError, OSError) as err:
        raise SourceFormatError(f"{path}: cannot read as UTF-8 text: {err}") from err
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
    return _unique_episodes(rows, path)


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
            rows.extend(pq.read_table(require_regular_file(file)).to_pylist())
        except (OSError, pa.ArrowInvalid) as err:
            raise SourceFormatError(f"{file}: cannot read episode metadata: {err}") from err
    for row in rows:
        if "episode_index" not in row:
            raise SourceFormatError(f"{files[0]}: episode rows need 'episode_index'")
    return _unique_episodes(rows, Path(root) / "meta" / "episodes")


def _unique_episodes(rows: list[dict[str, Any]], where: Path) -> list[dict[str, Any]]:
    """Return the rows sorted by episode index, refusing an index listed twice (one would hide the other's span)."""
    counts = Counter(row["episode_index"] for row in rows)
    repeated = sorted(i for i, n in counts.items() if n > 1)
    if repeated:
        raise SourceFormatError(f"{where}: episode_index {repeated[:10]} listed more than once")
    return sorted(rows, key=lambda r: r["episode_index"])


def check_video_spans(rows: list[dict[str, Any]], video_key: str, where: Path) -> None:
    """Refuse episode spans of one video file that overlap: two episodes would show the same frames.

    v3.0 packs episodes into shared files; each row gives its file (``chunk_index``, ``file_index``) and its span
    (``from_timestamp``, ``to_timestamp``). Every span must also run forwards.

    Raises:
        SourceFormatError: Naming the two episodes and their spans.
    """
    prefix = f"videos/{video_key}/"
    by_file: dict[tuple[Any, Any], list[tuple[float, float, int]]] = {}
    for row in rows:
        start, end = row.get(prefix + "from_timestamp"), row.get(prefix + "to_timestamp")
        if start is None or end is None:
            continue
        if not float(end) > float(start) >= 0.0:
            raise SourceFormatError(
                f"{where}: episode {row['episode_index']}'s span of {video_key} [{start}, {end}] s does not run "
                "forwards from 0 or later"
            )
        file_key = (row.get(prefix + "chunk_index"), row.get(prefix + "file_index"))
        by_file.setdefault(file_key, []).append((float(start), float(end), row["episode_index"]))
    for spans in by_file.values():
        spans.sort()
        for (start_a, end_a, a), (start_b, end_b, b) in zip(spans, spans[1:], strict=False):
            if start_b < end_a - 1e-6:
                raise SourceFormatError(
                    f"{where}: episodes {a} and {b} share a {video_key} file with overlapping spans "
                    f"[{start_a:.3f}, {end_a:.3f}] and [{start_b:.3f}, {end_b:.3f}] s"
                )


def episode_clip_id(episode_index: int) -> str:
    """Return the clip id of an episode (``episode_000003``)."""
    return f"{EPISODE_PREFIX}{episode_index:06d}"


def list_lerobot_episodes(root: Path) -> list[str]:
    """Return the clip ids of every episode of a dataset."""
    read_lerobot_info(root)
    return [episode_clip_id(index) for index in episode_rows(root)]


def dataset_stamp(root: Path, subfolders: tuple[str, ...] = ("meta",)) -> tuple[int, ...]:
    """Return the sizes and modification times of a dataset's files under ``subfolders``: a cache key.

    The episode index depends on ``meta/`` alone, a handful of files: stamping ``data/`` too listed every data file
    on every clip's call (160 ms per call at 10,000 files, most of an hour of listing on a 10,000-episode build).
    """
    files = sorted(p for sub in subfolders for p in (Path(root) / sub).rglob("*") if p.is_file())
    return tuple(v for p in files for v in (p.stat().st_mtime_ns, p.stat().st_size))


@functools.lru_cache(maxsize=8)
def _episode_index(root: str, stamp: tuple[int, ...]) -> dict[int, dict[str, Any]]:
    """Return ``{episode_index: metadata row}``, read once per dataset (every clip of a build needs it)."""
    return {row["episode_index"]: row for row in read_lerobot_episodes(Path(root))}


def episode_rows(root: Path) -> dict[int, dict[str, Any]]:
    """Return ``{episode_index: metadata row}`` in episode order, read once per dataset version."""
    return _episode_index(str(Path(root).resolve()), dataset_stamp(root))


def episode_row(root: Path, clip_id: str) -> dict[str, Any]:
    """Return an episode's metadata row (v3.0 shape), from the index read once per dataset version.

    Raises:
        SourceFormatError: If the dataset has no such episode.
    """
    index = int(clip_id.removeprefix(EPISODE_PREFIX))
    rows = episode_rows(root)
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


def data_file_of(root: Path, info: LeRobotInfo, meta: dict[str, Any]) -> Path:
    """Return the data file holding an episode's rows (v3.0 or v2.x template), inside the dataset root."""
    relative = format_dataset_path(info.data_path, _path_values(meta, "data"), Path(root) / INFO_PATH)
    return contained_path(root, relative, where=Path(root) / INFO_PATH, field="data_path")


def video_file_of(root: Path, info: LeRobotInfo, meta: dict[str, Any], video_key: str) -> Path:
    """Return the video file holding an episode's frames (v3.0 or v2.x template)."""
    if info.video_path is None:
        raise SourceFormatError(f"{Path(root) / INFO_PATH}: video_path is missing")
    values = {**_path_values(meta, f"videos/{video_key}"), "video_key": video_key}
    relative = format_dataset_path(info.video_path, values, Path(root) / INFO_PATH)
    return contained_path(root, relative, where=Path(root) / INFO_PATH, field="video_path")


def episode_table(root: Path, info: LeRobotInfo, meta: dict[str, Any], features: list[str]) -> pa.Table:
    """Return an episode's rows (``frame_index``, ``timestamp`` and ``features``), ordered by frame.

    A file without ``frame_index`` gets it from row order; a per-episode file without ``episode_index`` is taken
    whole.
    """
    path = data_file_of(root, info, meta)
    if not path.exists():
        raise SourceFormatError(f"{path}: data file of episode {meta['episode_index']} not found")
    require_regular_file(path)  # a FIFO would block the read
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

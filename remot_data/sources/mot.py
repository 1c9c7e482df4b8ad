"""Reader for MOTChallenge sequences (MOT15/16/17/20): ``seqinfo.ini``, ``gt/gt.txt``, ``img1/`` frames or a video.

``gt.txt`` is a CSV of ``frame, id, bb_left, bb_top, bb_width, bb_height, flag, class, visibility`` (MOT16/17/20) or
``frame, id, bb_left, bb_top, bb_width, bb_height, conf, x, y, z`` (MOT15: no class, no visibility; every box is a
pedestrian). Frames and ids are 1-based, boxes in pixels of the sequence's frames; ``flag`` 0 marks a box the
benchmark ignores. Every malformed line is an error naming the file, the line and the field: a box is never dropped
silently. Imports the standard library, numpy, Pillow and remot_data records only; never rules.
"""

from __future__ import annotations

import configparser
import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from remot_data.errors import SourceFormatError
from remot_data.records import Clip, FrameRef, ObjectBoxes
from remot_data.sources.paths import contained_path, read_source_bytes, read_source_text

SEQINFO = "seqinfo.ini"
GT_PATH = "gt/gt.txt"
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".webm")
# MOT16/17/20 class ids (TrackEval mot_challenge_2d_box.py) -> remot's object categories. Static people are people;
# distractors, occluders, reflections and crowds are no countable object of any category.
MOT_CLASSES: dict[int, tuple[str, str]] = {
    1: ("pedestrian", "pedestrian"),
    2: ("person_on_vehicle", "rider"),
    3: ("car", "vehicle"),
    4: ("bicycle", "bicycle"),
    5: ("motorbike", "vehicle"),
    6: ("non_mot_vehicle", "vehicle"),
    7: ("static_person", "pedestrian"),
    8: ("distractor", "other"),
    9: ("occluder", "other"),
    10: ("occluder_on_ground", "other"),
    11: ("occluder_full", "other"),
    12: ("reflection", "other"),
    13: ("crowd", "other"),
}
GT_FIELDS_MOT16 = ("frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "flag", "class", "visibility")
GT_FIELDS_MOT15 = ("frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf", "x", "y", "z")


@dataclass(frozen=True, kw_only=True)
class SeqInfo:
    """The ``[Sequence]`` section of a ``seqinfo.ini``.

    Attributes:
        name: Sequence name.
        frame_rate: Frames per second.
        length: Number of frames.
        width: Frame width in pixels.
        height: Frame height in pixels.
        im_dir: Folder of frames (``img1``), or the stem of a video file beside ``seqinfo.ini``.
        im_ext: Frame file suffix (``.jpg``).
    """

    name: str
    frame_rate: float
    length: int
    width: int
    height: int
    im_dir: str = "img1"
    im_ext: str = ".jpg"


@dataclass(frozen=True, kw_only=True)
class GroundTruth:
    """The rows of a ``gt.txt``, as arrays (one entry per line).

    Attributes:
        frame: 1-based frame number.
        track_id: Object id.
        box_xywh_px: (M, 4) left, top, width, height.
        considered: False where the benchmark ignores the box (flag 0).
        mot_class: MOT class id (1 = pedestrian for MOT15 files).
        visibility: Visible fraction, NaN where the file does not say (MOT15).
    """

    frame: npt.NDArray[np.int64]
    track_id: npt.NDArray[np.int64]
    box_xywh_px: npt.NDArray[np.float64]
    considered: npt.NDArray[np.bool_]
    mot_class: npt.NDArray[np.int64]
    visibility: npt.NDArray[np.float64]


def read_seqinfo(path: Path) -> SeqInfo:
    """Read a ``seqinfo.ini``.

    Raises:
        SourceFormatError: Naming the file and the key that is missing or malformed.
    """
    parser = configparser.ConfigParser()
    try:
        parser.read_string(read_source_text(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise SourceFormatError(f"{path}: cannot read as an ini file: {exc}") from exc
    if "Sequence" not in parser:
        raise SourceFormatError(f"{path}: no [Sequence] section (found {parser.sections()})")
    section = parser["Sequence"]

    def get(key: str, kind: type, default: object = None) -> object:
        if key not in section:
            if default is not None:
                return default
            raise SourceFormatError(f"{path}: [Sequence] has no {key}")
        raw = section[key].strip()
        try:
            value = kind(raw)
        except ValueError:
            raise SourceFormatError(f"{path}: [Sequence] {key} must be a {kind.__name__}, got {raw!r}") from None
        if kind in (int, float) and not (math.isfinite(value) and value > 0):
            raise SourceFormatError(f"{path}: [Sequence] {key} must be > 0, got {raw!r}")
        return value

    im_ext = str(get("imExt", str, ".jpg"))
    if not im_ext.startswith(".") or any(c in im_ext for c in "/\\\0"):
        raise SourceFormatError(f"{path}: [Sequence] imExt must be a file suffix such as .jpg, got {im_ext!r}")
    return SeqInfo(
        name=str(get("name", str)),
        frame_rate=float(get("frameRate", float)),
        length=int(get("seqLength", int)),
        width=int(get("imWidth", int)),
        height=int(get("imHeight", int)),
        im_dir=str(get("imDir", str, "img1")),
        im_ext=im_ext,
    )


def _number(text: str, kind: type, path: Path, line: int, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SourceFormatError(f"{path}:{line}: field {field} must be a number, got {text.strip()!r}") from None
    if not math.isfinite(value):
        raise SourceFormatError(f"{path}:{line}: field {field} must be finite, got {text.strip()!r}")
    if kind is int and (value != int(value) or abs(value) > 2**53):
        raise SourceFormatError(f"{path}:{line}: field {field} must be a whole number, got {text.strip()!r}")
    return int(value) if kind is int else value


def read_mot_gt(path: Path, *, length: int | None = None) -> GroundTruth:
    """Read a MOTChallenge ``gt.txt`` (9 fields per line: MOT16/17/20; 10 fields: MOT15).

    Args:
        path: The file.
        length: The sequence's frame count, when known: frames beyond it are errors.

    Raises:
        SourceFormatError: Naming the file, the 1-based line and the field for a wrong field count, a value that is
            not a number, a frame outside the sequence, a non-positive box size, an unknown class, a visibility
            outside [0, 1], or an (frame, id) pair given twice.
    """
    try:
        lines = read_source_text(path).splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceFormatError(f"{path}: cannot read: {exc}") from exc
    rows = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not rows:
        raise SourceFormatError(f"{path}: no boxes")
    n_fields = len(rows[0][1].split(","))
    if n_fields not in (9, 10):
        raise SourceFormatError(
            f"{path}:{rows[0][0]}: expected 9 fields (MOT16/17/20: {', '.join(GT_FIELDS_MOT16)}) or 10 (MOT15), "
            f"got {n_fields}"
        )
    names = GT_FIELDS_MOT16 if n_fields == 9 else GT_FIELDS_MOT15
    frame, track, boxes, considered, classes, visibility = [], [], [], [], [], []
    seen: dict[tuple[int, int], int] = {}
    for n, line in rows:
        fields = line.split(",")
        if len(fields) != n_fields:
            raise SourceFormatError(f"{path}:{n}: expected {n_fields} fields like line {rows[0][0]}, got {len(fields)}")
        f = int(_number(fields[0], int, path, n, "frame"))
        i = int(_number(fields[1], int, path, n, "id"))
        box = [_number(fields[k], float, path, n, names[k]) for k in range(2, 6)]
        flag = _number(fields[6], float, path, n, names[6])
        if f < 1 or (length is not None and f > length):
            raise SourceFormatError(f"{path}:{n}: field frame is {f}, outside the sequence's 1..{length or 'n'}")
        if box[2] <= 0 or box[3] <= 0:
            raise SourceFormatError(f"{path}:{n}: fields bb_width, bb_height must be > 0, got {box[2]}, {box[3]}")
        if (f, i) in seen:
            raise SourceFormatError(f"{path}:{n}: frame {f} id {i} already given on line {seen[(f, i)]}")
        seen[(f, i)] = n
        if n_fields == 9:
            c = int(_number(fields[7], int, path, n, "class"))
            if c not in MOT_CLASSES:
                raise SourceFormatError(f"{path}:{n}: field class is {c}, not a MOT class id {sorted(MOT_CLASSES)}")
            v = _number(fields[8], float, path, n, "visibility")
            if not 0.0 <= v <= 1.0:
                raise SourceFormatError(f"{path}:{n}: field visibility must lie in [0, 1], got {fields[8].strip()!r}")
        else:
            c, v = 1, math.nan
        frame.append(f)
        track.append(i)
        boxes.append(box)
        considered.append(flag != 0)
        classes.append(c)
        visibility.append(v)
    return GroundTruth(
        frame=np.array(frame, dtype=np.int64),
        track_id=np.array(track, dtype=np.int64),
        box_xywh_px=np.array(boxes, dtype=np.float64),
        considered=np.array(considered, dtype=bool),
        mot_class=np.array(classes, dtype=np.int64),
        visibility=np.array(visibility, dtype=np.float64),
    )


MOT17_DETECTOR_SUFFIX = re.compile(r"-(DPM|FRCNN|SDP)$")


def scene_of(sequence_name: str) -> str:
    """Return the recording a sequence shows: MOT17 names one video three times, once per public detector.

    Example:
        >>> scene_of("MOT17-02-FRCNN"), scene_of("TUD-Campus")
        ('MOT17-02', 'TUD-Campus')
    """
    return MOT17_DETECTOR_SUFFIX.sub("", sequence_name)


def is_mot_sequence(path: Path) -> bool:
    """Return whether ``path`` holds a MOTChallenge sequence (``seqinfo.ini`` and ``gt/gt.txt``)."""
    return (path / SEQINFO).is_file() and (path / GT_PATH).is_file()


def list_mot_sequences(root: Path) -> list[Path]:
    """Return the sequence folders under ``root`` (or ``root`` itself when it is one), sorted.

    MOTChallenge downloads nest them as ``<root>/train/<seq>``; both levels are searched.

    Raises:
        SourceFormatError: If there are none.
    """
    root = Path(root)
    if is_mot_sequence(root):
        return [root]
    found = sorted({p.parent for p in root.glob(SEQINFO)} | {p.parent for p in root.glob(f"*/{SEQINFO}")})
    found += sorted({p.parent for p in root.glob(f"*/*/{SEQINFO}")} - set(found))
    sequences = [p for p in found if is_mot_sequence(p)]
    if not sequences:
        raise SourceFormatError(f"{root}: no MOTChallenge sequence (a folder with {SEQINFO} and {GT_PATH})")
    return sorted(sequences)


def distinct_recordings(sequences: list[Path]) -> list[Path]:
    """Return the sequences without the copies MOT17 ships of one video, one per public detector (-DPM, -FRCNN, -SDP).

    A copy is left out only when its ground truth and its sequence settings equal those of the one kept (the first by
    name): MOT17's copies share video, boxes and ``seqinfo.ini`` but for the name, and building all three would put
    every triplet in the dataset three times. Sequences that differ, or that cannot be read, are all kept (reading
    them reports what is wrong).
    """
    kept: list[Path] = []
    seen: set[tuple[object, ...]] = set()
    for seq in sequences:
        try:
            info = read_seqinfo(seq / SEQINFO)
            key = (
                scene_of(seq.name),
                hashlib.sha256(read_source_bytes(seq / GT_PATH)).hexdigest(),
                (info.frame_rate, info.length, info.width, info.height, info.im_dir, info.im_ext),
            )
        except (SourceFormatError, OSError):
            kept.append(seq)
            continue
        if key not in seen:
            seen.add(key)
            kept.append(seq)
    return kept


def _frames(seq: Path, info: SeqInfo) -> tuple[FrameRef, ...]:
    """Return the frame refs: ``<imDir>/000001<imExt>`` .. (stills) or a video ``<imDir>.<suffix>``."""
    stills = contained_path(seq, info.im_dir, where=seq / SEQINFO, field="[Sequence] imDir")
    if stills.is_dir():
        return tuple(
            FrameRef(frame_index=i, image_path=stills / f"{i + 1:06d}{info.im_ext}") for i in range(info.length)
        )
    videos = [f"{info.im_dir}{suffix}" for suffix in VIDEO_SUFFIXES if (seq / f"{info.im_dir}{suffix}").is_file()]
    if not videos:
        raise SourceFormatError(
            f"{seq / SEQINFO}: imDir {info.im_dir!r} is neither a folder of frames nor a video "
            f"({info.im_dir}{{{','.join(VIDEO_SUFFIXES)}}})"
        )
    video = contained_path(seq, videos[0], where=seq / SEQINFO, field="[Sequence] imDir")
    return tuple(FrameRef(frame_index=i, video_path=video, timestamp_s=i / info.frame_rate) for i in range(info.length))


def read_mot_sequence(seq: Path) -> Clip:
    """Read one MOTChallenge sequence into a Clip with its object boxes (frame i of the clip is MOT frame i + 1).

    Raises:
        SourceFormatError: Naming the file, line and field of bad input (see ``read_seqinfo``, ``read_mot_gt``).
    """
    info = read_seqinfo(seq / SEQINFO)
    gt = read_mot_gt(seq / GT_PATH, length=info.length)
    frames = _frames(seq, info)
    categories = np.array([MOT_CLASSES[int(c)][1] for c in gt.mot_class])
    objects = ObjectBoxes(
        position=gt.frame - 1,
        track_id=gt.track_id,
        category=categories,
        box_xywh_px=gt.box_xywh_px,
        visibility=gt.visibility,
        considered=gt.considered,
    )
    return Clip(
        source="motchallenge",
        clip_id=seq.name,
        frames=frames,
        image_width_px=info.width,
        image_height_px=info.height,
        fps=info.frame_rate,
        objects=objects,
        root=seq,  # a frame file linked out of the sequence is never read
    )


def hash_mot_sequence(seq: Path) -> str:
    """Return a SHA-256 over the sequence's ``seqinfo.ini``, ``gt.txt`` and its frame files' names and sizes."""
    digest = hashlib.sha256()
    for path in (seq / SEQINFO, seq / GT_PATH):
        digest.update(path.name.encode())
        digest.update(read_source_bytes(path))
    for path in sorted(p for p in seq.rglob("*") if p.is_file() and p.parent.name != "gt" and p.name != SEQINFO):
        digest.update(f"{path.relative_to(seq)}:{path.stat().st_size}".encode())
    return digest.hexdigest()

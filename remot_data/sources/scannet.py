"""Reader for ScanNet exports (SensReader output): ``<scene>/pose/<i>.txt``, ``<scene>/color/<i>.jpg``.

Each pose file holds a 4x4 camera-to-world matrix in metres (world +z up, camera axes taken as OpenCV), which is
already remot's internal convention. Optional ``intrinsic/intrinsic_color.txt`` (4x4) gives the focal length.
Imports numpy, Pillow and remot_data records only; never rules.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from remot_data.errors import SourceFormatError
from remot_data.records import Clip, FrameRef, Reject
from remot_data.sources.paths import lies_inside, read_source_bytes, read_source_text, require_regular_file

logger = logging.getLogger(__name__)

POSE_DIR = "pose"
COLOR_DIR = "color"
INTRINSIC_COLOR_PATH = "intrinsic/intrinsic_color.txt"
RIGID_TOLERANCE = 1e-3


# ScanNet records colour at 30 Hz, and SensReader names each exported frame by its capture number (also with
# frame_skip), so frame i sits at i / 30 s: the rules' gaps in seconds hold on downsampled exports too.
CAPTURE_FPS = 30.0
SCENE_ID_RE = re.compile(r"(scene\d{4})_\d{2}")  # a scan id: its room, then the scan of that room


def room_of(scene_id: str) -> str:
    """Return the room of a ScanNet scene id: ``scene0000_01`` is the second scan of room ``scene0000``.

    Example:
        >>> room_of("scene0707_02"), room_of("my_office")
        ('scene0707', 'my_office')
    """
    match = SCENE_ID_RE.fullmatch(scene_id)
    return match.group(1) if match else scene_id


def list_scannet_scenes(root: Path) -> list[Path]:
    """Return the scene directories under ``root`` (those with a ``pose/`` or ``color/`` folder), sorted by name.

    ``root`` may itself be one scene. A scene with colour frames but no poses is listed, so reading it fails into a
    rejects row instead of vanishing.

    Raises:
        SourceFormatError: If ``root`` does not exist or holds no scene.
    """
    root = Path(root)
    if not root.is_dir():
        raise SourceFormatError(f"{root}: ScanNet input must be a directory of scene exports, but it does not exist")
    if (root / POSE_DIR).is_dir():
        return [root]
    try:
        scenes = sorted(p for p in root.iterdir() if (p / POSE_DIR).is_dir() or (p / COLOR_DIR).is_dir())
    except OSError as err:
        raise SourceFormatError(f"{root}: cannot list the ScanNet input: {err}") from err
    outside = [p.name for p in scenes if not lies_inside(p, root)]
    if outside:
        raise SourceFormatError(
            f"{root}: scene folders {outside} are symbolic links out of the input; point the input at the folder "
            "that holds the scenes"
        )
    if not scenes:
        raise SourceFormatError(
            f"{root}: no ScanNet scene found; expected sub-directories holding "
            f"{POSE_DIR}/<i>.txt and {COLOR_DIR}/<i>.jpg"
        )
    return scenes


def _read_matrix(path: Path) -> npt.NDArray[np.float64]:
    try:
        rows = [line.split() for line in read_source_text(path).splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise SourceFormatError(f"{path}: cannot read pose file: {err}") from err
    if len(rows) != 4 or any(len(r) != 4 for r in rows):
        shape = f"{len(rows)} rows with {sorted({len(r) for r in rows})} values"
        raise SourceFormatError(f"{path}: a ScanNet pose must be 4 lines of 4 numbers, got {shape}")
    try:
        return np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
    except ValueError as err:
        raise SourceFormatError(f"{path}: pose values must be numbers: {err}") from err


def check_rigid(path: Path, T: npt.NDArray[np.float64]) -> None:
    """Raise unless ``T`` (4x4) is a rigid transform: orthonormal rotation with det +1, last row (0, 0, 0, 1).

    Raises:
        SourceFormatError: Naming ``path`` and what is wrong.
    """
    R = T[:3, :3]
    ortho_err = float(np.abs(R.T @ R - np.eye(3)).max())
    det = float(np.linalg.det(R))
    if ortho_err > RIGID_TOLERANCE or abs(det - 1.0) > RIGID_TOLERANCE:
        raise SourceFormatError(
            f"{path}: pose rotation is not rigid (max |RᵀR − I| = {ortho_err:.3g}, det = {det:.4f}); "
            "expected a camera-to-world rotation with det +1"
        )
    if not np.allclose(T[3], [0.0, 0.0, 0.0, 1.0], atol=RIGID_TOLERANCE):
        raise SourceFormatError(f"{path}: last pose row must be 0 0 0 1, got {T[3].tolist()}")


def read_scannet_pose(path: Path) -> npt.NDArray[np.float64]:
    """Read one ``pose/<i>.txt`` and return the camera-to-world matrix, shape (4, 4).

    Raises:
        SourceFormatError: If the file is unreadable, not 4x4, non-finite or not rigid.
    """
    T = _read_matrix(Path(path))
    if not np.isfinite(T).all():
        raise SourceFormatError(f"{path}: pose has non-finite values (ScanNet marks invalid poses with -inf)")
    check_rigid(Path(path), T)
    return T


def write_scannet_pose(path: Path, T_world_cam: npt.NDArray[np.float64]) -> None:
    """Write a 4x4 camera-to-world pose the way SensReader does (``np.savetxt``, ``%f``)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.asarray(T_world_cam, dtype=np.float64), fmt="%f")


def _frame_number(path: Path) -> int | None:
    return int(path.stem) if path.stem.isdigit() else None


def read_scannet_scene(scene_dir: Path) -> Clip:
    """Read one exported ScanNet scene into a Clip.

    One pose file is one frame: a frame whose pose is non-finite (ScanNet's invalid marker), malformed (wrong shape,
    not numbers, not rigid, unreadable) or without a colour image is dropped and listed in ``Clip.dropped``, and the
    scene keeps its other frames; a scene left with none fails.

    Args:
        scene_dir: Directory holding ``pose/`` and ``color/``.

    Returns:
        The clip, frames ordered by index, with ``T_world_cam`` (N, 4, 4).

    Raises:
        SourceFormatError: For a malformed pose or intrinsic file, or a scene with no usable frame.
    """
    scene_dir = Path(scene_dir)
    clip_id = scene_dir.name
    if not (scene_dir / POSE_DIR).is_dir():
        raise SourceFormatError(f"{scene_dir / POSE_DIR}: scene has no {POSE_DIR}/ folder of camera poses")
    pose_files = sorted(
        (p for p in (scene_dir / POSE_DIR).glob("*.txt") if _frame_number(p) is not None), key=_frame_number
    )
    dropped: list[Reject] = []
    frames: list[FrameRef] = []
    poses: list[npt.NDArray[np.float64]] = []
    for pose_path in pose_files:
        index = _frame_number(pose_path)
        image_path = scene_dir / COLOR_DIR / f"{index}.jpg"
        escaped = [p for p in (pose_path, image_path) if p.exists() and not lies_inside(p, scene_dir)]
        if escaped:  # a link out of the scene: never read
            dropped.append(
                Reject(
                    stage="read",
                    source="scannet",
                    clip_id=clip_id,
                    reason="outside_input",
                    detail=f"{escaped[0]}: a symbolic link out of the scene {scene_dir}; not read",
                    path=str(escaped[0]),
                    frame_index=index,
                )
            )
            continue
        try:
            T = _read_matrix(pose_path)
            if np.isfinite(T).all():
                check_rigid(pose_path, T)
        except SourceFormatError as err:
            dropped.append(
                Reject(
                    stage="read",
                    source="scannet",
                    clip_id=clip_id,
                    reason="bad_pose_file",
                    detail=str(err),
                    path=str(pose_path),
                    frame_index=index,
                )
            )
            continue
        if not np.isfinite(T).all():
            dropped.append(
                Reject(
                    stage="read",
                    source="scannet",
                    clip_id=clip_id,
                    reason="non_finite_pose",
                    detail=f"{pose_path}: pose has non-finite values",
                    path=str(pose_path),
                    frame_index=index,
                )
            )
            continue
        if not image_path.is_file():
            dropped.append(
                Reject(
                    stage="read",
                    source="scannet",
                    clip_id=clip_id,
                    reason="missing_image",
                    detail=f"{image_path}: colour image for pose {pose_path.name} does not exist",
                    path=str(image_path),
                    frame_index=index,
                )
            )
            continue
        frames.append(FrameRef(frame_index=index, image_path=image_path))
        poses.append(T)
    if not frames:
        problems = "; ".join(r.detail for r in dropped[:3])
        raise SourceFormatError(
            f"{scene_dir}: scene has no frame with both a valid {POSE_DIR}/<i>.txt and {COLOR_DIR}/<i>.jpg"
            + (f" ({len(dropped)} dropped, e.g. {problems})" if dropped else "")
        )
    focal_px = None
    intrinsic_path = scene_dir / INTRINSIC_COLOR_PATH
    if intrinsic_path.exists() and not lies_inside(intrinsic_path, scene_dir):
        raise SourceFormatError(f"{intrinsic_path}: a symbolic link out of the scene {scene_dir}; not read")
    if intrinsic_path.is_file():
        K = _read_matrix(intrinsic_path)
        if not (np.isfinite(K).all() and K[0, 0] > 0):
            raise SourceFormatError(f"{intrinsic_path}: fx (row 1, column 1) must be a positive number, got {K[0, 0]}")
        focal_px = float(K[0, 0])
    try:
        with Image.open(require_regular_file(frames[0].image_path)) as im:
            width, height = (int(v) for v in im.size)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise SourceFormatError(f"{frames[0].image_path}: colour image cannot be opened: {err}") from err
    if focal_px is not None:
        focal_px = fit_intrinsics_to_image(K, width, height, intrinsic_path)
    return Clip(
        source="scannet",
        clip_id=clip_id,
        frames=tuple(frames),
        T_world_cam=np.stack(poses),
        focal_px=focal_px,
        image_width_px=width,
        image_height_px=height,
        dropped=tuple(dropped),
        fps=CAPTURE_FPS,
    )


def fit_intrinsics_to_image(K: npt.NDArray[np.float64], width: int, height: int, path: Path) -> float:
    """Return fx for the colour images as they are: rescaled when the calibration is for another resolution.

    ScanNet's ``intrinsic_color.txt`` is for the 1296 x 968 sensor; exports often hold 640 x 480 frames. The
    calibrated image size is read from the principal point (about twice cx by twice cy).

    Raises:
        SourceFormatError: When the calibration's aspect does not match the images (not a mere rescale).
    """
    calibrated_w, calibrated_h = 2.0 * K[0, 2], 2.0 * K[1, 2]
    if calibrated_w <= 0 or calibrated_h <= 0:
        raise SourceFormatError(f"{path}: principal point must be positive, got cx={K[0, 2]}, cy={K[1, 2]}")
    sx, sy = width / calibrated_w, height / calibrated_h
    if abs(sx - 1.0) < 0.05 and abs(sy - 1.0) < 0.05:
        return float(K[0, 0])
    if abs(sx - sy) / max(sx, sy) > 0.05:
        raise SourceFormatError(
            f"{path}: intrinsics are for about {calibrated_w:.0f} x {calibrated_h:.0f} pixels but the colour images "
            f"are {width} x {height}, a different aspect: they cannot be rescaled"
        )
    logger.info("%s: intrinsics for %.0f x %.0f rescaled to %d x %d", path, calibrated_w, calibrated_h, width, height)
    return float(K[0, 0] * sx)


def hash_scannet_scene(scene_dir: Path) -> str:
    """Return a SHA-256 over the scene's annotations (pose and intrinsic bytes) and its images' names and sizes.

    Image bytes are not read (a scene holds ~1 GB of JPEG); a changed image keeps its hash only if its size is
    unchanged, which we accept for a cache key.
    """
    digest = hashlib.sha256()
    scene_dir = Path(scene_dir)
    for sub in (POSE_DIR, "intrinsic"):
        for path in sorted((scene_dir / sub).glob("*.txt")):
            digest.update(f"{sub}/{path.name}\0".encode())
            if not path.is_file() or not lies_inside(path, scene_dir):  # never read (the reader rejects it)
                digest.update(b"\0not read\0")
                continue
            digest.update(read_source_bytes(path))
    for path in sorted((scene_dir / COLOR_DIR).glob("*.jpg")):
        digest.update(f"{COLOR_DIR}/{path.name}\0{path.stat().st_size}\0".encode())
    return digest.hexdigest()

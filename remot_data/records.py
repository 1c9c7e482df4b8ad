"""Typed records that flow between pipeline stages: clips, frames, rejects, triplet candidates.

Internal convention (one for every source): world frame right-handed with +z up, metres; cameras use OpenCV axes
(x right, y down, z forward); a pose ``T_world_cam`` is a 4x4 camera-to-world matrix (it maps camera coordinates
to world coordinates). Imports numpy and the standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

SourceName = Literal["scannet", "lerobot", "motchallenge", "nuscenes"]
RuleName = Literal["direction_flip", "speed_flip", "count_flip", "state_flip"]
FamilyName = Literal[
    "camera_rotation",
    "grab_release",
    "lift_lower",
    "move_lr",
    "move_complex",
    "object_count",
    "object_move_lr",
    "object_speed",
    "ego_turn",
    "ego_forward",
    "ego_speed",
]
NegativeMethod = Literal["retrieval", "crop", "time_reversal", "mirror"]
RejectStage = Literal["read", "motion", "rule", "question", "frames", "validate"]
SplitName = Literal["train", "val", "test"]


@dataclass(frozen=True, kw_only=True)
class FrameRef:
    """Where one frame's pixels live.

    Attributes:
        frame_index: 0-based index of the frame in its clip (ScanNet: the number in ``color/<i>.jpg``).
        image_path: Still image holding the frame, or None when it lives in a video.
        video_path: Video file holding the frame, or None for still images.
        timestamp_s: Seconds from the start of ``video_path`` where the frame sits, if in a video.
    """

    frame_index: int
    image_path: Path | None = None
    video_path: Path | None = None
    timestamp_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class Reject:
    """One dropped clip, frame or candidate; becomes a row of the rejects table (``schemas/rejects.yaml``).

    Attributes:
        stage: Pipeline stage that dropped it.
        source: Source format.
        clip_id: Scene / episode / sequence id.
        reason: Short groupable reason, e.g. ``non_finite_pose``.
        detail: Human-readable message.
        path: File concerned, if any.
        frame_index: Frame concerned, if any.
        error_type: Exception class name, if an error caused it.
    """

    stage: RejectStage
    source: str
    clip_id: str
    reason: str
    detail: str
    path: str | None = None
    frame_index: int | None = None
    error_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class ObjectBoxes:
    """Annotated object boxes of a clip, one entry per (frame, object).

    Attributes:
        position: Position in the clip's frames of each box.
        track_id: Identity of the object, stable across frames.
        category: remot category of each box (``pedestrian``, ``vehicle``, ``rider``, ``bicycle``, ``other``).
        box_xywh_px: (M, 4) left, top, width, height in pixels of the clip's frames (may reach outside the frame).
        visibility: (M,) visible fraction in [0, 1]; NaN where the source does not say.
        considered: (M,) False where the source marks the box as one to ignore.
    """

    position: npt.NDArray[np.int64]
    track_id: npt.NDArray[np.int64]
    category: npt.NDArray[np.str_]
    box_xywh_px: npt.NDArray[np.float64]
    visibility: npt.NDArray[np.float64]
    considered: npt.NDArray[np.bool_]

    def __post_init__(self) -> None:
        """Check that every array has one entry per box."""
        n = len(self.position)
        sizes = {len(a) for a in (self.track_id, self.category, self.box_xywh_px, self.visibility, self.considered)}
        if sizes != {n} or self.box_xywh_px.shape[1:] != (4,):
            raise ValueError(f"object box arrays must all have {n} rows (boxes with 4 columns), got {sizes}")


@dataclass(frozen=True, kw_only=True)
class Clip:
    """An ordered run of frames with time-aligned annotations, read from one scene / episode / sequence.

    Attributes:
        source: Source format it was read from.
        clip_id: Id unique within the input.
        frames: Frames in order; ``frames[i]`` matches row ``i`` of every annotation array.
        T_world_cam: Camera-to-world poses, shape (N, 4, 4), or None when the source has none.
        focal_px: Horizontal focal length in pixels of the stored frames, or None if unknown.
        image_width_px: Width in pixels of the stored frames, or None if unknown.
        image_height_px: Height in pixels of the stored frames, or None if unknown.
        dropped: Frames the reader dropped (e.g. ScanNet's invalid ``-inf`` poses), as rejects.
        fps: Frame rate of the clip's frame numbers (its video's, or the capture's: ScanNet 30 Hz), if known.
        tracks: Named per-frame annotation arrays, first axis = frames (e.g. ``left.ee_xyz_m`` (N, 3),
            ``left.gripper_closed`` (N,) in [0, 1] with 1 = closed).
        objects: Annotated object boxes (tracking datasets), or None.
        root: The folder every file of the clip must lie in, links followed (frames outside are never read), or
            None when the reader checked its paths itself.
    """

    source: SourceName
    clip_id: str
    frames: tuple[FrameRef, ...]
    T_world_cam: npt.NDArray[np.float64] | None = None
    focal_px: float | None = None
    image_width_px: int | None = None
    image_height_px: int | None = None
    dropped: tuple[Reject, ...] = ()
    fps: float | None = None
    tracks: Mapping[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    objects: ObjectBoxes | None = None
    root: Path | None = None

    def __post_init__(self) -> None:
        """Check that annotation arrays line up with the frames."""
        if (
            self.objects is not None
            and len(self.objects.position)
            and not (self.objects.position.min() >= 0 and self.objects.position.max() < len(self.frames))
        ):
            raise ValueError(f"clip {self.clip_id}: object boxes on frames outside 0..{len(self.frames) - 1}")
        for name, track in self.tracks.items():
            if len(track) != len(self.frames):
                raise ValueError(
                    f"clip {self.clip_id}: track {name} has {len(track)} rows for {len(self.frames)} frames"
                )
        if self.T_world_cam is not None and self.T_world_cam.shape != (len(self.frames), 4, 4):
            raise ValueError(
                f"clip {self.clip_id}: T_world_cam must have shape ({len(self.frames)}, 4, 4), "
                f"got {self.T_world_cam.shape}"
            )


@dataclass(frozen=True, kw_only=True)
class CropBox:
    """A crop window in fractions of the frame: ``(x0, y0, x1, y1)``, each in [0, 1], x0 < x1, y0 < y1."""

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        """Check that the box lies inside the frame and is not empty."""
        if not (0.0 <= self.x0 < self.x1 <= 1.0 and 0.0 <= self.y0 < self.y1 <= 1.0):
            raise ValueError(f"crop box must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, got {self}")


@dataclass(frozen=True, kw_only=True)
class ImageSpec:
    """How one triplet image is made from a frame: the frame, plus an optional mark, crop and mirror.

    Attributes:
        frame_index: Index into ``Clip.frames``.
        crop: Crop window, or None for the whole frame.
        mirror: Flip horizontally after cropping.
        mark: A box drawn on the frame (fractions of the frame, before crop and mirror) around the object the
            question is about, or None.
        ghost_frame_index: Index into ``Clip.frames`` of an earlier frame blended faintly under this one (a
            double exposure showing how far things moved in between), or None.
    """

    frame_index: int
    crop: CropBox | None = None
    mirror: bool = False
    mark: CropBox | None = None
    ghost_frame_index: int | None = None

    @property
    def key(self) -> str:
        """Return a key naming this image inside its clip by frame position (shares decoded frames in a build)."""
        return self.key_with(self.frame_index, self.ghost_frame_index)

    def key_with(self, frame_number: int, ghost_number: int | None = None) -> str:
        """Return the key of this image with source frame numbers in place of positions (ids use source numbers)."""
        parts = [f"{frame_number:06d}"]
        if ghost_number is not None:
            parts.append(f"g{ghost_number:06d}")
        if self.crop is not None:
            parts.append(f"c{self.crop.x0:.4f}_{self.crop.y0:.4f}_{self.crop.x1:.4f}_{self.crop.y1:.4f}")
        if self.mark is not None:
            parts.append(f"b{self.mark.x0:.4f}_{self.mark.y0:.4f}_{self.mark.x1:.4f}_{self.mark.y1:.4f}")
        if self.mirror:
            parts.append("m")
        return "_".join(parts)


@dataclass(frozen=True, kw_only=True)
class TripletCandidate:
    """A triplet chosen by a contrast rule, before questions and pixels.

    Attributes:
        source: Source format.
        clip_id: Clip it comes from.
        family: Question family.
        rule: Contrast rule.
        negative_method: How the negative was made.
        images: Specs of images 1 (anchor), 2 (positive), 3 (negative).
        attribute_names: Names with units of the signed attributes in ``values_*``.
        values_12: Attribute values from image 1 to image 2.
        values_13: Attribute values from image 1 to image 3.
        values_23: Attribute values from image 2 to image 3.
        magnitude: Largest absolute value from image 1 to image 2.
        margin: Distance of the closest value to the nearest threshold.
        subject: Family-specific subject of the question (e.g. ``left`` arm); empty when none.
    """

    source: SourceName
    clip_id: str
    family: FamilyName
    rule: RuleName
    negative_method: NegativeMethod
    images: tuple[ImageSpec, ImageSpec, ImageSpec]
    attribute_names: tuple[str, ...]
    values_12: tuple[float, ...]
    values_13: tuple[float, ...]
    values_23: tuple[float, ...]
    magnitude: float
    margin: float
    subject: str = ""

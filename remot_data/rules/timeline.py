"""Where a rule measures its gaps, strides and time bounds: seconds when a clip knows its frames' times, else frames.

A preset states gaps in seconds (``frame_gap_s``) with a frame count as the fallback (``frame_gap``), because a frame
count means different things at 30 fps and at 5 fps. Numpy plus remot_data records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from remot_data.records import Clip


def frame_times_s(clip: Clip) -> npt.NDArray[np.float64] | None:
    """Return each frame's time in seconds, or None when the clip cannot say.

    Frames in a video carry their timestamps; otherwise a clip with a frame rate places frame ``i`` at ``i / fps``
    (ScanNet exports keep the 30 Hz capture's frame numbers, also when downsampled).

    Example:
        >>> from remot_data.records import FrameRef
        >>> clip = Clip(source="scannet", clip_id="s", frames=(FrameRef(frame_index=0), FrameRef(frame_index=15)),
        ...             fps=30.0)
        >>> frame_times_s(clip).tolist()
        [0.0, 0.5]
    """
    stamps = [f.timestamp_s for f in clip.frames]
    if stamps and all(s is not None for s in stamps):
        return np.asarray(stamps, dtype=np.float64)
    if clip.fps:
        return np.array([f.frame_index for f in clip.frames], dtype=np.float64) / clip.fps
    return None


@dataclass(frozen=True, kw_only=True)
class Clock:
    """Each frame's place on the axis a rule's gaps are measured in.

    Attributes:
        at: Per frame position: seconds, or the frame's number.
        unit: ``s`` or ``frames``.
        gap: Anchor-to-positive gap, in ``unit``.
        stride: Distance between anchors, in ``unit``.
    """

    at: npt.NDArray[np.float64]
    unit: Literal["s", "frames"]
    gap: float
    stride: float

    def anchors(self) -> list[int]:
        """Return the anchor positions.

        In frames: the frame numbers divisible by the stride. In seconds: the first frame, then each next frame at
        least a stride after the previous anchor.

        Example:
            >>> Clock(at=np.array([0.0, 0.4, 0.9, 1.1, 2.6, 3.0]), unit="s", gap=1.0, stride=1.0).anchors()
            [0, 3, 4]
        """
        if self.unit == "frames":
            return [i for i, v in enumerate(self.at) if round(v) % round(self.stride) == 0]
        anchors: list[int] = []
        for i, t in enumerate(self.at):
            if not anchors or t >= self.at[anchors[-1]] + self.stride:
                anchors.append(i)
        return anchors

    def describe(self, value: float) -> str:
        """Return a place on the clock in words (``1.50 s`` or ``frame 45``)."""
        return f"{value:.2f} s" if self.unit == "s" else f"frame {round(value)}"


def timed_anchors(clip: Clip, stride_s: float, rules: str) -> tuple[npt.NDArray[np.float64], list[int]]:
    """Return each frame's time and the anchors every ``stride_s`` seconds, for rules that need times.

    Raises:
        ValueError: Naming the clip and the ``rules`` when the clip has no frame times.
    """
    times = frame_times_s(clip)
    if times is None:
        raise ValueError(f"clip {clip.clip_id}: {rules} need frame times (a frame rate or timestamps)")
    return times, Clock(at=times, unit="s", gap=0.0, stride=stride_s).anchors()


def rule_clock(
    clip: Clip, *, gap_s: float | None, stride_s: float | None, gap_frames: int, stride_frames: int
) -> Clock:
    """Return the clock a rule uses on ``clip``: seconds when the preset gives them and the clip knows its times."""
    times = frame_times_s(clip)
    if gap_s is not None and stride_s is not None and times is not None and np.isfinite(times).all():
        return Clock(at=times, unit="s", gap=gap_s, stride=stride_s)
    numbers = np.array([f.frame_index for f in clip.frames], dtype=np.float64)
    return Clock(at=numbers, unit="frames", gap=float(gap_frames), stride=float(stride_frames))

"""Motion experts for annotated object boxes: visible counts per frame and box tracks in image coordinates.

Takes ``ObjectBoxes`` and thresholds, never a reader. Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from remot_data.records import ObjectBoxes


@dataclass(frozen=True, kw_only=True)
class Visibility:
    """When a box counts as visible (fractions; see ``objects`` in the rule preset).

    Attributes:
        min_visibility: Smallest visible fraction (ignored where the source states none).
        visibility_margin: Half-width of the uncertain band around min_visibility and max_truncation.
        max_truncation: Largest fraction of the box outside the frame.
        min_box_height: Smallest box height, fraction of the frame height.
        size_margin: Uncertain band around min_box_height, as a fraction of it.
    """

    min_visibility: float
    visibility_margin: float
    max_truncation: float
    min_box_height: float
    size_margin: float


def truncation(boxes_xywh: npt.NDArray[np.float64], width: int, height: int) -> npt.NDArray[np.float64]:
    """Return the fraction of each box's area that lies outside a ``width`` x ``height`` frame.

    Example:
        >>> truncation(np.array([[-50.0, 0.0, 100.0, 10.0], [10.0, 10.0, 20.0, 20.0]]), 640, 480).tolist()
        [0.5, 0.0]
    """
    x0, y0 = boxes_xywh[:, 0], boxes_xywh[:, 1]
    x1, y1 = x0 + boxes_xywh[:, 2], y0 + boxes_xywh[:, 3]
    inside_w = np.clip(np.minimum(x1, width) - np.maximum(x0, 0.0), 0.0, None)
    inside_h = np.clip(np.minimum(y1, height) - np.maximum(y0, 0.0), 0.0, None)
    return 1.0 - inside_w * inside_h / (boxes_xywh[:, 2] * boxes_xywh[:, 3])


def visible_boxes(
    objects: ObjectBoxes, width: int, height: int, rule: Visibility
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Return per box whether it is surely visible and whether it might be (the two differ near a threshold).

    A box the source marks as ignored is never sure; a source without visibility (NaN) is judged on truncation and
    size alone.
    """
    vis = objects.visibility
    known = ~np.isnan(vis)
    trunc = truncation(objects.box_xywh_px, width, height)
    rel_h = objects.box_xywh_px[:, 3] / height
    m = rule.visibility_margin
    sure = (
        objects.considered
        & (~known | (vis >= rule.min_visibility + m))
        & (trunc <= rule.max_truncation - m)
        & (rel_h >= rule.min_box_height * (1 + rule.size_margin))
    )
    maybe = (
        (~known | (vis >= rule.min_visibility - m))
        & (trunc <= rule.max_truncation + m)
        & (rel_h >= rule.min_box_height / (1 + rule.size_margin))
    )
    return sure, maybe | sure


def visible_counts(
    objects: ObjectBoxes, n_frames: int, categories: tuple[str, ...], width: int, height: int, rule: Visibility
) -> npt.NDArray[np.float64]:
    """Return the number of visible objects of ``categories`` per frame, NaN where the count is uncertain.

    A frame's count is certain when every box of those categories on it is either surely visible or surely not.

    Example:
        >>> from remot_data.records import ObjectBoxes
        >>> boxes = ObjectBoxes(position=np.array([0, 0, 1]), track_id=np.array([1, 2, 1]),
        ...     category=np.array(["pedestrian"] * 3), box_xywh_px=np.array([[10.0, 10, 20, 100]] * 3),
        ...     visibility=np.array([0.9, 0.26, 0.9]), considered=np.array([True, True, True]))
        >>> rule = Visibility(min_visibility=0.25, visibility_margin=0.1, max_truncation=0.5, min_box_height=0.08,
        ...     size_margin=0.25)
        >>> visible_counts(boxes, 3, ("pedestrian",), 640, 480, rule).tolist()  # frame 0 holds a 26 %-visible box
        [nan, 1.0, 0.0]
    """
    sure, maybe = visible_boxes(objects, width, height, rule)
    counted = np.isin(objects.category, categories)
    certain_counts = np.bincount(objects.position[counted & sure], minlength=n_frames).astype(np.float64)
    uncertain = np.bincount(objects.position[counted & maybe & ~sure], minlength=n_frames) > 0
    certain_counts[uncertain] = np.nan
    return certain_counts


def box_track(
    objects: ObjectBoxes, track_id: int, n_frames: int, width: int, height: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return one object's box per frame (N, 4: left, top, width, height in fractions of the frame) and its row.

    Frames without the object hold NaN; the second array gives each frame's box row in ``objects`` (-1: none).
    """
    rows = np.nonzero(objects.track_id == track_id)[0]
    boxes = np.full((n_frames, 4), np.nan)
    row_of = np.full(n_frames, -1, dtype=np.int64)
    boxes[objects.position[rows]] = objects.box_xywh_px[rows] / np.array([width, height, width, height])
    row_of[objects.position[rows]] = rows
    return boxes, row_of

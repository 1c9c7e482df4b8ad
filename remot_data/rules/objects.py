"""Rules on annotated object boxes: the count flip, and the direction and speed flips of one tracked object.

Count flip (``object_count``): the number of visible objects of a counted subject rises by k from image 1 to image 2
and falls by the same k from image 1 to image 3 (values (k, -k, -2k)). Direction flip (``object_move_lr``): one
object, marked by a box in each image, moves right (or left) in the image from 1 to 2 and the other way from 1 to 3.
Speed flip (``object_speed``): each image is a double exposure over the frame ``ghost_s`` earlier, so it shows how
far the marked object moved in that time; it moves the same way in all three, faster in image 2 than in image 1 and
slower in image 3 (values: the log of the speed ratio, (r, -r', -r - r')).
Takes Clip records and motion-expert values, never a reader. Every dropped anchor becomes a Reject with a reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from remot_data.motion.objects import Visibility, box_track, visible_boxes, visible_counts
from remot_data.records import Clip, CropBox, ImageSpec, Reject, TripletCandidate
from remot_data.rules.registry import ObjectsConfig
from remot_data.rules.retrieval import RetrievalWindow, find_retrieval_triplets, retrieved_to_records
from remot_data.rules.timeline import timed_anchors

COUNT_ATTRIBUTES = ("count_change",)
SHIFT_ATTRIBUTES = ("right_frac",)
SPEED_ATTRIBUTES = ("log_speed_ratio",)
# Categories whose objects can be the marked subject of a direction question (not distractors, occluders, crowds).
TRACKED_CATEGORIES = ("pedestrian", "vehicle", "rider", "bicycle")
COUNT_DEAD_BAND = 0.5  # counts are whole: a change below half an object is no change


def _visibility(config: ObjectsConfig) -> Visibility:
    return Visibility(
        min_visibility=config.min_visibility,
        visibility_margin=config.visibility_margin,
        max_truncation=config.max_truncation,
        min_box_height=config.min_box_height,
        size_margin=config.size_margin,
    )


def _require_boxes(clip: Clip) -> tuple[int, int]:
    if clip.objects is None or clip.image_width_px is None or clip.image_height_px is None:
        raise ValueError(f"clip {clip.clip_id}: object rules need object boxes and the frame size")
    return clip.image_width_px, clip.image_height_px


def find_count_triplets(clip: Clip, config: ObjectsConfig) -> tuple[list[TripletCandidate], list[Reject]]:
    """Find count-flip triplets for every counted subject of the preset (``pedestrians``, ``vehicles``).

    For each anchor (every ``anchor_stride_s``) with a certain count c, k runs from ``count_min_change`` up: the
    positive is the frame nearest in time (within ``max_time_s``, before or after) with a certain count c + k, the
    negative the nearest with c - k; the first k that has both wins. Subjects with no box in the clip are skipped.

    Raises:
        ValueError: If the clip has no boxes, frame size or frame times.
    """
    width, height = _require_boxes(clip)
    times, anchors = timed_anchors(clip, config.anchor_stride_s, "object rules")
    assert clip.objects is not None
    candidates: list[TripletCandidate] = []
    rejects: list[Reject] = []
    for subject, categories in config.count_categories.items():
        if not np.isin(clip.objects.category, categories).any():
            continue
        counts = visible_counts(clip.objects, len(clip.frames), categories, width, height, _visibility(config))

        def reject(i: int, reason: str, detail: str, subject: str = subject) -> None:
            number = clip.frames[i].frame_index
            rejects.append(
                Reject(
                    stage="rule",
                    source=clip.source,
                    clip_id=clip.clip_id,
                    reason=reason,
                    frame_index=number,
                    detail=f"object_count {subject}, anchor frame {number}: {detail}",
                )
            )

        for i in anchors:
            if np.isnan(counts[i]):
                reject(i, "count_uncertain", "a box lies near a visibility, truncation or size threshold")
                continue
            distance = np.abs(times - times[i])
            near = (distance <= config.max_time_s) & ~np.isnan(counts)
            near[i] = False
            for k in range(config.count_min_change, config.count_max_change + 1):
                more = np.nonzero(near & (counts == counts[i] + k))[0]
                fewer = np.nonzero(near & (counts == counts[i] - k))[0]
                if more.size and fewer.size:
                    j = int(more[np.argmin(distance[more])])
                    n = int(fewer[np.argmin(distance[fewer])])
                    candidates.append(
                        TripletCandidate(
                            source=clip.source,
                            clip_id=clip.clip_id,
                            family="object_count",
                            rule="count_flip",
                            negative_method="retrieval",
                            subject=subject,
                            images=(ImageSpec(frame_index=i), ImageSpec(frame_index=j), ImageSpec(frame_index=n)),
                            attribute_names=COUNT_ATTRIBUTES,
                            values_12=(float(k),),
                            values_13=(float(-k),),
                            values_23=(float(-2 * k),),
                            magnitude=float(k),
                            margin=float(k) - COUNT_DEAD_BAND,
                        )
                    )
                    break
            else:
                reject(
                    i,
                    "no_count_change",
                    f"{int(counts[i])} visible; no frame within {config.max_time_s} s has {config.count_min_change}"
                    f"..{config.count_max_change} more and as many fewer",
                )
    return candidates, rejects


def _mark(box: npt.NDArray[np.float64]) -> CropBox:
    x0, y0 = float(np.clip(box[0], 0.0, 1.0)), float(np.clip(box[1], 0.0, 1.0))
    x1, y1 = float(np.clip(box[0] + box[2], 0.0, 1.0)), float(np.clip(box[1] + box[3], 0.0, 1.0))
    return CropBox(x0=x0, y0=y0, x1=x1, y1=y1)


def _marked_tracks(
    clip: Clip, config: ObjectsConfig
) -> Iterator[tuple[int, npt.NDArray[np.float64], npt.NDArray[np.bool_], str]]:
    """Yield ``(track id, boxes, usable, category)`` for every object a question can be about.

    ``boxes`` is the object's box per frame in fractions of the frame (NaN where absent), ``usable`` whether it can
    be marked there (surely visible and at least ``mark_min_visibility`` visible).

    Raises:
        ValueError: If the clip has no boxes or frame size.
    """
    width, height = _require_boxes(clip)
    objects = clip.objects
    assert objects is not None
    sure, _ = visible_boxes(objects, width, height, _visibility(config))
    markable = sure & (np.isnan(objects.visibility) | (objects.visibility >= config.mark_min_visibility))
    for track_id in np.unique(objects.track_id[np.isin(objects.category, TRACKED_CATEGORIES)]):
        boxes, row_of = box_track(objects, int(track_id), len(clip.frames), width, height)
        usable = (row_of >= 0) & markable[np.maximum(row_of, 0)]
        category = str(objects.category[row_of[usable][0]]) if usable.any() else ""
        yield int(track_id), boxes, usable, category


def find_object_direction_triplets(clip: Clip, config: ObjectsConfig) -> tuple[list[TripletCandidate], list[Reject]]:
    """Find direction-flip triplets of single tracked objects (``object_move_lr``), the object marked in each image.

    Per object: its box centre, in fractions of the frame, on the frames where it is surely visible and at least
    ``mark_min_visibility`` visible; retrieval (``rules/retrieval.py``) within ``max_time_s`` of each anchor finds a
    positive moving right or left by ``min_shift``..``max_shift`` of the frame width with little vertical motion and a
    negative moving the other way by a similar amount. The label is the move in the image: what the pixels show.

    Raises:
        ValueError: If the clip has no boxes, frame size or frame times.
    """
    _require_boxes(clip)
    times, anchors = timed_anchors(clip, config.anchor_stride_s, "object rules")
    window = RetrievalWindow(
        min_delta=config.min_shift,
        max_delta=config.max_shift,
        off_axis_ratio=config.off_axis_ratio,
        max_magnitude_ratio=config.max_magnitude_ratio,
    )
    candidates: list[TripletCandidate] = []
    rejects: list[Reject] = []
    for track_id, boxes, usable, category in _marked_tracks(clip, config):
        centre = np.where(usable[:, None], boxes[:, :2] + boxes[:, 2:] / 2, np.nan)
        found, dropped = find_retrieval_triplets(
            centre[:, :1],
            centre[:, 1:],
            window,
            anchors=[a for a in anchors if usable[a]],
            times=times,
            max_time=config.max_time_s,
        )
        more, less = retrieved_to_records(
            clip,
            found,
            dropped,
            family="object_move_lr",
            rule="direction_flip",
            attribute_names=SHIFT_ATTRIBUTES,
            subject=category,
            about=f"{category} {track_id}",
            images=lambda t, boxes=boxes: tuple(
                ImageSpec(frame_index=p, mark=_mark(boxes[p])) for p in (t.anchor, t.positive, t.negative)
            ),
        )
        candidates += more
        rejects += less
    return candidates, rejects


def ghost_positions(times: npt.NDArray[np.float64], ghost_s: float) -> npt.NDArray[np.int64]:
    """Return for each frame the earlier frame nearest ``ghost_s`` before it (ties: the later one), or -1.

    -1 where no earlier frame lies within a quarter of ``ghost_s`` of that time.

    Example:
        >>> ghost_positions(np.arange(6) / 10.0, 0.25).tolist()  # 10 fps: 2.5 frames back -> 2 frames
        [-1, -1, 0, 1, 2, 3]
    """
    target = times - ghost_s
    later = np.clip(np.searchsorted(times, target, side="left"), 0, len(times) - 1)
    earlier = np.clip(later - 1, 0, len(times) - 1)
    pick = np.where(np.abs(times[earlier] - target) < np.abs(times[later] - target), earlier, later)
    ok = (np.abs(times[pick] - target) <= ghost_s / 4) & (pick < np.arange(len(times)))
    return np.where(ok, pick, -1)


def find_object_speed_triplets(clip: Clip, config: ObjectsConfig) -> tuple[list[TripletCandidate], list[Reject]]:
    """Find speed-flip triplets of single tracked objects (``object_speed``), each image a marked double exposure.

    Per object and frame: its horizontal move over the last ``ghost_s`` seconds (box centre, fraction of the frame
    width), where it is markable at both ends, moves at least ``min_ghost_shift`` and little vertically. On the log of
    that speed, retrieval within ``max_time_s`` (run separately for rightward and leftward frames, so the object moves
    the same way in all three images) finds a positive at least ``speed_min_ratio`` faster (at most
    ``speed_max_ratio``) and a negative as much slower.

    Raises:
        ValueError: If the clip has no boxes, frame size or frame times.
    """
    _require_boxes(clip)
    times, anchors = timed_anchors(clip, config.anchor_stride_s, "object rules")
    ghost = ghost_positions(times, config.ghost_s)
    has_ghost = ghost >= 0
    earlier = np.maximum(ghost, 0)
    window = RetrievalWindow(
        min_delta=float(np.log(config.speed_min_ratio)),
        max_delta=float(np.log(config.speed_max_ratio)),
        max_magnitude_ratio=config.max_magnitude_ratio,
    )
    candidates: list[TripletCandidate] = []
    rejects: list[Reject] = []
    for track_id, boxes, usable, category in _marked_tracks(clip, config):
        centre = boxes[:, :2] + boxes[:, 2:] / 2
        shift = np.where(has_ghost[:, None], centre - centre[earlier], np.nan)
        ok = usable & has_ghost & usable[earlier]
        ok &= np.abs(shift[:, 0]) >= config.min_ghost_shift
        ok &= np.abs(shift[:, 1]) <= config.off_axis_ratio * np.abs(shift[:, 0])
        with np.errstate(divide="ignore", invalid="ignore"):  # still or absent: kept out by ``ok`` below
            log_speed = np.log(np.abs(shift[:, 0]) / np.where(has_ghost, times - times[earlier], np.nan))
        for way in (1, -1):
            moving = ok & (np.sign(shift[:, 0]) == way)
            if not moving.any():
                continue
            found, dropped = find_retrieval_triplets(
                np.where(moving, log_speed, np.nan)[:, None],
                None,
                window,
                anchors=[a for a in anchors if moving[a]],
                times=times,
                max_time=config.max_time_s,
            )
            more, less = retrieved_to_records(
                clip,
                found,
                dropped,
                family="object_speed",
                rule="speed_flip",
                attribute_names=SPEED_ATTRIBUTES,
                subject=category,
                about=f"{category} {track_id}",
                reason_prefix="speed_",
                images=lambda t, boxes=boxes: tuple(
                    ImageSpec(frame_index=p, ghost_frame_index=int(ghost[p]), mark=_mark(boxes[p]))
                    for p in (t.anchor, t.positive, t.negative)
                ),
            )
            candidates += more
            rejects += less
    return candidates, rejects

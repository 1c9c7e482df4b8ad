"""Rules on the recording vehicle's own motion (driving logs): turn, forward/backward and speed flips.

Takes Clip records with ``ego.xy_m`` (N, 2; world metres) and ``ego.yaw_deg`` (N,; unwrapped, + = left) tracks,
never a reader. All three images come from the camera looking ahead, within ``max_time_s`` of each other; values are
relative motions between the two images' poses, the way the camera-rotation family states them:
- ``ego_turn`` (direction flip): the heading turns right by s from image 1 to 2 and left from 1 to 3 (or the
  reverse); values ``turn_right_deg``.
- ``ego_forward`` (direction flip): image 2 is taken ``forward_min_m``.. further along the path, image 3 as far back
  (an earlier frame: from image 1 to image 3 the camera moved backward); values ``forward_m`` along the path, the
  heading turning at most ``forward_max_turn_deg`` between any two images.
- ``ego_speed`` (speed flip): each image is a double exposure over the frame ``ghost_s`` earlier (the objects
  section's, stated in the prompt), so it shows how far the car moved in that time; image 2 faster, image 3 slower
  (or the reverse) by the objects section's speed ratios; values ``log_speed_ratio``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from remot_data.records import Clip, FamilyName, ImageSpec, Reject, RuleName, TripletCandidate
from remot_data.rules.objects import ghost_positions
from remot_data.rules.registry import EgoConfig, ObjectsConfig
from remot_data.rules.retrieval import RetrievalWindow, find_retrieval_triplets, retrieved_to_records
from remot_data.rules.timeline import timed_anchors

EGO_TRACKS = ("ego.xy_m", "ego.yaw_deg")


def has_ego_motion(clip: Clip) -> bool:
    """Return whether the clip carries the recording vehicle's poses."""
    return all(name in clip.tracks for name in EGO_TRACKS)


def find_ego_triplets(
    clip: Clip, config: EgoConfig, objects: ObjectsConfig
) -> tuple[list[TripletCandidate], list[Reject]]:
    """Find ``ego_turn``, ``ego_forward`` and ``ego_speed`` triplets of one drive.

    Raises:
        ValueError: If the clip has no ego tracks or no frame times.
    """
    if not has_ego_motion(clip):
        raise ValueError(f"clip {clip.clip_id}: ego rules need the tracks {EGO_TRACKS}")
    times, anchors = timed_anchors(clip, config.anchor_stride_s, "ego rules")
    xy, yaw = clip.tracks["ego.xy_m"], clip.tracks["ego.yaw_deg"]
    candidates: list[TripletCandidate] = []
    rejects: list[Reject] = []

    def search(values: npt.NDArray[np.float64], window: RetrievalWindow, anchor_list: list[int]):
        return find_retrieval_triplets(
            values[:, None], None, window, anchors=anchor_list, times=times, max_time=config.max_time_s
        )

    def add(found, dropped, family: FamilyName, rule: RuleName, attribute: str, **images) -> None:
        more, less = retrieved_to_records(
            clip,
            found,
            dropped,
            family=family,
            rule=rule,
            attribute_names=(attribute,),
            reason_prefix=f"{family}_",
            **images,
        )
        candidates.extend(more)
        rejects.extend(less)

    # turn: + is a right turn (the heading decreases)
    turn_window = RetrievalWindow(
        min_delta=config.turn_min_deg, max_delta=config.turn_max_deg, max_magnitude_ratio=config.max_magnitude_ratio
    )
    add(*search(-yaw, turn_window, anchors), "ego_turn", "direction_flip", "turn_right_deg")

    # forward/backward along the path, per anchor: frames whose heading differs by more than the limit are kept out
    path = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
    forward_window = RetrievalWindow(
        min_delta=config.forward_min_m, max_delta=config.forward_max_m, max_magnitude_ratio=config.max_magnitude_ratio
    )
    found_all, dropped_all = [], []
    for i in anchors:
        straight = np.abs(yaw - yaw[i]) <= config.forward_max_turn_deg
        found, dropped = search(np.where(straight, path, np.nan), forward_window, [i])
        kept = [t for t in found if abs(yaw[t.positive] - yaw[t.negative]) <= config.forward_max_turn_deg]
        found_all += kept
        dropped_all += dropped + [(t.anchor, "turning") for t in found if t not in kept]
    add(found_all, dropped_all, "ego_forward", "direction_flip", "forward_m")

    # speed: double exposures; the car must move at least min_speed_mps in both exposures' time
    ghost = ghost_positions(times, objects.ghost_s)
    earlier = np.maximum(ghost, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.linalg.norm(xy - xy[earlier], axis=1) / (times - times[earlier])
    moving = (ghost >= 0) & (speed >= config.min_speed_mps)
    speed_window = RetrievalWindow(
        min_delta=float(np.log(objects.speed_min_ratio)),
        max_delta=float(np.log(objects.speed_max_ratio)),
        max_magnitude_ratio=config.max_magnitude_ratio,
    )
    with np.errstate(divide="ignore"):
        log_speed = np.where(moving, np.log(np.where(moving, speed, 1.0)), np.nan)
    add(
        *search(log_speed, speed_window, [a for a in anchors if moving[a]]),
        "ego_speed",
        "speed_flip",
        "log_speed_ratio",
        images=lambda t: tuple(
            ImageSpec(frame_index=p, ghost_frame_index=int(ghost[p])) for p in (t.anchor, t.positive, t.negative)
        ),
    )
    return candidates, rejects

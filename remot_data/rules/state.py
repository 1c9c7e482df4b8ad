"""State-flip rules: the gripper closes from anchor to positive and opens from anchor to negative (or the reverse).

Takes Clip records with ``<arm>.gripper_closed`` tracks (0 open .. 1 closed), never a reader.
"""

from __future__ import annotations

from remot_data.records import Clip, Reject, TripletCandidate
from remot_data.rules.registry import ManipulationConfig
from remot_data.rules.retrieval import RetrievalWindow, find_retrieval_triplets, retrieved_to_records

GRIPPER_ATTRIBUTES = ("gripper_closing",)


def find_gripper_triplets(clip: Clip, config: ManipulationConfig) -> tuple[list[TripletCandidate], list[Reject]]:
    """Find grab_release triplets for every arm of the clip: labels (s, -s, -s) with s = Closed or Opened.

    Returns:
        ``(candidates, rejects)``; the subject of each candidate is its arm (``left`` / ``right``).
    """
    window = RetrievalWindow(
        min_delta=config.gripper_min_delta, max_delta=1.0, max_magnitude_ratio=config.max_magnitude_ratio
    )
    candidates: list[TripletCandidate] = []
    rejects: list[Reject] = []
    for arm in sorted({name.split(".")[0] for name in clip.tracks if name.endswith(".gripper_closed")}):
        track = clip.tracks[f"{arm}.gripper_closed"]
        if float(track.max() - track.min()) < config.gripper_min_delta:
            # A gripper that never moves by a stated change has no grab_release: say so once, not per anchor.
            rejects.append(
                Reject(
                    stage="rule",
                    source=clip.source,
                    clip_id=clip.clip_id,
                    reason="gripper_still",
                    detail=f"{arm} gripper closedness spans [{track.min():.3f}, {track.max():.3f}] in this clip, "
                    f"less than gripper_min_delta {config.gripper_min_delta}: no grab_release triplets",
                )
            )
            continue
        found, dropped = find_retrieval_triplets(
            clip.tracks[f"{arm}.gripper_closed"][:, None], None, window, anchor_stride=config.anchor_stride
        )
        more, less = retrieved_to_records(
            clip,
            found,
            dropped,
            family="grab_release",
            rule="state_flip",
            attribute_names=GRIPPER_ATTRIBUTES,
            subject=arm,
            about=f"{arm} arm",
        )
        candidates += more
        rejects += less
    return candidates, rejects

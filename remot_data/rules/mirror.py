"""Mirror augmentation: flip the images horizontally and swap every left/right, in the values and in the arm.

A mirrored image shows the robot's left arm on the right, moving the other way sideways, so the triplet's subject
arm swaps and every lateral value changes sign; the question rendered from the mirrored candidate then says
"right" wherever the original said "left". Vertical, gripper and angle values are unchanged.
"""

from __future__ import annotations

from dataclasses import replace

from remot_data.records import TripletCandidate
from schemas import load_vocabulary

# Attributes whose sign is a left/right direction (on the vocabulary's horizontal axis): mirroring negates them.
LATERAL_ATTRIBUTES = frozenset(name for name, axes in load_vocabulary().attributes.items() if "h" in axes)
SWAPPED_SUBJECT = {"left": "right", "right": "left"}


def mirror_candidate(candidate: TripletCandidate) -> TripletCandidate:
    """Return the mirrored copy of a candidate (images flagged for a horizontal flip, left/right swapped).

    Example:
        >>> from remot_data.records import ImageSpec
        >>> c = TripletCandidate(source="lerobot", clip_id="e", family="move_lr", rule="direction_flip",
        ...     negative_method="retrieval", images=(ImageSpec(frame_index=0),) * 3, attribute_names=("left_m",),
        ...     values_12=(0.1,), values_13=(-0.1,), values_23=(-0.2,), magnitude=0.1, margin=0.05, subject="left")
        >>> m = mirror_candidate(c)
        >>> m.subject, m.values_12, m.images[0].mirror
        ('right', (-0.1,), True)
    """

    def flip(values: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(
            -v if name in LATERAL_ATTRIBUTES else v for name, v in zip(candidate.attribute_names, values, strict=True)
        )

    return replace(
        candidate,
        images=tuple(replace(spec, mirror=not spec.mirror) for spec in candidate.images),
        subject=SWAPPED_SUBJECT.get(candidate.subject, candidate.subject),
        values_12=flip(candidate.values_12),
        values_13=flip(candidate.values_13),
        values_23=flip(candidate.values_23),
    )

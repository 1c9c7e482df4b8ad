"""Retrieval of contrast triplets from per-frame attribute tracks, all three frames from one clip.

The positive moves +s from the anchor and the negative -s, chosen by the sign of the attribute (ReMoT's AgiBot
data), never by reversing time. Numpy plus remot_data records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from remot_data.records import Clip, FamilyName, ImageSpec, Reject, RuleName, TripletCandidate

TIE_DECIMALS = 9  # selection criteria are compared at 1e-9 of their units


@dataclass(frozen=True, kw_only=True)
class RetrievalWindow:
    """Thresholds of one retrieval rule (units of the attribute).

    Attributes:
        min_delta: Smallest change on every main axis (below it the label would be ambiguous).
        max_delta: Largest change on every main axis from image 1 to images 2 and 3 (removes trivial cases).
        off_axis_ratio: Off-axis change must stay below this fraction of the smallest main-axis change.
        balance: With two main axes, the larger change may be at most this multiple of the smaller.
        max_magnitude_ratio: The negative's change may differ from the positive's by at most this factor.
    """

    min_delta: float
    max_delta: float
    off_axis_ratio: float = 1.0
    balance: float = float("inf")
    max_magnitude_ratio: float = 1.5


@dataclass(frozen=True, kw_only=True)
class RetrievedTriplet:
    """Positions (in the clip) and signed main-axis values of a retrieved triplet.

    Attributes:
        anchor: Anchor position.
        positive: Positive position.
        negative: Negative position.
        values_12: Main-axis change from anchor to positive.
        values_13: Change from anchor to negative.
        values_23: Change from positive to negative.
        margin: Smallest distance of a 1->2 or 1->3 change to a window edge.
    """

    anchor: int
    positive: int
    negative: int
    values_12: tuple[float, ...]
    values_13: tuple[float, ...]
    values_23: tuple[float, ...]
    margin: float


def _pair_masks(
    delta: npt.NDArray[np.float64], off_delta: npt.NDArray[np.float64], window: RetrievalWindow, *, windowed: bool
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Return (valid, margin) for changes ``delta`` (N, k) with off-axis changes ``off_delta`` (N, m)."""
    size = np.abs(delta)
    smallest = size.min(axis=1)
    valid = smallest >= window.min_delta
    margin = smallest - window.min_delta
    if windowed:
        valid &= size.max(axis=1) <= window.max_delta
        margin = np.minimum(margin, window.max_delta - size.max(axis=1))
    if off_delta.shape[1]:
        valid &= np.abs(off_delta).max(axis=1) <= window.off_axis_ratio * smallest
    if delta.shape[1] > 1:
        valid &= size.max(axis=1) <= window.balance * np.maximum(smallest, 1e-12)
    return valid, margin


def find_retrieval_triplets(
    main: npt.NDArray[np.float64],
    off: npt.NDArray[np.float64] | None,
    window: RetrievalWindow,
    *,
    anchor_stride: int = 1,
    anchors: Sequence[int] | None = None,
    times: npt.NDArray[np.float64] | None = None,
    max_time: float | None = None,
) -> tuple[list[RetrievedTriplet], list[tuple[int, str]]]:
    """Find (anchor, positive, negative) triplets whose main-axis changes are (s, -s, -s).

    For each anchor (every ``anchor_stride`` positions) the positive is the frame whose change lies deepest inside
    the window (ties: nearest in time); the negative has the opposite sign on every main axis and the change
    magnitude closest to the positive's. Off-axis motion is limited on all three pairs, so the labels are unambiguous.

    Args:
        main: Per-frame values of the asked attribute(s), shape (N, k) with k in {1, 2}.
        off: Per-frame values that must stay still in comparison, shape (N, m), or None.
        window: Thresholds.
        anchor_stride: Positions between anchors (when ``anchors`` is not given).
        anchors: The anchor positions (overrides ``anchor_stride``).
        times: Each position's time (default: the position); ties go to the frame nearest in time.
        max_time: Positive and negative lie at most this far in time from the anchor (None: anywhere). A NaN value
            (an attribute the frame cannot state) keeps that frame out.

    Returns:
        ``(triplets, rejects)`` where each reject is ``(anchor position, reason)``.

    Example:
        >>> import numpy as np
        >>> z = np.r_[np.zeros(5), np.linspace(0, 0.2, 5), np.full(5, 0.2), np.linspace(0.2, -0.2, 5)][:, None]
        >>> found, _ = find_retrieval_triplets(z, None, RetrievalWindow(min_delta=0.05, max_delta=0.3), anchor_stride=5)
        >>> [(t.anchor, t.positive, t.negative) for t in found][:1]
        [(0, 8, 18)]
    """
    main = np.asarray(main, dtype=np.float64)
    off = np.zeros((len(main), 0)) if off is None else np.asarray(off, dtype=np.float64)
    times = np.arange(len(main), dtype=np.float64) if times is None else np.asarray(times, dtype=np.float64)
    triplets, rejects = [], []
    for i in range(0, len(main), anchor_stride) if anchors is None else anchors:
        delta, off_delta = main - main[i], off - off[i]
        valid, margin = _pair_masks(delta, off_delta, window, windowed=True)
        distance = np.abs(times - times[i])
        if max_time is not None:
            valid &= distance <= max_time
        valid[i] = False
        if not valid.any():
            rejects.append((i, "no_positive_in_window"))
            continue
        # Criteria are compared at TIE_DECIMALS: float noise (forward kinematics, unit conversions) never breaks a
        # tie; ties go to the frame nearest the anchor.
        order = np.lexsort((distance, -np.round(np.where(valid, margin, -np.inf), TIE_DECIMALS)))
        j = int(order[0])
        sign = np.sign(delta[j])
        size_j = float(np.linalg.norm(delta[j]))
        opposite = valid & np.all(np.sign(delta) == -sign, axis=1)
        opposite[[i, j]] = False
        sizes = np.linalg.norm(delta, axis=1)
        ratio = np.maximum(sizes, size_j) / np.maximum(np.minimum(sizes, size_j), 1e-12)
        opposite &= ratio <= window.max_magnitude_ratio
        valid_23, _ = _pair_masks(main - main[j], off - off[j], window, windowed=False)
        opposite &= valid_23
        if not opposite.any():
            rejects.append((i, "no_opposite_frame"))
            continue
        k = int(np.lexsort((distance, np.where(opposite, np.round(np.abs(sizes - size_j), TIE_DECIMALS), np.inf)))[0])
        triplets.append(
            RetrievedTriplet(
                anchor=i,
                positive=j,
                negative=k,
                values_12=tuple(float(v) for v in delta[j]),
                values_13=tuple(float(v) for v in delta[k]),
                values_23=tuple(float(v) for v in main[k] - main[j]),
                margin=float(min(margin[j], margin[k])),
            )
        )
    return triplets, rejects


def plain_images(t: RetrievedTriplet) -> tuple[ImageSpec, ...]:
    """Return the three whole frames of a retrieved triplet."""
    return tuple(ImageSpec(frame_index=p) for p in (t.anchor, t.positive, t.negative))


def retrieved_to_records(
    clip: Clip,
    found: list[RetrievedTriplet],
    dropped: list[tuple[int, str]],
    *,
    family: FamilyName,
    rule: RuleName,
    attribute_names: tuple[str, ...],
    subject: str = "",
    about: str = "",
    reason_prefix: str = "",
    images: Callable[[RetrievedTriplet], tuple[ImageSpec, ...]] = plain_images,
) -> tuple[list[TripletCandidate], list[Reject]]:
    """Turn retrieval results of one family (and subject) into candidates and rejects rows.

    Args:
        clip: The clip the positions index.
        found: Retrieved triplets.
        dropped: ``(anchor position, reason)`` of every dropped anchor.
        family: Question family.
        rule: Contrast rule.
        attribute_names: Names of the values.
        subject: The candidates' subject (an arm, an object category; empty for none).
        about: What a reject's detail names after the family (``left arm``, ``pedestrian 7``).
        reason_prefix: Put before each reject reason (families sharing a rule file keep theirs apart).
        images: The three images of a triplet (default: its whole frames).
    """
    candidates = [
        TripletCandidate(
            source=clip.source,
            clip_id=clip.clip_id,
            family=family,
            rule=rule,
            negative_method="retrieval",
            subject=subject,
            images=images(t),
            attribute_names=attribute_names,
            values_12=t.values_12,
            values_13=t.values_13,
            values_23=t.values_23,
            magnitude=max(abs(v) for v in t.values_12),
            margin=t.margin,
        )
        for t in found
    ]
    rejects = [
        Reject(
            stage="rule",
            source=clip.source,
            clip_id=clip.clip_id,
            reason=reason_prefix + reason,
            frame_index=clip.frames[i].frame_index,
            detail=f"{' '.join(filter(None, (family, about)))}, anchor frame {clip.frames[i].frame_index}: {reason}",
        )
        for i, reason in dropped
    ]
    return candidates, rejects


def swap_positive_negative(candidate: TripletCandidate) -> TripletCandidate:
    """Return the triplet with images 2 and 3 exchanged: labels (s, -s, -s) become (-s, s, s), the same structure.

    Retrieval picks the positive as the frame deepest inside the window, so the anchor->positive direction follows
    the clip's dominant motion; exchanging half of the triplets (seeded) balances the stated directions.

    Example:
        >>> c = TripletCandidate(source="lerobot", clip_id="e", family="lift_lower", rule="direction_flip",
        ...     negative_method="retrieval", images=(ImageSpec(frame_index=0), ImageSpec(frame_index=5),
        ...     ImageSpec(frame_index=9)), attribute_names=("up_m",), values_12=(0.1,), values_13=(-0.12,),
        ...     values_23=(-0.22,), magnitude=0.1, margin=0.05, subject="left")
        >>> s = swap_positive_negative(c)
        >>> [i.frame_index for i in s.images], s.values_12, s.values_23, s.magnitude
        ([0, 9, 5], (-0.12,), (0.22,), 0.12)
    """
    return replace(
        candidate,
        images=(candidate.images[0], candidate.images[2], candidate.images[1]),
        values_12=candidate.values_13,
        values_13=candidate.values_12,
        values_23=tuple(-v for v in candidate.values_23),
        magnitude=max(abs(v) for v in candidate.values_13),
    )

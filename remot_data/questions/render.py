"""Render a triplet candidate into its prompt, labels, options and answer letters, from a recorded seed.

Options are shuffled independently per sub-question; "No rotation" / "No movement" is always offered. Takes
records, never a reader.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from remot_data.questions.templates import (
    CAMERA_DIRECTIONS,
    DEGREES,
    LETTERS,
    NO_ROTATION,
    PAIRS,
    format_camera_prompt,
)
from remot_data.records import TripletCandidate
from remot_data.rules.registry import QuestionConfig


@dataclass(frozen=True, kw_only=True)
class Question:
    """A rendered question.

    Attributes:
        prompt: The user prompt.
        labels: Correct option text per sub-question.
        options: Offered options per sub-question, in letter order.
        answer: Correct letters, one per sub-question.
        seed: Seed the shuffle and distractors were drawn from.
    """

    prompt: str
    labels: tuple[str, ...]
    options: tuple[tuple[str, ...], ...]
    answer: str
    seed: int

    @property
    def solution(self) -> str:
        """Return the answer as the release writes it: ``<answer>LETTERS</answer>``."""
        return f"<answer>{self.answer}</answer>"


def derive_seed(*parts: object) -> int:
    """Return a stable 63-bit seed from the given parts (independent of Python's hash randomisation).

    Example:
        >>> derive_seed("scene0000_00", 10) == derive_seed("scene0000_00", 10)
        True
    """
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def round_angle_deg(value: float) -> int:
    """Round |value| half up to whole degrees (Python's round() would round half to even).

    Example:
        >>> round_angle_deg(-12.5)
        13
    """
    return int(math.floor(abs(value) + 0.5))


def camera_labels(
    values: tuple[tuple[float, ...], ...], *, dead_band_deg: float
) -> list[tuple[str, str, int, int, str]]:
    """Return ``(axis, kind, a, b, label)`` for the 12 camera sub-questions in release order.

    Args:
        values: ``(values_12, values_13, values_23)``, each ``(pan_right_deg, tilt_up_deg)``.
        dead_band_deg: Below this |angle| the label is "No rotation".

    Returns:
        Per pair: horizontal direction, horizontal angle, vertical direction, vertical angle.
    """
    out = []
    for (a, b), pair_values in zip(PAIRS, values, strict=True):
        for axis, value in zip(("horizontal", "vertical"), pair_values, strict=True):
            negative_word, positive_word = CAMERA_DIRECTIONS[axis]
            if abs(value) < dead_band_deg:
                direction = angle = NO_ROTATION
            else:
                direction = positive_word if value > 0 else negative_word
                angle = DEGREES.format(angle=round_angle_deg(value))
            out.append((axis, "direction", a, b, direction))
            out.append((axis, "angle", a, b, angle))
    return out


def _angle_options(label: str, rng: np.random.Generator, config: QuestionConfig) -> list[str]:
    """Return "No rotation", the correct angle (if any) and random distractor angles: 3 or 4 options, unshuffled."""
    n_options = int(rng.integers(3, 5))
    taken: list[int] = []
    if label != NO_ROTATION:
        taken.append(int(label.split()[0]))
    n_numbers = n_options - 1
    while len(taken) < n_numbers:
        angle = int(rng.integers(1, config.angle_distractor_max_deg + 1))
        if all(
            abs(angle - t) >= max(config.angle_distractor_min_gap_deg, config.angle_distractor_min_gap_ratio * t)
            for t in taken
        ):
            taken.append(angle)
    return [NO_ROTATION] + [DEGREES.format(angle=t) for t in taken]


def render_question(
    candidate: TripletCandidate, *, seed: int, dead_band_deg: float, config: QuestionConfig
) -> Question:
    """Render a candidate's prompt and answer in the ReMoT wording of its family.

    Args:
        candidate: The triplet.
        seed: Seed of the shuffle and distractor draw (recorded in the row).
        dead_band_deg: The rule's dead-band: below it a value reads as no rotation.
        config: Distractor settings.

    Returns:
        The question.

    Raises:
        ValueError: For a family without a template.

    Example:
        >>> from remot_data.rules.registry import load_rule_preset
        >>> from remot_data.records import ImageSpec
        >>> c = TripletCandidate(source="scannet", clip_id="s", family="camera_rotation", rule="direction_flip",
        ...     negative_method="retrieval", images=(ImageSpec(frame_index=0),) * 3,
        ...     attribute_names=("pan_right_deg", "tilt_up_deg"), values_12=(10.0, 0.0), values_13=(-10.0, 0.0),
        ...     values_23=(-20.0, 0.0), magnitude=10.0, margin=5.0)
        >>> q = render_question(c, seed=1, dead_band_deg=2.0, config=load_rule_preset("v1").questions)
        >>> q.labels[:4]
        ('Right', '10 degrees', 'No rotation', 'No rotation')
    """
    if candidate.family != "camera_rotation":
        raise ValueError(f"no question template for family {candidate.family!r}; expected 'camera_rotation'")
    rng = np.random.default_rng(seed)
    items = camera_labels((candidate.values_12, candidate.values_13, candidate.values_23), dead_band_deg=dead_band_deg)
    questions, labels, options_all, letters = [], [], [], []
    for axis, kind, a, b, label in items:
        options = [*CAMERA_DIRECTIONS[axis], NO_ROTATION] if kind == "direction" else _angle_options(label, rng, config)
        options = [options[i] for i in rng.permutation(len(options))]
        questions.append((axis, kind, a, b, options))
        labels.append(label)
        options_all.append(tuple(options))
        letters.append(LETTERS[options.index(label)])
    return Question(
        prompt=format_camera_prompt(questions),
        labels=tuple(labels),
        options=tuple(options_all),
        answer="".join(letters),
        seed=seed,
    )

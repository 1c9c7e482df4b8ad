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
    format_agibot_prompt,
    format_camera_prompt,
    format_object_prompt,
)
from remot_data.records import TripletCandidate
from remot_data.rules.families import FAMILIES
from remot_data.rules.families import family as family_entry
from remot_data.rules.registry import QuestionConfig, RulePreset
from schemas import load_vocabulary

VOCABULARY = load_vocabulary()


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


MAX_DISTRACTOR_DRAWS = 10_000


def _uniform_numbers(taken: list[int], n_numbers: int, rng: np.random.Generator, config: QuestionConfig) -> list[int]:
    """v1's draw: distractors anywhere in [1, max] that keep the gap (they are mostly larger than the truth)."""
    for _ in range(MAX_DISTRACTOR_DRAWS):  # bounded: the preset's check makes this enough by a wide margin
        if len(taken) >= n_numbers:
            return taken
        angle = int(rng.integers(1, config.angle_distractor_max_deg + 1))
        if config.keeps_gap(angle, taken):
            taken.append(angle)
    raise ValueError(
        f"cannot draw {n_numbers} angle options in {MAX_DISTRACTOR_DRAWS} draws: the preset's "
        "questions.angle_distractor_* settings leave no room"
    )


def _numbers_around(truth: int, n_numbers: int, rng: np.random.Generator, config: QuestionConfig) -> list[int]:
    """v2's draw: the truth's rank among the offered numbers is uniform, distractors are stepped off it.

    Each step is the gap the preset demands times a factor from [1, spread], so neither the rank, nor the size,
    nor the distance to the nearest option tells the truth apart. A rank that would need a number below 1 (a small
    truth) moves the distractor above instead.
    """
    below = int(rng.integers(0, n_numbers))  # distractors smaller than the truth
    numbers = [truth]
    for direction in [-1] * below + [1] * (n_numbers - 1 - below):
        for _ in range(2):  # this direction, then the other one when it runs out of room
            edge = min(numbers) if direction < 0 else max(numbers)
            step = max(config.angle_distractor_min_gap_deg, config.angle_distractor_min_gap_ratio * edge)
            candidate = int(round(edge + direction * step * rng.uniform(1.0, config.angle_distractor_spread)))
            lowest = int(math.floor(edge - step))  # the largest number below the edge that keeps the gap
            if config.angle_distractor_floor == "clamp" and direction < 0 and candidate < 1 <= lowest:
                # a step past 1 lands in the room there is below (v5): moving above instead made a truth at the
                # window's floor the smallest number offered 58 % of the time where chance is 41 %
                candidate = int(rng.integers(1, lowest + 1))
            while not config.keeps_gap(candidate, numbers) and 1 <= candidate <= config.angle_distractor_max_deg:
                candidate += direction
            if 1 <= candidate <= config.angle_distractor_max_deg:
                numbers.append(candidate)
                break
            direction = -direction
        else:
            raise ValueError(f"cannot place {n_numbers} angle options around {truth} within the preset's range")
    return numbers


def _angle_options(label: str, rng: np.random.Generator, preset: RulePreset) -> list[str]:
    """Return "No rotation", the correct angle (if any) and distractor angles: 3 or 4 options, unshuffled."""
    config = preset.questions
    n_numbers = int(rng.integers(3, 5)) - 1
    truth = None if label == NO_ROTATION else int(label.split()[0])
    if config.angle_distractor_policy == "uniform":
        numbers = _uniform_numbers([] if truth is None else [truth], n_numbers, rng, config)
    else:
        # With no rotation, the numbers are drawn around a pseudo-truth from the stated window, so that the numbers
        # offered look the same whether or not one of them is right.
        window = preset.camera_rotation
        center = truth if truth is not None else int(rng.integers(round(window.min_deg), round(window.max_deg) + 1))
        numbers = _numbers_around(center, n_numbers + (truth is None), rng, config)
        if truth is None:
            numbers.remove(center)
    return [NO_ROTATION] + [DEGREES.format(angle=t) for t in numbers]


def family_words(family: str) -> tuple[str, ...]:
    """Return the direction words a three-question family offers besides its "no change" word, in vocabulary order."""
    return tuple(next(iter(VOCABULARY.families[family]["directions"].values())))


def agibot_label(family: str, values: tuple[float, ...], *, dead_band: float) -> str:
    """Return the option text for one pair of a three-question family from its signed values.

    The family's attributes (``rules/families.py``; ``move_complex``: left_m, up_m) give each value its axis and
    sign (``schemas/vocabulary.yaml`` ``attributes``). A value inside the dead-band on any asked axis reads "no
    change"; otherwise the label is the family's word whose axis signs match the values'.

    Example:
        >>> agibot_label("move_complex", (0.1, -0.2), dead_band=0.01)
        'Lower left'
        >>> agibot_label("grab_release", (-0.6,), dead_band=0.1)
        'Opened'

    """
    attributes = FAMILIES[family].attributes
    if any(abs(v) < dead_band for v in values[: len(attributes)]):
        return VOCABULARY.no_change(family)
    signs: dict[str, int] = {}
    for name, value in zip(attributes, values, strict=False):
        for axis, flip in VOCABULARY.attributes[name].items():
            signs[axis] = flip * (1 if value > 0 else -1)
    return next(word for word in family_words(family) if VOCABULARY.directions[word] == signs)


def family_labels(family: str, values: tuple[tuple[float, ...], ...], preset: RulePreset) -> list[str]:
    """Return the correct option text of every sub-question of a family, in answer order.

    Args:
        family: Question family.
        values: ``(values_12, values_13, values_23)``.
        preset: Gives the family's dead-band (``rules/families.py``).

    Raises:
        ValueError: For a family the table does not hold, or one whose preset section the preset lacks.
    """
    try:
        entry = family_entry(family)
        dead_band = entry.dead_band_of(preset)
    except (KeyError, ValueError) as err:
        raise ValueError(f"no question template for family {family!r} under preset {preset.name}: {err}") from None
    if entry.template == "camera":
        return [item[4] for item in camera_labels(values, dead_band_deg=dead_band)]
    return [agibot_label(family, v, dead_band=dead_band) for v in values]


def render_question(candidate: TripletCandidate, *, seed: int, preset: RulePreset) -> Question:
    """Render a candidate's prompt and answer in the ReMoT wording of its family.

    Args:
        candidate: The triplet.
        seed: Seed of the shuffle and distractor draw (recorded in the row).
        preset: Dead-bands (what reads as no motion) and distractor settings.

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
        >>> q = render_question(c, seed=1, preset=load_rule_preset("v1"))
        >>> q.labels[:4]
        ('Right', '10 degrees', 'No rotation', 'No rotation')
    """
    values = (candidate.values_12, candidate.values_13, candidate.values_23)
    labels = family_labels(candidate.family, values, preset)
    rng = np.random.default_rng(seed)
    template = FAMILIES[candidate.family].template
    if template == "camera":
        items = camera_labels(values, dead_band_deg=FAMILIES[candidate.family].dead_band_of(preset))
        questions, options_all = [], []
        for axis, kind, a, b, label in items:
            if kind == "direction":
                options = [*CAMERA_DIRECTIONS[axis], NO_ROTATION]
            else:
                options = _angle_options(label, rng, preset)
            options = [options[i] for i in rng.permutation(len(options))]
            questions.append((axis, kind, a, b, options))
            options_all.append(options)
        prompt = format_camera_prompt(questions)
    else:
        base = [*family_words(candidate.family), VOCABULARY.no_change(candidate.family)]
        options_all = [[base[i] for i in rng.permutation(len(base))] for _ in PAIRS]
        if template == "object":
            ghost_s = preset.objects.ghost_s if preset.objects is not None else 0.0
            prompt = format_object_prompt(candidate.family, candidate.subject, options_all, ghost_s=ghost_s)
        else:
            prompt = format_agibot_prompt(candidate.family, candidate.subject, options_all)
    letters = "".join(LETTERS[options.index(label)] for options, label in zip(options_all, labels, strict=True))
    return Question(
        prompt=prompt, labels=tuple(labels), options=tuple(tuple(o) for o in options_all), answer=letters, seed=seed
    )

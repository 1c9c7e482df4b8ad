"""Option labels as motion signs: decode answers into per-axis signs, check them, and transform them.

Used by the rewards (logical consistency) and the evaluation (consistency rate, temporal controls). The words and
their signs are the contract's (``schemas/vocabulary.yaml``). Pure Python.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas import load_vocabulary

_VOCABULARY = load_vocabulary()
LETTERS = _VOCABULARY.letters
# Axis signs of every direction word (schemas/vocabulary.yaml): h = horizontal (+ right), v = vertical (+ up),
# g = gripper (+ closing).
LABEL_SIGNS: dict[str, dict[str, int]] = _VOCABULARY.directions


def is_direction_question(options: Sequence[str]) -> bool:
    """Return whether a sub-question asks for a direction (its options hold direction words)."""
    return any(o in LABEL_SIGNS for o in options)


def letters_to_labels(answer: str, options: Sequence[Sequence[str]]) -> list[str] | None:
    """Return the option texts chosen by ``answer``, or None if it has the wrong length or an unoffered letter.

    Example:
        >>> letters_to_labels("BA", [["Up", "Down"], ["Left", "Right", "No rotation"]])
        ['Down', 'Left']
    """
    if len(answer) != len(options):
        return None
    out = []
    for letter, offered in zip(answer, options, strict=True):
        index = LETTERS.find(letter)
        if index < 0 or index >= len(offered):
            return None
        out.append(offered[index])
    return out


def pair_signs(labels: Sequence[str], options: Sequence[Sequence[str]]) -> list[dict[str, int]] | None:
    """Return per pair (1->2, 1->3, 2->3) the sign of each asked axis, from the direction sub-questions.

    Sub-questions are split evenly over the three pairs, in order. A "No ..." label gives 0 on every axis the
    sub-question's options mention.

    Returns:
        Three dicts ``{axis: sign}``, or None when the item is not a three-pair item.
    """
    if not labels or len(labels) % 3 or len(labels) != len(options):
        return None
    per_pair = len(labels) // 3
    out: list[dict[str, int]] = []
    for p in range(3):
        signs: dict[str, int] = {}
        for label, offered in zip(
            labels[p * per_pair : (p + 1) * per_pair], options[p * per_pair : (p + 1) * per_pair], strict=True
        ):
            if not is_direction_question(offered):
                continue
            axes = {axis for o in offered for axis in LABEL_SIGNS.get(o, {})}
            for axis in axes:
                signs[axis] = LABEL_SIGNS.get(label, {}).get(axis, 0)
        out.append(signs)
    return out if any(out) else None


def composition_consistent(signs: Sequence[dict[str, int]]) -> bool:
    """Return whether the 1->3 signs can follow from 1->2 then 2->3 on every axis.

    Same signs (or one zero) fix the 1->3 sign; opposite signs allow any.

    Example:
        >>> composition_consistent([{"h": 1}, {"h": -1}, {"h": -1}])
        True
        >>> composition_consistent([{"h": 1}, {"h": 0}, {"h": 1}])  # 1->2 right, 2->3 right, yet 1->3 still
        False
    """
    s12, s13, s23 = signs
    for axis in set(s12) | set(s13) | set(s23):
        a, b, c = s12.get(axis, 0), s23.get(axis, 0), s13.get(axis, 0)
        if a * b < 0:
            continue
        expected = a if a != 0 else b
        if c != expected:
            return False
    return True


def matches_flip_structure(signs: Sequence[dict[str, int]]) -> bool:
    """Return whether the signs have the contrast-triplet structure (s, -s, -s) with s moving on some axis.

    Example:
        >>> matches_flip_structure([{"h": 1, "v": 0}, {"h": -1, "v": 0}, {"h": -1, "v": 0}])
        True
    """
    s12, s13, s23 = signs
    axes = set(s12) | set(s13) | set(s23)
    moving = any(s12.get(a, 0) for a in axes)
    return moving and all(s13.get(a, 0) == -s12.get(a, 0) == s23.get(a, 0) for a in axes)


def negate_label(label: str) -> str:
    """Return the label of the reversed motion: directions flip, "No ..." and angles stay.

    Example:
        >>> negate_label("Upper left"), negate_label("13 degrees")
        ('Lower right', '13 degrees')
    """
    return _VOCABULARY.opposite(label)


def permuted_sources(n_questions: int, permutation: Sequence[int]) -> list[tuple[int, bool]]:
    """Return, per sub-question of the permuted item, the original sub-question it reads and whether it runs backwards.

    Args:
        n_questions: Number of sub-questions (evenly split over pairs 1->2, 1->3, 2->3).
        permutation: ``permutation[k]`` is the original image (0-based) shown as image k+1.

    Example:
        >>> permuted_sources(3, [2, 1, 0])  # reversed: new 1->2 is old 3->2, i.e. old 2->3 backwards
        [(2, True), (1, True), (0, True)]
    """
    pairs = [(0, 1), (0, 2), (1, 2)]
    per_pair = n_questions // 3
    out = []
    for a, b in pairs:
        old_a, old_b = permutation[a], permutation[b]
        index = pairs.index((min(old_a, old_b), max(old_a, old_b)))
        out.extend((index * per_pair + q, old_a > old_b) for q in range(per_pair))
    return out


def permute_labels(labels: Sequence[str], permutation: Sequence[int]) -> list[str]:
    """Return the labels of the same item when the images are shown in ``permutation`` order.

    New pair (a, b) is old pair (π(a), π(b)), negated when that runs backwards.

    Example:
        >>> permute_labels(["Right", "Left", "Left"], [2, 1, 0])  # reversed order
        ['Right', 'Right', 'Left']
    """
    return [
        negate_label(labels[j]) if backwards else labels[j]
        for j, backwards in permuted_sources(len(labels), permutation)
    ]

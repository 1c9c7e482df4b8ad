"""Temporal controls: the same items with the images reversed or shuffled, ground truth transformed to match.

If a model's accuracy does not drop (or its answers do not follow the transformed truth), it is not using the order
and motion of the images. Pure Python.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Literal

from remot_train.eval.loaders import ReferenceItem
from remot_train.labels import LETTERS, permute_labels

ControlKind = Literal["reversed", "shuffled"]
CONTROL_SEP = "#"
REVERSED = (2, 1, 0)


def control_permutation(item_id: str, kind: ControlKind) -> tuple[int, int, int]:
    """Return the image order of a control: reversed, or a seeded non-identity shuffle per item."""
    if kind == "reversed":
        return REVERSED
    rng = random.Random(f"shuffle\x1f{item_id}")
    while True:
        order = [0, 1, 2]
        rng.shuffle(order)
        if order != [0, 1, 2]:
            return tuple(order)


def make_control_item(item: ReferenceItem, kind: ControlKind) -> ReferenceItem | None:
    """Return the control variant of an item, or None when its labels cannot be transformed.

    Undefined for items without three-pair structure, without parsed options, or whose transformed label is not
    among the offered options.
    """
    if len(item.images) != 3 or not item.options or len(item.options) != len(item.gt_answer) or len(item.options) % 3:
        return None
    labels = [
        item.options[i][LETTERS.index(c)]
        for i, c in enumerate(item.gt_answer)
        if LETTERS.index(c) < len(item.options[i])
    ]
    if len(labels) != len(item.gt_answer):
        return None
    order = control_permutation(item.id, kind)
    new_labels = permute_labels(labels, order)
    try:
        answer = "".join(LETTERS[list(opts).index(label)] for opts, label in zip(item.options, new_labels, strict=True))
    except ValueError:
        return None
    return replace(
        item, id=f"{item.id}{CONTROL_SEP}{kind}", gt_answer=answer, images=tuple(item.images[k] for k in order)
    )


def make_controls(items: list[ReferenceItem], kinds: tuple[ControlKind, ...]) -> list[ReferenceItem]:
    """Return the defined control variants of the items for each kind."""
    return [c for kind in kinds for item in items if (c := make_control_item(item, kind)) is not None]

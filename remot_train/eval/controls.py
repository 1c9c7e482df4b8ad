"""Temporal controls: the same items with the images reversed or shuffled, ground truth transformed to match.

If a model's accuracy does not drop (or its answers do not follow the transformed truth), it is not using the order
and motion of the images. Pure Python.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from remot_train.eval.config import ControlKind
from remot_train.eval.loaders import ReferenceItem
from remot_train.labels import LETTERS, negate_label, permuted_sources

CONTROL_SEP = "#"
REVERSED = (2, 1, 0)
# The option list of a ReMoT sub-question: after "options, " (camera) or "? " (AgiBot) up to the final period.
OPTIONS_SEGMENT_RE = re.compile(r"(?:options, |\? )((?:[A-E]: [^,]+?)(?:, [A-E]: [^,]+?)*)\.?$")


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


def rewrite_options(prompt: str, index: int, options: tuple[str, ...]) -> str:
    """Return the prompt with the options of its ``index``-th sub-question replaced (ReMoT wording, one per line).

    Raises:
        ValueError: If the prompt does not have that many "Please select" lines.
    """
    lines = prompt.split("\n")
    seen = -1
    for n, line in enumerate(lines):
        for _ in range(line.count("Please select")):
            seen += 1
            if seen == index:
                match = OPTIONS_SEGMENT_RE.search(line)
                if match is None:
                    raise ValueError(f"sub-question {index} has no option list: {line[:80]!r}")
                text = ", ".join(f"{LETTERS[k]}: {o}" for k, o in enumerate(options))
                lines[n] = line[: match.start(1)] + text + line[match.end(1) :]
                return "\n".join(lines)
    raise ValueError(f"prompt has no sub-question {index}")


def make_control_item(item: ReferenceItem, kind: ControlKind) -> ReferenceItem | None:
    """Return the control variant of an item, or None when its labels cannot be transformed.

    Each new sub-question reads an original one (maybe backwards: directions negate, angles stay). When its
    transformed label is not among the options the sub-question offered (angles differ per pair), the options of the
    original sub-question move with it and the prompt's option list is rewritten. Undefined (None) for items
    without three-pair structure or parsed options.
    """
    n = len(item.gt_answer)
    if len(item.images) != 3 or not item.options or len(item.options) != n or n % 3:
        return None
    if any(LETTERS.find(c) < 0 or LETTERS.find(c) >= len(item.options[i]) for i, c in enumerate(item.gt_answer)):
        return None
    labels = [item.options[i][LETTERS.index(c)] for i, c in enumerate(item.gt_answer)]
    order = control_permutation(item.id, kind)
    prompt, letters = item.prompt, []
    options = list(item.options)
    for i, (j, backwards) in enumerate(permuted_sources(n, order)):
        label = negate_label(labels[j]) if backwards else labels[j]
        if label not in options[i]:
            if label not in item.options[j]:
                return None
            options[i] = item.options[j]
            prompt = rewrite_options(prompt, i, options[i])
        letters.append(LETTERS[options[i].index(label)])
    return replace(
        item,
        id=f"{item.id}{CONTROL_SEP}{kind}",
        gt_answer="".join(letters),
        prompt=prompt,
        options=tuple(options),
        images=tuple(item.images[k] for k in order),
    )


def make_controls(items: list[ReferenceItem], kinds: tuple[ControlKind, ...]) -> list[ReferenceItem]:
    """Return the defined control variants of the items for each kind."""
    return [c for kind in kinds for item in items if (c := make_control_item(item, kind)) is not None]

"""GRPO reward components with TRL's reward signature, each logged on its own by the trainer.

``reward(completions, solution, **kwargs) -> list[float | None]``: wrong is 0.0 (or negative where stated) and
unscorable is None (TRL skips it). Pure Python; the dataset columns ``solution`` and ``options`` come in as kwargs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from remot_train.labels import (
    LETTERS,
    composition_consistent,
    letters_to_labels,
    matches_flip_structure,
    pair_signs,
)

ANSWER_RE = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.IGNORECASE | re.DOTALL)
# The think block may open in the prompt: Qwen3-VL-Thinking's chat template ends the generation prompt with
# "<think>\n", so a real completion starts inside the block and only closes it. The thinking may hold no tag of its
# own (a second </think>, an <answer>): otherwise text after a first </think> would pass as thinking for the format
# while escaping the length penalty, and an answer inside the thinking would earn format credit.
_NO_TAG = r"(?:(?!</?think>|</?answer>).)*"
THINK_RE = re.compile(rf"^\s*(?:<think>)?({_NO_TAG})</think>", re.DOTALL | re.IGNORECASE)
FORMAT_RE = re.compile(
    rf"^\s*(?:<think>)?({_NO_TAG})</think>\s*<answer>\s*([A-Ea-e]+)\s*</answer>\s*$", re.DOTALL | re.IGNORECASE
)
AccuracyMode = Literal["exact", "per_char"]
RewardName = Literal["format", "accuracy", "think_length", "consistency"]  # the components build_reward_functions makes


def completion_text(completion: Any) -> str:
    """Return the text of a completion: a string, or TRL's conversational ``[{"role", "content"}]``."""
    if isinstance(completion, str):
        return completion
    content = completion[0]["content"] if completion else ""
    if isinstance(content, list):  # multimodal content items
        return "".join(item.get("text") or "" for item in content if item.get("type") == "text")
    return content or ""


def solution_letters(solution: str) -> str | None:
    """Return the letters of a ``<answer>LETTERS</answer>`` solution, or None if it has none."""
    match = ANSWER_RE.search(solution or "")
    letters = match.group(1).strip().upper() if match else ""
    return letters or None


def predicted_letters(text: str) -> str:
    """Return the uppercased letters of the completion's **last** ``<answer>`` block, or "" without one.

    The last block is the completion's final answer (an answer drafted inside the thinking is not); a completion
    with more than one block earns no format credit either way.

    Example:
        >>> predicted_letters("<think>maybe <answer>A</answer></think><answer>b</answer>")
        'B'
    """
    found = ANSWER_RE.findall(text)
    return found[-1].strip().upper() if found else ""


def think_text(text: str) -> str:
    """Return the reasoning of a completion: everything but its last ``<answer>`` block and the think tags.

    Words written after ``</think>`` (before, between or after answer blocks) are reasoning too: the length penalty
    counts them, so closing the block early cannot hide a long reasoning from it.

    Example:
        >>> think_text("a b</think>c d e</think><answer>A</answer>").split()
        ['a', 'b', 'c', 'd', 'e']
    """
    blocks = list(re.finditer(r"<answer>.*?</answer>", text, re.IGNORECASE | re.DOTALL))
    if blocks:
        text = text[: blocks[-1].start()] + " " + text[blocks[-1].end() :]
    return re.sub(r"</?think>", " ", text, flags=re.IGNORECASE)


def _letters_offered(letters: str, options: Sequence[Sequence[str]] | None) -> bool:
    if not options:
        return True
    return len(letters) == len(options) and all(
        LETTERS.find(c) < len(offered) for c, offered in zip(letters.upper(), options, strict=True)
    )


def format_reward(
    completions: list, solution: list[str], options: list | None = None, **kwargs: Any
) -> list[float | None]:
    """Reward thinking closed by ``</think>``, then ``<answer>`` with one offered letter per sub-question.

    1.0 for the full format: something thought (holding no tag: one ``</think>``, no answer inside), as many
    letters as the solution has, each a letter its sub-question offers (``options``), nothing but whitespace
    between ``</think>`` and ``<answer>`` or after ``</answer>``. Otherwise partial credit, 0.25 for a closed
    thinking block that holds text and 0.25 for an answer block holding letters, so a model still finds the format,
    but empty tags earn nothing.

    Example:
        >>> completions = ["looked</think><answer>AB</answer>", "<think></think><answer></answer>", "no"]
        >>> format_reward(completions, ["<answer>CA</answer>"] * 3)
        [1.0, 0.0, 0.0]
    """
    options = options or [None] * len(completions)
    out: list[float | None] = []
    for completion, sol, item_options in zip(completions, solution, options, strict=True):
        text, letters = completion_text(completion), solution_letters(sol)
        if letters is None:
            out.append(None)
            continue
        match = FORMAT_RE.match(text)
        if (
            match
            and match.group(1).strip()
            and len(match.group(2)) == len(letters)
            and _letters_offered(match.group(2), item_options)
        ):
            out.append(1.0)
            continue
        thought = THINK_RE.match(text)
        credit = 0.25 if thought and thought.group(1).strip() else 0.0
        credit += 0.25 if predicted_letters(text) else 0.0
        out.append(credit)
    return out


@dataclass(frozen=True)
class AccuracyReward:
    """The accuracy reward: exact match (1/0) or the per-letter fraction, against ``solution``.

    A small picklable callable (TRL's picklable reward form): it crosses process boundaries unchanged.

    Example:
        >>> AccuracyReward("per_char")(["<answer>ABD</answer>", "x"], ["<answer>ABC</answer>"] * 2)
        [0.6666666666666666, 0.0]
    """

    mode: AccuracyMode = "per_char"
    __name__ = "accuracy_reward"  # the name TRL logs the component under

    def __post_init__(self) -> None:
        """Refuse an unknown mode."""
        if self.mode not in get_args(AccuracyMode):
            raise ValueError(f"accuracy mode must be one of {list(get_args(AccuracyMode))}, got {self.mode!r}")

    def __call__(self, completions: list, solution: list[str], **kwargs: Any) -> list[float | None]:
        """Score each completion; None when its solution has no letters."""
        out: list[float | None] = []
        for completion, sol in zip(completions, solution, strict=True):
            gt, pred = solution_letters(sol), predicted_letters(completion_text(completion))
            if gt is None:
                out.append(None)
            elif self.mode == "exact":
                out.append(1.0 if pred == gt else 0.0)
            else:
                out.append(sum(1 for i, c in enumerate(gt) if i < len(pred) and pred[i] == c) / len(gt))
        return out


def consistency_reward(
    completions: list,
    options: list[Sequence[Sequence[str]]] | None = None,
    solution: list[str] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """Reward logically consistent pair answers (+1 x per-letter accuracy / 0 / -1).

    The answer letters are decoded to labels and per-axis signs of the pairs 1->2, 1->3, 2->3. The contrast-triplet
    structure (s, -s, -s) earns +1 scaled by the answer's per-letter accuracy (with the ``solution``), so a wrong
    answer cannot collect it; -1 when 1->3 cannot follow from 1->2 then 2->3 (a contradiction); 0 otherwise, and for
    an answer that cannot be decoded. None when the item's options are unknown.

    Example:
        >>> opts = [[["Left", "Right", "No rotation"]] * 3]
        >>> [consistency_reward([f"<answer>{a}</answer>"], opts)[0] for a in ("BAA", "BBB", "BCB")]
        [1.0, 0.0, -1.0]
        >>> consistency_reward(["<answer>BAA</answer>", "<answer>ABB</answer>"], opts * 2, ["<answer>BAA</answer>"] * 2)
        [1.0, 0.0]
    """
    if options is None:
        return [None] * len(completions)
    solutions = solution or [None] * len(completions)
    accuracy = AccuracyReward("per_char")
    out: list[float | None] = []
    for completion, item_options, sol in zip(completions, options, solutions, strict=True):
        if not item_options:
            out.append(None)
            continue
        labels = letters_to_labels(predicted_letters(completion_text(completion)), item_options)
        signs = pair_signs(labels, item_options) if labels else None
        if signs is None:
            out.append(0.0)
        elif matches_flip_structure(signs):
            right = accuracy([completion], [sol])[0] if sol is not None else 1.0
            out.append(1.0 * (right if right is not None else 1.0))
        else:
            out.append(0.0 if composition_consistent(signs) else -1.0)
    return out


@dataclass(frozen=True)
class ThinkLengthReward:
    """The think-length penalty ``-max(0, words - L) / L`` over the thinking (an unclosed block counts whole).

    Scaled by L so that one target length of overshoot costs 1.0, comparable with the other components.

    Example:
        >>> ThinkLengthReward(4)(["<think>a b c d e f</think>", "<think>a</think>"])
        [-0.5, 0.0]
    """

    target_words: int
    __name__ = "think_length_reward"  # the name TRL logs the component under

    def __call__(self, completions: list, **kwargs: Any) -> list[float | None]:
        """Score each completion."""
        out: list[float | None] = []
        for completion in completions:
            words = len(think_text(completion_text(completion)).split())
            out.append(-max(0, words - self.target_words) / self.target_words)
        return out


def build_reward_functions(
    weights: dict[str, float], *, accuracy_mode: AccuracyMode, think_target_words: int
) -> tuple[list[Callable[..., list[float | None]]], list[float]]:
    """Return the reward functions named in ``weights`` (format, accuracy, think_length, consistency) and weights.

    Raises:
        ValueError: For an unknown component name; the message lists the choices.
    """
    registry: dict[RewardName, Callable[..., list[float | None]]] = {
        "format": format_reward,
        "accuracy": AccuracyReward(accuracy_mode),
        "think_length": ThinkLengthReward(think_target_words),
        "consistency": consistency_reward,
    }
    assert set(registry) == set(get_args(RewardName)), "RewardName and the registry name the same components"
    funcs, values = [], []
    for name, weight in weights.items():
        if name not in registry:
            raise ValueError(f"unknown reward component {name!r}; expected one of {list(registry)}")
        funcs.append(registry[name])
        values.append(float(weight))
    return funcs, values

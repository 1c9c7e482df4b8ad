"""The official ReMoT metrics, reproduced exactly (release facts: ``tests/data/remot_release/README.md``).

Pure Python: no torch, no remot_data. Scores are floats in [0, 1].
"""

from __future__ import annotations

import re

ANSWER_RE = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.IGNORECASE | re.DOTALL)
THINK_END_RE = re.compile(r"</think>", re.IGNORECASE)
# Camera answers have 12 letters: [h-dir, h-angle, v-dir, v-angle] for 1->2, 1->3, 2->3. The official Table 1 "Ov" of
# the camera column is the mean over these index groups of each group's exact match (``summary.py``'s "Avg Partial
# Match"); the strict 12-letter match is that file's "Exact Match". Both are reported, each under its official name.
CAMERA_GROUPS = ((0, 4, 8), (2, 6, 10), (1, 5, 9), (3, 7, 11))
CAMERA_GROUP_NAMES = ("h_direction", "v_direction", "h_angle", "v_angle")


def extract_answer(response: str | None) -> str:
    """Return the predicted answer string of a model response, as the official evaluation extracts it.

    The first ``<answer>...</answer>`` (case-insensitive, across lines), inner whitespace at both ends removed,
    uppercased; without one, the text after the **first** ``</think>`` (case-insensitive), stripped and uppercased;
    else "".

    Example:
        >>> extract_answer("<think>hmm</think><answer> abc </answer>"), extract_answer("<think>x</THINK> bca ")
        ('ABC', 'BCA')
        >>> extract_answer("C"), extract_answer("a</think>b</think>c")
        ('', 'B</THINK>C')
    """
    if not response:
        return ""
    match = ANSWER_RE.search(response)
    if match:
        return match.group(1).upper()
    parts = THINK_END_RE.split(response, maxsplit=1)
    return parts[1].strip().upper() if len(parts) == 2 else ""


def has_answer_tag(response: str | None) -> bool:
    """Return whether the response holds an ``<answer>…</answer>`` block (a parse failure otherwise)."""
    return bool(response) and ANSWER_RE.search(response) is not None


def exact_match(pred: str, gt: str) -> float:
    """Return 1.0 if the prediction equals the ground truth after stripping both, else 0.0.

    Example:
        >>> exact_match(" AB", "AB"), exact_match("ab", "AB")
        (1.0, 0.0)
    """
    return 1.0 if pred.strip() == gt.strip() else 0.0


def per_char(pred: str, gt: str) -> float:
    """Return the fraction of ground-truth positions where the prediction has the same letter.

    Positions beyond the prediction's length count as wrong; extra predicted letters are ignored. An empty ground
    truth scores 0.0.

    Example:
        >>> per_char("ABX", "ABC"), per_char("A", "ABC"), per_char("ABCD", "ABC")
        (0.6666666666666666, 0.3333333333333333, 1.0)
    """
    if not gt:
        return 0.0
    return sum(1 for i, letter in enumerate(gt) if i < len(pred) and pred[i] == letter) / len(gt)


def camera_group_matches(pred: str, gt: str) -> dict[str, float]:
    """Return the exact match of each camera index group (h-direction, v-direction, h-angle, v-angle).

    Example:
        >>> camera_group_matches("BCBCBACACBBC", "BCBCBACACBBC")["h_direction"]
        1.0
    """
    out = {}
    for name, group in zip(CAMERA_GROUP_NAMES, CAMERA_GROUPS, strict=True):
        out[name] = 1.0 if all(i < len(pred) and i < len(gt) and pred[i] == gt[i] for i in group) else 0.0
    return out


def camera_group_mean(pred: str, gt: str) -> float:
    """Return the official camera "Avg Partial Match": the mean over the four index groups of the group's exact match.

    It is what Table 1 reports as Camera Ov (the strict 12-letter match is kept apart as "Exact Match").

    Example:
        >>> camera_group_mean("BCBCBACACBBC", "BCBCBACACBBA")  # last v-angle wrong: 3 of 4 groups right
        0.75
    """
    groups = camera_group_matches(pred, gt)
    return sum(groups.values()) / len(groups)


def response_words(response: str | None) -> int:
    """Return the whitespace-split word count of a raw response."""
    return len(response.split()) if response else 0


# Table 1 of the paper: column -> families averaged into it (Gripper-Move is the mean of lateral and vertical).
TABLE1_COLUMNS: dict[str, tuple[str, ...]] = {
    "Camera": ("camera_rotation",),
    "Gripper-Move": ("move_lr", "lift_lower"),
    "Gripper-State": ("grab_release",),
    "Composite": ("move_complex",),
    "Rel-Pos": ("mm",),
    "Grounding": ("om",),
    "Counting": ("vl",),
}
# General-data classes are scored as the larger of their exact and per-char accuracy.
MAX_OF_BOTH_FAMILIES = frozenset({"mm", "om", "vl"})


def score_item(family: str, pred: str, gt: str) -> dict[str, float]:
    """Return the item's official scores: ``ov`` and ``par`` (what Table 1 averages), ``exact_match``, ``per_char``.

    ``ov`` is the exact match, except for 12-letter camera items, where it is the official "Avg Partial Match"
    (``avg_partial_match``: the mean of the four index groups' matches); ``exact_match`` stays the strict match.

    Example:
        >>> score_item("move_lr", "CAC", "CAB")
        {'exact_match': 0.0, 'per_char': 0.6666666666666666, 'ov': 0.0, 'par': 0.6666666666666666}
        >>> score_item("camera_rotation", "BCBCBACACBBA", "BCBCBACACBBC")["ov"]
        0.75
    """
    scores = {"exact_match": exact_match(pred, gt), "per_char": per_char(pred, gt)}
    if family == "camera_rotation" and len(gt) == 12:
        scores["avg_partial_match"] = camera_group_mean(pred, gt)
    scores["ov"] = scores.get("avg_partial_match", scores["exact_match"])
    scores["par"] = scores["per_char"]
    return scores


SCORE_KEYS = ("ov", "par", "exact_match", "per_char")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _means(rows: list[dict]) -> dict[str, float]:
    return {key: _mean([r[key] for r in rows]) for key in SCORE_KEYS}


def aggregate(scored: list[dict]) -> dict:
    """Return the metrics of scored items (dicts with task, family, exact_match, per_char, groups, words, ...).

    As the official ``summary.py``: families and tasks (files) average the items **that have a prediction** (a
    missing one is counted in ``missing_predictions``, not scored 0); ``overall`` is the unweighted mean over tasks
    (the paper's "Avg."). Every level carries ``ov``/``par`` (the official Ov and Par: camera items count their
    Avg Partial Match as Ov) next to the strict ``exact_match`` and ``per_char``. Table 1 cells average their
    families' ``ov``/``par`` (the general-data classes: the larger of the two).
    """
    by_family: dict[str, list[dict]] = {}
    by_task: dict[str, list[dict]] = {}
    for s in (r for r in scored if not r["missing"]):
        by_family.setdefault(s["family"], []).append(s)
        by_task.setdefault(s["task"], []).append(s)
    families = {}
    for family, rows in sorted(by_family.items()):
        entry = {"n": len(rows), **_means(rows)}
        if family in MAX_OF_BOTH_FAMILIES:
            entry["score"] = max(entry["exact_match"], entry["per_char"])
        if family == "camera_rotation":
            entry["avg_partial_match"] = _mean([r["avg_partial_match"] for r in rows if "avg_partial_match" in r])
            entry["camera_groups"] = {
                g: _mean([r["groups"][g] for r in rows if r.get("groups")]) for g in CAMERA_GROUP_NAMES
            }
        families[family] = entry
    tasks = {t: {"n": len(rows), **_means(rows)} for t, rows in sorted(by_task.items())}
    table1 = {}
    for column, members in TABLE1_COLUMNS.items():
        present = [families[f] for f in members if f in families]
        if present:
            table1[column] = {
                "Ov": _mean([p.get("score", p["ov"]) for p in present]),
                "Par": _mean([p.get("score", p["par"]) for p in present]),
            }
    for family, entry in families.items():  # our own families get their own column
        if not any(family in members for members in TABLE1_COLUMNS.values()):
            table1[family] = {"Ov": entry["ov"], "Par": entry["par"]}
    consistent = [r["consistent"] for r in scored if r.get("consistent") is not None]
    return {
        "n": len(scored),
        "overall": {key: _mean([t[key] for t in tasks.values()]) for key in SCORE_KEYS},
        "by_task": tasks,
        "by_family": families,
        "table1": table1,
        # as the official summary: responses with no words (empty) are left out of the average
        "avg_response_words": _mean([r["words"] for r in scored if not r["missing"] and r["words"]]),
        "parse_failures": sum(1 for r in scored if not r["parsed"]),
        "missing_predictions": sum(1 for r in scored if r["missing"]),
        "consistency_rate": _mean([1.0 if c else 0.0 for c in consistent]) if consistent else None,
        "consistency_scorable": len(consistent),
    }

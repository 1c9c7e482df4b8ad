"""Audit a triplet set: what a model could answer without looking (blind baselines), leakage across splits, balance.

Works on ``AuditItem`` records, so a remot dataset and a ReMoT-release JSONL (``remot audit --compare``) are audited
the same way. Every build runs it; the preset's ``audit`` thresholds stop a build whose questions can be answered
blind or whose splits leak.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from PIL import Image

from remot_data.errors import ContractError
from remot_data.rules.registry import AuditConfig, load_rule_preset
from remot_data.sources.scannet import SCENE_ID_RE
from remot_data.table import iter_triplet_parts
from schemas import IMAGE_COLUMNS, load_layout, load_vocabulary

NUMBER_RE = re.compile(r"^(\d+) degrees$")
AHASH_SIDE = 8  # v1/v2: 64-bit hashes; presets may ask for a finer grid (audit.image_hash_side)


@dataclass(frozen=True, kw_only=True)
class AuditItem:
    """One triplet as the audit sees it.

    Attributes:
        family: Question family.
        split: Split.
        group: Place or recording (splits must not divide it).
        subject: Arm, or "" for camera questions.
        answer: Correct letters, one per sub-question.
        options: Offered options per sub-question.
        prompt: The prompt text.
        image_hashes: Perceptual (average) hash of each image (side x side bits).
        motion_hashes: Average hashes of what changes from image 1 to images 2 and 3 (``difference_hash``), or
            empty when the preset does not compare motion.
        triplet_id: The row's id ("" for release items).
        source: The row's source ("" for release items).
        clip_id: The row's clip ("" for release items).
    """

    family: str
    split: str
    group: str
    subject: str
    answer: str
    options: tuple[tuple[str, ...], ...]
    prompt: str
    image_hashes: tuple[int, ...] = ()
    motion_hashes: tuple[int, ...] = ()
    triplet_id: str = ""
    source: str = ""
    clip_id: str = ""

    @property
    def key(self) -> tuple[int, ...]:
        """Return what near-identity of triplets is judged on: the images' hashes, then the motion hashes."""
        return self.image_hashes + self.motion_hashes


def average_hash(image: Image.Image, side: int = AHASH_SIDE) -> int:
    """Return the average hash of an image: side x side grey pixels, a bit per pixel above the mean."""
    small = np.asarray(image.convert("L").resize((side, side), Image.Resampling.BILINEAR), dtype=float)
    return _bits_above_mean(small)


def _bits_above_mean(small: npt.NDArray[np.float64]) -> int:
    bits = (small > small.mean()).ravel()  # bit i of the hash is pixel i (row-major)
    return int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")


BORDER_TOLERANCE = 6  # grey levels: a row or column whose pixels span no more is a constant bar


def constant_border_box(grey: npt.NDArray[np.uint8]) -> tuple[int, int, int, int]:
    """Return (top, bottom, left, right) of an image without its constant borders (letterbox or pillarbox bars).

    A border row or column is constant when its pixels span at most ``BORDER_TOLERANCE`` grey levels; bars are cut
    from each edge inwards. An image that is constant throughout keeps its whole box.

    Example:
        >>> img = np.zeros((8, 6), np.uint8); img[2:6] = np.arange(1, 7) * 40  # black bars above and below
        >>> constant_border_box(img)
        (2, 6, 0, 6)
    """
    rows = np.ptp(grey, axis=1) > BORDER_TOLERANCE
    cols = np.ptp(grey, axis=0) > BORDER_TOLERANCE
    if not rows.any() or not cols.any():
        return 0, grey.shape[0], 0, grey.shape[1]
    top, bottom = int(np.argmax(rows)), int(len(rows) - np.argmax(rows[::-1]))
    left, right = int(np.argmax(cols)), int(len(cols) - np.argmax(cols[::-1]))
    return top, bottom, left, right


def content_pixels(grey: npt.NDArray[np.uint8], side: int, box: tuple[int, int, int, int]) -> npt.NDArray[np.float64]:
    """Return grey pixels inside ``box`` (``constant_border_box``), resized to ``2 side`` x ``2 side``."""
    top, bottom, left, right = box
    cropped = Image.fromarray(grey[top:bottom, left:right])
    return np.asarray(cropped.resize((2 * side, 2 * side), Image.Resampling.BILINEAR), dtype=float)


def triplet_content(greys: Sequence[npt.NDArray[np.uint8]], side: int) -> list[npt.NDArray[np.float64]]:
    """Return the three images' ``content_pixels``, all cut by the anchor's border box.

    One box for the triplet keeps the images aligned, so their difference shows motion, not two crops that differ
    by a row; an image of another size (a crop negative) is cut by its own box.
    """
    box = constant_border_box(greys[0])
    return [content_pixels(g, side, box if g.shape == greys[0].shape else constant_border_box(g)) for g in greys]


MIN_MOTION = 4.0  # grey levels: a difference image whose largest 2x2 mean stays below shows no motion


def difference_hash(first: npt.NDArray[np.float64], second: npt.NDArray[np.float64]) -> int:
    """Return the average hash of where two images differ (``triplet_content`` of each): what moves between them.

    Two recordings of one camera setup share their background; what tells them apart is where and how the robot or
    the camera moved, which the difference shows and a hash of either image alone does not. No motion hashes to 0.
    """
    diff = np.abs(first - second)
    small = diff.reshape(diff.shape[0] // 2, 2, diff.shape[1] // 2, 2).mean(axis=(1, 3))
    return 0 if small.max() < MIN_MOTION else _bits_above_mean(small)


def open_for_hash(jpeg: bytes, side: int) -> Image.Image:
    """Open JPEG bytes decoded at the smallest scale (1/2, 1/4 or 1/8) that keeps 4 x ``side`` pixels a side.

    A hash of ``side`` x ``side`` pixels needs no full decode: the scaled decode is several times faster and moves
    at most a bit or two of 256 against a full one (measured on the demo images), far inside any distance the audit
    allows; every hash the audit compares is made this way.
    """
    image = Image.open(io.BytesIO(jpeg))
    image.draft("L", (4 * side, 4 * side))
    return image


def _letter_index(letter: str) -> int:
    return load_vocabulary().letters.index(letter)


def _numbers(options: Sequence[str]) -> dict[int, int]:
    """Return {option index: angle} for the numeric options of a sub-question."""
    return {i: int(m.group(1)) for i, o in enumerate(options) if (m := NUMBER_RE.match(o))}


def blind_baselines(items: Sequence[AuditItem]) -> dict[str, dict[str, Any]]:
    """Return per family the accuracy of answering without the images, next to chance.

    Policies, each per sub-question: the most common correct label and the most common correct letter at that
    position (fitted on the same items: an upper bound), and on angle sub-questions whose answer is a number the
    smallest and the largest number offered (chance there: 1 / the numbers offered).
    """
    by_family: dict[str, list[AuditItem]] = defaultdict(list)
    for item in items:
        by_family[item.family].append(item)
    out: dict[str, dict[str, Any]] = {}
    for family, group in sorted(by_family.items()):
        subs = [(k, opts, item.answer[k]) for item in group for k, opts in enumerate(item.options)]
        labels = Counter((k, opts[_letter_index(a)]) for k, opts, a in subs)
        letters = Counter((k, a) for k, _, a in subs)
        best_label = {
            k: max((n, lab) for (kk, lab), n in labels.items() if kk == k)[1] for k in {k for k, _, _ in subs}
        }
        best_letter = {k: max((n, a) for (kk, a), n in letters.items() if kk == k)[1] for k in {k for k, _, _ in subs}}
        report: dict[str, Any] = {
            "items": len(group),
            "sub_questions": len(subs),
            "chance": float(np.mean([1 / len(opts) for _, opts, _ in subs])),
            "majority_label": float(np.mean([opts[_letter_index(a)] == best_label[k] for k, opts, a in subs])),
            "letter_prior": float(np.mean([a == best_letter[k] for k, _, a in subs])),
        }
        numeric = [
            (numbers, truth) for _, opts, a in subs if (truth := _letter_index(a)) in (numbers := _numbers(opts))
        ]
        if numeric:
            report["numeric_sub_questions"] = len(numeric)
            report["numeric_chance"] = float(np.mean([1 / len(numbers) for numbers, _ in numeric]))
            for name, pick in (("smallest_number", min), ("largest_number", max)):
                chosen = [pick(numbers.items(), key=lambda kv: kv[1])[0] == truth for numbers, truth in numeric]
                report[name] = float(np.mean(chosen))
        gains = [report["majority_label"] - report["chance"], report["letter_prior"] - report["chance"]]
        if numeric:
            gains += [report[p] - report["numeric_chance"] for p in ("smallest_number", "largest_number")]
        report["max_blind_gain"] = float(max(gains))
        report["strongest"] = strongest_blind_policy(group)
        out[family] = report
    return out


POLICY_WORDS = {
    "majority_label": "answering every item with the most common correct label",
    "letter_prior": "answering every item with the most common correct letter",
    "smallest_number": "picking the smallest angle offered",
    "largest_number": "picking the largest angle offered",
}


def strongest_blind_policy(group: Sequence[AuditItem]) -> dict[str, Any]:
    """Return the blind policy and sub-question where answering without the images gains most over chance.

    Per sub-question position k: the most common correct label (and letter) at k, and on angle sub-questions the
    smallest and largest number. Returns the policy, k (0-based), what it answers, its accuracy and chance at k, the
    share of the items at k whose truth is that answer, and up to 3 ids of triplets it answers right.
    """
    best: dict[str, Any] = {}
    positions = sorted({k for item in group for k in range(len(item.options))})
    for k in positions:
        at_k = [(item, item.options[k], _letter_index(item.answer[k])) for item in group if k < len(item.options)]
        chance = float(np.mean([1 / len(opts) for _, opts, _ in at_k]))
        label = Counter(opts[a] for _, opts, a in at_k).most_common(1)[0][0]
        letter = Counter(item.answer[k] for item, _, _ in at_k).most_common(1)[0][0]
        candidates = [
            ("majority_label", label, [i for i, opts, a in at_k if opts[a] == label], chance),
            ("letter_prior", letter, [i for i, _, _ in at_k if i.answer[k] == letter], chance),
        ]
        numeric = [(i, n, a) for i, opts, a in at_k if a in (n := _numbers(opts))]
        if numeric:
            numeric_chance = float(np.mean([1 / len(n) for _, n, _ in numeric]))
            for name, pick in (("smallest_number", min), ("largest_number", max)):
                right = [i for i, n, a in numeric if pick(n.items(), key=lambda kv: kv[1])[0] == a]
                candidates.append((name, name.split("_")[0] + " angle", right, numeric_chance))
        for name, answer, right, base in candidates:
            total = len(numeric) if name.endswith("_number") else len(at_k)
            accuracy = len(right) / total if total else 0.0
            if not best or accuracy - base > best["gain"]:
                best = {
                    "policy": name,
                    "sub_question": k,
                    "answer": answer,
                    "accuracy": accuracy,
                    "chance": base,
                    "gain": accuracy - base,
                    "examples": [i.triplet_id for i in right if i.triplet_id][:3],
                }
    return best


PAIR_CHUNK = 1 << 20  # 64-bit words compared per numpy call: temporaries of a few MB each


def _hash_words(keys: Sequence[tuple[int, ...]], bits: int) -> npt.NDArray[np.uint64]:
    """Return keys of ``bits``-bit hashes as an (n, hashes per key, 64-bit words per hash) array."""
    words = max(1, -(-bits // 64))
    low = (1 << 64) - 1
    flat = [(h >> (64 * w)) & low for key in keys for h in key for w in range(words)]
    return np.array(flat, dtype=np.uint64).reshape(len(keys), -1, words)


def _band_codes(first: npt.NDArray[np.uint64], lo: int, hi: int) -> npt.NDArray[np.int64]:
    """Return, per row, a code for bits ``lo:hi`` of its first hash (equal bits, equal code)."""
    bits = np.unpackbits(first.astype("<u8").view(np.uint8), axis=1, bitorder="little")[:, lo:hi]
    if hi - lo > 63:  # too wide for one integer: compare rows (slower)
        return np.unique(bits, axis=0, return_inverse=True)[1].ravel()
    values = (bits.astype(np.uint64) << np.arange(hi - lo, dtype=np.uint64)).sum(axis=1, dtype=np.uint64)
    return np.unique(values, return_inverse=True)[1].ravel()


def _pairs_with_equal_codes(
    code_a: npt.NDArray[np.int64], code_b: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return every index pair (i, j) with ``code_a[i] == code_b[j]``, without a Python loop."""
    order = np.argsort(code_b, kind="stable")
    left = np.searchsorted(code_b[order], code_a, "left")
    counts = np.searchsorted(code_b[order], code_a, "right") - left
    ia = np.repeat(np.arange(len(code_a)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return ia, order[np.repeat(left, counts) + offsets]


def _distances(x: npt.NDArray[np.uint64], y: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint16]:
    """Return the largest per-hash bit distance between keys ``x`` and ``y`` (broadcast; last axes: hash, word).

    Sums and maxima run over the few hashes and words one slice at a time: numpy reduces a short last axis slowly.
    """
    count = np.bitwise_count(x ^ y)
    largest = None
    for h in range(count.shape[-2]):
        distance = count[..., h, 0].astype(np.uint16)
        for w in range(1, count.shape[-1]):
            distance += count[..., h, w]
        largest = distance if largest is None else np.maximum(largest, distance)
    return largest


def _close_pairs(
    a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64], pairs: Iterable[tuple[npt.NDArray, npt.NDArray]], limit: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Return which rows of ``a`` and of ``b`` have a partner among ``pairs`` with every hash within ``limit`` bits."""
    near_a, near_b = np.zeros(len(a), bool), np.zeros(len(b), bool)
    step = max(1, PAIR_CHUNK // (a.shape[1] * a.shape[2]))
    for ia, ib in pairs:
        for start in range(0, len(ia), step):
            i, j = ia[start : start + step], ib[start : start + step]
            close = _distances(a[i], b[j]) <= limit
            near_a[i[close]] = True
            near_b[j[close]] = True
    return near_a, near_b


def _close_all_pairs(
    a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64], limit: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Return ``_close_pairs`` over every (row of a, row of b) pair: blocks of rows of ``a`` against all of ``b``."""
    near_a, near_b = np.zeros(len(a), bool), np.zeros(len(b), bool)
    rows = max(1, PAIR_CHUNK // max(1, b.size))
    for start in range(0, len(a), rows):
        block = a[start : start + rows]
        close = _distances(block[:, None], b[None]) <= limit
        near_a[start : start + rows] |= close.any(axis=1)
        near_b |= close.any(axis=0)
    return near_a, near_b


def near_in_other_splits(
    splits_of_key: dict[tuple[int, ...], set[str]], max_distance: int, *, bits: int = 64
) -> set[tuple[int, ...]]:
    """Return the keys (tuples of ``bits``-bit image hashes) within ``max_distance`` bits of another split's.

    Keys are compared hash by hash; a key seen in two splits itself counts once. Only keys of different split sets
    are compared, in numpy, by the cheaper of two ways for each pair of split sets: every pair once, or the pairs a
    band index proposes (two hashes that differ in at most ``max_distance`` bits agree on at least one of
    ``max_distance + 1`` bands of their bits). Varied scenes fill the band buckets thinly; a fixed camera (a robot
    cell) puts most keys into the same buckets, where comparing every pair once is cheaper than once per band.

    Example:
        >>> sorted(near_in_other_splits({(0b1111,): {"train"}, (0b0111,): {"test"}, (0b1000_0000,): {"test"}}, 1))
        [(7,), (15,)]
    """
    near = {k for k, splits in splits_of_key.items() if len(splits) > 1}
    if max_distance <= 0 or not splits_of_key:
        return near
    keys = list(splits_of_key)
    words = _hash_words(keys, bits)
    bands = max_distance + 1
    edges = [round(bits * b / bands) for b in range(bands + 1)]
    codes = [_band_codes(words[:, 0], lo, hi) for lo, hi in zip(edges, edges[1:], strict=False) if hi > lo]
    by_splits: dict[frozenset[str], list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        by_splits[frozenset(splits_of_key[key])].append(index)
    groups = [np.array(by_splits[g]) for g in sorted(by_splits, key=sorted)]
    for pos, rows_a in enumerate(groups):
        for rows_b in groups[pos + 1 :]:  # two different split sets: together they name two splits or more
            # pairs the bands would propose: per band, the products of the two groups' bucket sizes
            banded = sum(
                int(np.bincount(c[rows_a], minlength=len(c)) @ np.bincount(c[rows_b], minlength=len(c))) for c in codes
            )
            if banded < len(rows_a) * len(rows_b):
                pairs = (_pairs_with_equal_codes(c[rows_a], c[rows_b]) for c in codes)
                near_a, near_b = _close_pairs(words[rows_a], words[rows_b], pairs, max_distance)
            else:
                near_a, near_b = _close_all_pairs(words[rows_a], words[rows_b], max_distance)
            near.update(keys[i] for i in rows_a[near_a])
            near.update(keys[i] for i in rows_b[near_b])
    return near


SPLIT_ORDER = ("train", "val", "test")  # a triplet is checked against the splits before its own


@dataclass(frozen=True, kw_only=True)
class Contaminated:
    """A val or test triplet that near-duplicates one of an earlier split (``decontaminate``).

    Attributes:
        index: Its position among the items.
        match: The position of the earlier split's triplet it matches.
        distance: The largest bit distance between their hashes (every one is within the preset's limit).
    """

    index: int
    match: int
    distance: int


def decontaminate(items: Sequence[AuditItem], *, max_hash_distance: int, hash_bits: int) -> list[Contaminated]:
    """Return the val and test triplets that near-duplicate a triplet of an earlier split: they are to be removed.

    A val triplet is held against train, a test triplet against train, then against the val triplets that stay; two
    triplets are near-identical when every hash of their keys (images, then motion) is within ``max_hash_distance``
    bits. The match named is the closest one, always a triplet that is kept. Every pair is compared, in numpy blocks.

    Example:
        >>> a = AuditItem(family="f", split="train", group="g1", subject="", answer="A", options=(("x",),),
        ...     prompt="p", image_hashes=(0b1111,))
        >>> b = AuditItem(family="f", split="test", group="g2", subject="", answer="A", options=(("x",),),
        ...     prompt="p", image_hashes=(0b0111,))
        >>> decontaminate([a, b], max_hash_distance=1, hash_bits=64)
        [Contaminated(index=1, match=0, distance=1)]
    """
    found: list[Contaminated] = []
    removed: set[int] = set()
    keyed = [i for i, item in enumerate(items) if item.key]
    for rank, split in enumerate(SPLIT_ORDER[1:], start=1):
        for earlier in SPLIT_ORDER[:rank]:  # train first: a match is named in the split that keeps it
            rows_a = [i for i in keyed if items[i].split == split and i not in removed]
            rows_b = [i for i in keyed if items[i].split == earlier and i not in removed]
            if not rows_a or not rows_b:
                continue
            a = _hash_words([items[i].key for i in rows_a], hash_bits)
            b = _hash_words([items[i].key for i in rows_b], hash_bits)
            block = max(1, PAIR_CHUNK // max(1, b.size))
            for start in range(0, len(rows_a), block):
                distances = _distances(a[start : start + block, None], b[None])
                nearest = distances.argmin(axis=1)
                closest = distances[np.arange(len(nearest)), nearest]
                for offset, (j, d) in enumerate(zip(nearest, closest, strict=True)):
                    if d <= max_hash_distance:
                        index = rows_a[start + offset]
                        found.append(Contaminated(index=index, match=rows_b[int(j)], distance=int(d)))
                        removed.add(index)
    return found


def leakage(items: Sequence[AuditItem], *, max_hash_distance: int = 0, hash_bits: int = 64) -> dict[str, Any]:
    """Return what crosses splits (groups, near-identical images) and same-looking questions with other answers.

    Images count as near-identical when their average hashes differ in at most ``max_hash_distance`` bits, triplets
    when all three images do. Single images recur across splits wherever a fixed camera watches one scene (a robot
    cell: every episode starts from the same view); a triplet that recurs is the same question on the same pictures.
    """
    splits_of_group: dict[str, set[str]] = defaultdict(set)
    splits_of_hash: dict[tuple[int, ...], set[str]] = defaultdict(set)
    splits_of_triplet: dict[tuple[int, ...], set[str]] = defaultdict(set)
    answers_of_question: dict[tuple[str, tuple[int, ...]], set[str]] = defaultdict(set)
    for item in items:
        splits_of_group[item.group].add(item.split)
        for h in item.image_hashes:
            splits_of_hash[(h,)].add(item.split)
        if item.image_hashes:
            splits_of_triplet[item.key].add(item.split)
            # the same prompt on the same-looking images must have one answer
            answers_of_question[(item.prompt, item.image_hashes)].add(item.answer)
    crossing = sorted(g for g, s in splits_of_group.items() if len(s) > 1)
    return {
        "groups_in_several_splits": len(crossing),
        "example_groups": crossing[:5],
        "image_hashes_in_several_splits": len(near_in_other_splits(splits_of_hash, max_hash_distance, bits=hash_bits)),
        "triplets_in_several_splits": len(near_in_other_splits(splits_of_triplet, max_hash_distance, bits=hash_bits)),
        "distinct_triplets": len(splits_of_triplet),
        "image_hash_distance": max_hash_distance,
        "image_hash_bits": hash_bits,
        "same_question_different_answers": sum(1 for a in answers_of_question.values() if len(a) > 1),
    }


def balance(items: Sequence[AuditItem]) -> dict[str, Any]:
    """Return the 1->2 label counts per family, per arm and per split, and the largest/smallest ratio per family."""
    per_family: dict[str, Counter[str]] = defaultdict(Counter)
    per_subject: dict[str, Counter[str]] = defaultdict(Counter)
    per_split: dict[str, Counter[str]] = defaultdict(Counter)
    for item in items:
        label = item.options[0][_letter_index(item.answer[0])]
        per_family[item.family][label] += 1
        if item.subject:
            per_subject[f"{item.family}/{item.subject}"][label] += 1
        per_split[item.split][f"{item.family}:{label}"] += 1
    return {
        "labels_per_family": {f: dict(sorted(c.items())) for f, c in sorted(per_family.items())},
        "labels_per_arm": {f: dict(sorted(c.items())) for f, c in sorted(per_subject.items())},
        "labels_per_split": {s: dict(sorted(c.items())) for s, c in sorted(per_split.items())},
        "max_label_ratio": {f: max(c.values()) / min(c.values()) for f, c in sorted(per_family.items())},
    }


def audit_items(items: Sequence[AuditItem], config: AuditConfig | None = None) -> dict[str, Any]:
    """Return the whole audit: blind baselines per family, leakage and balance.

    Images whose average hashes (``config.image_hash_side`` squared bits, as ``items_from_table`` made them) differ
    in at most ``config.max_image_hash_distance`` bits count as near-identical.
    """
    config = config or AuditConfig()
    return {
        "items": len(items),
        "blind": blind_baselines(items),
        "leakage": leakage(
            items, max_hash_distance=config.max_image_hash_distance, hash_bits=config.image_hash_side**2
        ),
        "balance": balance(items),
    }


def items_from_table(
    table: pa.Table, groups: dict[str, str], *, hash_side: int = AHASH_SIDE, config: AuditConfig | None = None
) -> list[AuditItem]:
    """Return the audit items of a triplet table; ``groups`` maps clip id to group (the manifest's).

    With ``config.compare_content`` the hashes are taken without constant borders and the items carry motion
    hashes (``difference_hash`` of image 1 against images 2 and 3); ``config.image_hash_side`` then sets the side.
    """
    compare_content = config is not None and config.compare_content
    hash_side = config.image_hash_side if config is not None else hash_side
    columns = ["family", "split", "clip_id", "subject", "answer", "options", "prompt", "triplet_id", "source"]
    rows = table.select(columns).to_pylist()
    hashes: list[tuple[int, ...]] = []
    motions: list[tuple[int, ...]] = []
    # A clip's triplets share images (the same frame as anchor of one and positive of another): each distinct JPEG
    # is decoded once, keyed by its digest, only among the rows at hand (a staged part is one clip).
    known: dict[bytes, Any] = {}  # digest -> average hash, or (compare_content) the small grey decode

    def decoded(raw: bytes) -> Any:
        key = hashlib.blake2b(raw, digest_size=16).digest()
        if key not in known:
            image = open_for_hash(raw, hash_side)
            known[key] = np.asarray(image.convert("L")) if compare_content else average_hash(image, hash_side)
        return known[key]

    # Image bytes are read a batch at a time: a large table holds gigabytes of JPEG, of which only hashes are kept.
    for batch in table.select(list(IMAGE_COLUMNS)).to_batches(max_chunksize=256):
        data = [batch.column(c).field("bytes").to_pylist() for c in IMAGE_COLUMNS]
        for images in zip(*data, strict=True):
            seen = [decoded(raw) for raw in images]
            if not compare_content:
                hashes.append(tuple(seen))
                motions.append(())
                continue
            pixels = triplet_content(seen, hash_side)
            small = [p.reshape(hash_side, 2, hash_side, 2).mean(axis=(1, 3)) for p in pixels]
            hashes.append(tuple(_bits_above_mean(s) for s in small))
            motions.append(tuple(difference_hash(pixels[0], p) for p in pixels[1:]))
    # Prompts, answers and options repeat across a build: one shared object each keeps the items of 16 K triplets small.
    return [
        AuditItem(
            family=sys.intern(r["family"]),
            split=sys.intern(r["split"]),
            group=sys.intern(groups.get(r["clip_id"], r["clip_id"])),
            subject=sys.intern(r["subject"]),
            answer=sys.intern(r["answer"]),
            options=tuple(tuple(sys.intern(o) for o in options) for options in r["options"]),
            prompt=sys.intern(r["prompt"]),
            image_hashes=h,
            motion_hashes=m,
            triplet_id=r["triplet_id"],
            source=sys.intern(r["source"]),
            clip_id=sys.intern(r["clip_id"]),
        )
        for r, h, m in zip(rows, hashes, motions, strict=True)
    ]


def audit_dataset(dataset_dir: Path) -> dict[str, Any]:
    """Audit a published dataset directory (groups from its manifest, thresholds from its preset when shipped)."""
    layout = load_layout()
    manifest_path = layout.resolve(Path(dataset_dir)) / layout.manifest
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{dataset_dir}: not a remot dataset (no {layout.manifest} in it or in {layout.latest}/)"
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    groups = {c["clip_id"]: c.get("group", c["clip_id"]) for c in manifest["input"]["clips"]}
    try:
        config = load_rule_preset(manifest["preset"]["name"]).audit
    except FileNotFoundError:  # built with a preset file that is not shipped: exact 64-bit hashes only
        config = AuditConfig()
    items = [  # a part at a time: only hashes are kept of the images
        item for part in iter_triplet_parts(Path(dataset_dir)) for item in items_from_table(part, groups, config=config)
    ]
    return audit_items(items, config)


def blind_failure(family: str, report: dict[str, Any], config: AuditConfig) -> str:
    """Return why a family fails the blind-baseline gate: the policy, the sub-question, its share, examples, the key.

    Example:
        >>> report = {"items": 40, "max_blind_gain": 0.59, "strongest": {"policy": "majority_label",
        ...     "sub_question": 2, "answer": "No rotation", "accuracy": 1.0, "chance": 0.41, "gain": 0.59,
        ...     "examples": ["ab12", "cd34"]}}
        >>> line = blind_failure("camera_rotation", report, AuditConfig(max_blind_gain=0.3))
        >>> "most common correct label ('No rotation') is right on 100.0% of sub-question 3 (chance 41.0%)" in line
        True
        >>> line.endswith("audit.max_blind_gain 0.59 lets it through") and "e.g. ab12, cd34" in line
        True
    """
    best = report.get("strongest") or {}
    line = f"{family}: a blind policy beats chance by {report['max_blind_gain']:.2f} (audit.max_blind_gain " + (
        f"{config.max_blind_gain})"
    )
    if best:
        line += (
            f": {POLICY_WORDS[best['policy']]} ({best['answer']!r}) is right on {best['accuracy']:.1%} of "
            f"sub-question {best['sub_question'] + 1} (chance {best['chance']:.1%}) of {report['items']} triplets"
            + (f", e.g. {', '.join(best['examples'])}" if best["examples"] else "")
        )
    return line + (
        f"; the data lacks the other answers there (a corpus that never shows them cannot be asked about them: "
        f"add clips that do, or drop the family), or a preset with audit.max_blind_gain "
        f"{math.ceil(round(report['max_blind_gain'] * 100, 6)) / 100:.2f} lets it through"
    )


def find_audit_failures(audit: dict[str, Any], config: AuditConfig) -> list[str]:
    """Return one line per threshold of the preset's ``audit`` section the audit crosses."""
    failures = [
        blind_failure(family, report, config)
        for family, report in audit["blind"].items()
        if report["items"] >= config.min_items and report["max_blind_gain"] > config.max_blind_gain
    ]
    leak = audit["leakage"]
    if leak["groups_in_several_splits"] > 0:
        failures.append(f"{leak['groups_in_several_splits']} groups in several splits, e.g. {leak['example_groups']}")
    if leak["image_hashes_in_several_splits"] > config.max_cross_split_image_hashes:
        failures.append(
            f"{leak['image_hashes_in_several_splits']} near-identical images in several splits "
            f"(average hashes within {leak['image_hash_distance']} of {leak['image_hash_bits']} bits) "
            f"(max_cross_split_image_hashes {config.max_cross_split_image_hashes})"
        )
    recurring, distinct = leak["triplets_in_several_splits"], leak["distinct_triplets"]
    share = recurring / distinct if distinct else 0.0
    if recurring > config.max_cross_split_triplets or share > config.max_cross_split_triplet_share:
        failures.append(
            f"{recurring} near-identical triplets in several splits, {share:.1%} of {distinct} "
            f"(all three average hashes within {leak['image_hash_distance']} of {leak['image_hash_bits']} bits) "
            f"(max_cross_split_triplets {config.max_cross_split_triplets}, "
            f"max_cross_split_triplet_share {config.max_cross_split_triplet_share})"
        )
    return failures


def check_audit(audit: dict[str, Any], config: AuditConfig) -> None:
    """Raise unless the audit stays within the preset's thresholds.

    Raises:
        ContractError: Listing every crossed threshold.
    """
    failures = find_audit_failures(audit, config)
    if failures:
        raise ContractError("dataset not published: the audit fails:\n  " + "\n  ".join(failures))


def format_audit(audits: dict[str, dict[str, Any]]) -> str:
    """Return audits side by side as a Markdown table (one column per audited set) of blind accuracy vs chance."""
    names = list(audits)
    families = sorted({f for a in audits.values() for f in a["blind"]})
    metrics = ("chance", "majority_label", "letter_prior", "numeric_chance", "smallest_number", "largest_number")
    lines = ["| family | metric | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for family in families:
        for metric in metrics:
            cells = [audits[n]["blind"].get(family, {}).get(metric) for n in names]
            if all(c is None for c in cells):
                continue
            shown = ["" if c is None else f"{100 * c:.1f}" for c in cells]
            lines.append(f"| {family} | {metric} | " + " | ".join(shown) + " |")
    for key in (
        "groups_in_several_splits",
        "image_hashes_in_several_splits",
        "triplets_in_several_splits",
        "distinct_triplets",
        "same_question_different_answers",
    ):
        lines.append(f"| (all) | {key} | " + " | ".join(str(audits[n]["leakage"].get(key, "-")) for n in names) + " |")
    return "\n".join(lines)


def iter_release_items(reference: Iterable[Any]) -> list[AuditItem]:
    """Return audit items from remot_train reference items (``remot audit --compare`` reads release JSONL with them).

    A release item's group is its scene (``sceneXXXX``) or episode folder as its image paths tell; its split is
    ``test`` (the release's files are test sets); hashes are left out (the release ships no images here).
    """
    items = []
    for ref in reference:
        first = str(ref.images[0]) if ref.images else ""
        scene = SCENE_ID_RE.search(first)
        items.append(
            AuditItem(
                family=ref.family,
                split="test",
                group=scene.group(1) if scene else str(Path(first).parent),
                subject="",
                answer=ref.gt_answer,
                options=ref.options,
                prompt=ref.prompt,
            )
        )
    return [i for i in items if i.options and len(i.options) == len(i.answer)]

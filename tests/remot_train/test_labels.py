from pathlib import Path

import pytest

from remot_train.eval.controls import make_control_item
from remot_train.eval.loaders import load_release_jsonl, parse_prompt_options
from remot_train.labels import composition_consistent, pair_signs, permute_labels

RELEASE = Path(__file__).resolve().parents[1] / "data" / "remot_release"


@pytest.mark.parametrize(
    "order, expected",
    [
        ((0, 1, 2), ["Right", "Left", "Left"]),
        ((2, 1, 0), ["Right", "Right", "Left"]),  # reversed: 3->2 = -(2->3), 3->1 = -(1->3), 2->1 = -(1->2)
        ((1, 0, 2), ["Left", "Left", "Left"]),  # swap 1 and 2: 2->1 = -(1->2), 2->3, 1->3
        ((0, 2, 1), ["Left", "Right", "Right"]),
    ],  # swap 2 and 3: 1->3, 1->2, 3->2 = -(2->3)
)
def test_permute_labels(order, expected):
    assert permute_labels(["Right", "Left", "Left"], order) == expected


def test_permuted_flip_triplet_stays_physically_consistent():
    options = [["Left", "Right", "No rotation"]] * 3
    for order in [(0, 1, 2), (2, 1, 0), (1, 0, 2), (0, 2, 1), (1, 2, 0), (2, 0, 1)]:
        labels = permute_labels(["Right", "Left", "Left"], order)
        assert composition_consistent(pair_signs(labels, options)), order


def test_release_scannet_labels_are_not_physically_consistent():
    # Documented in docs/conventions.md: the release labels 1->3 "No rotation" and 2->3 like 1->2.
    item = load_release_jsonl(RELEASE / "scannet_sample.jsonl")[0]
    labels = [item.options[i]["ABCD".index(c)] for i, c in enumerate(item.gt_answer)]
    assert composition_consistent(pair_signs(labels, item.options)) is False


@pytest.mark.parametrize("kind", ["reversed", "shuffled"])
def test_controls_on_release_items_keep_prompt_and_options_in_step(kind):
    for path in ("agibot_sample.jsonl", "scannet_sample.jsonl"):
        for item in load_release_jsonl(RELEASE / path):
            control = make_control_item(item, kind)
            assert control is not None
            assert control.id == f"{item.id}#{kind}"
            assert parse_prompt_options(control.prompt) == control.options
            assert sorted(control.images) == sorted(item.images) and control.images != item.images
            if kind == "reversed":
                assert control.images == item.images[::-1]
                # applying the reversal twice gives the original truth back
                assert make_control_item(control, "reversed").gt_answer == item.gt_answer


def test_reversed_gripper_item_by_hand():
    item = load_release_jsonl(RELEASE / "agibot_sample.jsonl")[0]
    # options: (Opened, No movement, Closed) x2, (Closed, No movement, Opened); truth CAC = Closed, Opened, Opened
    assert item.gt_answer == "CAC"
    # reversed: 1->2 = -(2->3) = Closed -> C; 1->3 = -(1->3) = Closed -> C; 2->3 = -(1->2) = Opened -> C
    assert make_control_item(item, "reversed").gt_answer == "CCC"

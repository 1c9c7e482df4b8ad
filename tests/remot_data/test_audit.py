"""The audit's numbers by hand on small item sets, and the build gate they feed."""

import dataclasses

import numpy as np
import pytest

from remot_data.audit import AuditItem, audit_items, blind_baselines, check_audit, leakage
from remot_data.errors import ContractError
from remot_data.rules.registry import AuditConfig, load_rule_preset

CAM = ("Left", "Right", "No rotation")


def _angle_item(truth, others, split="train", group="g"):
    options = ("No rotation", f"{truth} degrees", *(f"{o} degrees" for o in others))
    return AuditItem(
        family="camera_rotation", split=split, group=group, subject="", answer="B", options=(options,), prompt="p"
    )


def test_smallest_number_policy_and_its_chance_by_hand():
    items = [_angle_item(5, [40, 90]), _angle_item(10, [3]), _angle_item(20, [8, 60]), _angle_item(7, [90])]
    report = blind_baselines(items)["camera_rotation"]
    assert report["smallest_number"] == pytest.approx(2 / 4)  # 5 of (5, 40, 90) and 7 of (7, 90)
    assert report["largest_number"] == pytest.approx(1 / 4)  # 10 of (10, 3)
    assert report["numeric_chance"] == pytest.approx((1 / 3 + 1 / 2 + 1 / 3 + 1 / 2) / 4)
    assert report["chance"] == pytest.approx((1 / 4 + 1 / 3 + 1 / 4 + 1 / 3) / 4)


def test_majority_label_and_letter_prior_by_hand():
    items = [
        AuditItem(family="move_lr", split="train", group="e", subject="left", answer=a, options=(o,), prompt="p")
        for a, o in [("A", CAM), ("A", CAM), ("B", CAM), ("B", ("Right", "Left", "No rotation"))]
    ]
    report = blind_baselines(items)["move_lr"]
    assert report["majority_label"] == pytest.approx(3 / 4)  # Left x2, Right, Left
    assert report["letter_prior"] == pytest.approx(2 / 4)
    assert report["max_blind_gain"] == pytest.approx(3 / 4 - 1 / 3)


def test_leakage_counts_groups_images_and_contradictions():
    def item(split, group, hashes, answer="A"):
        return AuditItem(
            family="f",
            split=split,
            group=group,
            subject="",
            answer=answer,
            options=(CAM,),
            prompt="q",
            image_hashes=hashes,
        )

    report = leakage(
        [
            item("train", "r1", (1, 2, 3)),
            item("test", "r1", (4, 5, 6)),
            item("val", "r2", (3, 7, 8)),
            item("train", "r3", (9, 9, 9)),
            item("train", "r3", (9, 9, 9), answer="B"),
        ]
    )
    assert report["groups_in_several_splits"] == 1 and report["example_groups"] == ["r1"]
    assert report["image_hashes_in_several_splits"] == 1  # hash 3 in train and val
    assert report["same_question_different_answers"] == 1


def test_near_identical_images_are_found_by_hash_distance():
    import numpy as np

    from remot_data.audit import near_in_other_splits

    rng = np.random.default_rng(0)
    train = [int(h) for h in rng.integers(0, 2**63, size=400, dtype=np.int64)]
    flips = [1 << 3, (1 << 10) | (1 << 40), (1 << 1) | (1 << 20) | (1 << 50) | (1 << 63)]
    test = [train[0] ^ flips[0], train[1] ^ flips[1], train[2] ^ flips[2], train[3] ^ ((1 << 12) - 1)]
    splits = {(h,): {"train"} for h in train} | {(h,): {"test"} for h in test}
    brute = {  # every pair compared: what the banded search must equal
        a for a in splits for b in splits if splits[a] != splits[b] and (a[0] ^ b[0]).bit_count() <= 4
    }
    found = near_in_other_splits(splits, 4)
    assert found == brute
    assert {(train[0],), (train[1],), (train[2],), (test[0],), (test[1],), (test[2],)} <= found  # 1, 2, 4 bits
    assert (train[3],) not in found and (test[3],) not in found  # 12 bits apart: another image
    assert near_in_other_splits(splits, 0) == set()  # equal hashes only: none
    one_bit = near_in_other_splits(splits, 1)
    assert (train[0],) in one_bit and (train[1],) not in one_bit
    # triplets: near only when every image is
    triplets = {(train[0], train[1], train[2]): {"train"}, (test[0], test[1], test[2]): {"val"}}
    assert len(near_in_other_splits(triplets, 4)) == 2
    triplets[(test[0], test[1], test[3])] = triplets.pop((test[0], test[1], test[2]))
    assert near_in_other_splits(triplets, 4) == set()


@pytest.mark.parametrize("n_views", [1, 40])
def test_near_images_of_fixed_cameras_are_found_as_brute_force_finds_them(n_views):
    # one robot cell: every hash is a few bits from one view, so the band index would propose nearly every pair (once
    # per band) and the search compares every cross-split pair once instead; 40 cells: bands, with full buckets
    import numpy as np

    from remot_data.audit import near_in_other_splits

    rng = np.random.default_rng(1)
    views = [int.from_bytes(rng.bytes(32), "little") for _ in range(n_views)]
    keys = {}
    for n in range(300):
        view = views[n % n_views]
        flips = sum(1 << int(b) for b in rng.choice(256, size=int(rng.integers(1, 24)), replace=False))
        keys[(view ^ flips, view ^ (flips >> 1))] = {("train", "val", "test")[n % 3]}
    brute = {
        a
        for a in keys
        for b in keys
        if keys[a] != keys[b] and all((x ^ y).bit_count() <= 16 for x, y in zip(a, b, strict=True))
    }
    assert 0 < len(brute) < len(keys)
    assert near_in_other_splits(keys, 16, bits=256) == brute
    # within 1 bit of 256: two bands of 128 bits, too wide for one integer code, compared row by row
    wide = {(views[0],): {"train"}, (views[0] ^ (1 << 200),): {"test"}, (views[0] ^ 0b11,): {"test"}}
    assert near_in_other_splits(wide, 1, bits=256) == {(views[0],), (views[0] ^ (1 << 200),)}


def _item(split, group, hashes):
    """A camera question of one family and answer, in a split and group, on images of these hashes."""
    return AuditItem(
        family="f", split=split, group=group, subject="", answer="A", options=(CAM,), prompt="q", image_hashes=hashes
    )


def test_a_recurring_triplet_fails_the_gate_where_a_recurring_image_does_not():
    config = AuditConfig(max_image_hash_distance=4, max_cross_split_triplets=0)  # 64-bit hashes, 4 bits apart
    start, a, b, c, d = (0xF0F0_1234_5678_9ABC, 0x0FF0_0000_FFFF_0000, 0x1234_0000_0000_4321, 0xAAAA_5555_AAAA_5555, 17)
    # every episode of a robot cell starts from the same view
    same_start = [_item("train", "e1", (start, a, b)), _item("test", "e2", (start ^ 1, c, d))]
    audit = audit_items(same_start, config)
    leak = audit["leakage"]
    assert leak["image_hashes_in_several_splits"] == 2 and leak["triplets_in_several_splits"] == 0
    check_audit(audit, config)
    copied = [_item("train", "e1", (start, a, b)), _item("test", "e2", (start ^ 1, a ^ 4, b))]  # a re-encoded copy
    audit = audit_items(copied, config)
    with pytest.raises(ContractError, match=r"2 near-identical triplets in several splits, 100\.0% of 2 \(all three "):
        check_audit(audit, config)


def test_the_v4_gate_tolerates_a_few_recurring_triplets_but_not_a_leak():
    # a task repeated the same way in two episodes recurs across splits now and then; a leak of whole recordings
    # recurs in bulk. v4 judges the share of distinct triplets, v3 refused any (count 0)
    rng = np.random.default_rng(0)

    def triplet(split, group):
        return _item(split, group, tuple(int(h) for h in rng.integers(0, 2**62, 3, dtype=np.int64)))

    def copy_into(item, split, group):
        return dataclasses.replace(
            item, split=split, group=group, image_hashes=(item.image_hashes[0] ^ 1, *item.image_hashes[1:])
        )

    update = {"image_hash_side": 8, "max_image_hash_distance": 4, "max_blind_gain": 1.0}  # 64-bit hashes; one answer
    config = load_rule_preset("v4").audit.model_copy(update=update)
    items = [triplet("train" if k % 4 else "test", f"e{k}") for k in range(38)]
    items.append(copy_into(items[1], "test", "e99"))  # 2 of 39 distinct triplets recur: 5.1 %
    audit = audit_items(items, config)
    assert (audit["leakage"]["triplets_in_several_splits"], audit["leakage"]["distinct_triplets"]) == (2, 39)
    with pytest.raises(ContractError, match=r"2 near-identical triplets in several splits, 5\.1% of 39"):
        check_audit(audit, config)
    items += [triplet("train", f"f{k}") for k in range(2)]  # 2 of 41: 4.9 %, published
    check_audit(audit_items(items, config), config)
    with pytest.raises(ContractError, match=r"max_cross_split_triplets 0"):  # the same data under v3's gate
        check_audit(audit_items(items, config), config.model_copy(update={"max_cross_split_triplets": 0}))


def test_a_finer_hash_tells_apart_street_scenes_that_share_a_layout():
    # two different street scenes (other houses, people, cars) with the same bands of sky, houses, pavement and road:
    # 8 x 8 hashes put some within 4 bits of each other, 16 x 16 ones far beyond v3's 16 of 256
    import numpy as np
    from PIL import Image

    from remot_data.audit import average_hash
    from remot_data.demo.mot import DemoMotConfig, _background

    config = DemoMotConfig()
    first = _background(np.random.default_rng(1), config.width, config.height)
    near = min(
        (
            (average_hash(first) ^ average_hash(other)).bit_count(),
            (average_hash(first, 16) ^ average_hash(other, 16)).bit_count(),
        )
        for other in (_background(np.random.default_rng(s), config.width, config.height) for s in range(2, 40))
    )
    assert near[0] <= 4 and near[1] > load_rule_preset("v3").audit.max_image_hash_distance
    shifted = Image.fromarray(np.roll(np.asarray(first), 2, axis=1))  # the same scene, 2 px over, re-encoded
    assert (average_hash(first, 16) ^ average_hash(shifted, 16)).bit_count() <= 16


def test_the_gate_fails_a_blind_answerable_family_and_leaking_groups():
    items = [_angle_item(5, [40, 90], group=f"g{i}") for i in range(40)]  # the smallest number always wins
    audit = audit_items(items)
    with pytest.raises(ContractError, match=r"camera_rotation: a blind policy beats chance by 0\.[5-9]\d"):
        check_audit(audit, AuditConfig(max_blind_gain=0.3))
    check_audit(audit, AuditConfig())  # v1's thresholds: report only
    split = [_angle_item(5, [40, 90], split=s, group="room") for s in ("train", "test")]
    with pytest.raises(ContractError, match=r"1 groups in several splits, e\.g\. \['room'\]"):
        check_audit(audit_items(split), AuditConfig())


@pytest.mark.parametrize("preset, low, high", [("v1", 0.80, 0.95), ("v2", 0.35, 0.50)])
def test_smallest_number_policy_under_each_presets_draw(preset, low, high):
    # v1 drew distractors in [1, 180] around 5-30 degree truths: "smallest number" answers most; v2 draws around them
    import numpy as np

    from remot_data.questions.render import _angle_options

    config, rng = load_rule_preset(preset), np.random.default_rng(0)
    items = []
    for truth in rng.integers(5, 31, size=600):
        options = tuple(_angle_options(f"{truth} degrees", rng, config))
        items.append(
            AuditItem(
                family="camera_rotation",
                split="train",
                group="g",
                subject="",
                answer="ABCD"[options.index(f"{truth} degrees")],
                options=(options,),
                prompt="p",
            )
        )
    report = blind_baselines(items)["camera_rotation"]
    assert low < report["smallest_number"] < high
    if preset == "v2":
        assert abs(report["smallest_number"] - report["numeric_chance"]) < 0.05


def test_every_build_is_audited_into_its_manifest(built_dataset):
    import json

    manifest = json.loads((built_dataset / "latest" / "manifest.json").read_text())
    assert set(manifest["audit"]["blind"]) >= {"camera_rotation"}
    assert manifest["audit"]["leakage"]["groups_in_several_splits"] == 0
    assert "## Audit" in (built_dataset / "latest" / "README.md").read_text()
    assert load_rule_preset("v2").audit.max_blind_gain == 0.3 and load_rule_preset("v1").audit.max_blind_gain == 1.0


def test_auditing_a_folder_that_is_no_dataset_names_it(tmp_path):
    from remot_data.audit import audit_dataset

    with pytest.raises(FileNotFoundError, match=r"not a remot dataset \(no manifest\.json in it or in latest/\)"):
        audit_dataset(tmp_path)


def test_a_pan_only_corpus_is_refused_naming_policy_sub_question_share_examples_and_key(tmp_path):
    # the camera only pans: every vertical sub-question's truth is "No rotation", which a blind policy then answers
    from remot_data.pipeline import SourceInput, build_dataset
    from tests.factories.scannet import SMALL_BUILD, make_pose_series, write_scannet_export

    frames = np.arange(120)
    for scene in range(10):
        headings = 25 * np.sin(2 * np.pi * frames / (40 + 5 * scene) + scene)
        write_scannet_export(tmp_path / "corpus" / f"scene{scene:04d}_00", make_pose_series(headings), seed=scene)
    with pytest.raises(ContractError) as refused:
        build_dataset([SourceInput(source="scannet", path=str(tmp_path / "corpus"))], tmp_path / "out", SMALL_BUILD)
    message = str(refused.value)
    assert "camera_rotation: a blind policy beats chance by" in message
    assert "answering every item with the most common correct label ('No rotation') is right on 100.0% of" in message
    assert any(f"of sub-question {k} (chance" in message for k in (3, 4, 7, 8, 11, 12))  # a vertical one
    example = message.split("e.g. ")[1].split(";")[0].split(", ")
    assert len(example) == 3 and all(len(e) == 16 for e in example)  # triplet ids to look at
    assert "a preset with audit.max_blind_gain" in message and "lets it through" in message


def test_decontamination_holds_val_against_train_and_test_against_train_then_the_val_that_stays():
    from remot_data.audit import decontaminate

    def item(split, hashes, tid):
        return AuditItem(family="f", split=split, group=tid, subject="", answer="A", options=(("x",),), prompt="p",
                         image_hashes=hashes, triplet_id=tid)  # fmt: skip

    items = [
        item("train", (0b1111,), "train_a"),
        item("val", (0b0111,), "val_copy_of_a"),  # 1 bit from train_a: removed
        item("val", (0b1111_0000_0000,), "val_own"),  # far from train: kept
        item("test", (0b1111_0000_0001,), "test_copy_of_val_own"),  # near the kept val triplet only
        item("test", (0b1111,), "test_copy_of_a"),  # equal to train_a and 1 bit from the removed val triplet
        item("test", (0b1 << 40,), "test_own"),
    ]
    found = {items[c.index].triplet_id: items[c.match].triplet_id for c in decontaminate(items, max_hash_distance=1,
                                                                                         hash_bits=64)}  # fmt: skip
    assert found == {
        "val_copy_of_a": "train_a",
        "test_copy_of_a": "train_a",  # named by the train triplet, not by the val one that is removed
        "test_copy_of_val_own": "val_own",
    }

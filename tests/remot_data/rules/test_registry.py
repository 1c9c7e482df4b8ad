"""Rule presets are validated as a whole: types, unknown keys, NaN, ordered thresholds, satisfiable options."""

import pytest

from remot_data.pipeline.config import BuildConfig
from remot_data.rules.registry import PRESET_DIR, load_rule_preset


def _variant(tmp_path, old, new):
    text = (PRESET_DIR / "v1.yaml").read_text()
    assert old in text
    path = tmp_path / "variant.yaml"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(
    "old, new, match",
    [
        ("min_deg: 5.0", "min_deg: .nan", r"camera_rotation\.min_deg: Input should be a finite number"),
        (
            "crop_fraction: 0.6",
            "crop_fraction: 0.6\n  crop_fracton: 0.5",
            r"crop_fracton: Extra inputs are not permitted",
        ),
        ("min_deg: 5.0", "min_deg: 50.0", r"need 0 <= dead_band_deg <= min_deg < max_deg <= 90"),
        (
            "frame_gap: 20",
            "frame_gap: twenty",
            r"camera_rotation\.frame_gap: Input should be a valid integer",
        ),
        (
            "angle_distractor_min_gap_ratio: 0.25",
            "angle_distractor_min_gap_ratio: 5.0",
            r"questions: angle options for a \d+-degree answer cannot be drawn",
        ),
    ],
    ids=["nan", "typo key", "disordered", "type", "unsatisfiable distractors"],
)
def test_a_bad_preset_names_its_file_and_field(tmp_path, old, new, match):
    path = _variant(tmp_path, old, new)
    with pytest.raises(ValueError, match=match) as caught:
        load_rule_preset(path)
    assert "variant.yaml" in str(caught.value)


def test_unknown_preset_lists_the_shipped_ones():
    with pytest.raises(FileNotFoundError, match=r"shipped presets: \[.v1., .v2., .v3., .v4., .v5.\]"):
        load_rule_preset("v9")


@pytest.mark.parametrize(
    "old, new, match",
    [
        ("  anchor_stride_s: 0.16\n", "", r"frame_gap_s and anchor_stride_s are given together or not at all"),
        ("max_negative_time_s: 5.0", "max_negative_time_s: -1.0", r"max_negative_time_s must be > 0 seconds"),
        ("max_image_hash_distance: 16", "max_image_hash_distance: 99", r"audit\.max_image_hash_distance"),
        ("dead_band_shift: 0.02", "dead_band_shift: 0.5", r"need dead_band_shift < min_shift < max_shift, got 0\.5, "),
        ("speed_same_ratio: 1.15", "speed_same_ratio: 5.0", r"need speed_same_ratio < speed_min_ratio < speed_max"),
        ("turn_max_deg: 45.0", "turn_max_deg: 1.0", r"need turn_dead_band_deg < turn_min_deg < turn_max_deg, got"),
        ("forward_dead_band_m: 0.5", "forward_dead_band_m: 50.0", r"need forward_dead_band_m < forward_min_m <"),
    ],
    ids=["half of the seconds", "negative time", "hash distance", "shift order", "speed order", "turn", "forward"],
)
def test_a_bad_v3_setting_names_its_file_and_field(tmp_path, old, new, match):
    text = (PRESET_DIR / "v3.yaml").read_text()
    assert old in text
    path = tmp_path / "variant.yaml"
    path.write_text(text.replace(old, new))
    with pytest.raises(ValueError, match=match) as caught:
        load_rule_preset(path)
    assert "variant.yaml" in str(caught.value)


def test_v4_is_v3_but_for_its_cross_split_triplet_gate():
    # datasets built with v3 stay reproducible: v4 is a new file, and it changes only how the audit judges triplets
    # that recur across splits (a share of the distinct triplets instead of a count of 0)
    v3, v4 = load_rule_preset("v3"), load_rule_preset("v4")
    gate = {"max_cross_split_triplets", "max_cross_split_triplet_share"}
    assert v3.model_dump(exclude={"name", "sha256", "audit"}) == v4.model_dump(exclude={"name", "sha256", "audit"})
    assert v3.audit.model_dump(exclude=gate) == v4.audit.model_dump(exclude=gate)
    assert (v3.audit.max_cross_split_triplets, v3.audit.max_cross_split_triplet_share) == (0, 1.0)
    assert (v4.audit.max_cross_split_triplets, v4.audit.max_cross_split_triplet_share) == (10**9, 0.05)


def test_v5_extends_v4_with_the_decontaminating_audit_and_the_angle_floor_and_is_the_default():
    v4, v5 = load_rule_preset("v4"), load_rule_preset("v5")
    changed = {"compare_content", "decontaminate", "max_decontaminated_share"}
    unchanged = {"name", "sha256", "audit", "questions"}
    assert v4.model_dump(exclude=unchanged) == v5.model_dump(exclude=unchanged)
    assert v4.audit.model_dump(exclude=changed) == v5.audit.model_dump(exclude=changed)
    floor = {"angle_distractor_floor"}
    assert v4.questions.model_dump(exclude=floor) == v5.questions.model_dump(exclude=floor)
    assert (v4.questions.angle_distractor_floor, v5.questions.angle_distractor_floor) == ("flip", "clamp")
    assert (v5.audit.compare_content, v5.audit.decontaminate, v5.audit.max_decontaminated_share) == (True, True, 0.2)
    assert (v4.audit.compare_content, v4.audit.decontaminate) == (False, False)  # v4 datasets rebuild as they were
    assert v5.name == "v5" and v5.sha256 != v4.sha256
    assert BuildConfig().preset == "v5"


def test_extends_layers_sections_key_by_key_and_hashes_the_whole_chain(tmp_path):
    parent = tmp_path / "parent.yaml"
    parent.write_text((PRESET_DIR / "v4.yaml").read_text().replace("name: v4", "name: parent"))
    child = tmp_path / "child.yaml"
    child.write_text("name: child\nextends: parent.yaml\naudit:\n  min_items: 7\n")
    loaded = load_rule_preset(child)
    assert loaded.name == "child" and loaded.audit.min_items == 7
    assert loaded.audit.max_blind_gain == load_rule_preset("v4").audit.max_blind_gain  # the rest of the section stays
    before = loaded.sha256
    parent.write_text(parent.read_text().replace("max_blind_gain: 0.30", "max_blind_gain: 0.31"))
    assert load_rule_preset(child).sha256 != before  # a parent's edit changes every child's hash
    child.write_text("name: child\nextends: child.yaml\n")
    with pytest.raises(ValueError, match="extends itself"):
        load_rule_preset(child)
    child.write_text("name: child\nextends: parent.yaml\naudit:\n  min_itemz: 7\n")
    with pytest.raises(ValueError, match=r"child\.yaml: audit\.min_itemz: Extra inputs are not permitted"):
        load_rule_preset(child)

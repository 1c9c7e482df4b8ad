"""The family table: one entry per family, and every reader of family facts takes them from it."""

from typing import get_args

import numpy as np
import pytest

from remot_data.records import FamilyName
from remot_data.rules.families import FAMILIES, RULES, family
from remot_data.rules.registry import load_rule_preset
from schemas import load_vocabulary


def test_the_table_holds_every_family_of_the_contract_once_and_a_rule_finds_each():
    vocabulary = load_vocabulary()
    assert list(FAMILIES) == list(get_args(FamilyName))
    assert set(FAMILIES) == set(vocabulary.families)
    found_by = [name for rule in RULES for name in rule.families]
    assert sorted(found_by) == sorted(FAMILIES)  # each family found by exactly one rule
    for entry in FAMILIES.values():
        assert all(name in vocabulary.attributes for name in entry.attributes), entry.name
    with pytest.raises(ValueError, match="unknown question family 'speed_up'; known families: \\['camera_rotation'"):
        family("speed_up")


@pytest.mark.parametrize("preset_name", ["v1", "v2", "v3", "v4", "v5"])
def test_windows_hold_their_dead_bands_and_sections_follow_the_preset(preset_name):
    preset = load_rule_preset(preset_name)
    for entry in FAMILIES.values():
        if getattr(preset, entry.section) is None:  # v1/v2 have no object or ego sections
            with pytest.raises(KeyError, match=f"preset {preset_name} has no {entry.section} section"):
                entry.window_of(preset)
            continue
        low, high = entry.window_of(preset)
        assert 0 <= entry.dead_band_of(preset) <= low < high, entry.name


def test_the_table_states_the_v4_facts():
    # what each family reads, stated independently: a wrong lambda in the table turns this red
    v4 = load_rule_preset("v4")
    m, o, e, c = v4.manipulation, v4.objects, v4.ego, v4.camera_rotation
    assert family("camera_rotation").dead_band_of(v4) == c.dead_band_deg
    assert family("grab_release").dead_band_of(v4) == m.gripper_dead_band
    assert family("grab_release").window_of(v4) == (m.gripper_min_delta, 1.0)
    for name in ("move_lr", "lift_lower", "move_complex"):
        assert family(name).dead_band_of(v4) == m.dead_band_m
        assert family(name).window_of(v4) == (m.min_delta_m, m.max_delta_m)
        assert family(name).is_mirrored(v4) is m.mirror
    assert family("object_count").dead_band_of(v4) == 0.5  # whole objects: a change of one is a change
    assert family("object_move_lr").is_mirrored(v4) is o.mirror
    assert family("ego_turn").is_mirrored(v4) is e.mirror
    for name in ("camera_rotation", "object_count", "object_speed", "ego_forward", "ego_speed"):
        assert family(name).is_mirrored(v4) is False  # a mirror changes no count, speed or distance
    assert family("ego_speed").window_of(v4) == family("object_speed").window_of(v4)
    assert family("object_count").window_of(v4) == (o.count_min_change, o.count_max_change)
    assert family("object_move_lr").dead_band_of(v4) == o.dead_band_shift
    assert family("object_move_lr").window_of(v4) == (o.min_shift, o.max_shift)
    assert family("object_speed").dead_band_of(v4) == pytest.approx(np.log(o.speed_same_ratio))
    assert family("object_speed").window_of(v4) == pytest.approx((np.log(o.speed_min_ratio), np.log(o.speed_max_ratio)))
    assert family("ego_speed").dead_band_of(v4) == family("object_speed").dead_band_of(v4)
    assert family("ego_turn").dead_band_of(v4) == e.turn_dead_band_deg
    assert family("ego_turn").window_of(v4) == (e.turn_min_deg, e.turn_max_deg)
    assert family("ego_forward").dead_band_of(v4) == e.forward_dead_band_m
    assert family("ego_forward").window_of(v4) == (e.forward_min_m, e.forward_max_m)
    assert family("camera_rotation").window_of(v4) == (c.min_deg, c.max_deg)


def test_a_mirror_negates_exactly_the_attributes_on_the_horizontal_axis():
    from remot_data.rules.mirror import LATERAL_ATTRIBUTES

    assert {"left_m", "pan_right_deg", "right_frac", "turn_right_deg"} == LATERAL_ATTRIBUTES

"""Ego rules on constructed drives: turn, forward/backward and speed flips from the car's own poses."""

import numpy as np
import pytest

from remot_data.records import Clip, FrameRef
from remot_data.rules.ego import find_ego_triplets
from remot_data.rules.registry import load_rule_preset

PRESET = load_rule_preset("v3")  # turns 8..45 deg, moves 2..20 m, speed ratios 1.5..4, all within 4 s


def _drive(xy, yaw_deg, hz=2.0):
    n = len(xy)
    return Clip(
        source="nuscenes",
        clip_id="scene-0001",
        frames=tuple(FrameRef(frame_index=i, timestamp_s=i / hz) for i in range(n)),
        tracks={"ego.xy_m": np.asarray(xy, dtype=float), "ego.yaw_deg": np.asarray(yaw_deg, dtype=float)},
    )


def _straight(speeds, hz=2.0):
    x = np.concatenate([[0.0], np.cumsum(np.asarray(speeds[:-1]) / hz)])
    return np.c_[x, np.zeros(len(x))]


def _by_family(found, family):
    return [c for c in found if c.family == family]


def test_a_weaving_drive_turns_left_and_right():
    t = np.arange(40) / 2.0
    yaw = 20.0 * np.sin(2 * np.pi * t / 10.0)
    found, rejects = find_ego_triplets(_drive(_straight(np.full(40, 3.0)), yaw), PRESET.ego, PRESET.objects)
    turns = _by_family(found, "ego_turn")
    assert turns
    # each family's rejects keep its name, so the rejects table tells them apart
    assert rejects and all(r.reason.startswith(("ego_turn_", "ego_forward_", "ego_speed_")) for r in rejects)
    assert all(r.detail.startswith(("ego_turn, anchor", "ego_forward, anchor", "ego_speed, anchor")) for r in rejects)
    for c in turns:
        a, p, n = (yaw[s.frame_index] for s in c.images)
        assert c.values_12[0] == pytest.approx(-(p - a)) and c.values_13[0] == pytest.approx(-(n - a))  # + = right
        assert np.sign(c.values_12[0]) == -np.sign(c.values_13[0]) and 8.0 <= abs(c.values_12[0]) <= 45.0
        assert abs(c.images[1].frame_index - c.images[0].frame_index) <= 8  # within 4 s at 2 Hz
    assert c.attribute_names == ("turn_right_deg",) and c.rule == "direction_flip"


def test_forward_and_backward_are_moves_along_the_path_without_turning():
    found, _ = find_ego_triplets(_drive(_straight(np.full(40, 3.0)), np.zeros(40)), PRESET.ego, PRESET.objects)
    moves = _by_family(found, "ego_forward")
    assert moves and not _by_family(found, "ego_turn")
    for c in moves:
        a, p, n = (s.frame_index for s in c.images)
        assert c.values_12[0] == pytest.approx(1.5 * (p - a)) and c.values_13[0] == pytest.approx(1.5 * (n - a))
        assert np.sign(c.values_12[0]) == -np.sign(c.values_13[0])
    t = np.arange(40) / 2.0
    swinging = 20.0 * np.sin(2 * np.pi * t / 6.0)  # turning all the time: "forward" would mix with the turn
    found, rejects = find_ego_triplets(_drive(_straight(np.full(40, 3.0)), swinging), PRESET.ego, PRESET.objects)
    for c in _by_family(found, "ego_forward"):
        headings = [swinging[s.frame_index] for s in c.images]
        assert max(headings) - min(headings) <= 10.0


def test_speed_flip_uses_double_exposures_of_the_drive():
    speeds = np.tile(np.repeat([4.0, 8.0, 4.0, 2.0], 4), 3)  # cruise, speed up, cruise, brake: 2 s each
    xy = _straight(speeds)
    found, rejects = find_ego_triplets(_drive(xy, np.zeros(len(xy))), PRESET.ego, PRESET.objects)
    fast_slow = _by_family(found, "ego_speed")
    assert fast_slow
    for c in fast_slow:
        measured = []
        for spec in c.images:
            assert spec.ghost_frame_index == spec.frame_index - 1  # ghost_s 0.5 s at 2 Hz: the previous keyframe
            measured.append(np.linalg.norm(xy[spec.frame_index] - xy[spec.ghost_frame_index]) / 0.5)
        assert c.values_12[0] == pytest.approx(np.log(measured[1] / measured[0]))
        assert c.values_12[0] * c.values_13[0] < 0 and min(abs(c.values_12[0]), abs(c.values_13[0])) >= np.log(1.5)
    creeping = _straight(np.tile(np.repeat([0.2, 0.4, 0.2, 0.1], 4), 3))  # the same ratios, all below 1 m/s
    standing = find_ego_triplets(_drive(creeping, np.zeros(len(creeping))), PRESET.ego, PRESET.objects)[0]
    assert not _by_family(standing, "ego_speed")  # below min_speed_mps no frame has a usable speed


def test_ego_rules_need_the_cars_poses():
    with pytest.raises(ValueError, match="ego rules need the tracks"):
        find_ego_triplets(Clip(source="nuscenes", clip_id="x", frames=()), PRESET.ego, PRESET.objects)


def test_a_clip_no_rule_of_the_preset_reads_is_one_reject_naming_why():
    from remot_data.pipeline.rows import find_candidates

    drive = _drive(_straight(np.full(20, 3.0)), np.zeros(20))  # a driving log: ego tracks only
    for old in ("v1", "v2"):
        found, rejects = find_candidates(drive, load_rule_preset(old))
        assert found == [] and [r.reason for r in rejects] == ["no_rule_applies"]
        assert "driving logs need a preset with objects and ego sections, v3 or later" in rejects[0].detail
    _, rejects = find_candidates(drive, PRESET)
    assert "no_rule_applies" not in {r.reason for r in rejects}
    bare = Clip(source="scannet", clip_id="x", frames=(FrameRef(frame_index=0),))
    (reject,) = find_candidates(bare, PRESET)[1]
    assert reject.reason == "no_rule_applies" and "v3 or later" not in reject.detail

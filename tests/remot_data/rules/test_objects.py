"""Object rules on constructed boxes: count flips (+k, -k, certain counts only) and marked-object direction flips."""

import numpy as np
import pytest

from remot_data.records import Clip, FrameRef, ObjectBoxes
from remot_data.rules.objects import find_count_triplets, find_object_direction_triplets
from remot_data.rules.registry import load_rule_preset

OBJECTS = load_rule_preset("v3").objects  # counts k in 1..3 within 4 s; shifts 0.06..0.35 of the width
W, H = 400, 300


def _clip(rows, n_frames, fps=2.0):
    """rows: (position, track id, category, left px, visibility) with 40 x 120 px boxes."""
    rows = list(rows)
    objects = ObjectBoxes(
        position=np.array([r[0] for r in rows], dtype=np.int64),
        track_id=np.array([r[1] for r in rows], dtype=np.int64),
        category=np.array([r[2] for r in rows]),
        box_xywh_px=np.array([[r[3], 100.0, 40.0, 120.0] for r in rows]),
        visibility=np.array([r[4] for r in rows], dtype=np.float64),
        considered=np.ones(len(rows), dtype=bool),
    )
    return Clip(
        source="motchallenge",
        clip_id="SEQ-01",
        frames=tuple(FrameRef(frame_index=i) for i in range(n_frames)),
        image_width_px=W,
        image_height_px=H,
        fps=fps,
        objects=objects,
    )


def _people(counts, visibility=1.0):
    """Boxes giving ``counts[t]`` visible pedestrians at frame t (ids 1..)."""
    return [(t, k + 1, "pedestrian", 10.0 + 45 * k, visibility) for t, c in enumerate(counts) for k in range(c)]


def test_count_flip_rises_and_falls_by_the_same_k():
    counts = [3, 3, 5, 5, 3, 3, 1, 1, 3, 3]  # at 2 fps: frame 0 sees 5 one second later and 1 three seconds later
    found, rejects = find_count_triplets(_clip(_people(counts), len(counts)), OBJECTS)
    first = next(c for c in found if c.images[0].frame_index == 0)
    assert [s.frame_index for s in first.images] == [0, 2, 6]  # the nearest +2 and -2 (no +1/-1 frame exists)
    assert (first.values_12, first.values_13, first.values_23) == ((2.0,), (-2.0,), (-4.0,))
    assert first.magnitude == 2.0 and first.subject == "pedestrians" and first.rule == "count_flip"
    for c in found:  # every triplet: positive +k, negative -k, certain counts
        a, p, n = (counts[s.frame_index] for s in c.images)
        assert p - a == -(n - a) == c.values_12[0] > 0
    assert not any(c.subject == "vehicles" for c in found) and not any("vehicles" in r.detail for r in rejects)


def test_the_negative_falls_by_exactly_the_positives_k():
    counts = [3, 2, 5, 1, 3, 3]  # +2 exists, +1 does not: the negative must be the 1 (-2), not the nearer 2 (-1)
    found, _ = find_count_triplets(_clip(_people(counts), len(counts)), OBJECTS)
    assert [s.frame_index for s in found[0].images] == [0, 2, 3] and found[0].values_13 == (-2.0,)


def test_the_smallest_change_wins_and_time_bounds_the_search():
    counts = [4, 5, 3, 6, 2] + [4] * 12 + [8]  # +1 and -1 one step away; +4 only 8.5 s later
    found, rejects = find_count_triplets(_clip(_people(counts), len(counts)), OBJECTS)
    first = next(c for c in found if c.images[0].frame_index == 0)
    assert first.values_12 == (1.0,) and [s.frame_index for s in first.images] == [0, 1, 2]
    late = [r for r in rejects if r.frame_index == 16]
    assert late and late[0].reason == "no_count_change" and "within 4.0 s" in late[0].detail


def test_a_frame_whose_count_could_be_read_either_way_is_not_used():
    rows = _people([2, 2, 3, 3, 1, 1, 2, 2])
    rows.append((0, 9, "pedestrian", 300.0, 0.3))  # 30 % visible: within 0.1 of the 0.25 threshold
    rows.append((5, 9, "pedestrian", 300.0, 0.05))  # clearly hidden: does not count, certain
    found, rejects = find_count_triplets(_clip(rows, 8), OBJECTS)
    assert {r.reason for r in rejects if r.frame_index == 0} == {"count_uncertain"}
    assert all(s.frame_index != 0 for c in found for s in c.images)
    assert [[s.frame_index for s in c.images] for c in found] == [[6, 3, 5]]  # frame 5 counts 1: hidden is no one


def test_an_ignored_box_makes_a_count_uncertain():
    clip = _clip(_people([2, 3, 1]), 3)
    considered = clip.objects.considered.copy()
    considered[0] = False  # the source marks one box of frame 0 as one to ignore (e.g. a static person)
    objects = ObjectBoxes(**{**clip.objects.__dict__, "considered": considered})
    found, rejects = find_count_triplets(Clip(**{**clip.__dict__, "objects": objects}), OBJECTS)
    assert [r.reason for r in rejects if r.frame_index == 0] == ["count_uncertain"]


def _walk(lefts, track_id=1, category="pedestrian", visibility=1.0):
    return [(t, track_id, category, x, visibility) for t, x in enumerate(lefts) if x is not None]


SWAY = [200.0 + 100.0 * np.sin(2 * np.pi * t / 16) for t in range(32)]  # at 4 fps: 4 s to and fro, 0.5 of the width


def test_a_marked_object_moving_right_then_back_gives_a_direction_flip():
    lefts = SWAY
    clip = _clip(_walk(lefts) + _walk([300.0] * 32, track_id=2), len(lefts), fps=4.0)  # id 2 stands still
    found, rejects = find_object_direction_triplets(clip, OBJECTS)
    assert found and all(c.family == "object_move_lr" and c.subject == "pedestrian" for c in found)
    for c in found:
        a, p, n = (lefts[s.frame_index] for s in c.images)
        assert c.values_12[0] == pytest.approx((p - a) / W) and c.values_13[0] == pytest.approx((n - a) / W)
        assert np.sign(c.values_12[0]) == -np.sign(c.values_13[0])
        for spec in c.images:  # the mark is the object's box, in fractions of the frame
            x = lefts[spec.frame_index]
            assert (spec.mark.x0, spec.mark.x1) == pytest.approx((x / W, (x + 40) / W))
            assert (spec.mark.y0, spec.mark.y1) == pytest.approx((100 / H, 220 / H))
    assert all(r.reason == "no_positive_in_window" for r in rejects if "pedestrian 2" in r.detail)


def test_a_barely_visible_object_is_never_marked():
    half_hidden = _clip(_walk(SWAY, visibility=0.4), len(SWAY), fps=4.0)  # sure visible (>= 0.35) but below 0.5
    assert find_object_direction_triplets(half_hidden, OBJECTS)[0] == []
    assert find_object_direction_triplets(_clip(_walk(SWAY, visibility=0.6), len(SWAY), fps=4.0), OBJECTS)[0]


def test_object_rules_need_boxes_and_times():
    clip = _clip(_people([1, 2]), 2, fps=None)
    with pytest.raises(ValueError, match="need frame times"):
        find_count_triplets(clip, OBJECTS)
    with pytest.raises(ValueError, match="need object boxes"):
        find_object_direction_triplets(Clip(source="motchallenge", clip_id="x", frames=()), OBJECTS)


def _paced(paces, fps=10.0, start=20.0, px_per_s=40.0):
    """Box lefts of an object whose speed is px_per_s times paces[t] (one pace per frame)."""
    lefts, x = [], start
    for pace in paces:
        lefts.append(x)
        x += pace * px_per_s / fps
    return lefts


def test_speed_flip_pairs_a_faster_and_a_slower_stretch_of_one_walk():
    from remot_data.rules.objects import find_object_speed_triplets

    paces = [1.0] * 20 + [2.0] * 20 + [0.5] * 20 + [1.0] * 20  # at 10 fps: walk, hurry, stroll, walk
    lefts = _paced(paces)
    found, _ = find_object_speed_triplets(_clip(_walk(lefts), len(lefts), fps=10.0), OBJECTS)
    assert found and all(c.family == "object_speed" and c.rule == "speed_flip" for c in found)
    gap = 5  # ghost_s 0.5 s at 10 fps
    for c in found:
        speeds = []
        for spec in c.images:
            assert spec.ghost_frame_index == spec.frame_index - gap
            assert spec.mark.x0 == pytest.approx(lefts[spec.frame_index] / W)
            speeds.append((lefts[spec.frame_index] - lefts[spec.ghost_frame_index]) / W / 0.5)
        assert c.values_12[0] == pytest.approx(np.log(speeds[1] / speeds[0]))
        assert c.values_13[0] == pytest.approx(np.log(speeds[2] / speeds[0]))
        assert c.values_12[0] * c.values_13[0] < 0  # one faster, the other slower
        assert min(abs(c.values_12[0]), abs(c.values_13[0])) >= np.log(1.5) - 1e-9
        assert abs(c.images[1].frame_index - c.images[0].frame_index) <= 40  # within 4 s
    steady = _paced([1.0] * 80)
    found, rejects = find_object_speed_triplets(_clip(_walk(steady), 80, fps=10.0), OBJECTS)
    assert found == [] and rejects
    assert all(r.reason.startswith("speed_") and r.detail.startswith("object_speed pedestrian 1, ") for r in rejects)


def test_speed_flip_keeps_one_direction_of_travel():
    from remot_data.rules.objects import find_object_speed_triplets

    # hurrying right, then walking back left: 2x the speed but the other way is no "faster"
    lefts = _paced([2.0] * 30) + [x for x in reversed(_paced([1.0] * 30, start=40.0))]
    found, _ = find_object_speed_triplets(_clip(_walk(lefts), len(lefts), fps=10.0), OBJECTS)
    for c in found:
        ways = {np.sign(lefts[s.frame_index] - lefts[s.ghost_frame_index]) for s in c.images}
        assert len(ways) == 1

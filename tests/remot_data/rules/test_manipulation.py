import numpy as np
import pytest

from remot_data.records import Clip, FrameRef
from remot_data.rules.direction import find_arm_direction_triplets
from remot_data.rules.registry import load_rule_preset
from remot_data.rules.state import find_gripper_triplets

CONFIG = load_rule_preset("v1").manipulation  # min 0.05 m, max 0.40 m, off-axis 0.35, stride 5


def _clip(xyz: np.ndarray, gripper: np.ndarray | None = None) -> Clip:
    n = len(xyz)
    gripper = np.zeros(n) if gripper is None else gripper
    frames = tuple(FrameRef(frame_index=i, video_path=None, timestamp_s=i / 10) for i in range(n))
    return Clip(
        source="lerobot",
        clip_id="episode_000000",
        frames=frames,
        fps=10.0,
        tracks={"left.ee_xyz_m": xyz, "left.gripper_closed": gripper},
    )


def _path(*segments):
    """Piecewise-linear end-effector path through (x, y, z) waypoints, 10 frames per segment."""
    points = [np.array(p, dtype=float) for p in segments]
    return np.concatenate(
        [np.linspace(a, b, 10, endpoint=False) for a, b in zip(points, points[1:], strict=False)] + [points[-1][None]]
    )


# (name, path, family, expected 1->2 sign pattern of the asked axes)
SCENARIOS = [
    ("left then right", _path((0.4, 0.2, 0), (0.4, 0.35, 0), (0.4, 0.05, 0)), "move_lr"),
    ("up then down", _path((0.4, 0.2, 0), (0.4, 0.2, 0.2), (0.4, 0.2, -0.15)), "lift_lower"),
    ("diagonal back and forth", _path((0.4, 0.2, 0), (0.4, 0.32, 0.12), (0.4, 0.08, -0.12)), "move_complex"),
]


@pytest.mark.parametrize("xyz, family", [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_arm_labels_are_s_minus_s_minus_s(xyz, family):
    candidates, _ = find_arm_direction_triplets(_clip(xyz), CONFIG)
    mine = [c for c in candidates if c.family == family]
    assert mine
    for c in mine:
        s = np.sign(c.values_12)
        assert np.all(s != 0)
        assert np.all(np.sign(c.values_13) == -s) and np.all(np.sign(c.values_23) == -s)
        assert CONFIG.min_delta_m <= c.magnitude <= CONFIG.max_delta_m
        assert c.margin >= 0 and c.subject == "left" and c.rule == "direction_flip"
        assert len({im.frame_index for im in c.images}) == 3  # three real frames of the same episode


def test_pure_lateral_motion_is_not_a_vertical_or_diagonal_triplet():
    candidates, _ = find_arm_direction_triplets(_clip(_path((0.4, 0.2, 0), (0.4, 0.35, 0), (0.4, 0.05, 0))), CONFIG)
    assert {c.family for c in candidates} == {"move_lr"}


def test_off_axis_motion_blocks_single_axis_labels():
    # sideways 0.15 m while rising 0.1 m: too much vertical motion to call it plain Left/Right
    xyz = _path((0.4, 0.2, 0), (0.4, 0.35, 0.1), (0.4, 0.05, -0.1))
    candidates, _ = find_arm_direction_triplets(_clip(xyz), CONFIG)
    assert "move_lr" not in {c.family for c in candidates}
    assert "move_complex" in {c.family for c in candidates}


def test_still_arm_gives_rejects_not_triplets():
    candidates, rejects = find_arm_direction_triplets(_clip(np.tile([0.4, 0.2, 0.0], (40, 1))), CONFIG)
    assert candidates == [] and {r.reason for r in rejects} == {"no_positive_in_window"}


def test_gripper_retrieval_needs_an_anchor_between_open_and_closed():
    # open -> half -> closed -> open: anchors at half closedness see both a closing and an opening frame
    g = np.r_[np.zeros(10), np.full(10, 0.5), np.ones(10), np.zeros(10)]
    candidates, rejects = find_gripper_triplets(_clip(np.tile([0.4, 0.2, 0.0], (40, 1)), g), CONFIG)
    assert candidates
    for c in candidates:
        assert c.family == "grab_release" and c.rule == "state_flip"
        assert np.sign(c.values_12[0]) == -np.sign(c.values_13[0]) == -np.sign(c.values_23[0])
        assert abs(c.values_12[0]) >= CONFIG.gripper_min_delta
    assert any(r.reason == "no_opposite_frame" for r in rejects)  # fully open or closed anchors


def test_balanced_directions_swap_images_2_and_3_for_about_half_the_retrieval_triplets(demo_lerobot_root):
    # without it the stated 1->2 direction follows each clip's dominant motion (the demo robot lifts far more often)
    from remot_data.pipeline.rows import find_candidates
    from remot_data.rules.registry import load_rule_preset
    from remot_data.sources.lerobot import read_lerobot_episode
    from tests.factories.lerobot import DEMO_MAPPING

    preset = load_rule_preset("v2")
    plain = preset.model_copy(update={"questions": preset.questions.model_copy(update={"balance_directions": False})})
    clip = read_lerobot_episode(demo_lerobot_root, "episode_000001", DEMO_MAPPING)
    before, _ = find_candidates(clip, plain)
    after, _ = find_candidates(clip, preset)
    assert len(before) == len(after) > 10
    swapped = [a for b, a in zip(before, after, strict=True) if a.images != b.images]
    assert 0.25 < len(swapped) / len(after) < 0.75
    for b, a in zip(before, after, strict=True):
        if a.images != b.images:
            assert a.images == (b.images[0], b.images[2], b.images[1])
            assert a.values_12 == b.values_13 and a.values_23 == tuple(-v for v in b.values_23)

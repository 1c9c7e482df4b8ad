import numpy as np
import pytest

from remot_data.rules.direction import classify_angle_deg, find_camera_rotation_triplets
from remot_data.rules.registry import load_rule_preset
from tests.factories.scannet import make_pose_clip, make_pose_series

CONFIG = load_rule_preset("v1").camera_rotation  # frame_gap 20, stride 5, dead-band 2, window [5, 30]


def _sweep(n=120, amplitude=25.0, period=100.0, axis="pan"):
    t = np.arange(n)
    wave = amplitude * np.sin(2 * np.pi * t / period)
    if axis == "pan":
        return make_pose_series(-wave)  # heading decreases => turning right while the wave rises
    return make_pose_series(np.zeros(n), wave)


# (name, poses, expected: set of rejected reasons that must occur, whether retrieval triplets must exist)
SCENARIOS = [
    ("still camera", make_pose_series(np.zeros(60)), {"positive_still"}, False),
    # early anchors have no earlier frame to the left; later ones retrieve one (an earlier frame is a real view)
    ("monotonic pan right 0.5 deg/frame", make_pose_series(-0.5 * np.arange(80)), {"no_opposite_frame"}, True),
    ("pan too fast 3 deg/frame", make_pose_series(-3.0 * np.arange(60)), {"positive_out_of_window"}, False),
    (
        "ambiguous 0.15 deg/frame (3 deg per gap)",
        make_pose_series(-0.15 * np.arange(60)),
        {"positive_out_of_window"},
        False,
    ),
    ("pan sweep", _sweep(axis="pan"), set(), True),
    ("tilt sweep", _sweep(axis="tilt"), set(), True),
]


@pytest.mark.parametrize("poses, reasons, has_retrieval", [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_rule_outcomes(poses, reasons, has_retrieval):
    candidates, rejects = find_camera_rotation_triplets(make_pose_clip(poses), CONFIG)
    assert reasons <= {r.reason for r in rejects}
    assert any(c.negative_method == "retrieval" for c in candidates) == has_retrieval
    assert all(r.stage == "rule" and r.frame_index is not None for r in rejects)


@pytest.mark.parametrize("axis", ["pan", "tilt"])
def test_labels_are_s_minus_s_minus_s_with_margin(axis):
    candidates, _ = find_camera_rotation_triplets(make_pose_clip(_sweep(axis=axis)), CONFIG)
    assert candidates
    k = 0 if axis == "pan" else 1
    for c in candidates:
        s = np.sign(c.values_12[k])
        assert s != 0
        assert np.sign(c.values_13[k]) == -s and np.sign(c.values_23[k]) == -s
        # the other axis does not rotate in any pair
        assert max(abs(c.values_12[1 - k]), abs(c.values_13[1 - k]), abs(c.values_23[1 - k])) < CONFIG.dead_band_deg
        assert CONFIG.min_deg <= c.magnitude <= CONFIG.max_deg
        assert 0 <= c.margin <= c.magnitude - CONFIG.min_deg + 1e-9
        assert c.images[1].frame_index - c.images[0].frame_index == CONFIG.frame_gap


def test_retrieved_negative_has_similar_magnitude():
    candidates, _ = find_camera_rotation_triplets(make_pose_clip(_sweep()), CONFIG)
    for c in (c for c in candidates if c.negative_method == "retrieval"):
        ratio = abs(c.values_13[0]) / abs(c.values_12[0])
        assert 1 / CONFIG.max_magnitude_ratio <= ratio <= CONFIG.max_magnitude_ratio


def test_crop_negative_simulates_the_opposite_rotation():
    # Monotonic right pan: a shifted crop of the anchor simulates the left pan, even for the first anchor.
    candidates, _ = find_camera_rotation_triplets(make_pose_clip(make_pose_series(-0.4 * np.arange(60))), CONFIG)
    crops = [c for c in candidates if c.negative_method == "crop"]
    assert [c.images[0].frame_index for c in crops] == [0, 5, 10, 15, 20, 25, 30, 35]
    for c in crops:
        assert c.values_12[0] == pytest.approx(8.0, abs=1e-6)
        assert c.values_13[0] == pytest.approx(-8.0, abs=0.05)  # first-order crop model
        assert c.values_23[0] == pytest.approx(-16.0, abs=0.1)
        anchor, positive, negative = c.images
        assert negative.frame_index == anchor.frame_index
        assert anchor.crop == positive.crop
        # a left turn looks at the left part of the frame: the crop moves left
        assert negative.crop.x0 < anchor.crop.x0


def test_crop_too_far_is_rejected():
    # 1.4 deg/frame = 28 deg per gap: a 60% crop of a 60-degree view cannot shift that far.
    _, rejects = find_camera_rotation_triplets(make_pose_clip(make_pose_series(-1.4 * np.arange(50))), CONFIG)
    assert "crop_outside_frame" in {r.reason for r in rejects}


@pytest.mark.parametrize(
    "value, windowed, expected",
    [
        (0.0, True, (0, 2.0)),
        (1.5, True, (0, 0.5)),
        (-2.0, True, None),
        (4.9, True, None),
        (5.0, True, (1, 0.0)),
        (-17.5, True, (-1, 12.5)),
        (30.0, True, (1, 0.0)),
        (30.1, True, None),
        (45.0, False, (1, 40.0)),
    ],
)
def test_classify_angle_thresholds(value, windowed, expected):
    result = classify_angle_deg(value, CONFIG, windowed=windowed)
    if expected is None:
        assert result is None
    else:
        assert result[0] == expected[0] and result[1] == pytest.approx(expected[1])


def test_preset_rejects_bad_thresholds(tmp_path):
    bad = tmp_path / "bad.yaml"
    source = (__import__("remot_data.rules.registry", fromlist=["PRESET_DIR"]).PRESET_DIR / "v1.yaml").read_text()
    bad.write_text(source.replace("min_deg: 5.0", "min_deg: 1.0"))
    with pytest.raises(ValueError, match="dead_band_deg <= min_deg"):
        load_rule_preset(bad)


def test_retrieval_negatives_stay_near_the_anchor_on_a_walk_through():
    # a 6 m walk while panning +-25 degrees: without a bound, the opposite heading is often metres away
    poses = _sweep(n=240, amplitude=25.0, period=80.0)
    poses[:, 0, 3] = np.linspace(0.0, 6.0, len(poses))  # walking along x
    clip = make_pose_clip(poses)
    v2 = load_rule_preset("v2").camera_rotation
    unbounded = v2.model_copy(update={"max_negative_translation_m": None, "negative_methods": ("retrieval",)})
    bounded = v2.model_copy(update={"negative_methods": ("retrieval",)})

    def distances(config):
        found, rejects = find_camera_rotation_triplets(clip, config)
        return [
            abs(poses[c.images[2].frame_index, 0, 3] - poses[c.images[0].frame_index, 0, 3]) for c in found
        ], rejects

    far, _ = distances(unbounded)
    near, rejects = distances(bounded)
    assert max(far) > 1.0  # the problem exists
    assert near and max(near) <= 0.5
    assert any(r.reason == "negative_too_far" and "0.5 m of the anchor" in r.detail for r in rejects)


def test_steep_frames_are_kept_out_where_pan_would_misstate_the_image():
    # panning while looking 60 degrees down: world heading changes about twice what the image shows
    n = 120
    wave = 25.0 * np.sin(2 * np.pi * np.arange(n) / 100.0)
    steep = make_pose_clip(make_pose_series(-wave, np.full(n, -60.0)))
    level = make_pose_clip(make_pose_series(-wave, np.full(n, -20.0)))
    v2 = load_rule_preset("v2").camera_rotation
    found, rejects = find_camera_rotation_triplets(steep, v2)
    assert not found and {r.reason for r in rejects} == {"camera_too_steep"}
    assert "looks -60° from the horizon, beyond max_abs_elevation_deg 35.0" in rejects[0].detail
    assert find_camera_rotation_triplets(level, v2)[0]  # 20 degrees down is fine
    assert find_camera_rotation_triplets(steep, v2.model_copy(update={"max_abs_elevation_deg": None}))[0]


def _gaps(found, clip=None):
    """Frame-number gaps from anchor to positive (ImageSpec.frame_index is a position in the clip)."""
    number = (lambda p: p) if clip is None else (lambda p: clip.frames[p].frame_index)
    return {
        number(c.images[1].frame_index) - number(c.images[0].frame_index)
        for c in found
        if c.negative_method == "retrieval"
    }


def test_gaps_and_strides_are_seconds_when_the_clip_has_times():
    # the same motion per second recorded at 30 Hz and at 10 Hz: v3 pairs frames 0.66 s apart in both
    v3 = load_rule_preset("v3").camera_rotation
    seconds = np.arange(0.0, 12.0, 1 / 30)
    fast = make_pose_clip(make_pose_series(-25.0 * np.sin(2 * np.pi * seconds / 3.3)), fps=30.0)
    slow_seconds = np.arange(0.0, 12.0, 1 / 10)
    slow = make_pose_clip(make_pose_series(-25.0 * np.sin(2 * np.pi * slow_seconds / 3.3)), fps=10.0)
    fast_found, _ = find_camera_rotation_triplets(fast, v3)
    slow_found, _ = find_camera_rotation_triplets(slow, v3)
    assert _gaps(fast_found) == {20} and _gaps(slow_found) == {7}  # 0.66 s: 20 frames at 30 Hz, 7 at 10 Hz
    anchors = sorted({c.images[0].frame_index for c in slow_found})
    assert all(b - a >= 2 for a, b in zip(anchors, anchors[1:], strict=False))  # 0.16 s stride: 2 frames at 10 Hz
    # without times, the frame counts are the fallback: 20 frames at 10 Hz would be 2 s
    timeless = make_pose_clip(make_pose_series(-25.0 * np.sin(2 * np.pi * slow_seconds / 3.3)))
    assert _gaps(find_camera_rotation_triplets(timeless, v3)[0]) == {20}


def test_a_downsampled_export_keeps_its_timing():
    # SensReader with frame_skip 10 keeps the 30 Hz capture numbers: 0, 10, 20, ... (one frame per 1/3 s)
    seconds = np.arange(0, 300, 10) / 30.0
    clip = make_pose_clip(
        make_pose_series(-25.0 * np.sin(2 * np.pi * seconds / 4.0)), fps=30.0, frame_numbers=range(0, 300, 10)
    )
    found, rejects = find_camera_rotation_triplets(clip, load_rule_preset("v3").camera_rotation)
    assert found and _gaps(found, clip) == {20}  # frame 20 is the first at >= 0.66 s, exactly as in the full capture
    assert "positive_frame_missing" not in {r.reason for r in rejects}


def test_retrieval_negatives_stay_within_the_time_bound():
    # a steady pan of 1 deg/s: the opposite of "10 degrees in the next 10 s" is only found 7-15 s before the anchor
    seconds = np.arange(0.0, 60.0, 0.5)
    clip = make_pose_clip(make_pose_series(seconds * 1.0), fps=2.0)
    v3 = load_rule_preset("v3").camera_rotation.model_copy(
        update={"negative_methods": ("retrieval",), "frame_gap_s": 10.0, "anchor_stride_s": 5.0}
    )

    def seconds_apart(config):
        found, rejects = find_camera_rotation_triplets(clip, config)
        return [abs(c.images[2].frame_index - c.images[0].frame_index) / 2.0 for c in found], rejects

    unbounded, _ = seconds_apart(v3.model_copy(update={"max_negative_time_s": None}))
    assert unbounded and min(unbounded) > 5.0  # the problem exists
    bounded, rejects = seconds_apart(v3)  # max_negative_time_s 5.0
    assert not bounded
    assert {r.reason for r in rejects} >= {"negative_too_far"}
    assert any("0.5 m and 5.0 s of the anchor" in r.detail for r in rejects)
    wider, _ = seconds_apart(v3.model_copy(update={"max_negative_time_s": 9.0}))
    assert max(unbounded) == 10.0 and len(wider) == len(unbounded) and max(wider) == 9.0  # the nearest allowed

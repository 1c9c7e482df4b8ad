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

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from remot_data.demo.lerobot import render_robot
from remot_data.frames import FrameConfig
from remot_data.pipeline import BuildConfig, SourceInput, build_dataset
from remot_data.table import read_triplets
from tests.factories.lerobot import DEMO_MAPPING
from tests.factories.scannet import SMALL_BUILD


def _gripper_column(pixels: np.ndarray, side: str) -> float:
    """Mean column of the dark gripper pixels in the left or right half of a robot image."""
    gray = pixels.astype(float).mean(axis=2)
    half = gray.shape[1] // 2
    part = gray[:, :half] if side == "left" else gray[:, half:]
    cols = np.nonzero(part < 60)[1]
    return float(cols.mean()) + (0 if side == "left" else half)


def test_rendered_robot_follows_the_state():
    base = np.array([0.4, 0.25, 0.0, 0.08, 0.4, -0.25, 0.0, 0.08])
    moved = base.copy()
    moved[1] += 0.1  # left arm moves 0.1 m to the robot's left
    a, b = render_robot(base, width=200, height=150), render_robot(moved, width=200, height=150)
    assert _gripper_column(b, "left") < _gripper_column(a, "left") - 15  # 0.1 m = 20 px to the image's left
    assert abs(_gripper_column(b, "right") - _gripper_column(a, "right")) < 1  # the other arm stays


def test_robot_dataset_has_every_family_with_mirrored_copies(built_robot_dataset):
    rows = read_triplets(built_robot_dataset).to_pylist()
    families = {r["family"] for r in rows}
    assert families == {"grab_release", "lift_lower", "move_lr", "move_complex"}
    mirrored = [r for r in rows if r["mirrored"]]
    assert len(mirrored) * 2 == len(rows)
    assert {r["subject"] for r in rows} == {"left", "right"}
    assert all(r["source"] == "lerobot" and r["negative_method"] == "retrieval" for r in rows)


def test_pixels_of_a_lateral_triplet_show_the_labelled_motion(built_robot_dataset):
    rows = [r for r in read_triplets(built_robot_dataset).to_pylist() if r["family"] == "move_lr"]
    checked = 0
    for row in rows:
        side = row["subject"]  # mirrored rows: the arm the image shows on that side
        cols = [
            _gripper_column(np.asarray(Image.open(io.BytesIO(row[f"{r}_image"]["bytes"])).convert("RGB")), side)
            for r in ("anchor", "positive", "negative")
        ]
        expected = -1 if row["labels"][0] == "Left" else 1  # moving to the robot's left = towards the image's left
        assert np.sign(cols[1] - cols[0]) == expected and np.sign(cols[2] - cols[0]) == -expected
        checked += 1
    assert checked >= 4


def test_truncated_video_rejects_only_the_triplets_it_breaks(demo_lerobot_root, tmp_path):
    root = tmp_path / "robot"
    shutil.copytree(demo_lerobot_root, root)
    video = root / "videos/observation.images.head/chunk-000/file-001.mp4"  # episodes 2 and 3
    data = video.read_bytes()
    video.write_bytes(data[: int(len(data) * 0.6)])
    manifest = build_dataset(
        [SourceInput(source="lerobot", path=root, lerobot_mapping=DEMO_MAPPING)],
        tmp_path / "out",
        BuildConfig(frames=FrameConfig(max_side_px=64)),
    )
    rejects = pq.read_table(tmp_path / "out" / "latest" / "rejects.parquet").to_pylist()
    broken = [r for r in rejects if r["reason"] == "unreadable_frames"]
    assert broken and all(r["stage"] == "frames" and r["path"].endswith("file-001.mp4") for r in broken)
    assert all(r["clip_id"] == "episode_000003" for r in broken)  # the tail of the file: the second episode
    assert "frames [" in broken[0]["detail"]
    clips = set(read_triplets(tmp_path / "out").column("clip_id").to_pylist())
    assert {"episode_000000", "episode_000001"} <= clips
    assert manifest["rejects"]["by_reason"]["unreadable_frames"] == len(broken)


def test_two_sources_in_one_build(demo_lerobot_root, demo_scannet_root, tmp_path):
    inputs = [
        SourceInput(source="scannet", path=str(demo_scannet_root)),
        SourceInput(source="lerobot", path=demo_lerobot_root, lerobot_mapping=DEMO_MAPPING),
    ]
    manifest = build_dataset(inputs, tmp_path / "out", SMALL_BUILD)
    assert manifest["source"] == "lerobot+scannet"
    assert set(manifest["counts"]["by_source"]) == {"scannet", "lerobot"}
    assert "camera_rotation" in manifest["counts"]["by_family"] and "move_lr" in manifest["counts"]["by_family"]
    card = (tmp_path / "out" / "latest" / "README.md").read_text()
    assert card.startswith("---\n") and "license: other" in card  # mixed sources: no single licence
    assert (
        json.loads((tmp_path / "out" / "latest" / "manifest.json").read_text())["input"]["roots"][1]["source"]
        == "lerobot"
    )


def test_missing_data_file_becomes_bad_clip_rows(demo_lerobot_root, tmp_path):
    root = tmp_path / "robot"
    shutil.copytree(demo_lerobot_root, root)
    (root / "data/chunk-000/file-001.parquet").unlink()  # episodes 2 and 3
    manifest = build_dataset(
        [SourceInput(source="lerobot", path=root, lerobot_mapping=DEMO_MAPPING)], tmp_path / "out", SMALL_BUILD
    )
    bad = [
        r
        for r in pq.read_table(tmp_path / "out" / "latest" / "rejects.parquet").to_pylist()
        if r["reason"] == "bad_clip"
    ]
    assert sorted(r["clip_id"] for r in bad) == ["episode_000002", "episode_000003"]
    assert all("file-001.parquet" in r["detail"] and r["error_type"] == "SourceFormatError" for r in bad)
    assert manifest["counts"]["triplets"] > 0


def _as_degrees(root):
    """Rewrite a joint-space dataset's joint angles in degrees (grippers untouched)."""
    for path in (root / "data").rglob("*.parquet"):
        table = pq.read_table(path)
        for column in ("observation.state", "action"):
            values = np.array(table.column(column).to_pylist())
            values[:, [0, 1, 2, 4, 5, 6]] = np.rad2deg(values[:, [0, 1, 2, 4, 5, 6]])
            table = table.set_column(table.schema.get_field_index(column), column, pa.array(values.tolist()))
        pq.write_table(table, path)


# A made-up Feetech calibration of the demo arms' six joints (drive_mode 1 on two: LeRobot then negates the reading).
DEMO_CALIBRATION = {
    name: {"id": k + 1, "drive_mode": int(k % 3 == 1), "homing_offset": 0, "range_min": 600 + 40 * k, "range_max": 3500}
    for k, name in enumerate(
        f"{arm}_{joint}" for arm in ("left", "right") for joint in ("shoulder_yaw", "shoulder_pitch", "elbow_pitch")
    )
}


def lerobot_reading(degrees, range_min, range_max, drive_mode):
    """What LeRobot's motor bus records in its default RANGE_M100_100 mode (Feetech: drive_mode applied) for the
    encoder position that its DEGREES mode would record as ``degrees`` (lerobot/motors/motors_bus.py ``_normalize``)."""
    raw = np.asarray(degrees) * 4095 / 360 + (range_min + range_max) / 2
    bounded = np.clip(raw, range_min, range_max)
    norm = (bounded - range_min) / (range_max - range_min) * 200 - 100
    return -norm if drive_mode else norm


def _as_lerobot_range(root):
    """Rewrite a joint-space dataset's joint angles as LeRobot's default -100..100 readings (DEMO_CALIBRATION)."""
    names = ["left_shoulder_yaw", "left_shoulder_pitch", "left_elbow_pitch"]
    names += [n.replace("left", "right") for n in names]
    for path in (root / "data").rglob("*.parquet"):
        table = pq.read_table(path)
        for column in ("observation.state", "action"):
            values = np.array(table.column(column).to_pylist())
            for col, name in zip([0, 1, 2, 4, 5, 6], names, strict=True):
                cal = DEMO_CALIBRATION[name]
                values[:, col] = lerobot_reading(
                    np.rad2deg(values[:, col]), cal["range_min"], cal["range_max"], cal["drive_mode"]
                )
            table = table.set_column(table.schema.get_field_index(column), column, pa.array(values.tolist()))
        pq.write_table(table, path)


def test_joint_space_twin_gives_the_same_triplets(tmp_path):
    # The same drawn motion recorded twice: end-effector positions, and joint angles of its URDF (forward kinematics)
    from remot_data.demo.lerobot import DemoLeRobotConfig, write_demo_lerobot
    from remot_data.sources.lerobot_mapping import load_lerobot_mapping

    config = DemoLeRobotConfig(n_episodes=2, episodes_per_file=2, n_frames=60, width=96, height=72, seed=5)
    ee = write_demo_lerobot(tmp_path / "ee", config)
    joints = write_demo_lerobot(tmp_path / "joints", DemoLeRobotConfig(**{**config.__dict__, "joint_space": True}))
    degrees = write_demo_lerobot(tmp_path / "deg", DemoLeRobotConfig(**{**config.__dict__, "joint_space": True}))
    _as_degrees(degrees)
    ranged = write_demo_lerobot(tmp_path / "range", DemoLeRobotConfig(**{**config.__dict__, "joint_space": True}))
    _as_lerobot_range(ranged)
    (tmp_path / "calibration.json").write_text(json.dumps(DEMO_CALIBRATION))
    radians_mapping = load_lerobot_mapping("remot_demo_joints")
    doc = radians_mapping.model_dump()
    range_doc = radians_mapping.model_dump()
    for arm in doc["arms"].values():
        arm["position"]["units"] = "deg"
    for arm in range_doc["arms"].values():
        arm["position"].update(units="lerobot_range", calibration=tmp_path / "calibration.json", motor_bus="feetech")
    built = {}
    for name, root, mapping in (
        ("ee", ee, "remot_demo"),
        ("joints", joints, radians_mapping),
        ("deg", degrees, type(radians_mapping).model_validate(doc)),
        ("range", ranged, type(radians_mapping).model_validate(range_doc)),
    ):
        build_dataset(
            [SourceInput(source="lerobot", path=root, lerobot_mapping=mapping)], tmp_path / f"o_{name}", SMALL_BUILD
        )
        rows = read_triplets(tmp_path / f"o_{name}").select(["triplet_id", "labels", "answer"]).to_pylist()
        built[name] = sorted((r["triplet_id"], tuple(r["labels"])) for r in rows)
    assert len(built["ee"]) > 20
    assert built["joints"] == built["ee"] == built["deg"] == built["range"]


REAL_G1 = Path(__file__).resolve().parents[2] / "data" / "lerobot_g1"


def test_real_g1_dataset_builds_from_joint_space(tmp_path):
    # A public LeRobot v2.1 export of a Unitree G1 (tests/data/lerobot_g1/README.md): joints only, AV1, 255 frames
    from remot_data.motion.kinematics import KinematicChain, end_effector_positions
    from remot_data.sources.lerobot_mapping import ROBOTS_DIR

    manifest = build_dataset(
        [SourceInput(source="lerobot", path=REAL_G1, lerobot_mapping="unitree_g1_inspire")],
        tmp_path / "out",
        SMALL_BUILD,
    )
    rows = [r for r in read_triplets(tmp_path / "out").to_pylist() if not r["mirrored"]]
    assert manifest["counts"]["by_family"] == {"move_lr": 2 * len(rows)} and len(rows) >= 3
    # the right hand reaches left for the bottle, then carries it right: both directions are there
    assert {r["labels"][0] for r in rows} == {"Left", "Right"} and {r["subject"] for r in rows} == {"right"}
    # each stated change is the right arm's own: forward kinematics of joints 7-13 of the raw rows (radians)
    state = np.array(
        pq.read_table(REAL_G1 / "data/chunk-000/episode_000001.parquet").column("observation.state").to_pylist()
    )
    joints = [
        f"right_{j}_joint"
        for j in ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_roll", "wrist_pitch", "wrist_yaw")
    ]
    chain = KinematicChain(
        urdf=ROBOTS_DIR / "unitree_g1/g1_29dof_rev_1_0.urdf",
        joints=tuple(joints),
        base_frame="torso_link",
        ee_frame="right_rubber_hand",
    )
    y = end_effector_positions(chain, state[:, 7:14])[:, 1]
    for r in rows:
        a, p, n = r["anchor_frame_index"], r["positive_frame_index"], r["negative_frame_index"]
        assert r["values_12"][0] == pytest.approx(y[p] - y[a], abs=1e-6)
        assert r["values_13"][0] == pytest.approx(y[n] - y[a], abs=1e-6)
    rejects = pq.read_table(tmp_path / "out" / "latest" / "rejects.parquet").to_pylist()
    [still] = [r for r in rejects if r["reason"] == "gripper_still"]
    assert still["detail"].startswith("left gripper closedness spans")  # the left hand never moves
    assert not [r for r in rejects if r["reason"] in ("unreadable_frames", "bad_clip")]

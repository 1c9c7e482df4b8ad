"""Fuzzed readers: mutated bytes and values of every input file give a valid clip or a SourceFormatError, never another
exception (which would escape the per-clip boundary) and never a clip built from garbage."""

import json
import math
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remot_data.errors import SourceFormatError
from remot_data.records import Clip
from remot_data.sources.lerobot import check_lerobot_dataset, read_lerobot_episode
from remot_data.sources.scannet import read_scannet_scene
from tests.factories.lerobot import DEMO_MAPPING

FUZZ = settings(
    max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def scene(demo_scannet_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz_scene") / "scene0000_00"
    shutil.copytree(sorted(demo_scannet_root.iterdir())[0], root)
    return root


@pytest.fixture(scope="module")
def robot(demo_lerobot_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz_robot") / "robot"
    shutil.copytree(demo_lerobot_root, root)
    return root


def _read_or_refuse(read):
    try:
        clip = read()
    except SourceFormatError:
        return None
    assert isinstance(clip, Clip)
    return clip


def _checked_episode(robot):
    """What a build does with a LeRobot input: hold the mapping against it once, then read an episode."""
    check_lerobot_dataset(robot, DEMO_MAPPING)
    return read_lerobot_episode(robot, "episode_000001", DEMO_MAPPING)


def _mutated(path, data, read):
    original = path.read_bytes()
    try:
        path.write_bytes(data)
        return _read_or_refuse(read)
    finally:
        path.write_bytes(original)


@FUZZ
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_scannet_pose_bytes(scene, data):
    clip = _mutated(scene / "pose" / "10.txt", data, lambda: read_scannet_scene(scene))
    if clip is not None:  # only a readable 4x4 (or ScanNet's -inf marker, which drops the frame) is accepted
        assert np.isfinite(clip.T_world_cam).all()


@FUZZ
@given(
    values=st.lists(
        st.floats(allow_nan=True, allow_infinity=True, width=32) | st.sampled_from([0.0, -1.0, 1e30]),
        min_size=0,
        max_size=20,
    )
)
def test_scannet_intrinsics_values(scene, values):
    text = "\n".join(" ".join(str(v) for v in values[i : i + 4]) for i in range(0, len(values), 4)).encode()
    path = scene / "intrinsic" / "intrinsic_color.txt"
    clip = _mutated(path, text, lambda: read_scannet_scene(scene))
    if clip is not None:
        assert clip.focal_px is not None and math.isfinite(clip.focal_px) and clip.focal_px > 0


@FUZZ
@given(
    field=st.sampled_from(
        ["codebase_version", "fps", "features", "data_path", "video_path", "total_episodes", "chunks_size"]
    ),
    value=JSON,
)
def test_lerobot_info_fields(robot, field, value):
    info_path = robot / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    _mutated(info_path, json.dumps({**info, field: value}).encode(), lambda: _checked_episode(robot))


@FUZZ
@given(data=st.binary(max_size=300))
def test_lerobot_info_bytes(robot, data):
    _mutated(robot / "meta" / "info.json", data, lambda: read_lerobot_episode(robot, "episode_000001", DEMO_MAPPING))


@FUZZ
@given(data=st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()))
def test_lerobot_stats_and_data_bytes(robot, data):
    ranged = DEMO_MAPPING.model_validate(
        {
            **DEMO_MAPPING.model_dump(),
            "arms": {
                arm: {**a, "gripper": {"name": a["gripper"]["name"], "closed_is": "low"}}
                for arm, a in DEMO_MAPPING.model_dump()["arms"].items()
            },
        }
    )
    _mutated(robot / "meta" / "stats.json", data, lambda: read_lerobot_episode(robot, "episode_000001", ranged))
    _mutated(
        robot / "data" / "chunk-000" / "file-000.parquet",
        data,
        lambda: read_lerobot_episode(robot, "episode_000001", DEMO_MAPPING),
    )


@FUZZ
@given(data=st.binary(max_size=300))
def test_lerobot_episode_metadata_bytes(robot, data):
    _mutated(next((robot / "meta" / "episodes").rglob("*.parquet")), data, lambda: _checked_episode(robot))


@FUZZ
@given(data=st.binary(max_size=300))
def test_scannet_colour_image_bytes(scene, data):
    # the first colour frame sets the image size: garbage there must fail the scene, not the build
    _mutated(scene / "color" / "0.jpg", data, lambda: read_scannet_scene(scene))


@pytest.fixture(scope="module")
def sequence(demo_mot_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz_mot") / "DEMO-00"
    shutil.copytree(next(demo_mot_root.glob("*/DEMO-0*")), root)
    return root


def _mot_clip_is_sane(clip, sequence):
    if clip is not None:
        boxes = clip.objects.box_xywh_px
        assert np.isfinite(boxes).all() and (boxes[:, 2:] > 0).all()
        for frame in clip.frames:
            assert (frame.image_path or frame.video_path).resolve().is_relative_to(sequence.resolve())


@FUZZ
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_mot_seqinfo_bytes(sequence, data):
    from remot_data.sources.mot import read_mot_sequence

    _mot_clip_is_sane(_mutated(sequence / "seqinfo.ini", data, lambda: read_mot_sequence(sequence)), sequence)


@FUZZ
@given(
    key=st.sampled_from(["name", "imDir", "frameRate", "seqLength", "imWidth", "imHeight", "imExt"]),
    value=st.text(max_size=30) | st.sampled_from(["../../..", "/etc", "../img1", "/x.jpg", "0", "-1", "nan", "1e400"]),
)
def test_mot_seqinfo_values(sequence, key, value):
    from remot_data.sources.mot import read_mot_sequence

    lines = [
        f"{key}={value}" if line.split("=")[0] == key else line
        for line in (sequence / "seqinfo.ini").read_text().splitlines()
    ]
    _mot_clip_is_sane(
        _mutated(sequence / "seqinfo.ini", "\n".join(lines).encode(), lambda: read_mot_sequence(sequence)),
        sequence,
    )


@FUZZ
@given(
    line=st.integers(0, 5),
    field=st.integers(0, 9),
    value=st.text(max_size=12) | st.floats(allow_nan=True, allow_infinity=True).map(str) | st.integers().map(str),
)
def test_mot_gt_values(sequence, line, field, value):
    from remot_data.sources.mot import read_mot_sequence

    lines = (sequence / "gt" / "gt.txt").read_text().splitlines()
    fields = lines[line].split(",")
    fields[field % len(fields)] = value
    lines[line] = ",".join(fields)
    _mot_clip_is_sane(
        _mutated(sequence / "gt" / "gt.txt", "\n".join(lines).encode(), lambda: read_mot_sequence(sequence)),
        sequence,
    )


@pytest.fixture(scope="module")
def drive(tmp_path_factory):
    from remot_data.demo.nuscenes import DemoNuScenesConfig, write_demo_nuscenes

    return write_demo_nuscenes(tmp_path_factory.mktemp("fuzz_nusc"), DemoNuScenesConfig(n_scenes=1, n_samples=6))


def _nuscenes_scene(root):
    from remot_data.sources.nuscenes import hash_nuscenes_scene, load_tables, read_nuscenes_scene

    db = load_tables(root, None)  # what a build does: check the tables once, then group, hash and read each scene
    names = sorted(db.scene_by_name)
    assert all(isinstance(db.log_of(name), str) and hash_nuscenes_scene(db, name) for name in names)
    clips = [read_nuscenes_scene(db, name) for name in names]
    for clip in clips:
        assert all(f.image_path.resolve().is_relative_to(root.resolve()) for f in clip.frames)
        assert np.isfinite(clip.objects.box_xywh_px).all() and np.isfinite(clip.tracks["ego.yaw_deg"]).all()
        assert np.isfinite(clip.tracks["ego.xy_m"]).all()
        assert all(np.isfinite(f.timestamp_s) for f in clip.frames)
    return clips[0] if clips else None


NUSCENES_TABLES = [
    "scene",
    "sample",
    "sample_data",
    "ego_pose",
    "calibrated_sensor",
    "sensor",
    "sample_annotation",
    "instance",
    "category",
]


@FUZZ
@given(
    table=st.sampled_from(NUSCENES_TABLES), data=st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode())
)
def test_nuscenes_table_bytes(drive, table, data):
    path = next(drive.glob(f"*/{table}.json"))
    _mutated(path, data, lambda: _nuscenes_scene(drive))


@FUZZ
@given(
    table=st.sampled_from(NUSCENES_TABLES),
    record=st.integers(0, 3),
    field=st.integers(0, 12),
    value=JSON | st.sampled_from(["../../../etc/passwd", "/etc/passwd", [0, 0, 0, 0], [1, 0, 0], [[1, 0], [0, 1]]]),
)
def test_nuscenes_record_values(drive, table, record, field, value):
    path = next(drive.glob(f"*/{table}.json"))
    records = json.loads(path.read_text())
    target = records[record % len(records)]
    keys = sorted(target)
    target[keys[field % len(keys)]] = value
    _mutated(path, json.dumps(records).encode(), lambda: _nuscenes_scene(drive))

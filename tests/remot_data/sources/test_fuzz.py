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

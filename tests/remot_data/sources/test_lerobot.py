import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_allclose

from remot_data.demo.lerobot import MAX_OPENING_M, make_episode_state
from remot_data.errors import SourceFormatError
from remot_data.frames import decode_video_frames
from remot_data.sources.lerobot import (
    LeRobotMapping,
    list_lerobot_episodes,
    load_lerobot_mapping,
    read_lerobot_episode,
)
from tests.factories.lerobot import SMALL_LEROBOT


def test_lists_every_episode(demo_lerobot_root):
    assert list_lerobot_episodes(demo_lerobot_root) == [f"episode_{i:06d}" for i in range(4)]


def test_episode_round_trip_tracks_match_the_written_state(demo_lerobot_root):
    clip = read_lerobot_episode(demo_lerobot_root, "episode_000003", LeRobotMapping())
    state = make_episode_state(SMALL_LEROBOT, 3)
    assert len(clip.frames) == SMALL_LEROBOT.n_frames and clip.fps == SMALL_LEROBOT.fps
    assert_allclose(clip.tracks["left.ee_xyz_m"], state[:, 0:3], atol=1e-6)  # float32 on disk
    assert_allclose(clip.tracks["right.ee_xyz_m"], state[:, 4:7], atol=1e-6)
    # the demo writes an opening width ("low" = closed): normalised closedness is 1 - width / max width
    assert_allclose(clip.tracks["left.gripper_closed"], 1 - state[:, 3] / MAX_OPENING_M, atol=1e-4)


def test_second_episode_of_a_file_starts_at_its_from_timestamp(demo_lerobot_root):
    # episodes 2 and 3 share data/video file 1; episode 3 starts after episode 2's 60 frames at 10 fps
    clip = read_lerobot_episode(demo_lerobot_root, "episode_000003", LeRobotMapping())
    assert clip.frames[0].video_path.name == "file-001.mp4"
    assert clip.frames[0].timestamp_s == pytest.approx(6.0)
    assert clip.frames[10].timestamp_s == pytest.approx(7.0, abs=1e-5)


def test_timestamps_map_to_the_right_video_frames(demo_lerobot_root):
    # Decode frame 10 of episode 3 through the clip's timestamp and compare with the same frame decoded from the
    # start of the shared file (2 episodes x 60 frames): frame 60 + 10.
    clip = read_lerobot_episode(demo_lerobot_root, "episode_000003", LeRobotMapping())
    video = clip.frames[0].video_path
    via_clip = decode_video_frames(video, [10], start_s=clip.frames[0].timestamp_s, fps=clip.fps)[10]
    from_start = decode_video_frames(video, [70], fps=clip.fps)[70]
    np.testing.assert_array_equal(via_clip, from_start)


def test_nan_state_drops_frames_with_rejects(demo_lerobot_root, tmp_path):
    import shutil

    root = tmp_path / "robot"
    shutil.copytree(demo_lerobot_root, root)
    path = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    states = table.column("observation.state").to_pylist()
    states[5][2] = float("nan")  # episode 0, frame 5
    table = table.set_column(
        table.schema.get_field_index("observation.state"),
        "observation.state",
        pa.array(states, type=table.schema.field("observation.state").type),
    )
    pq.write_table(table, path)
    clip = read_lerobot_episode(root, "episode_000000", LeRobotMapping())
    assert len(clip.frames) == SMALL_LEROBOT.n_frames - 1 and 5 not in [f.frame_index for f in clip.frames]
    [reject] = clip.dropped
    assert (reject.reason, reject.frame_index, reject.stage) == ("non_finite_state", 5, "read")
    assert "file-000.parquet" in reject.detail and "nan" in reject.detail


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda info: info.update(codebase_version="v2.1"), r"info\.json: codebase_version must be 'v3.0', got 'v2.1'"),
        (lambda info: info.update(fps=0), r"info\.json: fps must be positive"),
        (lambda info: info["features"]["observation.state"].update(names=None), r"names must list one name per value"),
        (
            lambda info: info["features"]["observation.state"]["names"].__setitem__(0, "l_x"),
            r"has no 'left_ee_x' \(left arm\)",
        ),
        (lambda info: info.pop("features"), r"field 'features' must be"),
    ],
    ids=["old version", "zero fps", "unnamed state", "renamed state", "no features"],
)
def test_bad_info_json_names_the_file_and_field(demo_lerobot_root, tmp_path, mutate, match):
    import shutil

    root = tmp_path / "robot"
    shutil.copytree(demo_lerobot_root, root)
    info = json.loads((root / "meta/info.json").read_text())
    mutate(info)
    (root / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(SourceFormatError, match=match):
        read_lerobot_episode(root, "episode_000000", LeRobotMapping())


def test_gripper_sign_follows_the_mapping(demo_lerobot_root):
    low = read_lerobot_episode(demo_lerobot_root, "episode_000001", LeRobotMapping(gripper_closed_is="low"))
    high = read_lerobot_episode(demo_lerobot_root, "episode_000001", LeRobotMapping(gripper_closed_is="high"))
    assert_allclose(low.tracks["right.gripper_closed"], 1 - high.tracks["right.gripper_closed"])


def test_mapping_from_yaml(tmp_path):
    path = tmp_path / "agibot.yaml"
    path.write_text(
        "state_key: observation.state\ngripper_closed_is: high\narms:\n  left: {x: l_x, y: l_y, z: l_z, gripper: l_g}\n"
    )
    mapping = load_lerobot_mapping(path)
    assert mapping.gripper_closed_is == "high" and list(mapping.arms) == ["left"] and mapping.arms["left"].y == "l_y"
    path.write_text("arms:\n  middle: {x: a, y: b, z: c, gripper: d}\n")
    with pytest.raises(ValueError, match="arms must be a non-empty subset"):
        load_lerobot_mapping(path)

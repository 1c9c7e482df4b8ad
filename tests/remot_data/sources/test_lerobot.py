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
from tests.factories.lerobot import DEMO_MAPPING as DEMO
from tests.factories.lerobot import SMALL_LEROBOT


def test_lists_every_episode(demo_lerobot_root):
    assert list_lerobot_episodes(demo_lerobot_root) == [f"episode_{i:06d}" for i in range(4)]


def test_episode_round_trip_tracks_match_the_written_state(demo_lerobot_root):
    clip = read_lerobot_episode(demo_lerobot_root, "episode_000003", DEMO)
    state = make_episode_state(SMALL_LEROBOT, 3)
    assert len(clip.frames) == SMALL_LEROBOT.n_frames and clip.fps == SMALL_LEROBOT.fps
    assert_allclose(clip.tracks["left.ee_xyz_m"], state[:, 0:3], atol=1e-6)  # float32 on disk
    assert_allclose(clip.tracks["right.ee_xyz_m"], state[:, 4:7], atol=1e-6)
    # the demo writes an opening width ("low" = closed): normalised closedness is 1 - width / max width
    assert_allclose(clip.tracks["left.gripper_closed"], 1 - state[:, 3] / MAX_OPENING_M, atol=1e-4)


def test_second_episode_of_a_file_starts_at_its_from_timestamp(demo_lerobot_root):
    # episodes 2 and 3 share data/video file 1; episode 3 starts after episode 2's 60 frames at 10 fps
    clip = read_lerobot_episode(demo_lerobot_root, "episode_000003", DEMO)
    assert clip.frames[0].video_path.name == "file-001.mp4"
    assert clip.frames[0].timestamp_s == pytest.approx(6.0)
    assert clip.frames[10].timestamp_s == pytest.approx(7.0, abs=1e-5)


def test_timestamps_map_to_the_right_video_frames(demo_lerobot_root):
    # Decode frame 10 of episode 3 through the clip's timestamp and compare with the same frame decoded from the
    # start of the shared file (2 episodes x 60 frames): frame 60 + 10.
    clip = read_lerobot_episode(demo_lerobot_root, "episode_000003", DEMO)
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
    clip = read_lerobot_episode(root, "episode_000000", DEMO)
    assert len(clip.frames) == SMALL_LEROBOT.n_frames - 1 and 5 not in [f.frame_index for f in clip.frames]
    [reject] = clip.dropped
    assert (reject.reason, reject.frame_index, reject.stage) == ("non_finite_state", 5, "read")
    assert "file-000.parquet" in reject.detail and "nan" in reject.detail


@pytest.mark.parametrize(
    "mutate, match",
    [
        (
            lambda info: info.update(codebase_version="v1.6"),
            r"info\.json: codebase_version must be 'v3.0' \(or one of \['v2.0', 'v2.1'\]\), got 'v1.6'",
        ),
        (lambda info: info.update(fps=0), r"info\.json: field 'fps': Input should be greater than 0, got 0"),
        (lambda info: info["features"]["observation.state"].update(names=None), r"names must list one name per value"),
        (
            lambda info: info["features"]["observation.state"]["names"].__setitem__(0, "l_x"),
            r"info\.json: observation\.state has no \['left_ee_x'\]",
        ),
        (lambda info: info.pop("features"), r"field 'features': Field required"),
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
        read_lerobot_episode(root, "episode_000000", DEMO)


def with_gripper(mapping, **gripper):
    """Return the mapping with every arm's gripper options replaced (same value names)."""
    doc = mapping.model_dump()
    for arm in doc["arms"].values():
        arm["gripper"] = {"name": arm["gripper"]["name"], **gripper}
    return LeRobotMapping.model_validate(doc)


def test_gripper_sign_follows_the_mapping(demo_lerobot_root):
    by_values = read_lerobot_episode(demo_lerobot_root, "episode_000001", DEMO)  # 0.08 m open .. 0 m closed
    low = read_lerobot_episode(demo_lerobot_root, "episode_000001", with_gripper(DEMO, closed_is="low"))
    high = read_lerobot_episode(demo_lerobot_root, "episode_000001", with_gripper(DEMO, closed_is="high"))
    assert_allclose(low.tracks["right.gripper_closed"], 1 - high.tracks["right.gripper_closed"])
    # the demo's grippers reach both ends, so the dataset's range and the declared one agree
    assert_allclose(low.tracks["right.gripper_closed"], by_values.tracks["right.gripper_closed"], atol=1e-6)
    opening = read_lerobot_episode(
        demo_lerobot_root, "episode_000001", with_gripper(DEMO, open_value=0.0, closed_value=0.08)
    )
    assert_allclose(opening.tracks["right.gripper_closed"], 1 - by_values.tracks["right.gripper_closed"], atol=1e-6)


AGIBOT = """\
# AgiBot World's own LeRobot conversion: end effector and gripper in separate features
video_key: observation.images.head
arms:
  left:
    position: {kind: position, feature: observation.state.end.position, x: left_x, y: left_y, z: left_z}
    gripper: {feature: observation.state.effector.position, name: left_gripper, closed_is: high}
"""


def test_mapping_from_yaml(tmp_path):
    path = tmp_path / "agibot.yaml"
    path.write_text(AGIBOT)
    mapping = load_lerobot_mapping(path)
    assert list(mapping.arms) == ["left"] and mapping.arms["left"].position.y == "left_y"
    assert mapping.feature_of(mapping.arms["left"].gripper) == "observation.state.effector.position"
    assert mapping.feature_of(mapping.arms["left"].position) == "observation.state.end.position"
    position = "position: {kind: position, x: a, y: b, z: c}"
    for text, match in (
        (f"arms:\n  middle: {{{position}}}\n", r"agibot\.yaml: arms\.middle\.\[key\]: .*got 'middle'"),
        (f"arms:\n  left: {{{position}, gripper: {{name: g, closed_is: hihg}}}}\n", r"closed_is: Input should be"),
        (f"arms:\n  left: {{{position}, gripper: {{name: g}}}}\n", r"say which way the gripper closes"),
        (f"arms:\n  left: {{{position}, gripper: {{name: g, open_value: 1}}}}\n", r"go together"),
        ("state_keys: observation.state\n", r"agibot\.yaml: state_keys: Extra inputs are not permitted"),
        (
            "arms:\n  left: {position: {kind: joints, urdf: x.urdf}}\n",
            r"arms\.left\.position\.joints\.units: Field required",
        ),
        ("arms: [left\n", r"agibot\.yaml:2: not valid YAML"),
    ):
        path.write_text(text)
        with pytest.raises(ValueError, match=match):
            load_lerobot_mapping(path)
    with pytest.raises(FileNotFoundError, match="shipped: .*so101"):
        load_lerobot_mapping("so100")


def write_v21_dataset(root, config=SMALL_LEROBOT):
    """Write the demo robot in the legacy v2.1 layout: one parquet and one mp4 per episode, meta/episodes.jsonl."""
    from remot_data.demo.lerobot import STATE_NAMES, VIDEO_KEY, render_robot
    from remot_data.frames import encode_video

    (root / "meta").mkdir(parents=True)
    lines = []
    for e in range(config.n_episodes):
        state = make_episode_state(config, e)
        rows = {
            "observation.state": [s.astype(np.float32).tolist() for s in state],
            "timestamp": [np.float32(i / config.fps) for i in range(len(state))],
            "frame_index": list(range(len(state))),
            "episode_index": [e] * len(state),
        }
        (root / "data/chunk-000").mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(rows), root / f"data/chunk-000/episode_{e:06d}.parquet")
        encode_video(
            [render_robot(s, width=config.width, height=config.height) for s in state],
            root / f"videos/chunk-000/{VIDEO_KEY}/episode_{e:06d}.mp4",
            fps=config.fps,
        )
        lines.append(json.dumps({"episode_index": e, "tasks": ["move"], "length": len(state)}))
    (root / "meta/episodes.jsonl").write_text("\n".join(lines) + "\n")
    info = {
        "codebase_version": "v2.1",
        "fps": config.fps,
        "total_episodes": config.n_episodes,
        "chunks_size": 1000,
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
        "features": {
            "observation.state": {"dtype": "float32", "shape": [8], "names": STATE_NAMES},
            VIDEO_KEY: {"dtype": "video", "shape": [config.height, config.width, 3]},
        },
    }
    (root / "meta/info.json").write_text(json.dumps(info))
    return root


def test_v21_layout_reads_like_v30(demo_lerobot_root, tmp_path):
    legacy = write_v21_dataset(tmp_path / "v21")
    assert list_lerobot_episodes(legacy) == list_lerobot_episodes(demo_lerobot_root)
    old = read_lerobot_episode(legacy, "episode_000003", DEMO)
    new = read_lerobot_episode(demo_lerobot_root, "episode_000003", DEMO)
    for name in new.tracks:
        assert_allclose(old.tracks[name], new.tracks[name], atol=1e-5)
    ranged = with_gripper(DEMO, closed_is="low")  # the gripper range from the data files: no stats.json in v2.1
    assert_allclose(
        read_lerobot_episode(legacy, "episode_000003", ranged).tracks["left.gripper_closed"],
        read_lerobot_episode(demo_lerobot_root, "episode_000003", ranged).tracks["left.gripper_closed"],
        atol=1e-5,
    )
    assert old.frames[0].video_path.name == "episode_000003.mp4" and old.frames[0].timestamp_s == 0.0
    pixels_old = decode_video_frames(old.frames[0].video_path, [12], fps=old.fps)[12]
    pixels_new = decode_video_frames(new.frames[0].video_path, [12], start_s=new.frames[0].timestamp_s, fps=new.fps)[12]
    assert np.abs(pixels_old.astype(int) - pixels_new.astype(int)).mean() < 2  # same drawing, separately encoded


@pytest.mark.parametrize(
    "text, match",
    [
        ('{"observation.state": {"min": [0, 1,', r"stats\.json:1: invalid JSON"),
        ('{"observation.state": {"min": [0.0], "max": [1.0]}}', r"stats\.json: observation\.state\.min and \.max"),
    ],
    ids=["truncated", "short min list"],
)
def test_bad_stats_json_names_the_file(demo_lerobot_root, tmp_path, text, match):
    import shutil

    root = tmp_path / "robot"
    shutil.copytree(demo_lerobot_root, root)
    (root / "meta/stats.json").write_text(text)
    with pytest.raises(SourceFormatError, match=match):  # the dataset's range is read when no values are declared
        read_lerobot_episode(root, "episode_000000", with_gripper(DEMO, closed_is="low"))


def test_rows_past_the_episodes_video_span_are_refused(demo_lerobot_root, tmp_path):
    # episodes share a v3.0 video file: rows beyond to_timestamp would show the next episode's frames
    import shutil

    root = tmp_path / "robot"
    shutil.copytree(demo_lerobot_root, root)
    path = next((root / "meta" / "episodes").rglob("*.parquet"))
    table = pq.read_table(path)
    column = "videos/observation.images.head/to_timestamp"
    ends = table.column(column).to_pylist()
    ends[0] -= 1.0  # episode 0 claims to end a second early
    table = table.set_column(
        table.schema.get_field_index(column), column, pa.array(ends, type=table.schema.field(column).type)
    )
    pq.write_table(table, path)
    with pytest.raises(SourceFormatError, match=r"episode 0's rows run to .* past the episode's span"):
        read_lerobot_episode(root, "episode_000000", DEMO)
    read_lerobot_episode(root, "episode_000001", DEMO)  # the others are fine


def test_state_stored_as_text_names_the_file(demo_lerobot_root, tmp_path):
    import shutil

    root = tmp_path / "robot"
    shutil.copytree(demo_lerobot_root, root)
    path = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    rows = [[str(v) + "m" for v in row] for row in table.column("observation.state").to_pylist()]
    table = table.set_column(table.schema.get_field_index("observation.state"), "observation.state", pa.array(rows))
    pq.write_table(table, path)
    with pytest.raises(SourceFormatError, match=r"file-000\.parquet: observation\.state must hold rows of 8 numbers"):
        read_lerobot_episode(root, "episode_000000", DEMO)


def test_the_episode_index_is_keyed_on_meta_alone_not_on_every_data_file(demo_lerobot_root, tmp_path):
    # a 10,000-episode v2.x dataset has 10,000 data files: listing them on every clip's lookup cost 160 ms a call
    import shutil

    from remot_data.sources.lerobot_layout import dataset_stamp

    root = tmp_path / "ds"
    shutil.copytree(demo_lerobot_root, root)
    before = dataset_stamp(root)
    (root / "data" / "extra.bin").write_bytes(b"x")
    assert dataset_stamp(root) == before  # data files do not enter the metadata stamp ...
    with_data = dataset_stamp(root, ("meta", "data"))
    (root / "data" / "extra.bin").write_bytes(b"xy")
    assert dataset_stamp(root, ("meta", "data")) != with_data  # the stats-less range scan's key covers data/
    info = root / "meta" / "info.json"
    info.write_text(info.read_text() + " ")
    assert dataset_stamp(root) != before  # ... meta files do

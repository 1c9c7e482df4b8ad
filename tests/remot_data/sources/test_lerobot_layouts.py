"""LeRobot layouts and mapping mistakes seen in the wild, each written as a fixture in that layout."""

import json
import logging
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_allclose

from remot_data.demo.lerobot import STATE_NAMES, VIDEO_KEY, make_episode_state, render_robot
from remot_data.errors import SourceFormatError
from remot_data.frames import FrameConfig, encode_video
from remot_data.pipeline import BuildConfig, SourceInput, build_dataset
from remot_data.sources.lerobot import check_lerobot_dataset, list_lerobot_episodes, read_lerobot_episode
from remot_data.sources.lerobot_mapping import LeRobotMapping
from tests.factories.lerobot import DEMO_MAPPING, SMALL_LEROBOT

V2_DATA = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
V2_VIDEO = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
END, EFFECTOR = "observation.state.end.position", "observation.state.effector.position"


def write_legacy_dataset(
    root,
    *,
    version="v2.1",
    data_path=V2_DATA,
    video_path=V2_VIDEO,
    frame_index=True,
    timestamp_offset_frames=0,
    split_features=False,
    cameras=(VIDEO_KEY,),
    n_episodes=2,
):
    """Write the demo robot as a v2.x dataset (one parquet and mp4 per episode), with the given quirks."""
    config = SMALL_LEROBOT
    (root / "meta").mkdir(parents=True)
    lines = []
    for e in range(n_episodes):
        state = make_episode_state(config, e)
        n = len(state)
        rows = {"timestamp": [np.float32((i + timestamp_offset_frames) / config.fps) for i in range(n)]}
        if split_features:  # AgiBot World's layout: end effector and gripper in separate features
            rows[END] = [[s[k] for k in (0, 1, 2, 4, 5, 6)] for s in state]
            rows[EFFECTOR] = [[s[3], s[7]] for s in state]
        else:
            rows["observation.state"] = [s.tolist() for s in state]
        if frame_index:
            rows["frame_index"] = list(range(n))
        rows["episode_index"] = [e] * n
        values = {"episode_chunk": 0, "episode_index": e}
        data = root / data_path.format(**values)
        data.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(rows), data)
        for camera in cameras:
            frames = [render_robot(s, width=config.width, height=config.height) for s in state]
            encode_video(frames, root / video_path.format(**values, video_key=camera), fps=config.fps)
        lines.append(json.dumps({"episode_index": e, "tasks": ["move"], "length": n}))
    (root / "meta/episodes.jsonl").write_text("\n".join(lines) + "\n")
    features = {c: {"dtype": "video", "shape": [config.height, config.width, 3]} for c in cameras}
    if split_features:
        features[END] = {"dtype": "float64", "shape": [6], "names": [n for n in STATE_NAMES if "gripper" not in n]}
        features[EFFECTOR] = {"dtype": "float64", "shape": [2], "names": ["left_gripper", "right_gripper"]}
    else:
        features["observation.state"] = {"dtype": "float64", "shape": [8], "names": STATE_NAMES}
    info = {
        "codebase_version": version,
        "fps": config.fps,
        "total_episodes": n_episodes,
        "chunks_size": 1000,
        "data_path": data_path,
        "video_path": video_path,
        "features": features,
    }
    (root / "meta/info.json").write_text(json.dumps(info))
    return root


def _tracks(root, mapping=DEMO_MAPPING, clip="episode_000001"):
    return read_lerobot_episode(root, clip, mapping)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The plain v2.1 layout: what every variant below must read the same as."""
    return _tracks(write_legacy_dataset(tmp_path_factory.mktemp("v21") / "robot"))


def _same_clip(clip, reference):
    assert [f.frame_index for f in clip.frames] == [f.frame_index for f in reference.frames]
    assert [f.timestamp_s for f in clip.frames] == pytest.approx([f.timestamp_s for f in reference.frames], abs=1e-6)
    for name, track in reference.tracks.items():
        assert_allclose(clip.tracks[name], track, atol=1e-9)


def test_v20_reads_like_v21(tmp_path, reference):
    _same_clip(_tracks(write_legacy_dataset(tmp_path / "r", version="v2.0")), reference)


def test_missing_frame_index_comes_from_row_order(tmp_path, reference):
    _same_clip(_tracks(write_legacy_dataset(tmp_path / "r", frame_index=False)), reference)


def test_episode_index_in_the_folder_template(tmp_path, reference):
    layout = dict(
        data_path="data/episode-{episode_index}/rows.parquet", video_path="videos/{video_key}/{episode_index}.mp4"
    )
    root = write_legacy_dataset(tmp_path / "r", **layout)
    _same_clip(_tracks(root), reference)
    (root / "data/episode-1/rows.parquet").unlink()
    with pytest.raises(SourceFormatError, match=r"episode-1/rows\.parquet: data file of episode 1 not found"):
        _tracks(root)


@pytest.mark.parametrize(
    "template, match",
    [
        ("data/{episode_index.__class__}.parquet", r"uses \{episode_index\.__class__\}; allowed placeholders"),
        ("data/{chunk}/x.parquet", r"uses \{chunk\}; allowed placeholders"),
        ("data/{episode_index:06d", r"path template .* is malformed"),
    ],
    ids=["attribute access", "unknown placeholder", "malformed"],
)
def test_path_templates_are_checked_not_evaluated(tmp_path, template, match):
    root = write_legacy_dataset(tmp_path / "r", n_episodes=1)
    info = json.loads((root / "meta/info.json").read_text())
    (root / "meta/info.json").write_text(json.dumps({**info, "data_path": template}))
    with pytest.raises(SourceFormatError, match=match):
        _tracks(root, clip="episode_000000")


def test_timestamps_one_frame_late_are_shifted_back_and_reported(tmp_path, reference, caplog):
    root = write_legacy_dataset(tmp_path / "r", timestamp_offset_frames=1)
    with caplog.at_level(logging.WARNING, logger="remot_data.sources.lerobot"):
        clip = _tracks(root)
    _same_clip(clip, reference)  # every frame kept, none shifted onto its neighbour's pixels
    assert "timestamps start one frame late" in caplog.text


def test_end_effector_and_gripper_in_separate_features(tmp_path, reference):
    root = write_legacy_dataset(tmp_path / "r", split_features=True)
    doc = DEMO_MAPPING.model_dump()
    for arm in doc["arms"].values():
        arm["position"]["feature"] = END
        arm["gripper"]["feature"] = EFFECTOR
    mapping = LeRobotMapping.model_validate(doc)
    _same_clip(_tracks(root, mapping), reference)


def test_several_cameras_and_none_named_is_refused_with_the_list(tmp_path):
    root = write_legacy_dataset(tmp_path / "r", cameras=("observation.images.wrist", VIDEO_KEY), n_episodes=1)
    unnamed = LeRobotMapping.model_validate({**DEMO_MAPPING.model_dump(), "video_key": None})
    with pytest.raises(SourceFormatError, match=r"2 video features .*wrist.*head.* set video_key"):
        check_lerobot_dataset(root, unnamed)
    check_lerobot_dataset(root, DEMO_MAPPING)  # named: fine


def test_a_mapping_mistake_stops_the_build_once_before_any_clip(tmp_path):
    root = write_legacy_dataset(tmp_path / "r")
    doc = DEMO_MAPPING.model_dump()
    doc["arms"]["left"]["position"]["x"] = "left_ee_xx"  # a one-name typo
    doc["video_key"] = "observation.images.front"
    typo = LeRobotMapping.model_validate(doc)
    config = BuildConfig(frames=FrameConfig(max_side_px=32))
    with pytest.raises(SourceFormatError) as caught:
        build_dataset([SourceInput(source="lerobot", path=root, lerobot_mapping=typo)], tmp_path / "out", config)
    message = str(caught.value)
    assert "meta/info.json: the LeRobot mapping" in message
    assert "left arm: observation.state has no ['left_ee_xx']" in message
    assert "'observation.images.front' is not a video feature" in message
    assert not (tmp_path / "out").exists()


def test_a_camera_without_files_stops_the_build(tmp_path):
    root = write_legacy_dataset(tmp_path / "r", n_episodes=1)
    for video in (root / "videos").rglob("*.mp4"):
        video.unlink()
    with pytest.raises(SourceFormatError, match=r"camera observation\.images\.head: its video file .* does not exist"):
        check_lerobot_dataset(root, DEMO_MAPPING)


def test_each_lerobot_input_has_its_own_mapping(tmp_path):
    plain = write_legacy_dataset(tmp_path / "plain", n_episodes=1)
    split = write_legacy_dataset(tmp_path / "split", n_episodes=1, split_features=True)
    doc = DEMO_MAPPING.model_dump()
    for arm in doc["arms"].values():
        arm["position"]["feature"], arm["gripper"]["feature"] = END, EFFECTOR
    # both datasets number their episode 0: rename one so that clip ids stay unique across inputs
    (split / "meta/episodes.jsonl").write_text(json.dumps({"episode_index": 7, "tasks": ["move"], "length": 60}) + "\n")
    for path in list(split.rglob("episode_000000.*")):
        path.rename(path.with_name(path.name.replace("000000", "000007")))
    table = pq.read_table(split / "data/chunk-000/episode_000007.parquet")
    table = table.set_column(table.schema.get_field_index("episode_index"), "episode_index", pa.array([7] * len(table)))
    pq.write_table(table, split / "data/chunk-000/episode_000007.parquet")
    inputs = [
        SourceInput(source="lerobot", path=plain, lerobot_mapping=DEMO_MAPPING),
        SourceInput(source="lerobot", path=split, lerobot_mapping=LeRobotMapping.model_validate(doc)),
    ]
    assert list_lerobot_episodes(split) == ["episode_000007"]
    manifest = build_dataset(inputs, tmp_path / "out", BuildConfig(frames=FrameConfig(max_side_px=32)))
    assert {c["clip_id"] for c in manifest["input"]["clips"]} == {"episode_000000", "episode_000007"}
    roots = manifest["input"]["roots"]
    assert roots[1]["lerobot_mapping"]["arms"]["left"]["position"]["feature"] == END
    assert "feature" not in roots[0]["lerobot_mapping"]["arms"]["left"]["position"] or (
        roots[0]["lerobot_mapping"]["arms"]["left"]["position"]["feature"] is None
    )


def test_joint_readings_are_not_taken_for_metres():
    arm = {"position": {"kind": "position", "x": "shoulder_pan.pos", "y": "elbow_flex.pos", "z": "wrist_flex.pos"}}
    with pytest.raises(
        ValueError, match=r"look like joint positions, not end-effector metres: map them with kind: joints"
    ):
        LeRobotMapping.model_validate({"arms": {"right": arm}})


@pytest.mark.parametrize(
    "template, match",
    [
        ("../outside/episode_{episode_index:06d}.parquet", r"data_path gives '\.\./outside/episode_000000\.parquet'"),
        ("/etc/passwd", r"data_path gives '/etc/passwd', which resolves outside the dataset root"),
    ],
    ids=["parent", "absolute"],
)
def test_paths_from_the_dataset_stay_inside_it(tmp_path, template, match):
    root = write_legacy_dataset(tmp_path / "r", n_episodes=1)
    (tmp_path / "outside").mkdir()
    shutil.copy(next((root / "data").rglob("*.parquet")), tmp_path / "outside" / "episode_000000.parquet")
    info = json.loads((root / "meta/info.json").read_text())
    (root / "meta/info.json").write_text(json.dumps({**info, "data_path": template}))
    with pytest.raises(SourceFormatError, match=match):
        _tracks(root, clip="episode_000000")


def test_a_symbolic_link_out_of_the_dataset_is_refused(tmp_path):
    root = write_legacy_dataset(tmp_path / "r", n_episodes=1)
    outside = tmp_path / "elsewhere"
    (root / "videos").rename(outside)
    (root / "videos").symlink_to(outside, target_is_directory=True)
    with pytest.raises(SourceFormatError, match=r"video_path gives .* which resolves outside the dataset root"):
        _tracks(root, clip="episode_000000")


def test_a_hub_cache_snapshot_reads_through_its_links_into_blobs(tmp_path):
    # `huggingface-cli download --repo-type dataset X` without --local-dir leaves snapshots/<rev>/ of links into
    # the repository's blobs/: the dataset's own bytes, so they are followed (any other link out is refused above)
    repo = tmp_path / "datasets--someone--robot"
    root = write_legacy_dataset(repo / "snapshots" / "0123abc", n_episodes=1)
    (repo / "blobs").mkdir()
    for n, path in enumerate(sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in {".mp4", ".parquet"})):
        blob = repo / "blobs" / f"{n:04x}"
        path.rename(blob)
        path.symlink_to(blob)
    assert _tracks(root, clip="episode_000000")
    (tmp_path / "pusht").symlink_to(root, target_is_directory=True)  # a link to the snapshot works the same
    assert _tracks(tmp_path / "pusht", clip="episode_000000")


def _edit_episodes(root, edit):
    path = root / "meta" / "episodes" / "chunk-000" / "file-000.parquet"
    rows = pq.read_table(path).to_pylist()
    edit(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(path)), path)


def _set(rows, index, key, value):
    rows[index][key] = value


SPAN = "videos/observation.images.head/from_timestamp"


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda rows: _set(rows, 1, "episode_index", 0), r"episode_index \[0\] listed more than once"),
        (lambda rows: _set(rows, 1, SPAN, 5.0), r"episodes 0 and 1 share a .* file with overlapping spans"),
        (lambda rows: _set(rows, 1, SPAN, 13.0), r"episode 1's span .* does not run forwards"),
    ],
    ids=["duplicated episode", "overlapping spans", "span backwards"],
)
def test_episode_metadata_that_would_show_other_frames_is_refused_for_the_whole_input(
    demo_lerobot_root, tmp_path, edit, match
):
    root = tmp_path / "ds"
    shutil.copytree(demo_lerobot_root, root)
    _edit_episodes(root, edit)
    with pytest.raises(SourceFormatError, match=match):
        check_lerobot_dataset(root, LeRobotMapping.model_validate(DEMO_MAPPING))


def test_timestamps_running_backwards_or_a_video_at_another_rate_reject_the_episode(demo_lerobot_root, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(demo_lerobot_root, root)
    mapping = LeRobotMapping.model_validate(DEMO_MAPPING)
    data = root / "data" / "chunk-000" / "file-000.parquet"
    table = pq.read_table(data)
    stamps = table.column("timestamp").to_pylist()
    stamps[10] = stamps[8]  # the first episode's row 10 steps back in time
    table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", pa.array(stamps, pa.float32()))
    pq.write_table(table, data)
    with pytest.raises(SourceFormatError, match=r"episode 0's timestamps do not increase at row 10"):
        read_lerobot_episode(root, "episode_000000", mapping)
    info_path = root / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    info["fps"] = 25
    info_path.write_text(json.dumps(info))
    with pytest.raises(SourceFormatError, match=r"file-001\.mp4: the video runs at 10 fps, .*info\.json says fps 25"):
        read_lerobot_episode(root, "episode_000002", mapping)

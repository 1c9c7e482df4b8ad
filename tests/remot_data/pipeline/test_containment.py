"""What a crafted dataset can make a build write: names read from the data never form a path outside OUT."""

import json
import os

import pytest

from remot_data.demo.nuscenes import DemoNuScenesConfig, write_demo_nuscenes
from remot_data.errors import RemotError
from remot_data.pipeline import SourceInput, build_dataset
from remot_data.rules.registry import PRESET_DIR as PRESETS
from remot_data.table import read_triplets
from tests.factories.scannet import SMALL_BUILD


def _tree(root):
    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files} | {
        os.path.join(d, s) for d, subs, _ in os.walk(root) for s in subs
    }


@pytest.mark.parametrize("name", ["../../../escaped/evil", "a/b", "..", "with\x00nul", "/abs/path"])
def test_a_scene_name_that_is_a_path_writes_nothing_outside_the_output(tmp_path, name):
    sandbox = tmp_path / "sandbox"  # everything the build may touch lives under here
    root = write_demo_nuscenes(sandbox / "inputs" / "nuscenes", DemoNuScenesConfig(n_scenes=3))
    scene_file = root / "v1.0-mini" / "scene.json"
    scenes = json.loads(scene_file.read_text())
    scenes[0]["name"] = name
    scene_file.write_text(json.dumps(scenes))
    out = sandbox / "out" / "dataset"
    # the audit judges the tiny drive's label balance, which is not what this test is about
    preset = sandbox / "lenient.yaml"
    preset.write_text((PRESETS / "v4.yaml").read_text().replace("max_blind_gain: 0.30", "max_blind_gain: 1.0"))
    config = SMALL_BUILD.model_copy(update={"preset": str(preset)})
    before = _tree(tmp_path)
    build_dataset([SourceInput(source="nuscenes", path=str(root))], out, config)
    created = _tree(tmp_path) - before
    outside = sorted(p for p in created if not p.startswith(str(sandbox / "out")))
    assert outside == []
    table = read_triplets(out / "latest")
    assert name in set(table.column("clip_id").to_pylist())  # the name is kept as data, only never as a path
    for column in ("anchor_image", "positive_image", "negative_image"):
        for path in table.column(column).combine_chunks().field("path").to_pylist():
            assert "/" not in path and "\x00" not in path and not path.startswith("."), path


@pytest.mark.parametrize(
    "relative, message",
    [
        ("meta/info.json", r"info\.json: is a FIFO"),  # the whole input: refused before any work
        ("meta/episodes/chunk-000/file-000.parquet", r"file-000\.parquet: is a FIFO"),
        ("videos/observation.images.head/chunk-000/file-000.mp4", r"file-000\.mp4 is not a regular file"),
    ],
)
def test_a_fifo_in_place_of_a_dataset_file_fails_at_once_naming_it(demo_lerobot_root, tmp_path, relative, message):
    import shutil
    import time

    from tests.factories.lerobot import DEMO_MAPPING

    root = tmp_path / "ds"
    shutil.copytree(demo_lerobot_root, root)
    (root / relative).unlink()
    os.mkfifo(root / relative)  # opening it would block until a writer comes
    start = time.monotonic()
    with pytest.raises(RemotError, match=message):
        build_dataset(
            [SourceInput(source="lerobot", path=str(root), lerobot_mapping=DEMO_MAPPING)], tmp_path / "out", SMALL_BUILD
        )
    assert time.monotonic() - start < 5
    assert not (tmp_path / "out").exists()


def test_a_fifo_in_place_of_one_data_file_rejects_its_episodes_and_keeps_the_rest(demo_lerobot_root, tmp_path):
    # damage at the granularity of the file: the episodes stored in other files still build
    import shutil

    import pyarrow.parquet as pq

    from tests.factories.lerobot import DEMO_MAPPING

    root = tmp_path / "ds"
    shutil.copytree(demo_lerobot_root, root)
    data_files = sorted((root / "data").rglob("*.parquet"))
    assert len(data_files) > 1
    data_files[0].unlink()
    os.mkfifo(data_files[0])
    build_dataset(
        [SourceInput(source="lerobot", path=str(root), lerobot_mapping=DEMO_MAPPING)], tmp_path / "out", SMALL_BUILD
    )
    rejects = pq.read_table(tmp_path / "out" / "latest" / "rejects.parquet").to_pylist()
    named = [r for r in rejects if "is a FIFO" in (r["detail"] or "")]
    assert named and all(data_files[0].name in r["detail"] for r in named)
    assert read_triplets(tmp_path / "out" / "latest").num_rows > 0


@pytest.mark.parametrize(
    "playlist, refusal",
    [
        ("ffconcat version 1.0\nfile clip.mp4\n", "does not read it as a video container"),
        (  # named .mp4, ffmpeg tries its mp4 demuxer on it: unreadable (keep it so)
            "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nclip.mp4\n#EXT-X-ENDLIST\n",
            "finds no video stream",
        ),
        ("ffconcat version 1.0\nfile fifo.mp4\n", "does not read it as a video container"),  # never opened: no hang
    ],
    ids=["ffconcat", "hls", "ffconcat naming a fifo"],
)
def test_a_playlist_in_place_of_a_video_is_refused_not_followed(demo_lerobot_root, tmp_path, playlist, refusal):
    # ffmpeg opens what a playlist names: here a video outside the dataset root, through a link beside the list
    import shutil

    import pyarrow.parquet as pq

    from tests.factories.lerobot import DEMO_MAPPING

    root = tmp_path / "ds"
    shutil.copytree(demo_lerobot_root, root)
    videos = sorted((root / "videos").rglob("*.mp4"))
    assert len(videos) > 1
    outside = tmp_path / "elsewhere.mp4"
    shutil.copy(videos[0], outside)
    (videos[-1].parent / "clip.mp4").symlink_to(outside)
    os.mkfifo(videos[-1].parent / "fifo.mp4")
    videos[-1].write_text(playlist)
    build_dataset(
        [SourceInput(source="lerobot", path=str(root), lerobot_mapping=DEMO_MAPPING)], tmp_path / "out", SMALL_BUILD
    )
    rejects = pq.read_table(tmp_path / "out" / "latest" / "rejects.parquet").to_pylist()
    refused = [r for r in rejects if videos[-1].name in (r["detail"] or "")]
    assert refused and all(refusal in r["detail"] for r in refused)
    published = set(read_triplets(tmp_path / "out" / "latest").column("clip_id").to_pylist())
    assert not published & {r["clip_id"] for r in refused}  # nothing of the playlist's episodes is published


def test_a_fifo_in_place_of_a_later_video_rejects_its_episodes_without_hanging(demo_lerobot_root, tmp_path):
    # the input check looks at the first episode's video only: every later one is checked where it is opened
    import shutil
    import time

    import pyarrow.parquet as pq

    from tests.factories.lerobot import DEMO_MAPPING

    root = tmp_path / "ds"
    shutil.copytree(demo_lerobot_root, root)
    last = sorted((root / "videos").rglob("*.mp4"))[-1]
    last.unlink()
    os.mkfifo(last)
    start = time.monotonic()
    build_dataset(
        [SourceInput(source="lerobot", path=str(root), lerobot_mapping=DEMO_MAPPING)], tmp_path / "out", SMALL_BUILD
    )
    assert time.monotonic() - start < 60
    rejects = pq.read_table(tmp_path / "out" / "latest" / "rejects.parquet").to_pylist()
    assert any("is a FIFO" in (r["detail"] or "") and last.name in r["detail"] for r in rejects)

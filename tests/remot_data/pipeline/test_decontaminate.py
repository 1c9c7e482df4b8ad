"""The audit cleans a split of copies instead of refusing the build, and tells copies from new takes of one setup.

Real data: the public G1 slice (tests/data/lerobot_g1) and a re-encoded copy of its episode put in the test split.
Different episodes of one camera setup: the demo robot with letterbox bars (as the GR00T demo data's frames have),
which v4's 16 x 16 average hashes took for copies of each other.
"""

import json
import shutil
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from remot_data.errors import ContractError
from remot_data.frames import ffmpeg_exe
from remot_data.pipeline import SourceInput, build_dataset
from remot_data.table import read_triplets
from tests.factories.lerobot import DEMO_MAPPING
from tests.factories.scannet import SMALL_BUILD
from tests.remot_data.pipeline.test_build_lerobot import REAL_G1

COPY = 0  # the copy's episode index: its part comes first, before the original's


def _ffmpeg(*args):
    subprocess.run([ffmpeg_exe(None), "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def g1_with_a_copy(tmp_path_factory):
    """The G1 slice plus its episode re-encoded (H.264, crf 28) as episode 0, and a split file putting it in test."""
    root = tmp_path_factory.mktemp("g1copy") / "g1"
    shutil.copytree(REAL_G1, root)
    videos = root / "videos" / "chunk-000" / "observation.images.cam_high"
    _ffmpeg("-i", str(videos / "episode_000001.mp4"), "-c:v", "libx264", "-crf", "28", "-pix_fmt", "yuv420p",
            str(videos / f"episode_{COPY:06d}.mp4"))  # fmt: skip
    table = pq.read_table(root / "data" / "chunk-000" / "episode_000001.parquet")
    column = table.schema.get_field_index("episode_index")
    table = table.set_column(column, "episode_index", pa.array([COPY] * len(table), table.schema.field(column).type))
    pq.write_table(table, root / "data" / "chunk-000" / f"episode_{COPY:06d}.parquet")
    episodes = root / "meta" / "episodes.jsonl"
    first = json.loads(episodes.read_text().splitlines()[0])
    episodes.write_text(episodes.read_text() + json.dumps({**first, "episode_index": COPY}) + "\n")
    splits = root.parent / "splits.csv"
    splits.write_text(f"episode_000001,train\nepisode_{COPY:06d},test\n")
    return root, splits


def _build(root, out, splits, preset, mapping="unitree_g1_inspire"):
    config = SMALL_BUILD.model_copy(update={"preset": str(preset), "split_file": splits})
    return build_dataset([SourceInput(source="lerobot", path=str(root), lerobot_mapping=mapping)], out, config)


def test_a_reencoded_copy_in_test_loses_exactly_its_triplets_each_naming_its_train_match(
    g1_with_a_copy, tmp_path, monkeypatch
):
    import remot_data.pipeline.publish as publish

    shown = []  # the contact sheet's rows: picked among the kept triplets, read from the parts that hold them
    real_sheet = publish.write_contact_sheet
    monkeypatch.setattr(publish, "write_contact_sheet", lambda rows, path: (shown.extend(rows), real_sheet(rows, path)))
    root, splits = g1_with_a_copy
    lenient = tmp_path / "lenient.yaml"  # let the whole test split go: here it holds nothing but the copy
    lenient.write_text("name: lenient\nextends: v5\naudit:\n  max_decontaminated_share: 1.0\n")
    manifest = _build(root, tmp_path / "out", splits, lenient)
    train = read_triplets(tmp_path / "out" / "latest").to_pylist()
    assert {r["split"] for r in train} == {"train"} and len(train) >= 3  # every triplet of the copy removed ...
    rejects = pq.read_table(tmp_path / "out" / "latest" / "rejects.parquet").to_pylist()
    removed = [r for r in rejects if r["reason"] == "near_duplicate_of_train"]
    assert {r["clip_id"] for r in removed} == {f"episode_{COPY:06d}"}
    assert len(removed) == len(train)  # ... and only those: the copy made as many triplets as its original
    train_ids = {r["triplet_id"] for r in train}
    for r in removed:
        match = r["detail"].split("near-duplicates train triplet ")[1].split()[0]
        assert match in train_ids and "(clip episode_000001)" in r["detail"]
    assert manifest["audit"]["leakage"]["decontaminated"] == {"test": len(train)}
    assert shown and {r["triplet_id"] for r in shown} <= train_ids  # not a removed row in its place
    assert manifest["audit"]["leakage"]["triplets_in_several_splits"] == 0


def test_removing_more_than_the_share_of_a_split_refuses_with_the_cause(g1_with_a_copy, tmp_path):
    root, splits = g1_with_a_copy
    with pytest.raises(ContractError, match=r"of \d+ test triplets \(100\.0%\) near-duplicate .*split assignment"):
        _build(root, tmp_path / "out", splits, "v5")
    assert not (tmp_path / "out" / "latest").exists()


@pytest.fixture(scope="module")
def letterboxed_robot(demo_lerobot_root, tmp_path_factory):
    """The demo robot (v3.0, 4 episodes) with black bars over 37.5 % of each frame's rows, one episode per split."""
    root = tmp_path_factory.mktemp("letterbox") / "robot"
    shutil.copytree(demo_lerobot_root, root)
    info = json.loads((root / "meta" / "info.json").read_text())
    for key, feature in info["features"].items():
        if feature.get("dtype") != "video":
            continue
        height, width = feature["shape"][:2]
        padded = height * 8 // 5  # bars of 37.5 % of the new height
        for video in (root / "videos" / key).rglob("*.mp4"):
            tmp = video.with_suffix(".tmp.mp4")
            _ffmpeg("-i", str(video), "-vf", f"pad={width}:{padded}:0:{(padded - height) // 2}:black",
                    "-c:v", "libx264", "-crf", "18", "-g", "1", "-pix_fmt", "yuv420p", str(tmp))  # fmt: skip
            tmp.replace(video)
        feature["shape"] = [padded, width, *feature["shape"][2:]]
        if "info" in feature:
            feature["info"]["video.height"] = padded
    (root / "meta" / "info.json").write_text(json.dumps(info))
    splits = root.parent / "splits.csv"
    splits.write_text("episode_000000,train\nepisode_000001,train\nepisode_000002,val\nepisode_000003,test\n")
    return root, splits


def test_episodes_of_one_setup_behind_letterbox_bars_are_not_copies(letterboxed_robot, tmp_path):
    root, splits = letterboxed_robot
    # v4 hashes the bars with the picture: every val/test triplet reads as a copy of a train one
    with pytest.raises(ContractError, match=r"near-identical triplets in several splits, 100\.0% of"):
        _build(root, tmp_path / "v4", splits, "v4", mapping=DEMO_MAPPING)
    manifest = _build(root, tmp_path / "v5", splits, "v5", mapping=DEMO_MAPPING)
    assert manifest["audit"]["leakage"]["decontaminated"] == {}  # nothing removed: no false positive
    assert set(manifest["counts"]["by_split"]) == {"train", "val", "test"}

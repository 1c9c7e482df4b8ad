import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from remot_data.errors import ContractError
from remot_data.pipeline import (
    BuildConfig,
    SourceInput,
    assign_split,
    build_dataset,
    plan_clips,
    process_batch,
    staging_dir_for,
)
from remot_data.table import read_triplets
from tests.factories.scannet import SMALL_BUILD, SMALL_DEMO


def _scannet(root):
    return [SourceInput(source="scannet", path=str(root))]


def test_published_directory_layout(built_dataset):
    assert {p.name for p in built_dataset.iterdir()} == {".remot-output.json", ".lock", "versions", "latest"}
    latest = built_dataset / "latest"
    assert latest.is_symlink() and latest.resolve().parent == built_dataset / "versions"
    names = {p.name for p in latest.iterdir()}
    assert names == {"data", "rejects.parquet", "manifest.json", "validation.json", "README.md", "contact_sheet.png"}
    assert json.loads((latest / "manifest.json").read_text())["version"] == latest.resolve().name
    assert not staging_dir_for(built_dataset).exists()  # staging is removed after publishing
    assert Image.open(built_dataset / "latest" / "contact_sheet.png").size[0] > 600


def test_manifest_counts_match_the_table(built_dataset):
    manifest = json.loads((built_dataset / "latest" / "manifest.json").read_text())
    table = read_triplets(built_dataset)
    assert manifest["counts"]["triplets"] == len(table) > 20
    assert sum(manifest["counts"]["by_split"].values()) == len(table)
    assert manifest["preset"]["name"] == "v5" and len(manifest["preset"]["sha256"]) == 64
    assert len(manifest["input"]["clips"]) == SMALL_DEMO.n_scenes
    assert manifest["source"] == "scannet" and manifest["input"]["roots"][0]["source"] == "scannet"
    assert all(len(c["content_sha256"]) == 64 for c in manifest["input"]["clips"])
    rejects = pq.read_table(built_dataset / "latest" / "rejects.parquet")
    assert manifest["rejects"]["total"] == len(rejects)
    assert manifest["validation"]["success"] is True


def test_splits_are_per_clip(built_dataset):
    rows = read_triplets(built_dataset).select(["clip_id", "split"]).to_pylist()
    split_of = {}
    for row in rows:
        assert split_of.setdefault(row["clip_id"], row["split"]) == row["split"]
        assert row["split"] == assign_split(row["clip_id"].rsplit("_", 1)[0], SMALL_BUILD)  # the room's split


def test_round_trip_through_hf_datasets_gives_pil_images(built_dataset):
    datasets = pytest.importorskip("datasets")  # a dev dependency: always installed by `make test`
    loaded = datasets.load_dataset("parquet", data_dir=str(built_dataset / "latest"))
    table = read_triplets(built_dataset)
    assert sum(len(loaded[s]) for s in loaded) == len(table)
    assert set(loaded) <= {"train", "validation", "test"}
    row = next(iter(loaded.values()))[0]
    assert isinstance(row["anchor_image"], Image.Image)
    assert max(row["anchor_image"].size) == SMALL_BUILD.frames.max_side_px
    assert row["solution"] == f"<answer>{row['answer']}</answer>"
    assert isinstance(row["options"][0], list)


def test_images_show_the_indexed_frames(built_dataset, demo_scannet_root):
    # A retrieval triplet's images are the resized colour frames named by the frame indices.
    row = next(r for r in read_triplets(built_dataset).to_pylist() if r["negative_method"] == "retrieval")
    for role in ("anchor", "positive", "negative"):
        source = Image.open(demo_scannet_root / row["clip_id"] / "color" / f"{row[f'{role}_frame_index']}.jpg")
        stored = Image.open(__import__("io").BytesIO(row[f"{role}_image"]["bytes"])).convert("RGB")
        expected = np.asarray(source.convert("RGB").resize(stored.size), dtype=float)
        assert np.abs(np.asarray(stored, dtype=float) - expected).mean() < 12


def test_a_bad_pose_file_loses_its_frame_and_a_bad_scene_file_its_scene_the_rest_is_built(demo_scannet_root, tmp_path):
    root = tmp_path / "corpus"
    import shutil

    for scene in sorted(demo_scannet_root.iterdir())[:3]:
        shutil.copytree(scene, root / scene.name)
    (root / "scene0001_00" / "pose" / "7.txt").write_text("1 0 0\n")  # one pose file: one frame
    (root / "scene0002_00" / "intrinsic" / "intrinsic_color.txt").write_text("0 0 0 0\n" * 4)  # the whole scene
    manifest = build_dataset(_scannet(root), tmp_path / "out", SMALL_BUILD)
    rejects = pq.read_table(tmp_path / "out" / "latest" / "rejects.parquet").to_pylist()
    [bad_frame] = [r for r in rejects if r["reason"] == "bad_pose_file"]
    assert (bad_frame["clip_id"], bad_frame["frame_index"]) == ("scene0001_00", 7)
    assert "pose/7.txt" in bad_frame["detail"]
    [bad_clip] = [r for r in rejects if r["reason"] == "bad_clip"]
    assert bad_clip["clip_id"] == "scene0002_00" and bad_clip["stage"] == "read"
    assert bad_clip["error_type"] == "SourceFormatError" and "intrinsic_color.txt" in bad_clip["detail"]
    assert set(read_triplets(tmp_path / "out").column("clip_id").to_pylist()) == {"scene0000_00", "scene0001_00"}
    assert manifest["rejects"]["by_reason"]["bad_clip"] == 1


def test_on_bad_clip_raise_stops_the_build(demo_scannet_root, tmp_path):
    import shutil

    scene = sorted(demo_scannet_root.iterdir())[0]
    shutil.copytree(scene, tmp_path / "corpus" / scene.name)
    (tmp_path / "corpus" / scene.name / "intrinsic" / "intrinsic_color.txt").write_text("nope")
    from remot_data.errors import SourceFormatError

    with pytest.raises(SourceFormatError, match="intrinsic_color.txt"):
        build_dataset(_scannet(tmp_path / "corpus"), tmp_path / "out", BuildConfig(on_bad_clip="raise"))
    assert not (tmp_path / "out" / "latest").exists()  # nothing published (finished clips stay staged for a rerun)


def test_rerun_reuses_staged_clips(demo_scannet_root, tmp_path, monkeypatch):
    import remot_data.pipeline.stage as stage

    inputs = plan_clips(_scannet(demo_scannet_root), SMALL_BUILD)[:3]
    staging = tmp_path / "staging"
    staging.mkdir()
    calls = []
    real = stage.process_clip
    monkeypatch.setattr(stage, "process_clip", lambda *a, **k: calls.append(a[0].clip_id) or real(*a, **k))
    first = process_batch(inputs[:2], SMALL_BUILD, staging)  # "crash" after two clips
    assert calls == [i.clip_id for i in inputs[:2]]
    second = process_batch(inputs, SMALL_BUILD, staging)
    assert second[:2] == first
    assert calls == [i.clip_id for i in inputs[:2]] + [inputs[2].clip_id]  # only the missing clip was processed
    # a changed preset or config means a different key: nothing reused
    other = process_batch(inputs[:1], BuildConfig(frames=SMALL_BUILD.frames, seed=5), staging)
    assert other[0] != first[0]


def test_failed_validation_publishes_nothing_and_keeps_the_old_dataset(demo_scannet_root, tmp_path, monkeypatch):
    import shutil

    import remot_data.pipeline.rows as rows

    scene = sorted(demo_scannet_root.iterdir())[0]
    shutil.copytree(scene, tmp_path / "corpus" / scene.name)
    out = tmp_path / "out"
    build_dataset(_scannet(tmp_path / "corpus"), out, SMALL_BUILD)
    before = (out / "latest" / "manifest.json").read_text()
    real_make_rows = rows.make_rows

    def corrupt(*args, **kwargs):
        rows, rejects = real_make_rows(*args, **kwargs)
        rows[0]["labels"] = ["Sideways"] + rows[0]["labels"][1:]
        return rows, rejects

    monkeypatch.setattr(rows, "make_rows", corrupt)
    with pytest.raises(ContractError, match="check_labels_match_values"):
        build_dataset(_scannet(tmp_path / "corpus"), out, BuildConfig(frames=SMALL_BUILD.frames, seed=1))
    assert (out / "latest" / "manifest.json").read_text() == before
    assert json.loads((staging_dir_for(out) / "validation.json").read_text())["success"] is False
    assert not [p for p in (out / "versions").iterdir() if ".tmp-" in p.name]


def test_triplet_ids_name_source_frames_and_survive_a_missing_frame(demo_scannet_root, tmp_path):
    # ids hash source frame numbers: a dropped frame must never make an id point at other images
    import shutil

    scene = sorted(demo_scannet_root.iterdir())[0]
    shutil.copytree(scene, tmp_path / "a" / scene.name)
    shutil.copytree(scene, tmp_path / "b" / scene.name)
    before = read_triplets_by_id(
        build_dataset(_scannet(tmp_path / "a"), tmp_path / "out_a", SMALL_BUILD), tmp_path / "out_a"
    )
    frames = sorted(int(p.stem) for p in (tmp_path / "b" / scene.name / "color").glob("*.jpg"))
    dropped = frames[len(frames) // 2]
    (tmp_path / "b" / scene.name / "pose" / f"{dropped}.txt").write_text("-inf -inf -inf -inf\n" * 4)
    after = read_triplets_by_id(
        build_dataset(_scannet(tmp_path / "b"), tmp_path / "out_b", SMALL_BUILD), tmp_path / "out_b"
    )
    shared = set(before) & set(after)
    assert shared and len(shared) < len(before)  # some triplets used the dropped frame, most did not
    for triplet_id in shared:
        assert before[triplet_id] == after[triplet_id]  # same id, same three source frames


def read_triplets_by_id(manifest, out):
    rows = read_triplets(out).select(
        ["triplet_id", "anchor_frame_index", "positive_frame_index", "negative_frame_index"]
    )
    return {r.pop("triplet_id"): r for r in rows.to_pylist()}


def test_hostile_scene_files_become_rejects_not_crashes(demo_scannet_root, tmp_path):
    # a header claiming 30000 x 30000 pixels (PIL's decompression-bomb guard), and a scene without poses
    import shutil

    from PIL import Image

    root = tmp_path / "corpus"
    scenes = sorted(demo_scannet_root.iterdir())[:3]
    for scene in scenes:
        shutil.copytree(scene, root / scene.name)
    bomb = root / scenes[0].name / "color" / "0.jpg"
    Image.new("1", (30000, 30000)).save(bomb.with_suffix(".png"))
    bomb.with_suffix(".png").replace(bomb)
    shutil.rmtree(root / scenes[1].name / "pose")
    tolerant = SMALL_BUILD.model_copy(update={"max_bad_clip_share": 1.0})  # 2 of 3 clips are bad on purpose
    manifest = build_dataset(_scannet(root), tmp_path / "out", tolerant)
    rejects = pq.read_table(tmp_path / "out" / "latest" / "rejects.parquet").to_pylist()
    bad = {r["clip_id"]: r["detail"] for r in rejects if r["reason"] == "bad_clip"}
    assert "0.jpg: colour image cannot be opened" in bad[scenes[0].name]
    assert "has no pose/ folder" in bad[scenes[1].name]
    assert manifest["counts"]["triplets"] > 0 and set(
        read_triplets(tmp_path / "out").column("clip_id").to_pylist()
    ) == {scenes[2].name}


def test_a_damaged_staged_part_is_redone_not_sticky(demo_scannet_root, tmp_path):
    import shutil

    scene = sorted(demo_scannet_root.iterdir())[0]
    shutil.copytree(scene, tmp_path / "corpus" / scene.name)
    inputs = plan_clips(_scannet(tmp_path / "corpus"), SMALL_BUILD)
    staging = tmp_path / "staging"
    staging.mkdir()
    [key] = process_batch(inputs, SMALL_BUILD, staging)
    reference = pq.read_table(staging / f"{key}.parquet").column("triplet_id").to_pylist()
    (staging / f"{key}.parquet").write_bytes(b"PAR1 truncated by a full disk")
    assert process_batch(inputs, SMALL_BUILD, staging) == [key]
    assert pq.read_table(staging / f"{key}.parquet").column("triplet_id").to_pylist() == reference


def _rescans(demo_scannet_root, root, names):
    import shutil

    source = sorted(demo_scannet_root.iterdir())[0]
    for name in names:
        shutil.copytree(source, root / name)
    return root


def test_rescans_of_one_room_share_a_split_and_fixed_splits_win(demo_scannet_root, tmp_path):
    root = _rescans(demo_scannet_root, tmp_path / "c", ["scene0007_00", "scene0007_01", "scene0007_02", "scene0050_00"])
    clips = {c.clip_id: c for c in plan_clips(_scannet(root), SMALL_BUILD)}
    assert {c.group for c in clips.values()} == {"scene0007", "scene0050"}
    assert len({clips[f"scene0007_0{k}"].split for k in range(3)}) == 1  # one room, one split
    split_file = tmp_path / "splits.csv"
    split_file.write_text("id,split\nscene0007,val\nscene0050_00,test\n")
    fixed = {
        c.clip_id: c.split
        for c in plan_clips(_scannet(root), SMALL_BUILD.model_copy(update={"split_file": split_file}))
    }
    assert fixed == {"scene0007_00": "val", "scene0007_01": "val", "scene0007_02": "val", "scene0050_00": "test"}
    listed = tmp_path / "scannetv2_train.txt"  # ScanNet's own list files: the name says the split
    listed.write_text("scene0007_00\nscene0007_01\nscene0007_02\nscene0050_00\n")
    config = SMALL_BUILD.model_copy(update={"split_file": listed})
    assert {c.split for c in plan_clips(_scannet(root), config)} == {"train"}
    # the benchmark's own test scenes must never be trained on: named, or read from a ReMoT-release JSONL
    release = tmp_path / "test.jsonl"
    release.write_text('{"images": ["/data/scannet/scene0050_00/color/3.jpg"], "id": "x"}\n')
    excluded = plan_clips(_scannet(root), config.model_copy(update={"exclude_from_train": ("scene0007", str(release))}))
    assert {c.split for c in excluded} == {"test"}
    bad = tmp_path / "bad.csv"
    bad.write_text("scene0007,training\n")
    with pytest.raises(ValueError, match=r"bad\.csv:1: expected 'id,split'"):
        plan_clips(_scannet(root), SMALL_BUILD.model_copy(update={"split_file": bad}))


def test_batches_default_to_a_few_per_cpu_and_follow_an_explicit_size(demo_scannet_root, tmp_path, monkeypatch):
    from remot_data.pipeline import plan as plan_module
    from remot_data.pipeline import plan_build

    monkeypatch.setattr(plan_module.os, "cpu_count", lambda: 1)  # 4 batches for this machine of one CPU
    config = SMALL_BUILD.model_copy(update={"batch_size": None})
    plan = plan_build(_scannet(demo_scannet_root), tmp_path / "out", config)
    n = len(plan.clips)
    assert n >= 5
    expected = plan_module.auto_batch_size(n, cpus=1)
    assert [len(b) for b in plan.batches][:-1] == [expected] * (len(plan.batches) - 1)
    assert len(plan.batches) <= plan_module.TASKS_PER_CPU and sum(len(b) for b in plan.batches) == n
    explicit = plan_build(_scannet(demo_scannet_root), tmp_path / "out", config.model_copy(update={"batch_size": 2}))
    assert [len(b) for b in explicit.batches] == [2] * (n // 2) + ([1] if n % 2 else [])

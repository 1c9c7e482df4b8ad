"""A build from MOTChallenge street scenes: count and marked-object direction triplets whose pixels show the labels."""

import io
import json

import numpy as np
from PIL import Image

from remot_data.table import read_triplets


def _mark_centre_x(image_bytes: bytes) -> float:
    """Mean column of the red mark's pixels (the object box drawn around the question's subject)."""
    pixels = np.asarray(Image.open(io.BytesIO(image_bytes)).convert("RGB")).astype(int)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    assert red.sum() > 20, "no mark drawn"
    return float(np.nonzero(red)[1].mean())


def test_mot_dataset_has_count_and_direction_triplets(built_mot_dataset):
    rows = read_triplets(built_mot_dataset).to_pylist()
    families = {r["family"] for r in rows}
    assert families == {"object_count", "object_move_lr", "object_speed"}
    assert {r["source"] for r in rows} == {"motchallenge"}
    counts = [r for r in rows if r["family"] == "object_count"]
    assert {r["subject"] for r in counts} <= {"pedestrians", "vehicles"} and counts
    assert all(r["rule"] == "count_flip" and not r["mirrored"] for r in counts)  # a mirror changes no count
    moves = [r for r in rows if r["family"] == "object_move_lr"]
    assert any(r["mirrored"] for r in moves) and all(r["rule"] == "direction_flip" for r in moves)
    for r in counts:
        assert set(r["labels"]) <= {"More", "Fewer"} and r["labels"][1] == r["labels"][2] != r["labels"][0]
        assert "how the number of visible " + r["subject"] in r["prompt"]
    speeds = [r for r in rows if r["family"] == "object_speed"]
    for r in speeds:
        assert r["rule"] == "speed_flip" and "the faint copy shows the scene 0.5 seconds earlier" in r["prompt"]
        assert set(r["labels"]) <= {"Faster", "Slower"} and r["labels"][1] == r["labels"][2] != r["labels"][0]
    manifest = json.loads((built_mot_dataset / "latest" / "manifest.json").read_text())
    assert {"object_count", "object_move_lr", "object_speed"} <= set(manifest["audit"]["blind"])
    assert manifest["counts"]["by_family"]["object_count"] == len(counts)


def test_pixels_of_a_marked_object_triplet_show_the_labelled_motion(built_mot_dataset):
    # (the mark is drawn from the same box the labels are computed from; the demo draws each object in its box)
    rows = [r for r in read_triplets(built_mot_dataset).to_pylist() if r["family"] == "object_move_lr"]
    checked = 0
    for row in rows:
        xs = [_mark_centre_x(row[f"{role}_image"]["bytes"]) for role in ("anchor", "positive", "negative")]
        expected = 1 if row["labels"][0] == "Right" else -1
        assert np.sign(xs[1] - xs[0]) == expected and np.sign(xs[2] - xs[0]) == -expected, row["triplet_id"]
        checked += 1
    assert checked >= 10


def test_a_nuscenes_drive_builds_object_triplets_with_its_version_recorded(tmp_path):
    from remot_data.demo.nuscenes import DemoNuScenesConfig, write_demo_nuscenes
    from remot_data.pipeline import SourceInput, build_dataset
    from tests.factories.scannet import SMALL_BUILD

    root = write_demo_nuscenes(tmp_path / "nuscenes", DemoNuScenesConfig(n_scenes=3))
    out = tmp_path / "ds"
    manifest = build_dataset(
        [SourceInput(source="nuscenes", path=root, nuscenes_version="v1.0-mini")], out, SMALL_BUILD
    )
    rows = read_triplets(out).to_pylist()
    assert {r["source"] for r in rows} == {"nuscenes"}
    assert {r["clip_id"] for r in rows} <= {"scene-0001", "scene-0002", "scene-0003"}
    assert {"object_count", "object_move_lr", "ego_turn", "ego_forward", "ego_speed"} <= {r["family"] for r in rows}
    for r in rows:
        if r["family"] == "ego_speed":
            assert "the faint copy shows the view 0.5 seconds earlier" in r["prompt"] and r["subject"] == ""
        if r["family"] == "ego_forward":
            assert set(r["labels"]) <= {"Forward", "Backward"}
    assert manifest["input"]["roots"][0]["nuscenes_version"] == "v1.0-mini"


def test_the_cli_takes_one_version_per_nuscenes_input(tmp_path, capsys):
    from flows.cli import main

    code = main(
        [
            "build",
            "--source",
            "nuscenes",
            "--input",
            str(tmp_path),
            "--version",
            "a",
            "--version",
            "b",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "give one --version per --source nuscenes, in the same order, or none" in capsys.readouterr().err


def test_a_frame_file_linked_out_of_the_sequence_is_never_read(demo_mot_root, tmp_path):
    # only imDir was held inside the sequence: each frame file is too, so a link in img1/ cannot reach outside
    import shutil

    import pyarrow.parquet as pq

    from remot_data.pipeline import SourceInput, build_dataset
    from tests.factories.scannet import SMALL_BUILD

    root = tmp_path / "mot"
    shutil.copytree(demo_mot_root, root)
    sequence = sorted(p.parent for p in root.rglob("seqinfo.ini"))[0]
    frames = sorted((sequence / "img1").iterdir())
    outside = tmp_path / "elsewhere.jpg"
    shutil.copy(frames[0], outside)
    for frame in frames:  # every frame of one sequence: its triplets can use no other
        frame.unlink()
        frame.symlink_to(outside)
    lenient = tmp_path / "lenient.yaml"  # the audit's balance is not what this test is about
    lenient.write_text("name: lenient\nextends: v5\naudit:\n  max_blind_gain: 1.0\n")
    config = SMALL_BUILD.model_copy(update={"preset": str(lenient)})
    build_dataset([SourceInput(source="motchallenge", path=str(root))], tmp_path / "out", config)
    rejects = pq.read_table(tmp_path / "out" / "latest" / "rejects.parquet").to_pylist()
    refused = [r for r in rejects if "symbolic link out of the input" in (r["detail"] or "")]
    assert refused and {r["clip_id"] for r in refused} == {sequence.name}
    assert sequence.name not in set(read_triplets(tmp_path / "out").column("clip_id").to_pylist())

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from flows.build_dataset import build_dataset
from flows.cli import main
from remot_data.frames import FrameConfig
from remot_data.pipeline import BuildConfig, SourceInput
from remot_data.table import read_triplets
from tests.factories.scannet import SMALL_BUILD

REPO = Path(__file__).resolve().parents[2]


def test_prefect_yaml_parameters_become_the_config_type():
    doc = yaml.safe_load((REPO / "prefect.yaml").read_text())
    [deployment] = [d for d in doc["deployments"] if d["name"] == "rebuild"]
    params = build_dataset.validate_parameters(deployment["parameters"])
    assert params["inputs"][1] == SourceInput(
        source="lerobot", path="demo_data/corpus/lerobot", lerobot_mapping="remot_demo"
    )
    params = build_dataset.validate_parameters({**deployment["parameters"], "config": {"frames": {"max_side_px": 336}}})
    assert isinstance(params["config"], BuildConfig)
    assert params["config"].frames == FrameConfig(max_side_px=336)  # the rest: the model's defaults
    for bad, match in (
        ({"on_bad_clip": "ignore"}, "on_bad_clip"),
        ({"frames": {"max_side": 336}}, "max_side"),  # a typo'd key is refused, not ignored
        ({"val_fraction": 0.5, "test_fraction": 0.6}, "val_fraction \\+ test_fraction must be below 1"),
    ):
        with pytest.raises(Exception, match=match):
            build_dataset.validate_parameters({**deployment["parameters"], "config": bad})
    with pytest.raises(
        Exception, match=r"inputs\.0\.source: Input should be .scannet., .lerobot., .motchallenge. or .nuscenes."
    ):
        build_dataset.validate_parameters({**deployment["parameters"], "inputs": [{"source": "scanet", "path": "x"}]})


def test_flow_builds_the_same_dataset_as_the_library(prefect_harness, demo_scannet_root, built_dataset, tmp_path):
    inputs = [SourceInput(source="scannet", path=str(demo_scannet_root))]
    manifest = build_dataset(inputs, str(tmp_path / "out"), SMALL_BUILD)
    ours = read_triplets(tmp_path / "out").sort_by("triplet_id")
    reference = read_triplets(built_dataset).sort_by("triplet_id")
    assert ours.column("triplet_id").equals(reference.column("triplet_id"))
    assert ours.column("answer").equals(reference.column("answer"))
    assert manifest["counts"]["triplets"] == len(ours)


def test_cli_build_and_export(prefect_harness, demo_scannet_root, tmp_path, capsys):
    out = tmp_path / "ds"
    code = main(
        [
            "build",
            "--source",
            "scannet",
            "--input",
            str(demo_scannet_root),
            "--out",
            str(out),
            "--max-side",
            "64",
            "--batch-size",
            "3",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / "latest" / "manifest.json").read_text())
    assert f"{manifest['counts']['triplets']} triplets written to {out}" in printed
    assert "rejects" in printed and "camera_rotation" in printed
    assert main(["export", str(out), "--out", str(tmp_path / "export")]) == 0
    assert (tmp_path / "export" / "train.jsonl").exists()


def test_cli_reports_bad_input_without_a_traceback(prefect_harness, tmp_path, capsys):
    code = main(["build", "--source", "scannet", "--input", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_builds_from_two_sources_with_a_mapping_file(
    prefect_harness, demo_scannet_root, demo_lerobot_root, tmp_path, capsys
):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "video_key: observation.images.head\narms:\n  left:\n"
        "    position: {kind: position, x: left_ee_x, y: left_ee_y, z: left_ee_z}\n"
        "    gripper: {name: left_gripper, closed_is: low}\n"
    )  # the left arm only
    out = tmp_path / "ds"
    code = main(
        [
            "build",
            "--source",
            "scannet",
            "--input",
            str(demo_scannet_root),
            "--source",
            "lerobot",
            "--input",
            str(demo_lerobot_root),
            "--lerobot-mapping",
            str(mapping),
            "--out",
            str(out),
            "--max-side",
            "64",
        ]
    )
    assert code == 0
    manifest = json.loads((out / "latest" / "manifest.json").read_text())
    assert manifest["source"] == "lerobot+scannet"
    rows = read_triplets(out).select(["source", "subject", "mirrored"]).to_pylist()
    subjects = {(r["subject"], r["mirrored"]) for r in rows if r["source"] == "lerobot"}
    assert subjects == {("left", False), ("right", True)}  # the left arm; its mirrored copies show it as the right
    assert manifest["input"]["roots"][1]["lerobot_mapping"]["arms"].keys() == {"left"}
    assert main(["build", "--source", "scannet", "--input", "a", "--input", "b", "--out", str(tmp_path / "x")]) == 2
    assert "give --source and --input in pairs" in capsys.readouterr().err
    lerobot = ["build", "--source", "lerobot", "--input", str(demo_lerobot_root), "--out", str(tmp_path / "y")]
    assert main(lerobot) == 2  # no mapping: refused, never guessed
    assert "give one --lerobot-mapping per --source lerobot" in capsys.readouterr().err
    assert main([*lerobot, "--lerobot-mapping", "so100"]) == 2
    assert "'so100' is neither a YAML file nor shipped; shipped: ['remot_demo'" in capsys.readouterr().err
    assert main([*lerobot, "--lerobot-mapping", "so101"]) == 2  # a shipped robot that is not this one
    err = capsys.readouterr().err
    assert "the LeRobot mapping for so101 does not fit this dataset" in err and "shoulder_pan.pos" in err
    assert not (tmp_path / "y").exists()


def test_cli_stops_whole_input_mistakes_before_prefect_in_one_line(tmp_path, capsys):
    mine = tmp_path / "results"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep\n")
    argv = ["build", "--source", "scannet", "--input", str(tmp_path / "in"), "--out", str(mine)]
    (tmp_path / "in").mkdir()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a remot dataset" in err and "Traceback" not in err
    assert (mine / "notes.txt").read_text() == "keep\n"
    with pytest.raises(Exception, match="is not a remot dataset"):
        main(["--debug", *argv])  # --debug lets the exception through, traceback and all
    lerobot = ["build", "--source", "lerobot", "--input", str(tmp_path / "in"), "--lerobot-mapping", "remot_demo"]
    assert main([*lerobot, "--ffmpeg", "/bin/false", "--out", str(tmp_path / "o")]) == 2
    assert "ffmpeg '/bin/false' does not answer -version like ffmpeg" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_inspect_reports_what_a_build_would_get_and_fails_when_nothing(demo_scannet_root, tmp_path, capsys):
    real_g1 = REPO / "tests" / "data" / "lerobot_g1"
    assert (
        main(["inspect", "--source", "lerobot", "--input", str(real_g1), "--lerobot-mapping", "unitree_g1_inspire"])
        == 0
    )
    out = capsys.readouterr().out
    assert "episode_000001: 255 frames" in out and "candidates {'move_lr':" in out and "'gripper_still': 1" in out
    assert main(["inspect", "--source", "lerobot", "--input", str(real_g1), "--lerobot-mapping", "so101"]) == 2
    assert "cannot be built: " in capsys.readouterr().out
    broken = tmp_path / "scenes"
    shutil.copytree(sorted(demo_scannet_root.iterdir())[0], broken / "scene0000_00")
    (broken / "scene0000_00" / "pose" / "0.txt").write_text("1 2 3\n")  # wrong shape: its frame is lost, no more
    (broken / "scene0000_00" / "pose" / "1.txt").write_text("nan nan nan nan\n" * 3 + "0 0 0 1\n")
    assert main(["inspect", "--source", "scannet", "--input", str(broken)]) == 0
    out = capsys.readouterr().out
    assert "dropped {'bad_pose_file': 1, 'non_finite_pose': 1}" in out  # every problem of the clip is listed
    assert "bad_pose_file: " in out and "pose/0.txt: a ScanNet pose must be 4 lines" in out
    assert "non_finite_pose: " in out and "pose/1.txt: pose has non-finite values" in out
    for pose in (broken / "scene0000_00" / "pose").glob("*.txt"):
        pose.write_text("1 2 3\n")
    assert main(["inspect", "--source", "scannet", "--input", str(broken)]) == 2
    out = capsys.readouterr().out
    assert "scene0000_00: bad clip: SourceFormatError:" in out and "scene has no frame with both" in out
    assert not (tmp_path / "out").exists()


def test_an_unreachable_prefect_api_is_one_line(demo_scannet_root, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"}  # nothing listens on the discard port
    argv = ["build", "--source", "scannet", "--input", str(demo_scannet_root), "--out", str(tmp_path / "o")]
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2
    assert "Failed to reach API at http://127.0.0.1:9/api" in done.stderr and "unset PREFECT_API_URL" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "source, given, out, message",
    [
        ("scannet", "in", "res", "is not a remot dataset"),
        ("scannet", "missing", "new", "ScanNet input must be a directory of scene exports, but it does not exist"),
        ("scannet", "in", "new", "no ScanNet scene found"),
        ("mot", "in", "new", "no MOTChallenge sequence"),
        ("split file", "scenes", "new", "splits.csv:1: expected 'id,split' with split in ['train', 'val', 'test']"),
    ],
    ids=["foreign output", "missing input", "empty scannet input", "empty mot input", "bad split file"],
)
def test_whole_input_mistakes_stop_before_any_flow_run(demo_scannet_root, tmp_path, source, given, out, message):
    # the CLI's preflight refuses before Prefect starts: no flow run, no temporary API server, one line
    import os
    import subprocess
    import sys

    (tmp_path / "in").mkdir()
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "notes.txt").write_text("keep\n")
    argv = ["build", "--source", source, "--input", str(tmp_path / given), "--out", str(tmp_path / out)]
    if source == "split file":  # a good input, a split file with a typo
        shutil.copytree(sorted(demo_scannet_root.iterdir())[0], tmp_path / "scenes" / "scene0000_00")
        (tmp_path / "splits.csv").write_text("scene0000_00,trian\n")
        argv[2] = "scannet"
        argv += ["--split-file", str(tmp_path / "splits.csv")]
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "INFO"}
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert "Flow run" not in done.stderr + done.stdout and "temporary server" not in done.stderr + done.stdout
    assert not (tmp_path / "new").exists() and (tmp_path / "res" / "notes.txt").read_text() == "keep\n"


@pytest.mark.parametrize(
    "command, message",
    [
        ("train --data {ds} --model {missing}", "no config.json; --model must be a local model folder"),
        ("train --data {missing} --model {model}", "no Parquet files for split 'train'"),
        ("eval --data {ds} --model {missing}", "no config.json; --model must be a local model folder"),
        ("eval --data {missing} --model {model}", "reference must be a remot dataset directory, a ReMoT JSONL"),
        ("eval --data {ds} --model {model} --split val", "no triplets in splits ['val']"),  # the fixture has none
    ],
    ids=["train model", "train data", "eval model", "eval data", "eval split"],
)
def test_train_and_eval_inputs_are_checked_before_any_flow_run(built_dataset, tmp_path, command, message):
    import os
    import subprocess
    import sys

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    argv = command.format(ds=built_dataset, missing=tmp_path / "missing", model=tmp_path / "model").split()
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "INFO"}
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", *argv, "--out", str(tmp_path / "run")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert "Flow run" not in done.stderr + done.stdout and not (tmp_path / "run").exists()


def test_inspect_reads_mot_sequences_by_their_short_name(demo_mot_root, capsys):
    assert main(["inspect", "--source", "mot", "--input", str(demo_mot_root)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"motchallenge {demo_mot_root}")
    assert "DEMO-01: 90 frames; boxes_per_frame [" in out and "'object_count':" in out


def test_the_dask_runner_builds_the_same_rows(prefect_harness, demo_scannet_root, built_dataset, tmp_path):
    # the same flow on a Dask LocalCluster of 2 worker processes: batches cross process boundaries (pickled inputs,
    # staged parts written by the workers) and the published rows are the default runner's, byte for byte
    from flows.build_dataset import make_task_runner

    inputs = [SourceInput(source="scannet", path=str(demo_scannet_root))]
    on_dask = build_dataset.with_options(task_runner=make_task_runner("dask", workers=2))
    manifest = on_dask(inputs, str(tmp_path / "out"), SMALL_BUILD)
    ours = read_triplets(tmp_path / "out").sort_by("triplet_id")
    reference = read_triplets(built_dataset).sort_by("triplet_id")
    assert ours.num_rows == reference.num_rows == manifest["counts"]["triplets"] > 0
    for column in ("triplet_id", "answer", "prompt", "anchor_image", "negative_image", "values_12"):
        assert ours.column(column).equals(reference.column(column)), column


def test_the_runner_options_pick_the_task_runner():
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from flows.build_dataset import make_task_runner
    from flows.cli import make_parser

    assert isinstance(make_task_runner("threads"), ThreadPoolTaskRunner)
    # bounded: Prefect's own default pool starts every batch of a large build at once
    assert make_task_runner("threads")._max_workers == os.cpu_count()
    assert make_task_runner("threads", workers=3)._max_workers == 3
    assert build_dataset.task_runner._max_workers == os.cpu_count()  # what a deployment run gets
    remote = make_task_runner("dask", dask_address="tcp://scheduler:8786")
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://scheduler:8786"
    args = make_parser().parse_args(["build", "--source", "mot", "--input", "x", "--out", "y", "--runner", "dask"])
    assert (args.runner, args.dask_address, args.workers) == ("dask", None, None)
    args = make_parser().parse_args(["build", "--source", "mot", "--input", "x", "--out", "y", "--dask-workers", "4"])
    assert args.workers == 4  # the older name still works


def test_inspect_reports_any_clip_failure_the_build_would_reject(demo_mot_root, monkeypatch, capsys):
    # the build turns every per-clip exception into a bad_clip row; inspect must report the same ones, not crash
    import remot_data.inspection as inspection

    real = inspection.find_candidates

    def broken(clip, preset):
        if clip.clip_id == "DEMO-02":
            raise KeyError("a bug in a rule")
        return real(clip, preset)

    monkeypatch.setattr(inspection, "find_candidates", broken)
    assert main(["inspect", "--source", "mot", "--input", str(demo_mot_root)]) == 0
    out = capsys.readouterr().out
    assert "DEMO-02: bad clip: KeyError: 'a bug in a rule'" in out and "DEMO-01: 90 frames" in out

import json
from pathlib import Path

import pytest

from remot_train.eval.config import ReferenceConfig
from remot_train.eval.evaluate import score_files
from remot_train.eval.metrics import camera_group_mean, exact_match, extract_answer, per_char

RELEASE = Path(__file__).resolve().parents[2] / "data" / "remot_release"


@pytest.mark.parametrize(
    "response, expected",
    [
        ("<think>...</think><answer>CAB</answer>", "CAB"),
        ("<ANSWER>\n cab \n</ANSWER>", "CAB"),  # case-insensitive tags, inner whitespace stripped, uppercased
        ("<answer>AB</answer> then <answer>CD</answer>", "AB"),  # the first block wins
        ("<think>reasoning</think>  bca  ", "BCA"),  # no tag: text after </think>
        ("<think>a</think>x<think>b</think> d", "X<THINK>B</THINK> D"),  # ... after the first </think>, as official
        ("<think>a</THINK> cab", "CAB"),  # </think> in any case
        ("just text", ""),  # neither: empty
        ("", ""),
        (None, ""),
    ],
)
def test_extract_answer(response, expected):
    assert extract_answer(response) == expected


@pytest.mark.parametrize(
    "pred, gt, em, pc",
    [
        ("CAB", "CAB", 1.0, 1.0),
        ("", "CAB", 0.0, 0.0),  # empty prediction
        ("CA", "CAB", 0.0, 2 / 3),  # shorter: missing positions are wrong
        ("CABD", "CAB", 0.0, 1.0),  # longer: exact fails, per-char counts the truth's positions only
        ("cab", "CAB", 0.0, 0.0),  # metrics themselves are case-sensitive (extraction uppercases)
        (" CAB ", "CAB", 1.0, 0.0),  # exact strips; per-char compares positions as given
        ("BAC", "CAB", 0.0, 1 / 3),
    ],
)
def test_exact_and_per_char(pred, gt, em, pc):
    assert exact_match(pred, gt) == em
    assert per_char(pred, gt) == pytest.approx(pc)


def test_camera_overall_uses_index_groups():
    gt = "BCBCBACACBBC"
    assert camera_group_mean(gt, gt) == 1.0
    # break position 0 (h-direction group [0, 4, 8]) and position 3 (v-angle group [3, 7, 11]): 2 of 4 groups left
    pred = "A" + gt[1:3] + "A" + gt[4:]
    assert camera_group_mean(pred, gt) == 0.5
    assert camera_group_mean(gt[:8], gt) == 0.0  # the 2->3 letters are missing: every group fails


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_score_release_agibot_file_by_hand(tmp_path):
    items = [json.loads(line) for line in (RELEASE / "agibot_sample.jsonl").read_text().splitlines()]
    gts = {i["id"]: i["solution"][8:-9] for i in items}
    ids = list(gts)
    # families in file order: grab_release x3, lift_lower x3, move_complex x3, move_lr x3
    responses = {
        ids[0]: f"<think>a b</think><answer>{gts[ids[0]]}</answer>",  # right
        ids[1]: f"<answer>{gts[ids[1]][:2]}</answer>",  # 2 of 3 letters
        ids[2]: "no answer at all",  # parse failure, empty prediction
        ids[3]: f"<answer>{gts[ids[3]].lower()}</answer>",  # lowercase: uppercased by extraction, right
        ids[6]: f"<answer>{gts[ids[6]]}</answer>",  # right
        ids[9]: f"</think>{gts[ids[9]]}",  # fallback after </think>: right, but no answer tag
    }
    predictions = [
        {
            "id": i,
            "gt_answer": gts[i],
            "model_response": r,
            "response_words": len(r.split()),
        }  # no pred_answer: extracted
        for i, r in responses.items()
    ]
    out = tmp_path / "scores"
    metrics = score_files(
        _write(tmp_path / "agibot" / "predictions.jsonl", predictions),
        RELEASE / "agibot_sample.jsonl",
        out,
        ReferenceConfig(),
    )
    fam = metrics["by_family"]
    assert fam["grab_release"]["exact_match"] == pytest.approx(1 / 3)
    assert fam["grab_release"]["per_char"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    # as the official summary.py: a family averages the items that have a prediction (one each here)
    assert fam["lift_lower"]["exact_match"] == fam["move_complex"]["exact_match"] == fam["move_lr"]["exact_match"] == 1
    assert fam["lift_lower"]["n"] == 1
    assert metrics["missing_predictions"] == 6
    assert metrics["parse_failures"] == 6 + 2  # the 6 missing ones, "no answer at all", the </think> fallback
    assert metrics["overall"]["exact_match"] == pytest.approx(4 / 6)  # one task: mean over its predicted items
    assert metrics["table1"]["Gripper-Move"]["Ov"] == pytest.approx(1.0)
    assert metrics["table1"]["Gripper-State"]["Par"] == pytest.approx((1 + 2 / 3) / 3)
    assert set(metrics["by_task"]) == {"agibot"}
    written = json.loads((out / "metrics.json").read_text())
    assert written["table1"] == metrics["table1"]
    assert "| this run |" in (out / "report.md").read_text()
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"


def test_score_release_scannet_camera_groups(tmp_path):
    items = [json.loads(line) for line in (RELEASE / "scannet_sample.jsonl").read_text().splitlines()]
    gt = items[0]["solution"][8:-9]
    wrong_h = ("A" if gt[0] != "A" else "B") + gt[1:]  # only the h-direction group [0,4,8] fails
    predictions = [
        {"id": items[0]["id"], "model_response": f"<answer>{wrong_h}</answer>"},
        {"id": items[1]["id"], "model_response": f"<answer>{items[1]['solution'][8:-9]}</answer>"},
    ]
    metrics = score_files(
        _write(tmp_path / "scannet" / "predictions.jsonl", predictions),
        RELEASE / "scannet_sample.jsonl",
        tmp_path / "out",
        ReferenceConfig(),
    )
    cam = metrics["by_family"]["camera_rotation"]
    assert cam["n"] == 2 and metrics["missing_predictions"] == 4  # averaged over the predicted rows
    assert cam["exact_match"] == pytest.approx((0.0 + 1.0) / 2)  # summary.py's "Exact Match": all 12 letters
    assert cam["per_char"] == pytest.approx((11 / 12 + 1.0) / 2)
    assert cam["avg_partial_match"] == pytest.approx((0.75 + 1.0) / 2)  # summary.py's "Avg Partial Match"
    assert cam["ov"] == cam["avg_partial_match"] and cam["par"] == cam["per_char"]
    assert cam["camera_groups"]["h_direction"] == pytest.approx(1 / 2)
    assert cam["camera_groups"]["v_angle"] == pytest.approx(2 / 2)
    # Table 1's Camera Ov is the official group mean (0.875), not the strict match (0.5)
    assert metrics["table1"]["Camera"] == {"Ov": pytest.approx(0.875), "Par": cam["per_char"]}
    assert metrics["overall"]["ov"] == pytest.approx(0.875) and metrics["overall"]["exact_match"] == 0.5


def test_task_comes_from_predictions_folder_when_reference_does_not_say(tmp_path):
    ref = _write(
        tmp_path / "ref" / "test.jsonl",
        [
            {
                "images": ["a.jpg", "b.jpg", "c.jpg"],
                "messages": [{"role": "user", "content": "Q"}],
                "solution": "<answer>AB</answer>",
                "id": "x1",
            }
        ],
    )
    preds = _write(tmp_path / "mybench" / "predictions.jsonl", [{"id": "x1", "pred_answer": "AB"}])
    metrics = score_files(preds, ref, tmp_path / "out", ReferenceConfig())
    assert set(metrics["by_task"]) == {"mybench"}
    assert metrics["overall"]["exact_match"] == 1.0  # a file from other tooling: its pred_answer is used


def test_generaldata_family_scores_the_larger_of_both(tmp_path):
    rows = [
        {
            "images": ["/d/generaldata_resize/vl/1.jpg"],
            "messages": [{"role": "user", "content": "Q"}],
            "solution": "<answer>ABCD</answer>",
            "id": "g1",
        }
    ]
    ref = _write(tmp_path / "ref.jsonl", rows)
    preds = _write(tmp_path / "generaldata" / "p.jsonl", [{"id": "g1", "model_response": "<answer>ABCA</answer>"}])
    metrics = score_files(preds, ref, tmp_path / "out", ReferenceConfig())
    assert metrics["by_family"]["vl"]["score"] == pytest.approx(0.75)
    assert metrics["table1"]["Counting"] == {"Ov": 0.75, "Par": 0.75}
    assert metrics["by_task"] == {"generaldata": {"n": 1, "ov": 0.0, "par": 0.75, "exact_match": 0.0, "per_char": 0.75}}


def test_release_absolute_image_paths_resolve_under_image_root(tmp_path):
    from remot_train.eval.loaders import load_release_jsonl

    images = tmp_path / "imgs" / "agibot" / "resize_images_4" / "anchor"
    images.mkdir(parents=True)
    (images / "a.png").write_bytes(b"x")
    ref = _write(
        tmp_path / "ref.jsonl",
        [
            {
                "images": ["/data/someone/DATA/agibot/resize_images_4/anchor/a.png", "rel/b.png", "/nowhere/c.png"],
                "messages": [{"role": "user", "content": "Q"}],
                "solution": "<answer>A</answer>",
                "id": "i",
            }
        ],
    )
    [item] = load_release_jsonl(ref, image_root=tmp_path / "imgs")
    assert item.images[0] == str(images / "a.png")  # found by its trailing components
    assert item.images[1] == str(tmp_path / "imgs" / "rel" / "b.png")
    assert item.images[2] == "/nowhere/c.png"  # left as given: opening it names it


def test_score_names_missing_duplicated_and_unknown_ids(tmp_path, capsys):
    from flows.cli import main

    items = [json.loads(line) for line in (RELEASE / "agibot_sample.jsonl").read_text().splitlines()]
    rows = [
        {"id": items[0]["id"], "model_response": items[0]["solution"]},
        {"id": items[0]["id"], "model_response": items[0]["solution"]},  # predicted twice
        {"id": "remot_val_0123456789abcdef", "model_response": "<answer>A</answer>"},  # another split's item
    ]
    preds = _write(tmp_path / "agibot" / "predictions.jsonl", rows)
    argv = ["score", str(preds), "--reference", str(RELEASE / "agibot_sample.jsonl"), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "warning: 11 reference items have no prediction" in printed
    assert (
        f"ids predicted more than once (each line counts, as in the official scoring): ['{items[0]['id']}']" in printed
    )
    assert "ids the reference does not have (another split or file?): ['remot_val_0123456789abcdef']" in printed
    assert main([*argv, "--strict"]) == 2
    assert "predictions do not match" in capsys.readouterr().err
    empty = _write(tmp_path / "agibot" / "empty.jsonl", [])
    assert (
        main(["score", str(empty), "--reference", str(RELEASE / "agibot_sample.jsonl"), "--out", str(tmp_path / "o2")])
        == 0
    )
    assert "warning: 12 reference items have no prediction" in capsys.readouterr().out


def test_official_per_gpu_prediction_files_are_read_as_they_are(tmp_path):
    # the official runner writes one file per GPU, each ending with a summary row that has no id
    items = [json.loads(line) for line in (RELEASE / "agibot_sample.jsonl").read_text().splitlines()]
    folder = tmp_path / "agibot"
    for gpu, chunk in enumerate((items[:6], items[6:])):
        rows = [{"id": i["id"], "model_response": i["solution"]} for i in chunk]
        _write(folder / f"predictions_gpu{gpu}.jsonl", [*rows, {"accuracy": 1.0, "total": len(rows)}])
    metrics = score_files(folder, RELEASE / "agibot_sample.jsonl", tmp_path / "out", ReferenceConfig())
    assert metrics["missing_predictions"] == 0 and metrics["overall"]["exact_match"] == 1.0
    assert not any(metrics["id_check"].values())
    # `cat predictions_gpu*.jsonl > all.jsonl`: the summary rows now sit mid-file, and are skipped there too
    joined = tmp_path / "joined" / "agibot" / "all.jsonl"
    joined.parent.mkdir(parents=True)
    joined.write_text("".join(f.read_text() for f in sorted(folder.glob("*.jsonl"))))
    again = score_files(joined, RELEASE / "agibot_sample.jsonl", tmp_path / "out2", ReferenceConfig())
    assert again["table1"] == metrics["table1"] and again["missing_predictions"] == 0
    (folder / "predictions_gpu0.jsonl").write_text('{"accuracy": 1.0}\n{"model_response": "x"}\n')  # a row, no id
    with pytest.raises(ValueError, match=r"predictions_gpu0\.jsonl:2: prediction rows need at least an id"):
        score_files(folder, RELEASE / "agibot_sample.jsonl", tmp_path / "out3", ReferenceConfig())


def test_scoring_follows_the_official_rules_for_files_from_other_tooling(tmp_path):
    items = [json.loads(line) for line in (RELEASE / "agibot_sample.jsonl").read_text().splitlines()]
    gt0, gt1 = items[0]["solution"][8:-9], items[1]["solution"][8:-9]
    wrong1 = "".join("A" if c != "A" else "B" for c in gt1)
    rows = [
        # pred_answer is what the official scoring reads, even where model_response says otherwise
        {"id": items[0]["id"], "pred_answer": gt0, "model_response": "<answer>ZZZ</answer> w w w"},
        # an id twice: both rows count (one right, one wrong)
        {"id": items[1]["id"], "pred_answer": gt1, "model_response": "<answer>x</answer>"},
        {"id": items[1]["id"], "pred_answer": wrong1, "model_response": ""},  # empty: left out of the word mean
    ]
    metrics = score_files(
        _write(tmp_path / "agibot" / "p.jsonl", rows),
        RELEASE / "agibot_sample.jsonl",
        tmp_path / "o",
        ReferenceConfig(),
    )
    assert metrics["by_family"]["grab_release"]["n"] == 3
    assert metrics["by_family"]["grab_release"]["exact_match"] == pytest.approx(2 / 3)
    assert metrics["avg_response_words"] == pytest.approx((4 + 1) / 2)


def test_a_release_folder_is_one_reference_scored_per_file_and_averaged(tmp_path):
    # the release's layout: data/<task>/test.jsonl; one run gives every Table 1 column and Avg. Ov/Par
    release = tmp_path / "remot_release"
    for task in ("agibot", "scannet"):
        (release / "data" / task).mkdir(parents=True)
        (release / "data" / task / "test.jsonl").write_text((RELEASE / f"{task}_sample.jsonl").read_text())
    items = {
        task: [json.loads(line) for line in (RELEASE / f"{task}_sample.jsonl").read_text().splitlines()]
        for task in ("agibot", "scannet")
    }
    right = [{"id": i["id"], "pred_answer": i["solution"][8:-9]} for i in items["agibot"]]
    right.append({"id": items["scannet"][0]["id"], "pred_answer": "A" * 12})  # wrong somewhere
    preds = _write(tmp_path / "all" / "predictions.jsonl", right)
    metrics = score_files(preds, release, tmp_path / "out", ReferenceConfig())
    assert set(metrics["by_task"]) == {"agibot", "scannet"}
    scannet_ov = metrics["by_task"]["scannet"]["ov"]
    assert metrics["by_task"]["agibot"]["ov"] == 1.0 and scannet_ov < 1.0
    assert metrics["overall"]["ov"] == pytest.approx((1.0 + scannet_ov) / 2)  # unweighted over files
    assert {"Camera", "Gripper-Move"} <= set(metrics["table1"])
    assert score_files(preds, release / "data", tmp_path / "out2", ReferenceConfig())["overall"] == metrics["overall"]
    # an id in two files could not be told apart by a prediction: refused, naming both files
    (release / "data" / "copy").mkdir()
    (release / "data" / "copy" / "test.jsonl").write_text((RELEASE / "agibot_sample.jsonl").read_text())
    with pytest.raises(ValueError, match=r"copy/test\.jsonl: id 'idx_resize_4_test_0' is also in .*agibot/test\.jsonl"):
        score_files(preds, release, tmp_path / "out3", ReferenceConfig())
    with pytest.raises(FileNotFoundError, match="<task>/<split>.jsonl"):
        score_files(preds, tmp_path / "all", tmp_path / "out4", ReferenceConfig())

"""remot writes run folders and reports only into folders it made (train, eval and score --out)."""

import json

import pytest

from remot_train.run_dirs import claim_run_dir
from schemas import load_layout

MARKER = load_layout().marker


def test_a_new_empty_or_own_folder_is_claimed_and_marked(tmp_path):
    assert claim_run_dir(tmp_path / "new", "eval_report").is_dir()
    assert json.loads((tmp_path / "new" / MARKER).read_text())["kind"] == "eval_report"
    assert claim_run_dir(tmp_path / "new", "eval_report") == tmp_path / "new"  # its own: reused (a rerun resumes)
    (tmp_path / "empty").mkdir()
    claim_run_dir(tmp_path / "empty", "train_run")
    old = tmp_path / "old_run"  # made by remot before markers: it holds a run's own files
    old.mkdir()
    (old / "run_info.json").write_text("{}")
    (old / "resolved_config.json").write_text("{}")
    claim_run_dir(old, "train_run")
    assert (old / MARKER).is_file()


def test_a_folder_remot_did_not_make_or_of_another_kind_is_refused_before_writing(built_dataset, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "authorized_keys").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"home: exists, is not empty and was not made by remot"):
        claim_run_dir(home, "eval_report")
    assert sorted(p.name for p in home.iterdir()) == ["authorized_keys"]  # nothing written
    thesis = tmp_path / "thesis"  # a report.md of its own does not make a folder remot's
    thesis.mkdir()
    (thesis / "report.md").write_text("chapter 1")
    (thesis / "predictions.jsonl").write_text("")
    with pytest.raises(FileExistsError, match="was not made by remot"):
        claim_run_dir(thesis, "eval_report")
    with pytest.raises(FileExistsError, match=r"is a remot dataset folder, not a eval_report"):
        claim_run_dir(built_dataset, "eval_report")  # the published dataset's output folder
    version = next((built_dataset / "versions").iterdir())
    with pytest.raises(FileExistsError, match="was not made by remot"):
        claim_run_dir(version, "eval_report")  # a published version: metrics.json/report.md would overwrite it
    claim_run_dir(tmp_path / "run", "train_run")
    with pytest.raises(FileExistsError, match="is a remot train_run folder, not a eval_report"):
        claim_run_dir(tmp_path / "run", "eval_report")


def test_remot_score_refuses_an_out_remot_did_not_make(tmp_path, capsys):
    from flows.cli import main
    from tests.remot_train.eval.test_metrics import RELEASE

    first = json.loads((RELEASE / "agibot_sample.jsonl").read_text().splitlines()[0])
    preds = tmp_path / "agibot" / "predictions.jsonl"
    preds.parent.mkdir()
    preds.write_text(json.dumps({"id": first["id"], "model_response": first["solution"]}) + "\n")
    target = tmp_path / "somewhere"
    target.mkdir()
    (target / "report.txt").write_text("not remot's")
    args = ["score", str(preds), "--reference", str(RELEASE / "agibot_sample.jsonl"), "--out", str(target)]
    assert main(args) == 2
    assert "was not made by remot" in capsys.readouterr().err
    assert sorted(p.name for p in target.iterdir()) == ["report.txt"]

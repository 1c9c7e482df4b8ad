import json

import pytest
from PIL import Image

from remot_data.errors import ContractError, OutputError
from remot_data.export import export_remot_jsonl
from remot_data.table import read_triplets


def test_export_has_release_shape_and_relative_paths(built_dataset, tmp_path):
    out = tmp_path / "export"
    counts = export_remot_jsonl(built_dataset, out)
    table = read_triplets(built_dataset)
    assert sum(counts.values()) == len(table)
    by_id = {f"remot_{r['split']}_{r['triplet_id']}": r for r in table.to_pylist()}
    for split, n in counts.items():
        lines = (out / f"{split}.jsonl").read_text().splitlines()
        assert len(lines) == n
        for line in lines:
            item = json.loads(line)
            assert list(item) == ["images", "messages", "solution", "id"]  # the release's keys, in its order
            row = by_id[item["id"]]
            assert item["messages"] == [{"role": "user", "content": row["prompt"]}]
            assert item["solution"] == row["solution"]
            assert len(item["images"]) == 3
            for path, role in zip(item["images"], ("anchor", "positive", "negative"), strict=True):
                assert not path.startswith("/")
                file = out / path  # relative to the JSONL file's folder
                assert file.read_bytes() == row[f"{role}_image"]["bytes"]
                Image.open(file).verify()


def test_export_replaces_its_own_export_and_nothing_else(built_dataset, tmp_path):
    out = tmp_path / "export"
    export_remot_jsonl(built_dataset, out)
    (out / "train.jsonl").write_text("stale\n")
    export_remot_jsonl(built_dataset, out)  # a remot export: replaced whole
    assert (out / "train.jsonl").read_text() != "stale\n"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me\n")
    with pytest.raises(OutputError, match="is not a remot export"):
        export_remot_jsonl(built_dataset, mine)
    assert (mine / "notes.txt").read_text() == "keep me\n"
    with pytest.raises(OutputError, match="the output is the input"):
        export_remot_jsonl(built_dataset, built_dataset)
    with pytest.raises(OutputError, match="lies inside the input"):
        export_remot_jsonl(built_dataset, built_dataset / "export")
    assert read_triplets(built_dataset).num_rows > 0


def test_export_refuses_a_dataset_missing_a_part_file(built_dataset, tmp_path):
    import shutil

    copy = tmp_path / "ds"
    shutil.copytree(built_dataset, copy, symlinks=True)
    [part] = list((copy / "latest" / "data" / "test").glob("*.parquet"))
    part.unlink()
    with pytest.raises(ContractError, match=r"test: 0 rows, manifest says \d+"):
        export_remot_jsonl(copy, tmp_path / "export")
    assert not (tmp_path / "export").exists()


def test_export_cleans_what_an_interrupted_export_left(built_dataset, tmp_path):
    from remot_data.outputs import mark_output

    out = tmp_path / "export"
    stale = tmp_path / ".export.tmp-deadbeef"
    stale.mkdir()
    mark_output(stale, kind="export")
    foreign = tmp_path / ".export.old-cafe0000"  # not remot's: left alone
    foreign.mkdir()
    export_remot_jsonl(built_dataset, out)
    assert not stale.exists() and foreign.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".export.old-cafe0000", "export"]


def test_export_names_files_itself_and_scoring_reads_the_family_back(built_dataset, tmp_path):
    import re

    from remot_train.eval.loaders import load_release_jsonl

    out = tmp_path / "export"
    counts = export_remot_jsonl(built_dataset, out)
    families = {f"remot_{r['split']}_{r['triplet_id']}": r["family"] for r in read_triplets(built_dataset).to_pylist()}
    for split in counts:
        for item in load_release_jsonl(out / f"{split}.jsonl"):
            assert item.family == families[item.id]  # not "unknown": scoring keeps every family
        for line in (out / f"{split}.jsonl").read_text().splitlines():
            for path in json.loads(line)["images"]:
                # images/<split>/<family>/<sha256 prefix>.jpg: no name from the dataset reaches a path
                assert re.fullmatch(rf"images/{split}/[a-z_]+/[0-9a-f]{{32}}\.jpg", path), path

import json

from PIL import Image

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


def test_export_replaces_an_existing_export(built_dataset, tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    (out / "stale.jsonl").write_text("old\n")
    export_remot_jsonl(built_dataset, out)
    assert not (out / "stale.jsonl").exists()

"""Published triplets are written a row group at a time into parts of a bounded size, and read back whole."""

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from remot_data.table import read_triplets, write_triplet_splits
from schemas import load_layout


def test_splits_are_streamed_into_several_parts_and_row_groups_and_read_back_unchanged(built_dataset, tmp_path):
    table = read_triplets(built_dataset)
    train = table.filter(pc.equal(table.column("split"), "train"))
    assert len(train) >= 20
    per_row = train.nbytes // len(train)
    chunks = (table.slice(start, 7) for start in range(0, len(table), 7))  # staged parts, each of mixed splits
    files = write_triplet_splits(chunks, tmp_path, group_bytes=4 * per_row, part_bytes=10 * per_row)
    assert set(files) == set(table.column("split").to_pylist())
    assert files["train"] == [
        load_layout().triplet_part.format(split="train", part=n) for n in range(len(files["train"]))
    ]
    assert len(files["train"]) >= 2  # a part closes once it holds part_bytes
    groups = [pq.ParquetFile(tmp_path / f).metadata.num_row_groups for f in files["train"]]
    assert max(groups) >= 2  # several row groups per part, none larger than about group_bytes
    sizes = [
        pq.ParquetFile(tmp_path / f).metadata.row_group(g).num_rows
        for f, n in zip(files["train"], groups, strict=True)
        for g in range(n)
    ]
    assert max(sizes) <= 5
    back = read_triplets(tmp_path)
    by_split = {s: table.filter(pc.equal(table.column("split"), s)) for s in sorted(files)}
    for split, rows in by_split.items():
        assert (
            back.filter(pc.equal(back.column("split"), split)).to_pylist() == rows.to_pylist()
        )  # same rows, same order


def test_the_training_loader_reads_every_part_of_a_split(built_dataset, tmp_path):
    pytest.importorskip("datasets")
    from remot_train.data import load_trl_dataset

    table = read_triplets(built_dataset)
    per_row = table.nbytes // len(table)
    write_triplet_splits([table], tmp_path, group_bytes=3 * per_row, part_bytes=6 * per_row)
    rows = load_trl_dataset(tmp_path, split="train")
    train_ids = table.filter(pc.equal(table.column("split"), "train")).column("triplet_id").to_pylist()
    assert len(load_layout().split_files(tmp_path, "train")) >= 2
    assert rows["triplet_id"] == train_ids


def test_rows_are_fetched_from_the_part_that_holds_them(built_dataset, tmp_path):
    from remot_data.pipeline.publish import _rows_at
    from remot_data.table import write_parquet

    table = read_triplets(built_dataset)
    sizes = [5, 0, 9, len(table) - 14]
    parts, start = [], 0
    for n, size in enumerate(sizes):
        parts.append(tmp_path / f"part{n}.parquet")
        write_parquet(table.slice(start, size), parts[-1])
        start += size
    wanted = [len(table) - 1, 0, 5, 13, 14, 4]  # out of order, at the edges of parts, one in the part after an empty
    assert _rows_at(parts, sizes, wanted) == table.take(wanted).to_pylist()

"""Benchmark 6: the consumer side, published Parquet to TRL rows, against what a GRPO step consumes.

Writes the train split of a dataset with row groups of several sizes (the publisher's ``SplitWriter``: 1 MB, its
default 16 MB, and Hugging Face ``datasets``' own 100 MB), and for each times: writing, ``load_trl_dataset``
(``datasets`` reads the Parquet into its Arrow cache and maps rows to TRL's form), reading every row with its three
images decoded (what the trainer's collator gets), and ``datasets``' streaming reader (row group by row group) to its
first row and through. A GRPO step of the paper's settings takes ``per_device_train_batch_size x
gradient_accumulation_steps / num_generations`` distinct prompts per device; the loader's rate is compared with that
need at ``--step-seconds`` per step (measure real steps with ``benchmarks/gpu_smoke.sh``; 1 s is far faster than any
VLM GRPO step).

    .venv/bin/python benchmarks/consumer.py [--data DATASET_DIR] [--episodes 6]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

import datasets
import pyarrow.compute as pc
import pyarrow.parquet as pq
from _corpus import DEFAULT_PRESET, build_in_child, lerobot_corpus

from remot_data.table import ROW_GROUP_BYTES, read_triplets, write_triplet_splits
from remot_train.config import TrainConfig
from remot_train.data import load_trl_dataset
from schemas import load_layout

MB = 1024 * 1024


def main() -> None:
    """Measure each row-group size and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a published dataset (default: build the demo corpus)")
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--step-seconds", type=float, default=1.0)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "remot_bench")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="remot_consumer_bench_"))
    data = args.data
    if data is None:
        data = work / "dataset"
        build_in_child(lerobot_corpus(args.cache, args.episodes), data, DEFAULT_PRESET, "library")
    table = read_triplets(data)
    train = table.filter(pc.equal(table.column("split"), "train"))
    print(f"{len(train)} train triplets, {train.nbytes / MB:.0f} MB in Arrow")
    config = TrainConfig()
    prompts_per_step = config.per_device_train_batch_size * config.gradient_accumulation_steps // config.num_generations
    need = prompts_per_step / args.step_seconds
    print("| row group | row groups | write s | load_trl_dataset s | rows/s with images | stream: first row s "
          "| stream rows/s | rows/s vs a step's need |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for group_mb in (1, 16, 100):  # 100 MB: Hugging Face datasets' MAX_ROW_GROUP_SIZE
        root = work / f"rg{group_mb}"
        start = time.perf_counter()
        write_triplet_splits([train], root, group_bytes=group_mb * MB)
        write_s = time.perf_counter() - start
        files = [str(p) for p in load_layout().split_files(root, "train")]
        groups = sum(pq.ParquetFile(f).metadata.num_row_groups for f in files)
        os.environ["HF_DATASETS_CACHE"] = str(work / f"hf-cache-{group_mb}")
        datasets.config.HF_DATASETS_CACHE = Path(os.environ["HF_DATASETS_CACHE"])
        start = time.perf_counter()
        rows = load_trl_dataset(root, split="train")
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        for row in rows:
            for image in row["images"]:
                image.load()
        read_rate = len(rows) / (time.perf_counter() - start)
        stream = datasets.load_dataset("parquet", data_files={"train": files}, split="train", streaming=True)
        start = time.perf_counter()
        first_s, n = None, 0
        for _ in stream:
            n += 1
            first_s = first_s if first_s is not None else time.perf_counter() - start
        stream_rate = n / (time.perf_counter() - start)
        label = " (default)" if group_mb * MB == ROW_GROUP_BYTES else ""
        print(
            f"| {group_mb} MB{label} | {groups} | {write_s:.2f} | {load_s:.2f} | {read_rate:.0f} | {first_s:.3f} | "
            f"{stream_rate:.0f} | {read_rate / need:.0f}x |"
        )
    print(
        f"a step of the paper's settings takes {prompts_per_step} prompts per device; at {args.step_seconds} s per "
        f"step that is {need:.1f} rows/s"
    )


if __name__ == "__main__":
    main()

"""Parquet triplet table -> TRL rows: conversational prompt, lazily decoded images, and the rewards' columns.

Rows get a conversational ``prompt`` (three images, then the text), an ``images`` column decoded lazily to PIL,
and the columns the rewards read (solution, family, options, labels).

Reads the contract through ``schemas/`` and Hugging Face ``datasets``; never imports remot_data. Paths are taken as
given (absolute or relative to the caller), never resolved against the working directory behind the user's back.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from remot_train.requirements import require_package

require_package("datasets", extra="train")

import datasets  # noqa: E402

from remot_train.preflight import require_split_files  # noqa: E402
from schemas import IMAGE_COLUMNS, load_layout  # noqa: E402

# Contract columns the rewards and the SFT steps read (tests/schemas ties them to schemas/triplets.yaml).
KEEP_COLUMNS = ("triplet_id", "family", "solution", "answer", "labels", "options")


def _to_trl_row(row: dict) -> dict:
    content = [{"type": "image"} for _ in IMAGE_COLUMNS] + [{"type": "text", "text": row["prompt"]}]
    return {"prompt": [{"role": "user", "content": content}], "images": [row[c] for c in IMAGE_COLUMNS]}


def load_trl_dataset(data_dir: Path, *, split: str = "train") -> datasets.Dataset:
    """Load one split as a TRL-ready dataset.

    Image bytes are carried over without decoding or re-encoding; ``images`` decodes to three PIL images when a row
    is read.

    Returns:
        Columns ``prompt``, ``images`` and ``triplet_id, family, solution, answer, labels, options``.
    """
    dataset = datasets.load_dataset(
        "parquet", data_files={split: require_split_files(Path(data_dir), split)}, split=split
    )
    for column in IMAGE_COLUMNS:
        dataset = dataset.cast_column(column, datasets.Image(decode=False))
    features = datasets.Features(
        {
            **{c: dataset.features[c] for c in KEEP_COLUMNS},
            "prompt": [
                {
                    "role": datasets.Value("string"),
                    "content": [{"type": datasets.Value("string"), "text": datasets.Value("string")}],
                }
            ],
            "images": datasets.List(datasets.Image(decode=False)),
        }
    )
    dataset = dataset.map(
        _to_trl_row, remove_columns=[c for c in dataset.column_names if c not in KEEP_COLUMNS], features=features
    )
    return dataset.cast_column("images", datasets.List(datasets.Image()))


def manifest_sha256(data_dir: Path) -> str | None:
    """Return the SHA-256 of the dataset's ``manifest.json`` (recorded in every run directory), or None."""
    path = load_layout().resolve(Path(data_dir)) / load_layout().manifest
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None

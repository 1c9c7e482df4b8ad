"""Export a published dataset to the ReMoT release's JSONL shape, for ms-swift-style trainers and the official eval.

Each split becomes ``<split>.jsonl`` with lines ``{"images": [anchor, positive, negative], "messages": [{"role":
"user", "content": prompt}], "solution": "<answer>..</answer>", "id": ..}``; images are written once under
``images/<split>/<family>/`` and referenced by paths relative to the JSONL file (layout and ids:
``schemas/dataset.yaml``). The export names every file itself (the family folder, so scoring tells the family from
the path as it does for the release; the file by its content's SHA-256): no name read from a dataset reaches a path.
Published atomically like a dataset.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa

from remot_data.errors import ContractError
from remot_data.outputs import check_output_path, replace_output
from remot_data.table import iter_triplet_parts
from schemas import IMAGE_COLUMNS, load_layout


def export_remot_jsonl(dataset_dir: Path, export_dir: Path) -> dict[str, int]:
    """Write the ReMoT JSONL export of a dataset directory.

    Args:
        dataset_dir: What ``remot build --out`` wrote.
        export_dir: Directory to create (replaced atomically if it exists).

    Returns:
        Number of items written per split.

    Raises:
        OutputError: If ``export_dir`` is the dataset, inside or above it, or not a remot export.
        ContractError: If the dataset holds no valid triplet table, or fewer rows than its manifest counts.
    """
    check_output_path(export_dir, kind="export", inputs=[dataset_dir])
    layout = load_layout()
    check_against_manifest(
        pa.concat_tables(iter_triplet_parts(Path(dataset_dir), columns=["split"])), Path(dataset_dir)
    )
    counts: dict[str, int] = {}
    with replace_output(Path(export_dir), kind="export") as tmp:
        handles = {}
        try:
            # A part at a time, in row batches: at most a few hundred triplets' image bytes in Python at once.
            batches = (b for part in iter_triplet_parts(Path(dataset_dir)) for b in part.to_batches(max_chunksize=256))
            for row in (r for batch in batches for r in batch.to_pylist()):
                split = row["split"]
                if split not in handles:
                    handles[split] = (tmp / layout.export_jsonl.format(split=split)).open("w", encoding="utf-8")
                paths = []
                for column in IMAGE_COLUMNS:
                    digest = hashlib.sha256(row[column]["bytes"]).hexdigest()[:32]
                    relative = layout.export_image.format(split=split, family=row["family"], digest=digest)
                    target = tmp / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if not target.exists():  # images shared between triplets are written once
                        target.write_bytes(row[column]["bytes"])
                    paths.append(relative)
                item = {
                    "images": paths,
                    "messages": [{"role": "user", "content": row["prompt"]}],
                    "solution": row["solution"],
                    "id": layout.make_item_id(split, row["triplet_id"]),
                }
                handles[split].write(json.dumps(item, ensure_ascii=False) + "\n")
                counts[split] = counts.get(split, 0) + 1
        finally:
            for handle in handles.values():
                handle.close()
    return counts


def check_against_manifest(table, dataset_dir: Path) -> None:
    """Raise unless the triplet table has exactly the rows per split that the dataset's manifest counts.

    Raises:
        ContractError: Naming each split whose part files hold a different number of rows (a part file missing).
    """
    layout = load_layout()
    manifest_path = layout.resolve(dataset_dir) / layout.manifest
    try:
        expected = json.loads(manifest_path.read_text(encoding="utf-8"))["counts"]["by_split"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ContractError(f"{manifest_path}: cannot read the manifest's counts per split: {err}") from err
    found: dict[str, int] = {}
    for split in table.column("split").to_pylist():
        found[split] = found.get(split, 0) + 1
    wrong = {s: (found.get(s, 0), n) for s, n in expected.items() if found.get(s, 0) != n}
    wrong |= {s: (n, 0) for s, n in found.items() if s not in expected}
    if wrong:
        lines = ", ".join(f"{s}: {got} rows, manifest says {want}" for s, (got, want) in sorted(wrong.items()))
        raise ContractError(f"{dataset_dir}: the triplet files do not hold what {manifest_path.name} counts ({lines})")

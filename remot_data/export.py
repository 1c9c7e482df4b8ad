"""Export a published dataset to the ReMoT release's JSONL shape, for ms-swift-style trainers and the official eval.

Each split becomes ``<split>.jsonl`` with lines ``{"images": [anchor, positive, negative], "messages": [{"role":
"user", "content": prompt}], "solution": "<answer>..</answer>", "id": ..}``; images are written once under
``images/<split>/`` and referenced by paths relative to the JSONL file. Published atomically like a dataset.
"""

from __future__ import annotations

import json
from pathlib import Path

from remot_data.table import publish_directory, read_triplets

IMAGE_ROLES = ("anchor_image", "positive_image", "negative_image")


def export_remot_jsonl(dataset_dir: Path, export_dir: Path) -> dict[str, int]:
    """Write the ReMoT JSONL export of a dataset directory.

    Args:
        dataset_dir: What ``remot build --out`` wrote.
        export_dir: Directory to create (replaced atomically if it exists).

    Returns:
        Number of items written per split.

    Raises:
        ContractError: If the dataset directory holds no valid triplet table.
    """
    table = read_triplets(Path(dataset_dir))
    counts: dict[str, int] = {}
    with publish_directory(Path(export_dir)) as tmp:
        handles = {}
        try:
            # Row batches keep at most a few hundred triplets' image bytes in Python at a time.
            for row in (r for batch in table.to_batches(max_chunksize=256) for r in batch.to_pylist()):
                split = row["split"]
                if split not in handles:
                    handles[split] = (tmp / f"{split}.jsonl").open("w", encoding="utf-8")
                    (tmp / "images" / split).mkdir(parents=True)
                paths = []
                for role in IMAGE_ROLES:
                    relative = f"images/{split}/{row[role]['path']}"
                    target = tmp / relative
                    if not target.exists():  # images shared between triplets are written once
                        target.write_bytes(row[role]["bytes"])
                    paths.append(relative)
                item = {
                    "images": paths,
                    "messages": [{"role": "user", "content": row["prompt"]}],
                    "solution": row["solution"],
                    "id": f"remot_{split}_{row['triplet_id']}",
                }
                handles[split].write(json.dumps(item, ensure_ascii=False) + "\n")
                counts[split] = counts.get(split, 0) + 1
        finally:
            for handle in handles.values():
                handle.close()
    return counts

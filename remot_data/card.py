"""The dataset card: ``README.md`` with Hugging Face Hub YAML front matter, written into a dataset directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from schemas import hf_card_feature, load_columns, load_layout

# Licence of the data each source format usually carries (each source's published terms); a build may override it.
SOURCE_LICENSES = {
    "scannet": "cc-by-nc-sa-4.0",
    "lerobot": "other",
    "motchallenge": "other",
    "nuscenes": "cc-by-nc-sa-4.0",
}


def size_category(n: int) -> str:
    """Return the Hub's size category for ``n`` rows.

    Example:
        >>> size_category(500), size_category(5000)
        ('n<1K', '1K<n<10K')
    """
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < bound:
            return label
    return "1M<n<10M"


def write_dataset_card(
    root: Path, manifest: dict[str, Any], split_files: dict[str, list[str]], *, license_id: str | None = None
) -> None:
    """Write ``README.md``: Hub front matter (configs, data files per split, features, licence, size) and a summary."""
    counts = manifest["counts"]
    sources = manifest["source"].split("+")
    licenses = sorted({SOURCE_LICENSES.get(s, "other") for s in sources})
    license_id = license_id or manifest["config"].get("license") or (licenses[0] if len(licenses) == 1 else "other")
    front = {
        "license": license_id,
        "pretty_name": "remot motion-contrast triplets",
        "task_categories": ["visual-question-answering"],
        "size_categories": [size_category(counts["triplets"])],
        "tags": ["motion", "contrastive", "remot"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": s, "path": load_layout().triplet_glob.format(split=s)} for s in sorted(split_files)
                ],
            }
        ],
        "dataset_info": {
            "features": [hf_card_feature(c.name, c.type) for c in load_columns("triplets")],
            "splits": [{"name": s, "num_examples": counts["by_split"].get(s, 0)} for s in sorted(split_files)],
        },
    }
    columns = "\n".join(f"| `{c.name}` | {c.type} | {c.meaning} |" for c in load_columns("triplets"))
    audit = manifest["audit"]
    audit_rows = "\n".join(
        f"| {family} | {r['items']} | {100 * r['chance']:.1f} % | "
        f"{100 * (r['chance'] + r['max_blind_gain']):.1f} % | {100 * r['max_blind_gain']:+.1f} |"
        for family, r in audit["blind"].items()
    )
    leak = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in audit["leakage"].items())
    body = f"""# remot motion-contrast triplets

Built by remot `{manifest["code_version"]}` from a `{manifest["source"]}` input with rule preset
`{manifest["preset"]["name"]}` (sha256 `{manifest["preset"]["sha256"][:12]}`), {manifest["created_utc"]}.

- triplets: {counts["triplets"]} ({", ".join(f"{k}: {v}" for k, v in counts["by_split"].items())})
- families: {", ".join(f"{k}: {v}" for k, v in counts["by_family"].items())}
- rejected clips/candidates: {manifest["rejects"]["total"]} (see `{load_layout().rejects}`)
- validation: {manifest["validation"]["expectations"]} expectations, all passed (`{load_layout().validation_report}`)

## Audit (`remot audit <this folder>` prints the whole)
How well a model answers **without the images** (the most common label or letter per sub-question, the smallest or
largest angle offered), next to chance, per family; and what crosses splits.

| family | triplets | chance | best blind policy | gain over chance |
|---|---|---|---|---|
{audit_rows}

Leakage: {leak}

Load with `datasets.load_dataset("parquet", data_dir="<this folder>")`: image columns decode to PIL images.
Licence: the images derive from the source data, whose licence (`{license_id}`) applies.

| column | type | meaning |
|---|---|---|
{columns}
"""
    text = "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n\n" + body
    (Path(root) / "README.md").write_text(text, encoding="utf-8")

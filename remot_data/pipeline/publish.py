"""Publish a build: validate the staged parts, write manifest, card and contact sheet, swap the directory into place.

A table that fails validation, or a manifest that fails its schema, is never published.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import remot_data
from remot_data.audit import AuditItem, audit_items, check_audit, decontaminate, items_from_table
from remot_data.card import write_dataset_card
from remot_data.contact_sheet import pick_examples, write_contact_sheet
from remot_data.errors import ContractError
from remot_data.outputs import latest_version, new_version_id, publish_version
from remot_data.pipeline.plan import BuildPlan
from remot_data.pipeline.stage import staged_paths
from remot_data.records import Reject
from remot_data.rules.families import FAMILIES
from remot_data.rules.registry import RulePreset
from remot_data.table import read_parquet, rejects_to_table, write_json, write_parquet, write_triplet_splits
from remot_data.validation import make_validation_frame, validate_frame
from schemas import IMAGE_COLUMNS, load_layout, load_manifest_schema, load_schema, schema_version

CONTACT_SHEET_ROWS = 12


def code_version() -> str:
    """Return the package version plus the git commit, when the code runs from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return f"{remot_data.__version__}+{commit}"


def _counts(values: list[Any]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def summarise(table: pa.Table, rejects: pa.Table) -> dict[str, Any]:
    """Return the counts that go to the manifest and the build summary."""
    rows = table.select(["split", "family", "source", "labels", "negative_method"]).to_pylist()
    # The label of a triplet is its 1->2 direction: (horizontal, vertical) for the camera family.
    labels = [
        f"{r['labels'][0]}/{r['labels'][2]}" if FAMILIES[r["family"]].template == "camera" else r["labels"][0]
        for r in rows
    ]
    return {
        "counts": {
            "triplets": len(rows),
            **{f"by_{key}": _counts([r[key] for r in rows]) for key in ("split", "family", "source")},
            "by_label": _counts(labels),
            "by_negative_method": _counts([r["negative_method"] for r in rows]),
        },
        "rejects": {
            "total": len(rejects),
            "by_reason": _counts(rejects.column("reason").to_pylist()),
            "by_stage": _counts(rejects.column("stage").to_pylist()),
        },
    }


def summarise_audit(audit: dict[str, Any]) -> dict[str, Any]:
    """Return the audit's headline numbers for the manifest and the card (``remot audit`` prints the whole)."""
    keep = (
        "items",
        "chance",
        "majority_label",
        "letter_prior",
        "numeric_chance",
        "smallest_number",
        "largest_number",
        "max_blind_gain",
    )
    return {
        "blind": {f: {k: v for k, v in r.items() if k in keep} for f, r in audit["blind"].items()},
        "leakage": {k: v for k, v in audit["leakage"].items() if k != "example_groups"},
        "max_label_ratio": audit["balance"]["max_label_ratio"],
    }


def check_manifest(manifest: dict[str, Any]) -> None:
    """Raise unless the manifest fits ``schemas/manifest.schema.json``.

    Raises:
        ContractError: Naming the field path and what the schema says.
    """
    import jsonschema

    try:
        jsonschema.validate(manifest, load_manifest_schema())
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        raise ContractError(
            f"manifest.json does not fit schemas/manifest.schema.json at {where}: {err.message}"
        ) from err


def format_summary(manifest: dict[str, Any], out_dir: Path) -> str:
    """Return the build summary as Markdown: what the CLI prints and the flow publishes as an artifact."""
    counts, rejects = manifest["counts"], manifest["rejects"]
    layout = load_layout()
    lines = [
        f"# remot dataset: {counts['triplets']} triplets written to {out_dir}",
        "",
        "| count | values |",
        "|---|---|",
    ]
    for group in ("by_split", "by_family", "by_source", "by_negative_method", "by_label"):
        lines.append(f"| {group[3:]} | " + ", ".join(f"{k}: {v}" for k, v in counts[group].items()) + " |")
    lines.append(
        f"| rejects | {rejects['total']}"
        + "".join(f", {k}: {v}" for k, v in rejects["by_reason"].items())
        + f" (`{layout.rejects}`) |"
    )
    files = [layout.triplet_glob.format(split="<split>"), layout.rejects, layout.manifest, layout.validation_report]
    lines.append("| files | " + ", ".join(f"`{f}`" for f in [*files, layout.card, layout.contact_sheet]) + " |")
    return "\n".join(lines)


def _top_reasons(rejects: pa.Table, n: int = 3) -> str:
    rows = rejects.select(["reason", "detail"]).to_pylist()
    counts = Counter(r["reason"] for r in rows)
    example = {r["reason"]: r["detail"] for r in reversed(rows)}
    return "; ".join(f"{reason} x{count} (e.g. {example[reason][:160]})" for reason, count in counts.most_common(n))


def check_build_quality(plan: BuildPlan, triplets: pa.Table, rejects: pa.Table) -> None:
    """Refuse to publish an empty build, one that lost most of its clips, or one far smaller than the last version.

    These are signs of a wrong setting rather than bad clips, and the nightly rebuild must not replace a good
    dataset with them.

    Raises:
        ContractError: Naming the numbers, the threshold, and the most frequent reject reasons with an example.
    """
    config = plan.config
    bad = len({r["clip_id"] for r in rejects.select(["clip_id", "reason"]).to_pylist() if r["reason"] == "bad_clip"})
    if bad > config.max_bad_clip_share * len(plan.clips):
        raise ContractError(
            f"dataset not published: {bad} of {len(plan.clips)} clips are bad_clip rejects, more than "
            f"max_bad_clip_share={config.max_bad_clip_share}; top reject reasons: {_top_reasons(rejects)}"
        )
    if len(triplets) == 0:
        raise ContractError(
            f"dataset not published: 0 triplets from {len(plan.clips)} clips; top reject reasons: "
            f"{_top_reasons(rejects) or 'none'}"
        )
    previous = latest_version(plan.out_dir)
    if previous is not None and config.max_triplet_loss < 1.0:
        before = json.loads((previous / load_layout().manifest).read_text(encoding="utf-8"))["counts"]["triplets"]
        if len(triplets) < (1.0 - config.max_triplet_loss) * before:
            raise ContractError(
                f"dataset not published: {len(triplets)} triplets against {before} in the current version "
                f"{previous.name}, a loss above max_triplet_loss={config.max_triplet_loss} (raise it if intended); "
                f"top reject reasons: {_top_reasons(rejects)}"
            )


def _rows_at(parts: list[Path], sizes: list[int], indices: list[int]) -> list[dict[str, Any]]:
    """Return whole rows (images too) at positions of the parts read one after another, reading only their parts."""
    offsets = np.cumsum([0, *sizes])
    wanted: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for order, index in enumerate(indices):
        part = int(np.searchsorted(offsets, index, side="right")) - 1
        wanted[part].append((order, index - int(offsets[part])))
    rows: dict[int, dict[str, Any]] = {}
    for part, picks in wanted.items():
        taken = read_parquet(parts[part], "triplets").take([local for _, local in picks]).to_pylist()
        rows.update({order: row for (order, _), row in zip(picks, taken, strict=True)})
    return [rows[order] for order in range(len(indices))]


def _kept(part: pa.Table, masks: list[pa.Array] | None, index: int) -> pa.Table:
    """Return a part without its decontaminated rows (``masks[index]``: the rows kept), or whole without masks."""
    return part if masks is None else part.filter(masks[index])


def decontaminated(items: list[AuditItem], preset: RulePreset) -> tuple[set[str], list[Reject]]:
    """Return the ids of the val/test triplets the preset's audit removes, and a rejects row for each.

    Each row names the earlier split's triplet it near-duplicates. Without ``audit.decontaminate`` nothing is
    removed (v1-v4: the cross-split gates alone judge).

    Raises:
        ContractError: If the removals take more than ``audit.max_decontaminated_share`` of a split's triplets.
    """
    config = preset.audit
    if not config.decontaminate:
        return set(), []
    found = decontaminate(items, max_hash_distance=config.max_image_hash_distance, hash_bits=config.image_hash_side**2)
    rejects = [
        Reject(
            stage="validate",
            source=items[c.index].source,
            clip_id=items[c.index].clip_id,
            reason=f"near_duplicate_of_{items[c.match].split}",
            detail=(
                f"{items[c.index].split} triplet {items[c.index].triplet_id} near-duplicates "
                f"{items[c.match].split} triplet {items[c.match].triplet_id} (clip {items[c.match].clip_id}): every "
                f"image and motion hash within {c.distance} of {config.image_hash_side**2} bits "
                f"(audit.max_image_hash_distance {config.max_image_hash_distance}); removed from its split"
            ),
        )
        for c in found
    ]
    totals = Counter(item.split for item in items)
    for split, n in sorted(Counter(items[c.index].split for c in found).items()):
        if n > config.max_decontaminated_share * totals[split]:
            example = next(r.detail for r in rejects if r.detail.startswith(split + " "))
            raise ContractError(
                f"dataset not published: {n} of {totals[split]} {split} triplets ({n / totals[split]:.1%}) "
                f"near-duplicate triplets of an earlier split, more than audit.max_decontaminated_share "
                f"{config.max_decontaminated_share}: that is not a few repeated takes but a split assignment that "
                f"puts copies of recordings in two splits (a split file naming one recording twice, clip ids that "
                f"divide a recording); e.g. {example}"
            )
    return {items[c.index].triplet_id for c in found}, rejects


def _check_part(path: Path, *, preset: RulePreset, groups: dict[str, str]) -> tuple[pd.DataFrame, list[AuditItem]]:
    """Read one staged part; return its validation frame and its audit items (image hashes included)."""
    part = read_parquet(path, "triplets")
    return make_validation_frame(part, preset), items_from_table(part, groups, config=preset.audit)


def publish_dataset(plan: BuildPlan, keys: list[str]) -> dict[str, Any]:
    """Validate the staged parts of a plan and publish them as a new version of the output, switched in atomically.

    Writes the files of ``schemas/dataset.yaml`` (triplet parts per split, rejects, manifest, validation report,
    dataset card, contact sheet) into ``OUT/versions/<id>`` and points ``OUT/latest`` at it. An empty or degraded
    build, or a table that fails validation, is not published (the validation report is written to the staging
    folder) and ``ContractError`` is raised. The staging folder is removed after publishing.

    Images are streamed: the columns without pixels are read whole; the parts themselves are read part by part,
    once for the suite's image checks and the audit's hashes (a part per CPU at a time), once to be written out
    into each split's parts (and the few the contact sheet shows once more). Memory holds a few parts and a row
    group per split, never the table (``benchmarks/growth.py``).

    Returns:
        The manifest.

    Raises:
        ContractError: If the table fails the suite or the manifest its schema.
    """
    layout, config = load_layout(), plan.config
    preset = plan.preset
    staged = [staged_paths(plan.staging_dir, k) for k in keys]
    parts = [part for part, _ in staged]
    rejects = pa.concat_tables([read_parquet(r, "rejects") for _, r in staged])
    no_pixels = [name for name in load_schema("triplets").names if name not in IMAGE_COLUMNS]
    light = [read_parquet(p, "triplets", columns=no_pixels) for p in parts]
    triplets = pa.concat_tables(light)  # every column but the images
    check_build_quality(plan, triplets, rejects)
    groups = {c.clip_id: c.group for c in plan.clips}
    # Parts are checked on one thread per CPU (JPEG decoding and Parquet reading release the GIL), in order.
    check = functools.partial(_check_part, preset=preset, groups=groups)
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        checked = list(pool.map(check, parts))
    items = [item for _, part_items in checked for item in part_items]
    violations, n_expectations = validate_frame(pd.concat([frame for frame, _ in checked], ignore_index=True), preset)
    report = {
        "success": not violations,
        "expectations": n_expectations,
        "rows": len(triplets),
        "failed": [asdict(v) for v in violations],
    }
    if violations:
        write_json(plan.staging_dir / layout.validation_report, report)
        lines = "\n  ".join(str(v) for v in violations)
        raise ContractError(
            f"dataset not published: {len(violations)} of {n_expectations} expectations failed "
            f"(report: {plan.staging_dir / layout.validation_report}):\n  {lines}"
        )
    removed, removal_rejects = decontaminated(items, preset)
    if removed:
        keep = pa.array(sorted(removed), pa.string())
        masks = [pc.invert(pc.is_in(t.column("triplet_id"), value_set=keep)) for t in light]
        kept_positions = np.flatnonzero(np.concatenate([m.to_numpy(zero_copy_only=False) for m in masks]))
        triplets = pa.concat_tables([t.filter(m) for t, m in zip(light, masks, strict=True)])
        rejects = pa.concat_tables([rejects, rejects_to_table(removal_rejects)])
        check_build_quality(plan, triplets, rejects)  # judged again on what is left to publish
        report["rows"] = len(triplets)
    else:
        masks, kept_positions = None, np.arange(len(triplets))
    removed_per_split = Counter(item.split for item in items if item.triplet_id in removed)
    items = [item for item in items if item.triplet_id not in removed]
    audit = audit_items(items, preset.audit)
    if preset.audit.decontaminate:
        audit["leakage"]["decontaminated"] = dict(sorted(removed_per_split.items()))
    check_audit(audit, preset.audit)
    version_id = new_version_id()
    manifest = {
        "schema_version": schema_version("triplets"),
        "version": version_id,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "source": "+".join(sorted({i.source for i in plan.inputs})),
        "input": {
            "roots": [
                {
                    "source": i.source,
                    "path": str(Path(i.path).resolve()),
                    **({"lerobot_mapping": i.lerobot_mapping.model_dump(mode="json")} if i.lerobot_mapping else {}),
                    **({"nuscenes_version": i.nuscenes_version} if i.nuscenes_version else {}),
                }
                for i in plan.inputs
            ],
            "clips": [
                {
                    "source": c.source,
                    "clip_id": c.clip_id,
                    "group": c.group,
                    "split": c.split,
                    "content_sha256": c.content_sha256,
                }
                for c in plan.clips
            ],
        },
        "preset": {"name": preset.name, "sha256": preset.sha256},
        "config": config.model_dump(mode="json"),
        **summarise(triplets, rejects),
        "validation": {"success": True, "expectations": n_expectations, "failed": []},
        "audit": summarise_audit(audit),
    }
    check_manifest(manifest)
    with publish_version(plan.out_dir, version_id, keep=config.keep_versions) as tmp:
        split_files = write_triplet_splits(
            (_kept(read_parquet(p, "triplets"), masks, n) for n, p in enumerate(parts)), tmp
        )
        write_parquet(rejects, tmp / layout.rejects)
        write_json(tmp / layout.validation_report, report)
        write_json(tmp / layout.manifest, manifest)
        write_dataset_card(tmp, manifest, split_files)
        picked = [int(kept_positions[i]) for i in pick_examples(triplets, CONTACT_SHEET_ROWS)]
        examples = _rows_at(parts, [len(t) for t in light], picked)
        write_contact_sheet(examples, tmp / layout.contact_sheet)
    shutil.rmtree(plan.staging_dir, ignore_errors=True)
    return manifest

"""Records -> Arrow tables cast to the contract, and the only code that writes Parquet.

Where the files go, and how a directory is switched in atomically, is ``outputs.py``'s job.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from remot_data.errors import ContractError
from schemas import load_columns, load_layout, load_schema, schema_version

ROW_GROUP_BYTES = 100 * 1024 * 1024  # like Hugging Face datasets' ~100 MB row groups


def cast_to_contract(table: pa.Table, name: str) -> pa.Table:
    """Return ``table`` with exactly the contract's columns, order, types and metadata.

    Raises:
        ContractError: Naming missing or extra columns, or the column whose values cannot be cast.
    """
    schema = load_schema(name)
    missing = [f.name for f in schema if f.name not in table.column_names]
    extra = [c for c in table.column_names if c not in schema.names]
    if missing or extra:
        raise ContractError(f"{name} table: missing columns {missing}, unexpected columns {extra}")
    table = table.select(schema.names)
    for column in load_columns(name):
        if not column.nullable and table.column(column.name).null_count:
            raise ContractError(
                f"{name} table: column {column.name!r} has {table.column(column.name).null_count} nulls"
            )
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
        raise ContractError(f"{name} table: cannot cast to contract v{schema_version(name)}: {err}") from err


def rows_to_table(rows: Sequence[dict[str, Any]], name: str) -> pa.Table:
    """Build a contract table from row dicts (an empty list gives an empty table with the schema)."""
    schema = load_schema(name)
    if not rows:
        return schema.empty_table()
    return cast_to_contract(pa.Table.from_pylist(list(rows), schema=schema), name)


def rejects_to_table(rejects: Iterable[Any]) -> pa.Table:
    """Build the rejects table from ``Reject`` records."""
    version = schema_version("rejects")
    return rows_to_table([{"schema_version": version, **asdict(r)} for r in rejects], "rejects")


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write one Parquet file (row groups of about 100 MB), creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows_per_group = max(1, int(len(table) * ROW_GROUP_BYTES / max(table.nbytes, 1))) if len(table) else 1
    pq.write_table(table, path, row_group_size=rows_per_group)


def read_parquet(path: Path, name: str) -> pa.Table:
    """Read a Parquet file and cast it to contract ``name``.

    Raises:
        ContractError: If the file is unreadable or does not fit the contract.
    """
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as err:
        raise ContractError(f"{path}: cannot read Parquet: {err}") from err
    return cast_to_contract(table, name)


def write_triplet_splits(table: pa.Table, root: Path) -> dict[str, list[str]]:
    """Write the triplet table as one part per split under ``root`` (``schemas/dataset.yaml``).

    Returns:
        The files written per split, relative to ``root``.
    """
    files: dict[str, list[str]] = {}
    splits = table.column("split").to_pylist()
    for split in sorted(set(splits)):
        mask = pa.array([s == split for s in splits])
        relative = load_layout().triplet_part.format(split=split, part=0)
        write_parquet(table.filter(mask), root / relative)
        files[split] = [relative]
    return files


def read_triplets(root: Path) -> pa.Table:
    """Read every split of a published dataset directory into one contract table."""
    layout = load_layout()
    parts = layout.all_triplet_files(Path(root))
    if not parts:
        raise ContractError(f"{root}: no triplet files matching {layout.triplet_glob.format(split='<split>')}")
    return pa.concat_tables([read_parquet(p, "triplets") for p in parts])


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write a JSON document (UTF-8, indented, keys in insertion order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

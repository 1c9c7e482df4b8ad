"""Records -> Arrow tables cast to the contract, and the only code that writes Parquet.

Where the files go, and how a directory is switched in atomically, is ``outputs.py``'s job.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from remot_data.errors import ContractError
from schemas import load_columns, load_layout, load_schema, schema_version

# Row groups of about 16 MB: measured against 1 MB and 100 MB (datasets' own MAX_ROW_GROUP_SIZE) on 12.9 K triplets
# (benchmarks/consumer.py, docs/performance.md), they write fastest, read as fast into TRL rows, stream their first
# row 10x sooner than 100 MB ones, and bound what the publisher buffers per split to 16 MB.
ROW_GROUP_BYTES = 16 * 1024 * 1024
PART_BYTES = 500 * 1024 * 1024  # like datasets' push_to_hub shards (config.MAX_SHARD_SIZE)


def cast_to_contract(table: pa.Table, name: str, *, columns: Sequence[str] | None = None) -> pa.Table:
    """Return ``table`` with exactly the contract's columns (or the named ones), order, types and metadata.

    Raises:
        ContractError: Naming missing or extra columns, or the column whose values cannot be cast.
    """
    schema = load_schema(name)
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
    missing = [f.name for f in schema if f.name not in table.column_names]
    extra = [c for c in table.column_names if c not in schema.names]
    if missing or extra:
        raise ContractError(f"{name} table: missing columns {missing}, unexpected columns {extra}")
    table = table.select(schema.names)
    for column in load_columns(name):
        if column.name in schema.names and not column.nullable and table.column(column.name).null_count:
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


def rows_per_group(table: pa.Table, group_bytes: int = ROW_GROUP_BYTES) -> int:
    """Return how many rows of ``table`` fill a row group of about ``group_bytes`` (Arrow size; at least one)."""
    return max(1, int(len(table) * group_bytes / max(table.nbytes, 1))) if len(table) else 1


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write one Parquet file (row groups of about ``ROW_GROUP_BYTES``), creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=rows_per_group(table))


def read_parquet(path: Path, name: str, *, columns: Sequence[str] | None = None) -> pa.Table:
    """Read a Parquet file (all columns, or the named ones) and cast it to contract ``name``.

    Raises:
        ContractError: If the file is unreadable or does not fit the contract.
    """
    try:
        table = pq.read_table(path, columns=None if columns is None else list(columns))
    except (OSError, pa.ArrowInvalid) as err:
        raise ContractError(f"{path}: cannot read Parquet: {err}") from err
    return cast_to_contract(table, name, columns=columns)


class SplitWriter:
    """Write one split's triplets as parts of about ``part_bytes``, fed a table at a time (``schemas/dataset.yaml``).

    Rows are buffered until they fill a row group of about ``group_bytes`` and then written: memory holds one row
    group, whatever the size of the split. Parts follow ``triplet_part`` (``data/<split>/part-00000.parquet``, ...).
    """

    def __init__(
        self, root: Path, split: str, *, group_bytes: int = ROW_GROUP_BYTES, part_bytes: int = PART_BYTES
    ) -> None:
        """Write under ``root``; nothing is created until the first row group."""
        self.root, self.split = Path(root), split
        self.group_bytes, self.part_bytes = group_bytes, part_bytes
        self.files: list[str] = []
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._writer: pq.ParquetWriter | None = None
        self._written = 0  # Arrow bytes in the open part

    def write(self, table: pa.Table) -> None:
        """Add rows (contract columns); full row groups go to disk."""
        if len(table):
            self._buffer.append(table)
            self._buffered += table.nbytes
        if self._buffered >= self.group_bytes:
            self._flush()

    def close(self) -> list[str]:
        """Write what is buffered and close the open part; return the parts written, relative to ``root``."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return self.files

    def _flush(self) -> None:
        if not self._buffer:
            return
        rows = pa.concat_tables(self._buffer)
        self._buffer, self._buffered = [], 0
        size = rows_per_group(rows, self.group_bytes)
        for start in range(0, len(rows), size):
            group = rows.slice(start, size)
            if self._writer is not None and self._written >= self.part_bytes:
                self._writer.close()
                self._writer = None
            if self._writer is None:
                relative = load_layout().triplet_part.format(split=self.split, part=len(self.files))
                (self.root / relative).parent.mkdir(parents=True, exist_ok=True)
                self._writer = pq.ParquetWriter(self.root / relative, group.schema)
                self.files.append(relative)
                self._written = 0
            self._writer.write_table(group, row_group_size=len(group))
            self._written += group.nbytes


def write_triplet_splits(
    tables: Iterable[pa.Table], root: Path, *, group_bytes: int = ROW_GROUP_BYTES, part_bytes: int = PART_BYTES
) -> dict[str, list[str]]:
    """Write triplet tables (each any mix of splits), a table at a time, as each split's parts under ``root``.

    Returns:
        The files written per split, relative to ``root``.
    """
    writers: dict[str, SplitWriter] = {}
    for table in tables:
        splits = table.column("split")
        for split in pc.unique(splits).to_pylist():
            if split not in writers:
                writers[split] = SplitWriter(root, split, group_bytes=group_bytes, part_bytes=part_bytes)
            writer = writers[split]
            writer.write(table.filter(pc.equal(splits, split)))
    return {split: writers[split].close() for split in sorted(writers)}


def iter_triplet_parts(root: Path, *, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
    """Yield the triplet parts of a published dataset directory one at a time (all columns, or the named ones).

    Raises:
        ContractError: If there are none, or a part is unreadable or does not fit the contract.
    """
    layout = load_layout()
    parts = layout.all_triplet_files(Path(root))
    if not parts:
        raise ContractError(f"{root}: no triplet files matching {layout.triplet_glob.format(split='<split>')}")
    for path in parts:
        yield read_parquet(path, "triplets", columns=columns)


def read_triplets(root: Path) -> pa.Table:
    """Read every split of a published dataset directory into one contract table (images too: small datasets)."""
    return pa.concat_tables(list(iter_triplet_parts(root)))


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write a JSON document (UTF-8, indented, keys in insertion order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

"""The versioned data contract, readable without remot: load the column specs and build pyarrow schemas.

Only pyarrow and the standard library may be imported here; both remot_data and remot_train read the
contract through this module. The ``*.yaml`` files are written in YAML's JSON subset so ``json`` parses them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

SCHEMA_DIR = Path(__file__).resolve().parent
HF_IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])

_SCALAR_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "image": HF_IMAGE_TYPE,
}
_HF_VALUE_DTYPES = {"string": "string", "int32": "int32", "int64": "int64", "float64": "float64", "bool": "bool"}


@dataclass(frozen=True, kw_only=True)
class ColumnSpec:
    """One column of a contract table.

    Attributes:
        name: Column name.
        type: Contract type: a scalar name, ``image`` or ``list<...>`` (nestable).
        nullable: Whether nulls are allowed.
        meaning: What the column holds, with units.
        allowed: Closed set of allowed values, if any.
        pattern: Regular expression every value must match, if any.
        minimum: Inclusive lower bound, if any.
        unique: Whether values must be unique.
    """

    name: str
    type: str
    nullable: bool
    meaning: str
    allowed: tuple[Any, ...] | None = None
    pattern: str | None = None
    minimum: float | None = None
    unique: bool = False


def parse_type(type_name: str) -> pa.DataType:
    """Return the Arrow type for a contract type name such as ``list<list<string>>``.

    Raises:
        ValueError: If the type name is unknown.
    """
    if type_name.startswith("list<") and type_name.endswith(">"):
        return pa.list_(parse_type(type_name[5:-1]))
    if type_name not in _SCALAR_TYPES:
        raise ValueError(f"unknown contract type {type_name!r}; expected one of {sorted(_SCALAR_TYPES)} or list<...>")
    return _SCALAR_TYPES[type_name]


def _hf_feature(type_name: str) -> dict[str, Any]:
    if type_name.startswith("list<"):
        return {"_type": "List", "feature": _hf_feature(type_name[5:-1])}
    if type_name == "image":
        return {"_type": "Image"}
    return {"_type": "Value", "dtype": _HF_VALUE_DTYPES[type_name]}


def read_contract(name: str) -> dict[str, Any]:
    """Return the raw contract document ``schemas/<name>.yaml`` as a dict.

    Raises:
        FileNotFoundError: If no such contract exists.
        ValueError: If the file is not valid JSON-subset YAML.
    """
    path = SCHEMA_DIR / f"{name}.yaml"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: contract file is not in YAML's JSON subset: {err.msg}") from err


def load_columns(name: str) -> list[ColumnSpec]:
    """Return the column specs of contract ``name`` (``triplets`` or ``rejects``)."""
    return [
        ColumnSpec(
            name=col["name"],
            type=col["type"],
            nullable=bool(col["nullable"]),
            meaning=col["meaning"],
            allowed=tuple(col["allowed"]) if "allowed" in col else None,
            pattern=col.get("pattern"),
            minimum=col.get("min"),
            unique=bool(col.get("unique", False)),
        )
        for col in read_contract(name)["columns"]
    ]


def load_schema(name: str) -> pa.Schema:
    """Return the pyarrow schema of contract ``name``, with the Hugging Face ``features`` metadata embedded.

    The ``huggingface`` metadata key makes ``datasets.load_dataset("parquet", ...)`` decode image columns
    to PIL images without a custom loader.

    Example:
        >>> load_schema("triplets").field("anchor_image").type
        StructType(struct<bytes: binary, path: string>)
    """
    doc = read_contract(name)
    columns = load_columns(name)
    # Arrow fields stay nullable: Hugging Face datasets only honours the embedded features when each field equals
    # its own (nullable) one. Non-null columns are enforced by remot's checks (cast and validation), not by Arrow.
    fields = [pa.field(c.name, parse_type(c.type)) for c in columns]
    features = {c.name: _hf_feature(c.type) for c in columns}
    metadata = {
        "huggingface": json.dumps({"info": {"features": features}}),
        "remot": json.dumps({"contract": name, "schema_version": doc["schema_version"]}),
    }
    return pa.schema(fields, metadata=metadata)


def schema_version(name: str) -> int:
    """Return the ``schema_version`` of contract ``name``."""
    return int(read_contract(name)["schema_version"])

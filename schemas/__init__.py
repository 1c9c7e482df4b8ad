"""The versioned data contract, readable without remot: columns, directory layout, ids, answer vocabulary, manifest.

Only pyarrow and the standard library may be imported here; the producer (remot_data), its validation suite and the
consumers (remot_train, export, scoring) all read the contract through this module. The ``*.yaml`` files are
written in YAML's JSON subset so ``json`` parses them.
"""

from __future__ import annotations

import functools
import json
import re
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


def hf_feature(type_name: str) -> dict[str, Any]:
    """Return the Hugging Face ``features`` metadata entry (the Parquet files' form) of a contract type.

    Example:
        >>> hf_feature("list<string>")
        {'_type': 'List', 'feature': {'_type': 'Value', 'dtype': 'string'}}
    """
    if type_name.startswith("list<"):
        return {"_type": "List", "feature": hf_feature(type_name[5:-1])}
    if type_name == "image":
        return {"_type": "Image"}
    return {"_type": "Value", "dtype": _HF_VALUE_DTYPES[type_name]}


def hf_card_feature(name: str, type_name: str) -> dict[str, Any]:
    """Return the dataset card's ``dataset_info.features`` entry of a column (the Hub's YAML form of ``hf_feature``).

    Example:
        >>> hf_card_feature("options", "list<list<string>>")
        {'name': 'options', 'list': {'list': 'string'}}
    """

    def inner(type_name: str) -> Any:
        if type_name.startswith("list<"):
            return {"list": inner(type_name[5:-1])}
        return "image" if type_name == "image" else _HF_VALUE_DTYPES[type_name]

    if type_name.startswith("list<"):
        return {"name": name, "list": inner(type_name[5:-1])}
    return {"name": name, "dtype": inner(type_name)}


@functools.cache
def read_contract(name: str) -> dict[str, Any]:
    """Return the raw contract document ``schemas/<name>.yaml`` as a dict (read once per process; do not mutate).

    Raises:
        FileNotFoundError: If no such contract exists.
        ValueError: If the file is not valid JSON-subset YAML.
    """
    path = SCHEMA_DIR / f"{name}.yaml"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: contract file is not in YAML's JSON subset: {err.msg}") from err


@functools.cache
def _columns(name: str) -> tuple[ColumnSpec, ...]:
    return tuple(
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
    )


def load_columns(name: str) -> list[ColumnSpec]:
    """Return the column specs of contract ``name`` (``triplets`` or ``rejects``)."""
    return list(_columns(name))


def allowed_values(name: str, column: str) -> tuple[Any, ...]:
    """Return the closed set of allowed values of a contract column.

    Raises:
        KeyError: If the column does not exist or has no closed set.

    Example:
        >>> allowed_values("triplets", "split")
        ('train', 'val', 'test')
    """
    for col in _columns(name):
        if col.name == column and col.allowed is not None:
            return col.allowed
    raise KeyError(f"contract {name!r} has no column {column!r} with allowed values")


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
    features = {c.name: hf_feature(c.type) for c in columns}
    metadata = {
        "huggingface": json.dumps({"info": {"features": features}}),
        "remot": json.dumps({"contract": name, "schema_version": doc["schema_version"]}),
    }
    return pa.schema(fields, metadata=metadata)


def schema_version(name: str) -> int:
    """Return the ``schema_version`` of contract ``name``."""
    return int(read_contract(name)["schema_version"])


# The triplet table's image columns (Hugging Face Image structs), in image order 1, 2, 3.
IMAGE_COLUMNS: tuple[str, ...] = tuple(c.name for c in _columns("triplets") if c.type == "image")


@dataclass(frozen=True, kw_only=True)
class DatasetLayout:
    """Where things live in a published dataset directory and its export (``schemas/dataset.yaml``).

    Attributes:
        triplet_part: Path template of a triplet part: ``data/{split}/part-{part:05d}.parquet``.
        triplet_glob: Glob template of one split's parts.
        rejects: The rejects table.
        manifest: The manifest.
        validation_report: The Great Expectations report.
        card: The dataset card.
        contact_sheet: The contact sheet image.
        item_id: Template of the id an item carries outside the table (export, predictions).
        export_jsonl: Export file template per split.
        export_image: Export image path template (relative to the export directory).
        hidden_kinds: Kinds of hidden sibling folders made beside an export while it is replaced.
        marker: File marking a directory as a remot output (its JSON says which kind).
        lock: Lock file of the build writing an output.
        staging: Folder of finished clips' parts inside an output.
        versions: Folder of complete versions inside an output.
        latest: Link to the newest version inside an output.
    """

    triplet_part: str
    triplet_glob: str
    rejects: str
    manifest: str
    validation_report: str
    card: str
    contact_sheet: str
    item_id: str
    export_jsonl: str
    export_image: str
    hidden_kinds: tuple[str, ...]
    marker: str
    lock: str
    staging: str
    versions: str
    latest: str

    def resolve(self, root: Path) -> Path:
        """Return the directory holding a dataset's files: ``root/latest`` for a versioned output, else ``root``."""
        latest = Path(root) / self.latest
        return latest if latest.is_dir() else Path(root)

    def split_files(self, root: Path, split: str) -> list[Path]:
        """Return the triplet parts of one split of the dataset at ``root`` (versioned or not), sorted."""
        return sorted(self.resolve(root).glob(self.triplet_glob.format(split=split)))

    def all_triplet_files(self, root: Path) -> list[Path]:
        """Return the triplet parts of every split of the dataset at ``root`` (versioned or not), sorted."""
        return sorted(self.resolve(root).glob(self.triplet_glob.format(split="*")))

    def make_item_id(self, split: str, triplet_id: str) -> str:
        """Return the id of a triplet outside the table.

        Example:
            >>> load_layout().make_item_id("test", "0123456789abcdef")
            'remot_test_0123456789abcdef'
        """
        return self.item_id.format(split=split, triplet_id=triplet_id)

    def parse_item_id(self, text: str) -> tuple[str, str] | None:
        """Return ``(split, triplet_id)`` of an item id, or None when ``text`` is not one.

        Example:
            >>> load_layout().parse_item_id("remot_val_0123456789abcdef"), load_layout().parse_item_id("x_1")
            (('val', '0123456789abcdef'), None)
        """
        columns = {c.name: c for c in _columns("triplets")}
        splits = "|".join(re.escape(s) for s in columns["split"].allowed or ())
        triplet_id = (columns["triplet_id"].pattern or ".+").removeprefix("^").removesuffix("$")
        pattern = re.escape(self.item_id).replace(r"\{split\}", f"(?P<split>{splits})")
        pattern = pattern.replace(r"\{triplet_id\}", f"(?P<triplet_id>{triplet_id})")
        match = re.fullmatch(pattern, text)
        return (match["split"], match["triplet_id"]) if match else None

    def output_kind(self, folder: Path) -> str | None:
        """Return the kind of remot output a folder's marker names, ``"unreadable"`` for a broken one, or None."""
        marker = Path(folder) / self.marker
        if not marker.is_file():
            return None
        try:
            return str(json.loads(marker.read_text(encoding="utf-8")).get("kind"))
        except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
            return "unreadable"

    def write_marker(self, folder: Path, kind: str, created_utc: str) -> None:
        """Write remot's marker into a folder it creates: what kind of output it is and when it was made."""
        (Path(folder) / self.marker).write_text(json.dumps({"kind": kind, "created_utc": created_utc}) + "\n")

    def hidden_sibling(self, out_dir: Path, kind: str, suffix: str = "") -> Path:
        """Return the hidden folder of ``kind`` beside ``out_dir``: ``.<name>.<kind>[-<suffix>]``.

        Raises:
            ValueError: For a kind the contract does not list.
        """
        if kind not in self.hidden_kinds:
            raise ValueError(f"hidden sibling kind must be one of {list(self.hidden_kinds)}, got {kind!r}")
        out_dir = Path(out_dir)
        return out_dir.parent / f".{out_dir.name}.{kind}{'-' + suffix if suffix else ''}"


@functools.cache
def load_layout() -> DatasetLayout:
    """Return the dataset directory layout of ``schemas/dataset.yaml``."""
    doc = read_contract("dataset")
    files = doc["files"]
    return DatasetLayout(
        **files,
        item_id=doc["item_id"],
        export_jsonl=doc["export"]["jsonl"],
        export_image=doc["export"]["image"],
        hidden_kinds=tuple(doc["hidden_siblings"]["kinds"]),
        **{k: doc["output"][k] for k in ("marker", "lock", "staging", "versions", "latest")},
    )


@dataclass(frozen=True, kw_only=True)
class Vocabulary:
    """The answer and label vocabulary (``schemas/vocabulary.yaml``).

    Attributes:
        letters: Option letters in order (``ABCDE``).
        directions: Direction word -> ``{axis: sign}``.
        no_change_labels: The words meaning no motion.
        families: Family -> ``{"no_change": word, "directions": {group: [words]}, ...}``.
        axes: Axis letter -> what + means on it (``h``, ``v``, ``g``, ``n``).
        attributes: Signed attribute (``attribute_names``) -> ``{axis: sign}`` of a + value.
    """

    letters: str
    directions: dict[str, dict[str, int]]
    no_change_labels: tuple[str, ...]
    families: dict[str, dict[str, Any]]
    axes: dict[str, str]
    attributes: dict[str, dict[str, int]]

    def opposite(self, label: str) -> str:
        """Return the word of the reversed motion (every sign negated); other labels (angles, no change) stay.

        Example:
            >>> load_vocabulary().opposite("Upper left"), load_vocabulary().opposite("13 degrees")
            ('Lower right', '13 degrees')
        """
        signs = self.directions.get(label)
        if signs is None:
            return label
        negated = {axis: -sign for axis, sign in signs.items()}
        return next(word for word, s in self.directions.items() if s == negated)

    def no_change(self, family: str) -> str:
        """Return the "no motion" word a family offers."""
        return self.families[family]["no_change"]

    def family_words(self, family: str, group: str) -> tuple[str, ...]:
        """Return the direction words a family offers for one group (``horizontal``, ``gripper``, ...)."""
        return tuple(self.families[family]["directions"][group])


@functools.cache
def load_vocabulary() -> Vocabulary:
    """Return the vocabulary of ``schemas/vocabulary.yaml``."""
    doc = read_contract("vocabulary")
    return Vocabulary(
        letters=doc["letters"],
        directions={word: dict(signs) for word, signs in doc["directions"].items()},
        no_change_labels=tuple(doc["no_change_labels"]),
        families=doc["families"],
        axes=dict(doc["axes"]),
        attributes={name: dict(signs) for name, signs in doc["attributes"].items()},
    )


@functools.cache
def load_manifest_schema() -> dict[str, Any]:
    """Return the JSON Schema of ``manifest.json`` (``schemas/manifest.schema.json``)."""
    path = SCHEMA_DIR / "manifest.schema.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: not valid JSON: {err.msg}") from err

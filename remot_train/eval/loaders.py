"""Load what evaluation scores: reference items (a remot dataset directory or a ReMoT-format JSONL) and predictions.

Reads the dataset's Parquet through ``schemas/`` (never remot_data). Pure Python + pyarrow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from remot_train.preflight import release_files, require_reference
from schemas import IMAGE_COLUMNS, load_layout

AGIBOT_FAMILIES = ("grab_release", "lift_lower", "move_lr", "move_complex")
GENERALDATA_DIR = "generaldata_resize"
OPTION_RE = re.compile(r"([A-E]): (.+?)(?=, [A-E]: |\.$|$)")


@dataclass(frozen=True, kw_only=True)
class ReferenceItem:
    """One benchmark item.

    Attributes:
        id: Item id (predictions are matched on it).
        task: Benchmark file it belongs to: ``scannet``, ``agibot``, ``generaldata`` or a remot source name.
        family: Question family, e.g. ``camera_rotation``, ``move_lr``, ``vl``.
        gt_answer: Correct letters.
        prompt: User prompt.
        options: Offered options per sub-question (empty when the prompt cannot be parsed).
        images: Image file paths (JSONL) or JPEG bytes (dataset), in the order shown.
    """

    id: str
    task: str
    family: str
    gt_answer: str
    prompt: str
    options: tuple[tuple[str, ...], ...]
    images: tuple[str | bytes, ...]


@dataclass(frozen=True, kw_only=True)
class Prediction:
    """One predictions-file row (the official tooling's fields).

    Attributes:
        id: Item id.
        pred_answer: Extracted answer letters; None when the row has no such field (then it is extracted from
            ``model_response``). The official scoring reads only this field, so a file that has it is scored on it.
        gt_answer: Correct letters.
        model_response: Raw model output.
        response_words: Whitespace word count of the raw output.
    """

    id: str
    pred_answer: str | None
    gt_answer: str
    model_response: str
    response_words: int


def parse_prompt_options(prompt: str) -> tuple[tuple[str, ...], ...]:
    r"""Return the options of each sub-question of a ReMoT prompt, in order.

    Example:
        >>> parse_prompt_options("Please select x? A: Opened, B: No movement, C: Closed.\nAnswer all.")
        (('Opened', 'No movement', 'Closed'),)
    """
    out = []
    for line in prompt.split("\n"):
        for part in line.split("Please select")[1:]:
            found = OPTION_RE.findall(part.split("?")[-1] if "?" in part else part.split("options, ", 1)[-1])
            if found:
                out.append(tuple(text.strip() for _, text in found))
    return tuple(out)


def release_family_and_task(image_paths: list[str]) -> tuple[str, str | None]:
    """Return (family, task) of a release item from its image paths, the way the release encodes them.

    AgiBot items carry their family in the first image's file name; general-data items carry their class as the
    folder after ``generaldata_resize``; ScanNet items are camera rotation.
    """
    first = image_paths[0] if image_paths else ""
    name = Path(first).name
    for family in AGIBOT_FAMILIES:
        if family in name:
            return family, "agibot"
    parts = Path(first).parts
    if GENERALDATA_DIR in parts and parts.index(GENERALDATA_DIR) + 1 < len(parts):
        return parts[parts.index(GENERALDATA_DIR) + 1], "generaldata"
    if "scannet" in first.lower() or "scannnet" in first.lower():
        return "camera_rotation", "scannet"
    return "unknown", None


def resolve_image_path(path: str, root: Path) -> str:
    """Resolve an item's image path against ``root``.

    Relative paths join ``root``; an absolute path that does not exist here (the release's ``/data/guozeyu/...``) is
    looked up under ``root`` by its trailing components, longest first.

    Returns:
        The first existing candidate, else the path as given (opening it later names it in the error).
    """
    p = Path(path)
    if not p.is_absolute():
        return str(root / p)
    if p.exists():
        return path
    parts = p.parts[1:]
    for k in range(len(parts), 0, -1):
        candidate = root / Path(*parts[-k:])
        if candidate.exists():
            return str(candidate)
    return path


def load_release_jsonl(
    path: Path, *, image_root: Path | None = None, task: str | None = None, default_task: str | None = None
) -> list[ReferenceItem]:
    """Load a ReMoT-format JSONL (the release's or our export's).

    Args:
        path: The JSONL file.
        image_root: Folder that image paths are resolved against (default: the JSONL's folder); absolute paths
            that do not exist here are found under it by their trailing components.
        task: Task name of every item (overrides what the image paths tell).
        default_task: Task name when the paths do not tell (default: the JSONL's parent folder name).

    Raises:
        ValueError: Naming the line that is not a valid item.
    """
    path = Path(path)
    root = Path(image_root) if image_root else path.parent
    items = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            prompt = raw["messages"][0]["content"]
            solution = raw["solution"]
            images = [str(p) for p in raw["images"]]
            item_id = str(raw["id"])
        except (json.JSONDecodeError, KeyError, IndexError, TypeError) as err:
            raise ValueError(
                f"{path}:{lineno}: not a ReMoT item (needs images, messages[0].content, solution, id): {err}"
            ) from err
        match = re.search(r"<answer>\s*(.*?)\s*</answer>", solution, re.IGNORECASE | re.DOTALL)
        gt = (match.group(1) if match else solution).strip().upper()
        family, path_task = release_family_and_task(images)
        if load_layout().parse_item_id(item_id) is not None and images:
            family = Path(images[0]).parent.name  # remot's export: images/<split>/<family>/<digest>.jpg
        resolved = tuple(resolve_image_path(p, root) for p in images)
        items.append(
            ReferenceItem(
                id=item_id,
                task=task or path_task or default_task or path.parent.name,
                family=family,
                gt_answer=gt,
                prompt=prompt,
                options=parse_prompt_options(prompt),
                images=resolved,
            )
        )
    return items


def load_dataset_dir(root: Path, *, splits: Iterable[str] = ("test",)) -> list[ReferenceItem]:
    """Load reference items from a remot dataset directory (layout and item ids: ``schemas/dataset.yaml``).

    Ids are the contract's item ids (``remot_<split>_<triplet_id>``), as in the JSONL export.

    Raises:
        FileNotFoundError: If no file of the wanted splits exists.
        ValueError: If those files hold no rows.
    """
    require_reference(root, splits)
    layout = load_layout()
    columns = ["triplet_id", "split", "source", "family", "answer", "prompt", "options", *IMAGE_COLUMNS]
    items = []
    for split in splits:
        for file in layout.split_files(Path(root), split):
            for row in pq.read_table(file, columns=columns).to_pylist():
                items.append(
                    ReferenceItem(
                        id=layout.make_item_id(row["split"], row["triplet_id"]),
                        task=row["source"],
                        family=row["family"],
                        gt_answer=row["answer"],
                        prompt=row["prompt"],
                        options=tuple(tuple(o) for o in row["options"]),
                        images=tuple(row[k]["bytes"] for k in IMAGE_COLUMNS),
                    )
                )
    if not items:
        raise ValueError(f"{root}: the files of splits {list(splits)} hold no rows")
    return items


def load_reference(
    path: Path,
    *,
    image_root: Path | None = None,
    splits: Iterable[str] = ("test",),
    task: str | None = None,
    default_task: str | None = None,
) -> list[ReferenceItem]:
    """Load a reference: a dataset directory, a ReMoT-format JSONL file, or a release folder of them.

    A release folder (``data/<task>/test.jsonl`` for agibot, scannet, generaldata) is one reference: each file is
    a task (its folder's name), so one run gives every Table 1 column and the "Avg. Ov/Par" over the files. Image
    paths resolve against ``image_root`` (default: the folder). ``task`` names every item's task; ``default_task``
    only those of a single JSONL whose paths do not tell (a release folder's files are named by their folders).

    Raises:
        ValueError: If one id appears in two files of a release folder (a prediction could not tell them apart).
    """
    path = Path(path)
    if path.is_dir() and not any(load_layout().split_files(path, split) for split in splits):
        files = release_files(require_reference(path, splits), splits)
        items, seen = [], {}
        for file in files:
            for item in load_release_jsonl(file, image_root=image_root or path, task=task):
                if seen.setdefault(item.id, file) != file:
                    raise ValueError(f"{file}: id {item.id!r} is also in {seen[item.id]}; ids must be unique")
                items.append(item)
        return items
    if path.is_dir():
        return load_dataset_dir(path, splits=splits)  # which checks its splits
    return load_release_jsonl(require_reference(path), image_root=image_root, task=task, default_task=default_task)


def prediction_files(path: Path) -> list[Path]:
    """Return the prediction files at ``path``: the file, or every ``*.jsonl`` of a folder (one per GPU)."""
    path = Path(path)
    return sorted(path.glob("*.jsonl")) if path.is_dir() else [path]


def read_prediction_rows(path: Path) -> list[Prediction]:
    """Read every prediction row of a JSONL, or a folder of them, in order (repeated ids included).

    The official runner ends each per-GPU file with a summary row (no ``id``): such rows are skipped wherever they
    are, so a concatenation of per-GPU files reads like the folder of them.

    Raises:
        ValueError: Naming the file and line with a missing field.
    """
    out = []
    for file in prediction_files(path):
        lines = [
            (n, line) for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1) if line.strip()
        ]
        for lineno, line in lines:
            try:
                raw = json.loads(line)
                if isinstance(raw, dict) and "id" not in raw and not {"model_response", "pred_answer"} & set(raw):
                    continue  # a per-GPU file's summary row
                out.append(
                    Prediction(
                        id=str(raw["id"]),
                        pred_answer=None if raw.get("pred_answer") is None else str(raw["pred_answer"]),
                        gt_answer=str(raw.get("gt_answer", "")),
                        model_response=str(raw.get("model_response", "")),
                        response_words=int(raw.get("response_words", 0)),
                    )
                )
            except (json.JSONDecodeError, KeyError, ValueError, TypeError) as err:
                raise ValueError(f"{file}:{lineno}: prediction rows need at least an id: {err}") from err
    return out


def write_prediction(handle, prediction: Prediction) -> None:
    """Append one prediction row (JSON line) to an open text file and flush it, so a crash loses nothing."""
    handle.write(json.dumps(prediction.__dict__, ensure_ascii=False) + "\n")
    handle.flush()

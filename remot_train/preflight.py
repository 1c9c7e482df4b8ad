"""Checks of a training or evaluation run's inputs that need no model loaded: run before Prefect starts.

Each check is the one place its rule lives: the loaders call the same functions, so a mistake reads the same whether
the CLI's preflight or a deployment run finds it. Imports the contract only (no torch, no datasets).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from schemas import load_layout


def require_model_folder(model_dir: Path) -> Path:
    """Return ``model_dir`` if it is a local model folder (it holds ``config.json``).

    Raises:
        FileNotFoundError: Naming the folder otherwise (models are never fetched from a hub).
    """
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir}: no config.json; --model must be a local model folder (no hub downloads)")
    return model_dir


def require_split_files(data_dir: Path, split: str) -> list[str]:
    """Return the Parquet files of one split of a dataset directory.

    Raises:
        FileNotFoundError: Naming the directory and split when there are none.
    """
    layout = load_layout()
    files = [str(p) for p in layout.split_files(Path(data_dir), split)]
    if not files:
        raise FileNotFoundError(
            f"{data_dir}: no Parquet files for split {split!r} (expected {layout.triplet_glob.format(split=split)})"
        )
    return files


def release_files(folder: Path, splits: Iterable[str] = ("test",)) -> list[Path]:
    """Return the ReMoT JSONLs of a release folder: ``<task>/<split>.jsonl`` under it or under its ``data/``.

    The release ships ``data/agibot/test.jsonl``, ``data/scannet/test.jsonl``, ``data/generaldata/test.jsonl``: the
    release root or its ``data/`` folder is one reference whose files are scored as Table 1's tasks.
    """
    folder = Path(folder)
    return sorted({p for split in splits for base in (folder, folder / "data") for p in base.glob(f"*/{split}.jsonl")})


def require_reference(path: Path, splits: Iterable[str] = ("test",)) -> Path:
    """Return ``path`` if it can be a reference: a ReMoT JSONL, a release folder of them, or a dataset directory.

    A dataset directory must hold one of ``splits``; a release folder ``<task>/<split>.jsonl`` (``release_files``).

    Raises:
        FileNotFoundError: Naming the path otherwise (and the splits a dataset directory lacks).
    """
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path}: reference must be a remot dataset directory, a ReMoT JSONL file or a release folder of them"
        )
    layout = load_layout()
    if not any(layout.split_files(path, split) for split in splits) and not release_files(path, splits):
        raise FileNotFoundError(
            f"{path}: no triplets in splits {list(splits)} (expected {layout.triplet_glob.format(split='<split>')} "
            "or, for a release folder, <task>/<split>.jsonl)"
        )
    return path

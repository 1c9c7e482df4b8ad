"""Run and report folders (``train``, ``eval`` and ``score`` ``--out``): remot writes only into folders it made.

A folder is claimed when it does not exist, is empty, carries remot's marker of the same kind (``schemas/dataset.yaml``
``marker``), or is one an earlier remot made before markers (it holds that kind's own files). Anything else (a
published dataset version, a home directory, another tool's folder) is refused before a file is written: a report or
a checkpoint would overwrite what is there. No torch.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from schemas import load_layout

RunKind = Literal["train_run", "eval_report"]
# What an earlier remot (before markers) left in each kind of folder, all of them: enough to know it made the folder
# (one file of a common name, a report.md, is not).
LEGACY_FILES: dict[str, tuple[str, ...]] = {
    "train_run": ("run_info.json", "resolved_config.json"),
    "eval_report": ("predictions.jsonl", "metrics.json", "report.md"),
}


def claim_run_dir(out: Path, kind: RunKind) -> Path:
    """Create (or reuse) ``out`` as a remot folder of ``kind`` and mark it; refuse one remot did not make.

    Raises:
        FileExistsError: Naming the folder, what it is, and what to do.
    """
    out = Path(out)
    layout = load_layout()
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is a file; choose a folder for the {kind.replace('_', ' ')}")
    found = layout.output_kind(out) if out.is_dir() else None
    if found is not None and found != kind:
        raise FileExistsError(f"{out}: is a remot {found} folder, not a {kind}; choose another --out")
    made_before_markers = all((out / name).is_file() for name in LEGACY_FILES[kind])
    if found is None and out.is_dir() and any(out.iterdir()) and not made_before_markers:
        raise FileExistsError(
            f"{out}: exists, is not empty and was not made by remot (no {layout.marker}); remot writes only into "
            "folders it made: choose another --out or empty this one"
        )
    out.mkdir(parents=True, exist_ok=True)
    if found is None:
        layout.write_marker(out, kind, datetime.now(UTC).isoformat(timespec="seconds"))
    return out

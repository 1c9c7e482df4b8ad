"""The directories remot writes: owned (a marker), kept apart from the inputs, one writer at a time, versioned.

A dataset output ``OUT`` holds complete versions under ``OUT/versions/<id>/`` and ``OUT/latest``, a link switched
atomically to the newest one, so a reader sees one whole version and a crash at any point leaves the previous one
readable. remot replaces or removes nothing it did not create: a directory without its marker is never touched.
Layout names come from ``schemas/dataset.yaml``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from remot_data.errors import OutputError
from schemas import load_layout

logger = logging.getLogger(__name__)

OutputKind = Literal["dataset", "export", "corpus"]
TMP_PREFIX = ".tmp-"


SAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
MAX_NAME_PART = 64


def safe_name(text: str) -> str:
    """Return ``text`` as one harmless file-name part: a name read from a dataset never forms a path.

    Every character but letters, digits, ``_``, ``.`` and ``-`` becomes ``_`` (separators, NUL, spaces), a leading
    dot too (no ``..``, no hidden files), and the result is cut to 64 characters. Callers add a hash of the full name
    wherever two names must not collide.

    Example:
        >>> safe_name("../../etc/passwd"), safe_name("scene-0061"), safe_name("")
        ('_._.._etc_passwd', 'scene-0061', '_')
    """
    name = SAFE_NAME_CHARS.sub("_", text)[:MAX_NAME_PART]
    if not name or name.startswith("."):
        name = "_" + name[1:] if name else "_"
    return name


def require_inside(path: Path, folder: Path) -> Path:
    """Return ``path`` if it lies inside ``folder`` (after resolving links and ``..``), else refuse to write it.

    Raises:
        OutputError: Naming both, when the path would land outside the folder.
    """
    resolved, base = Path(path).resolve(), Path(folder).resolve()
    if resolved != base and base not in resolved.parents:
        raise OutputError(f"{path}: refusing to write outside {folder}")
    return path


def _marker_kind(path: Path) -> str | None:
    return load_layout().output_kind(path)


def check_output_path(out: Path, *, kind: OutputKind, inputs: Sequence[Path] = ()) -> None:
    """Refuse an output that would overwrite, contain or sit inside an input, or that remot does not own.

    Allowed: a path that does not exist, an empty directory, or a directory carrying remot's marker of ``kind``.

    Raises:
        OutputError: Naming the path and why it is refused.
    """
    out = Path(out).resolve()
    for item in inputs:
        source = Path(item).resolve()
        if out == source:
            raise OutputError(f"{out}: the output is the input {source}; choose another output directory")
        if out.is_relative_to(source):
            raise OutputError(f"{out}: the output lies inside the input {source}; choose a directory outside it")
        if source.is_relative_to(out):
            raise OutputError(f"{out}: the output contains the input {source}; choose a directory beside it")
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"{out}: exists and is a file, not a remot {kind}; choose another output path")
    found = _marker_kind(out) or _legacy_kind(out)
    if found == kind:
        return
    if found is not None:
        raise OutputError(f"{out}: is a remot {found} output, not a {kind}; choose another output path")
    if any(out.iterdir()):
        raise OutputError(
            f"{out}: exists and is not a remot {kind} (no {load_layout().marker}); remot replaces only what it "
            "created: choose another output path or empty this one (an output of remot before 0.2 has no marker: "
            "move it away)"
        )


def claim_output(out: Path, *, kind: OutputKind) -> Path:
    """Create ``out`` (checked by ``check_output_path`` first) and mark it as a remot output of ``kind``.

    A dataset remot 0.1 wrote (flat, unmarked) becomes the first version of the output: nothing of it is lost.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / load_layout().marker).is_file():
        if _legacy_kind(out) == "dataset":
            _adopt_legacy_dataset(out)
        mark_output(out, kind=kind)
    return out


LEGACY_CORPUS_TEXT = "demo corpus written by remot"  # remot 0.1's demo corpus COMPLETE file


def _legacy_kind(path: Path) -> str | None:
    """Return the kind of an unmarked output remot 0.1 wrote (before markers and versions), or None."""
    layout = load_layout()
    manifest = path / layout.manifest
    if manifest.is_file() and (path / "data").is_dir():
        try:
            code = json.loads(manifest.read_text(encoding="utf-8")).get("code_version", "")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            return None
        return "dataset" if isinstance(code, str) and code.startswith("0.1.") else None
    complete = path / "COMPLETE"
    if complete.is_file() and complete.read_text(encoding="utf-8", errors="replace").startswith(LEGACY_CORPUS_TEXT):
        return "corpus"
    return None


def _adopt_legacy_dataset(out: Path) -> None:
    layout = load_layout()
    version = Path(out) / layout.versions / f"{_now():%Y%m%dT%H%M%SZ}-000000"
    version.mkdir(parents=True)
    for entry in list(Path(out).iterdir()):
        if entry.name != layout.versions:
            os.replace(entry, version / entry.name)
    _switch_latest(out, version)
    logger.warning("%s: a remot 0.1 dataset; kept as version %s", out, version.name)


def mark_output(folder: Path, *, kind: OutputKind) -> None:
    """Write remot's marker into a folder it creates: what kind of output it is and when it was made."""
    load_layout().write_marker(folder, kind, _now().isoformat(timespec="seconds"))


def is_output(folder: Path, *, kind: OutputKind) -> bool:
    """Return whether a folder carries remot's marker of ``kind``."""
    return _marker_kind(Path(folder)) == kind


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold the output's lock while a build writes it; a second writer fails at once, naming the holder.

    Raises:
        OutputError: If another process holds the lock.
    """
    path = Path(out) / load_layout().lock
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise OutputError(f"{out}: another build is writing it ({holder}); wait for it to finish") from err
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {_now().isoformat(timespec='seconds')}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _now() -> datetime:
    return datetime.now(UTC)


def new_version_id() -> str:
    """Return a new version name: UTC time of publishing plus random hex, so names sort by time."""
    return f"{_now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def versions_of(out: Path) -> list[Path]:
    """Return the complete versions of an output (those holding a manifest), oldest first."""
    layout = load_layout()
    root = Path(out) / layout.versions
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and (p / layout.manifest).is_file())


def latest_version(out: Path) -> Path | None:
    """Return the version ``OUT/latest`` points at, or None."""
    latest = Path(out) / load_layout().latest
    return latest.resolve() if latest.is_dir() else None


def _switch_latest(out: Path, version: Path) -> None:
    layout = load_layout()
    link = Path(out) / layout.latest
    tmp = Path(out) / f"{TMP_PREFIX}{layout.latest}-{uuid.uuid4().hex[:6]}"
    tmp.symlink_to(Path(layout.versions) / version.name, target_is_directory=True)
    os.replace(tmp, link)  # atomic: readers see the old link or the new one


def recover_output(out: Path) -> None:
    """Clean what a crashed publish left in an output remot owns, and point ``latest`` at the newest version."""
    layout = load_layout()
    out = Path(out)
    leftovers = [
        *(out / layout.versions).glob(f"{TMP_PREFIX}*"),
        *out.glob(f"{TMP_PREFIX}*"),
        *(out / layout.staging).glob(".*.tmp"),  # parts a crash left half-written (stage.py's temporary names)
    ]
    for leftover in leftovers:
        logger.warning("removing %s left by an interrupted publish", leftover)
        if leftover.is_symlink() or leftover.is_file():
            leftover.unlink()
        else:
            shutil.rmtree(leftover, ignore_errors=True)
    complete = versions_of(out)
    if complete and latest_version(out) not in [v.resolve() for v in complete]:
        logger.warning("%s: latest did not point at a complete version; restored to %s", out, complete[-1].name)
        _switch_latest(out, complete[-1])


@contextmanager
def publish_version(out: Path, version_id: str, *, keep: int) -> Iterator[Path]:
    """Yield a folder for a new version; on normal exit make it ``OUT/latest`` and keep the newest ``keep`` versions.

    The folder is ``versions/.tmp-<id>`` until complete, then renamed to ``versions/<id>`` and linked: a crash
    before the switch leaves the previous version as ``latest``; ``recover_output`` removes the leftover.
    """
    layout = load_layout()
    root = Path(out) / layout.versions
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f"{TMP_PREFIX}{version_id}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = root / version_id
    os.replace(tmp, final)
    _switch_latest(out, final)
    for old in versions_of(out)[:-keep]:
        if old.resolve() != final.resolve():
            shutil.rmtree(old, ignore_errors=True)


@contextmanager
def replace_output(out: Path, *, kind: OutputKind) -> Iterator[Path]:
    """Yield a marked temporary sibling; on normal exit it replaces ``out`` (checked: absent, empty or ours).

    The swap is two renames on one file system, so readers see the old directory or the new one. Siblings an
    earlier crash left (``.<name>.tmp-*`` / ``.<name>.old-*`` carrying remot's marker) are removed first.
    """
    layout = load_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for kind_name in layout.hidden_kinds:
        for stale in out.parent.glob(f".{out.name}.{kind_name}-*"):
            if _marker_kind(stale) == kind:
                logger.warning("removing %s left by an interrupted %s", stale, kind)
                shutil.rmtree(stale, ignore_errors=True)
    tmp = layout.hidden_sibling(out, "tmp", uuid.uuid4().hex[:8])
    tmp.mkdir()
    mark_output(tmp, kind=kind)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = layout.hidden_sibling(out, "old", uuid.uuid4().hex[:8])
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

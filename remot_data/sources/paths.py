"""Paths that a dataset's own files name (templates, ``imDir``, ``filename``): they must stay inside the dataset.

One rule for every reader: the path is relative, it does not climb out of the root, and it still lies inside the root
when symbolic links are followed. The one exception is the Hugging Face hub cache, whose ``snapshots/<revision>/``
folders hold links into the same repository's ``blobs/``: that is where the hub keeps the dataset's own bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from remot_data.errors import SourceFormatError


def require_regular_file(path: Path) -> Path:
    """Return ``path`` if it is a regular file (links followed); a FIFO, device or folder is refused, never opened.

    Opening a FIFO blocks until something writes to it: a dataset file that is one would hang the build.

    Raises:
        FileNotFoundError: If nothing is there (callers name what they expected).
        SourceFormatError: Naming the file when it is not a regular file.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise SourceFormatError(f"{path}: is {kind}; remot reads dataset files only when they are regular files")
    return Path(path)


def read_source_text(path: Path) -> str:
    """Return a dataset file's text (UTF-8), after ``require_regular_file``."""
    return require_regular_file(path).read_text(encoding="utf-8")


def read_source_bytes(path: Path) -> bytes:
    """Return a dataset file's bytes, after ``require_regular_file``."""
    return require_regular_file(path).read_bytes()


def _storage(root: Path) -> tuple[Path, ...]:
    """Return the folders a dataset rooted at ``root`` keeps its bytes in (resolved)."""
    resolved = root.resolve()  # the root itself may be a link to a snapshot folder
    if resolved.parent.name == "snapshots":  # huggingface_hub cache: <repo>/snapshots/<rev> -> <repo>/blobs/<sha>
        return resolved, resolved.parent.parent / "blobs"
    return (resolved,)


def lies_inside(path: Path, root: Path) -> bool:
    """Return whether ``path`` lies inside the dataset root once symbolic links are followed (hub cache allowed)."""
    resolved = Path(path).resolve()
    return any(resolved.is_relative_to(folder) for folder in _storage(Path(root)))


def contained_path(root: Path, relative: object, *, where: Path | str, field: str) -> Path:
    """Return ``root / relative`` if it stays inside the dataset root, symbolic links followed.

    Args:
        root: The dataset root.
        relative: The path as the dataset's file gives it.
        where: The file (and record) that gives it, for the message.
        field: The field that gives it.

    Raises:
        SourceFormatError: Naming ``where``, the field and the path, when it is not a relative path string, climbs out
            of the root, or resolves outside it.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> contained_path(root, "videos/a.mp4", where="meta/info.json", field="video_path") == root / "videos/a.mp4"
        True
        >>> contained_path(root, "../b.mp4", where="meta/info.json", field="video_path")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        remot_data.errors.SourceFormatError: meta/info.json: video_path gives '../b.mp4', which resolves outside ...
    """
    root = Path(root)
    if not isinstance(relative, str) or not relative or "\0" in relative:
        raise SourceFormatError(f"{where}: {field} must be a path relative to the dataset root, got {relative!r}")
    path = root / relative
    lexical = Path(os.path.normpath(path))
    if (
        Path(relative).is_absolute()
        or not lexical.is_relative_to(Path(os.path.normpath(root)))
        or not any(path.resolve().is_relative_to(folder) for folder in _storage(root))
    ):
        raise SourceFormatError(
            f"{where}: {field} gives {relative!r}, which resolves outside the dataset root {root} (a symbolic link "
            "out of it counts: point the input at the folder that holds the files)"
        )
    return path

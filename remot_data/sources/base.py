"""The interface every source reader offers, so the build can treat formats alike."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from remot_data.records import Clip


class SourceReader(Protocol):
    """A format reader: lists the clip ids under a root, reads one clip, hashes one clip's inputs."""

    name: str

    def list_clips(self, root: Path) -> list[str]:
        """Return the clip ids under ``root``."""
        ...

    def read_clip(self, root: Path, clip_id: str) -> Clip:
        """Read one clip; raise ``SourceFormatError`` naming the file and field on bad input."""
        ...

    def hash_clip(self, root: Path, clip_id: str) -> str:
        """Return a content hash of the clip's inputs (the cache key)."""
        ...

    def group_of(self, root: Path, clip_id: str) -> str:
        """Return the physical place or recording a clip shares with others: splits never divide a group."""
        ...

    def check_input(self, root: Path) -> None:
        """Raise ``SourceFormatError`` once if a mistake affects the whole input (before any clip is read)."""
        ...

"""The interface every source reader offers, so the build can treat formats alike."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from remot_data.records import Clip


class SourceReader(Protocol):
    """A format reader: lists its clips under a root, reads one, and hashes one's content."""

    name: str

    def list_clips(self, root: Path) -> list[Path]:
        """Return the clip locations under ``root``."""
        ...

    def read_clip(self, location: Path) -> Clip:
        """Read one clip; raise ``SourceFormatError`` naming the file and field on bad input."""
        ...

    def hash_clip(self, location: Path) -> str:
        """Return a content hash of the clip's inputs (the cache key)."""
        ...

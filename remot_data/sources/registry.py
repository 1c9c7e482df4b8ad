"""Source readers by name, as the CLI and flows select them (``--source scannet``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from remot_data.records import Clip
from remot_data.sources import scannet


@dataclass(frozen=True)
class ScanNetReader:
    """ScanNet export reader (``scene*/pose/<i>.txt``, ``scene*/color/<i>.jpg``)."""

    name: str = "scannet"

    def list_clips(self, root: Path) -> list[Path]:
        """Return the scene directories under root."""
        return scannet.list_scannet_scenes(root)

    def read_clip(self, location: Path) -> Clip:
        """Read one scene."""
        return scannet.read_scannet_scene(location)

    def hash_clip(self, location: Path) -> str:
        """Hash one scene's inputs."""
        return scannet.hash_scannet_scene(location)


READERS = {"scannet": ScanNetReader()}


def get_reader(name: str) -> ScanNetReader:
    """Return the reader for source ``name``.

    Raises:
        ValueError: If no reader has that name; the message lists the choices.
    """
    if name not in READERS:
        raise ValueError(f"unknown source {name!r}; expected one of {sorted(READERS)}")
    return READERS[name]

"""Source readers by name, as the CLI and flows select them (``--source scannet``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from remot_data.records import Clip
from remot_data.sources import lerobot, scannet
from remot_data.sources.base import SourceReader

SOURCES = ("scannet", "lerobot")


@dataclass(frozen=True)
class ScanNetReader:
    """ScanNet export reader (``scene*/pose/<i>.txt``, ``scene*/color/<i>.jpg``)."""

    name: str = "scannet"

    def _scene(self, root: Path, clip_id: str) -> Path:
        root = Path(root)
        return root if root.name == clip_id and (root / scannet.POSE_DIR).is_dir() else root / clip_id

    def list_clips(self, root: Path) -> list[str]:
        """Return the scene names under root (or root's own name when it is a scene)."""
        return [p.name for p in scannet.list_scannet_scenes(root)]

    def read_clip(self, root: Path, clip_id: str) -> Clip:
        """Read one scene."""
        return scannet.read_scannet_scene(self._scene(root, clip_id))

    def hash_clip(self, root: Path, clip_id: str) -> str:
        """Hash one scene's inputs."""
        return scannet.hash_scannet_scene(self._scene(root, clip_id))


@dataclass(frozen=True)
class LeRobotReader:
    """LeRobot v3.0 reader: one clip per episode."""

    mapping: lerobot.LeRobotMapping = field(default_factory=lerobot.LeRobotMapping)
    name: str = "lerobot"

    def list_clips(self, root: Path) -> list[str]:
        """Return the episode clip ids."""
        return lerobot.list_lerobot_episodes(root)

    def read_clip(self, root: Path, clip_id: str) -> Clip:
        """Read one episode."""
        return lerobot.read_lerobot_episode(root, clip_id, self.mapping)

    def hash_clip(self, root: Path, clip_id: str) -> str:
        """Hash one episode's inputs."""
        return lerobot.hash_lerobot_episode(root, clip_id, self.mapping)


def get_reader(name: str, *, lerobot_mapping: lerobot.LeRobotMapping | None = None) -> SourceReader:
    """Return the reader for source ``name``.

    Raises:
        ValueError: If no reader has that name; the message lists the choices.
    """
    if name == "scannet":
        return ScanNetReader()
    if name == "lerobot":
        return LeRobotReader(mapping=lerobot_mapping or lerobot.LeRobotMapping())
    raise ValueError(f"unknown source {name!r}; expected one of {list(SOURCES)}")

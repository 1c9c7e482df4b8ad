"""Source readers by name, as the CLI and flows select them (``--source scannet``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from remot_data.errors import SourceFormatError
from remot_data.records import Clip
from remot_data.sources import lerobot, mot, nuscenes, scannet
from remot_data.sources.base import SourceReader
from remot_data.sources.lerobot_mapping import LeRobotMapping, shipped_mappings

# Sources that have a reader (a subset of the contract's ``source`` values; tests/schemas ties them).
ReaderName = Literal["scannet", "lerobot", "motchallenge", "nuscenes"]
SOURCES: tuple[str, ...] = get_args(ReaderName)
# Short names accepted wherever a source is named (``--source mot``).
SOURCE_ALIASES = {"mot": "motchallenge"}


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

    def check_input(self, root: Path) -> None:
        """Refuse an input that is no folder of scene exports (each scene is checked as it is read)."""
        self.list_clips(root)

    def group_of(self, root: Path, clip_id: str) -> str:
        """Return the room: ScanNet's ``sceneXXXX_YY`` are rescans (YY) of one room (XXXX)."""
        return scannet.room_of(clip_id)


@dataclass(frozen=True)
class LeRobotReader:
    """LeRobot reader (v3.0, v2.x): one clip per episode, read as the dataset's mapping says."""

    mapping: LeRobotMapping
    name: str = "lerobot"

    def group_of(self, root: Path, clip_id: str) -> str:
        """Return the episode itself: one recording (an episode is the unit LeRobot datasets are split by)."""
        return clip_id

    def check_input(self, root: Path) -> None:
        """Hold the mapping against the dataset once, before any episode is read."""
        lerobot.check_lerobot_dataset(root, self.mapping)

    def list_clips(self, root: Path) -> list[str]:
        """Return the episode clip ids."""
        return lerobot.list_lerobot_episodes(root)

    def read_clip(self, root: Path, clip_id: str) -> Clip:
        """Read one episode."""
        return lerobot.read_lerobot_episode(root, clip_id, self.mapping)

    def hash_clip(self, root: Path, clip_id: str) -> str:
        """Hash one episode's inputs."""
        return lerobot.hash_lerobot_episode(root, clip_id, self.mapping)


@dataclass(frozen=True)
class MotReader:
    """MOTChallenge reader (``<seq>/seqinfo.ini``, ``<seq>/gt/gt.txt``, ``<seq>/img1/`` or a video)."""

    name: str = "motchallenge"

    def _sequence(self, root: Path, clip_id: str) -> Path:
        return next(p for p in mot.list_mot_sequences(root) if p.name == clip_id)

    def list_clips(self, root: Path) -> list[str]:
        """Return the sequence names under root (``<root>/<seq>`` or ``<root>/{train,test}/<seq>``), one per video.

        MOT17's per-detector copies of one video (``MOT17-02-DPM``, ``-FRCNN``, ``-SDP``) are read once
        (``mot.distinct_recordings``).

        Raises:
            SourceFormatError: If two sequences share a name (their ids would collide).
        """
        return [p.name for p in mot.distinct_recordings(self._sequences(root))]

    def _sequences(self, root: Path) -> list[Path]:
        """Return the sequence folders under root, refusing two of one name (their ids would collide)."""
        sequences = mot.list_mot_sequences(root)
        names = [p.name for p in sequences]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise SourceFormatError(f"{root}: sequence names {repeated} occur more than once")
        return sequences

    def read_clip(self, root: Path, clip_id: str) -> Clip:
        """Read one sequence."""
        return mot.read_mot_sequence(self._sequence(root, clip_id))

    def hash_clip(self, root: Path, clip_id: str) -> str:
        """Hash one sequence's inputs."""
        return mot.hash_mot_sequence(self._sequence(root, clip_id))

    def check_input(self, root: Path) -> None:
        """Refuse an input without sequences, or with one name twice (each sequence is checked as it is read)."""
        self._sequences(root)

    def group_of(self, root: Path, clip_id: str) -> str:
        """Return the sequence's scene: MOT17 ships each video three times (``MOT17-02-DPM``, ``-FRCNN``, ``-SDP``)."""
        return mot.scene_of(clip_id)


@dataclass(frozen=True)
class NuScenesReader:
    """nuScenes reader: one clip per scene (front-camera keyframes, annotations projected into that camera)."""

    version: str | None = None
    name: str = "nuscenes"

    def list_clips(self, root: Path) -> list[str]:
        """Return the scene names."""
        return sorted(nuscenes.load_tables(root, self.version).scene_by_name)

    def read_clip(self, root: Path, clip_id: str) -> Clip:
        """Read one scene."""
        return nuscenes.read_nuscenes_scene(nuscenes.load_tables(root, self.version), clip_id)

    def hash_clip(self, root: Path, clip_id: str) -> str:
        """Hash one scene's inputs."""
        return nuscenes.hash_nuscenes_scene(nuscenes.load_tables(root, self.version), clip_id)

    def check_input(self, root: Path) -> None:
        """Read and check every table once: a dangling token or unknown category fails the whole input."""
        nuscenes.load_tables(root, self.version)

    def group_of(self, root: Path, clip_id: str) -> str:
        """Return the drive: the scenes of one log are consecutive 20 s stretches of one drive, through one place."""
        return nuscenes.load_tables(root, self.version).log_of(clip_id)


def get_reader(
    name: str, *, lerobot_mapping: LeRobotMapping | None = None, nuscenes_version: str | None = None
) -> SourceReader:
    """Return the reader for source ``name``.

    Raises:
        ValueError: If no reader has that name (the message lists the choices), or a LeRobot input has no mapping.
    """
    name = SOURCE_ALIASES.get(name, name)
    if name == "scannet":
        return ScanNetReader()
    if name == "motchallenge":
        return MotReader()
    if name == "nuscenes":
        return NuScenesReader(version=nuscenes_version)
    if name == "lerobot":
        if lerobot_mapping is None:
            raise ValueError(
                "a LeRobot input needs a mapping (--lerobot-mapping NAME|FILE; shipped: "
                f"{shipped_mappings()}): which features hold each arm and gripper, and which camera to use"
            )
        return LeRobotReader(mapping=lerobot_mapping)
    raise ValueError(f"unknown source {name!r}; expected one of {list(SOURCES)}")

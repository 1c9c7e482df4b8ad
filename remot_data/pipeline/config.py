"""What a build is asked to do: its inputs (source + path) and its one typed config, ``BuildConfig``.

``BuildConfig`` is the single place where each build option's default, bounds and help live: the ``remot`` CLI flags,
the ``build-dataset`` flow's parameters and ``--config`` YAML files are all validated by it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from remot_data.frames import FrameConfig
from remot_data.records import SplitName
from remot_data.sources.lerobot_mapping import LeRobotMapping, load_lerobot_mapping, shipped_mappings
from remot_data.sources.registry import SOURCE_ALIASES, ReaderName

OnBadClip = Literal["raise", "reject"]
# Fields that change no row: they do not enter the staging key.
_ROW_NEUTRAL_FIELDS = frozenset(
    {"batch_size", "on_bad_clip", "license", "keep_versions", "max_triplet_loss", "max_bad_clip_share"}
)


class BuildConfig(BaseModel):
    """Settings of one dataset build."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str = Field("v5", description="Rule preset name (remot_data/rules/presets/<name>.yaml) or a YAML path")
    frames: FrameConfig = Field(default_factory=FrameConfig, description="How triplet images are stored")
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="Fraction of clips hashed to the val split")
    test_fraction: float = Field(
        0.2, ge=0.0, lt=1.0, description="Fraction of clips hashed to the test split (the rest is train)"
    )
    seed: int = Field(0, ge=0, description="Seed mixed into every question's option shuffle")
    split_file: Path | None = Field(
        None,
        description="Fixed splits: a CSV of 'id,split' rows (id = clip or group, e.g. scene0000 or scene0000_01), or "
        "a ScanNet list file named *train*/*val*/*test*.txt with one id per line; other clips are hashed",
    )
    exclude_from_train: tuple[str, ...] = Field(
        (),
        description="Clip or group ids that must not enter train (they go to test), or ReMoT-release JSONL files "
        "whose scenes must not (e.g. the benchmark's test set)",
    )
    batch_size: int | None = Field(
        None,
        ge=1,
        description="Clips per processing task; default: the clips cut into about 4 tasks per CPU of this machine, "
        "1 to 64 clips each (few tasks keep orchestration overhead small; several per CPU keep every CPU busy "
        "to the end); set it for a Dask cluster larger than this machine",
    )
    on_bad_clip: OnBadClip = Field(
        "reject", description="reject: record a bad clip in rejects.parquet and go on; raise: stop the build"
    )
    license: str | None = Field(None, description="Licence id for the dataset card (default: the source's usual one)")
    keep_versions: int = Field(3, ge=1, description="Published versions kept under OUT/versions (the newest is latest)")
    max_triplet_loss: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Refuse to publish when the new version has fewer than (1 - this) x the previous version's "
        "triplets (a broken setting, not bad clips); 1 turns the check off",
    )
    max_bad_clip_share: float = Field(
        0.5, ge=0.0, le=1.0, description="Refuse to publish when more than this share of the clips are bad_clip rejects"
    )

    @model_validator(mode="after")
    def _check_fractions(self) -> BuildConfig:
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"val_fraction + test_fraction must be below 1, got {self.val_fraction!r} + {self.test_fraction!r}"
            )
        return self

    @property
    def digest(self) -> str:
        """Return a short hash of the settings that change rows (not batch size, error policy or licence)."""
        relevant = self.model_dump(mode="json", exclude=set(_ROW_NEUTRAL_FIELDS))
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


class SourceInput(BaseModel):
    """One input of a build: a source format, the directory holding it, and that source's options."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: ReaderName = Field(description="Source format")
    path: Path = Field(description="Input directory (ScanNet: a folder of scene exports; LeRobot: the dataset root)")
    # ``str`` is in the type so that a deployment's JSON schema accepts a shipped name or a path; the validator below
    # always turns it into a LeRobotMapping.
    lerobot_mapping: LeRobotMapping | str | None = Field(
        None,
        description="LeRobot inputs: the mapping (a shipped name such as so101, a YAML path, or the mapping itself)",
    )

    nuscenes_version: str | None = Field(
        None,
        description="nuScenes inputs: the tables' version folder (v1.0-mini, v1.0-trainval); default: the only one",
    )

    @field_validator("source", mode="before")
    @classmethod
    def _full_source_name(cls, value: object) -> object:
        return SOURCE_ALIASES.get(value, value) if isinstance(value, str) else value

    @field_validator("lerobot_mapping", mode="before")
    @classmethod
    def _load_named_mapping(cls, value: object) -> object:
        return load_lerobot_mapping(value) if isinstance(value, str | Path) else value

    @model_validator(mode="after")
    def _options_fit_the_source(self) -> SourceInput:
        if self.source == "lerobot" and self.lerobot_mapping is None:
            raise ValueError(
                f"LeRobot input {self.path} needs a lerobot_mapping (shipped: {shipped_mappings()}, or a YAML file)"
            )
        if self.source != "lerobot" and self.lerobot_mapping is not None:
            raise ValueError(f"{self.source} input {self.path} takes no lerobot_mapping")
        if self.source != "nuscenes" and self.nuscenes_version is not None:
            raise ValueError(f"{self.source} input {self.path} takes no nuscenes_version")
        return self

    @property
    def options_digest(self) -> str:
        """Return a hash of the source's options (part of each staged clip's key)."""
        if self.lerobot_mapping is not None:
            return self.lerobot_mapping.digest()
        return self.nuscenes_version or ""


@dataclass(frozen=True, kw_only=True)
class ClipInput:
    """One clip to process: its source, the input root, the clip's id in it and its content hash.

    Attributes:
        source: Source format.
        root: Input root the reader opens.
        clip_id: Clip id (ScanNet scene, LeRobot ``episode_000003``).
        content_sha256: Content hash of the clip's inputs.
        group: The place or recording the clip shares with others (ScanNet: the room); splits never divide it.
        split: The clip's split (its group's).
        lerobot_mapping: The input's LeRobot mapping (LeRobot clips).
        nuscenes_version: The input's nuScenes version folder (nuScenes clips; None: the only one).
        options_digest: Hash of the input's source options.
    """

    source: ReaderName
    root: Path
    clip_id: str
    content_sha256: str
    group: str
    split: SplitName
    lerobot_mapping: LeRobotMapping | None = None
    nuscenes_version: str | None = None
    options_digest: str = ""

"""Build a triplet dataset: per-clip processing into staged parts, then validated atomic publishing.

Library code with no Prefect: ``flows/build_dataset.py`` maps ``process_batch`` over clip batches and calls
``publish_dataset``. Staged parts are keyed by clip content hash + preset hash + config hash, so a rerun after a
crash reuses finished clips and redoes only the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

import remot_data
from remot_data.card import write_dataset_card
from remot_data.contact_sheet import write_contact_sheet
from remot_data.errors import ContractError, RemotError
from remot_data.frames import FrameConfig, render_images
from remot_data.questions.render import derive_seed, render_question
from remot_data.records import Clip, ImageSpec, Reject, SplitName, TripletCandidate
from remot_data.rules.direction import find_arm_direction_triplets, find_camera_rotation_triplets
from remot_data.rules.mirror import mirror_candidate
from remot_data.rules.registry import RulePreset, load_rule_preset
from remot_data.rules.state import find_gripper_triplets
from remot_data.sources.base import SourceReader
from remot_data.sources.lerobot import LeRobotMapping
from remot_data.sources.registry import SOURCES, get_reader
from remot_data.table import (
    MANIFEST_PATH,
    REJECTS_PATH,
    publish_directory,
    read_parquet,
    rejects_to_table,
    rows_to_table,
    write_json,
    write_parquet,
    write_triplet_splits,
)
from remot_data.validation import find_violations
from schemas import schema_version

logger = logging.getLogger(__name__)

VALIDATION_REPORT_PATH = "validation.json"
CONTACT_SHEET_PATH = "contact_sheet.png"
ROLES = ("anchor", "positive", "negative")


@dataclass(frozen=True, kw_only=True)
class BuildConfig:
    """Settings of one dataset build.

    Attributes:
        preset: Rule preset name or path to a preset YAML file.
        frames: How triplet images are stored.
        val_fraction: Fraction of clips hashed to the val split.
        test_fraction: Fraction of clips hashed to the test split (the rest is train).
        seed: Seed mixed into every question's shuffle seed.
        batch_size: Clips per processing task (keeps orchestration overhead small).
        on_bad_clip: ``reject`` records a bad clip in the rejects table and goes on; ``raise`` stops the build.
        license: Licence id written to the dataset card; None takes the source's usual licence.
        lerobot_mapping: Which LeRobot features hold each arm's end effector and gripper (source ``lerobot``).
    """

    preset: str = "v1"
    frames: FrameConfig = field(default_factory=FrameConfig)
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    seed: int = 0
    batch_size: int = 4
    on_bad_clip: Literal["raise", "reject"] = "reject"
    license: str | None = None
    lerobot_mapping: LeRobotMapping = field(default_factory=LeRobotMapping)

    def __post_init__(self) -> None:
        """Check fractions and sizes."""
        if not (
            self.val_fraction >= 0.0 and self.test_fraction >= 0.0 and self.val_fraction + self.test_fraction < 1.0
        ):
            raise ValueError(
                "val_fraction and test_fraction must be >= 0 and sum below 1, "
                f"got {self.val_fraction!r}, {self.test_fraction!r}"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if self.on_bad_clip not in ("raise", "reject"):
            raise ValueError(f"on_bad_clip must be 'raise' or 'reject', got {self.on_bad_clip!r}")

    @property
    def digest(self) -> str:
        """Return a short hash of the settings that change rows (not batch size or error policy)."""
        relevant = {k: v for k, v in asdict(self).items() if k not in ("batch_size", "on_bad_clip", "license")}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class SourceInput:
    """One input of a build: a source format and the directory holding it.

    Attributes:
        source: Source format (``scannet``, ``lerobot``).
        path: Input directory (ScanNet: a folder of scene exports; LeRobot: the dataset root).
    """

    source: str
    path: str

    def __post_init__(self) -> None:
        """Check the source name."""
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {list(SOURCES)}, got {self.source!r}")


@dataclass(frozen=True, kw_only=True)
class ClipInput:
    """One clip to process: its source, the input root, the clip's id in it and its content hash.

    Attributes:
        source: Source format.
        root: Input root the reader opens.
        clip_id: Clip id (ScanNet scene, LeRobot ``episode_000003``).
        content_sha256: Content hash of the clip's inputs.
    """

    source: str
    root: Path
    clip_id: str
    content_sha256: str


def reader_for(source: str, config: BuildConfig) -> SourceReader:
    """Return the reader of a source, set up as the build config says."""
    return get_reader(source, lerobot_mapping=config.lerobot_mapping)


def plan_clips(inputs: list[SourceInput], config: BuildConfig) -> list[ClipInput]:
    """List and hash the clips of every input.

    Raises:
        ValueError: If two inputs yield the same clip id (splits and staging are keyed by it).
    """
    planned: list[ClipInput] = []
    for item in inputs:
        reader, root = reader_for(item.source, config), Path(item.path)
        for clip_id in reader.list_clips(root):
            try:
                content = reader.hash_clip(root, clip_id)
            except (RemotError, ValueError, OSError) as err:
                # A clip that cannot even be hashed is still planned: reading it fails the same way and becomes a
                # bad_clip rejects row (or stops the build with on_bad_clip="raise"), never a silent gap.
                content = "unhashable-" + hashlib.sha256(str(err).encode()).hexdigest()
            planned.append(ClipInput(source=item.source, root=root, clip_id=clip_id, content_sha256=content))
    seen: dict[str, ClipInput] = {}
    for clip in planned:
        if clip.clip_id in seen:
            raise ValueError(
                f"clip id {clip.clip_id!r} occurs in {seen[clip.clip_id].root} and {clip.root}; "
                "inputs must not share clip ids"
            )
        seen[clip.clip_id] = clip
    return planned


def assign_split(clip_id: str, config: BuildConfig) -> SplitName:
    """Return the split of a clip from a hash of its id, so a clip never crosses splits and keeps its split.

    Example:
        >>> assign_split("scene0000_00", BuildConfig()) == assign_split("scene0000_00", BuildConfig())
        True
    """
    u = int.from_bytes(hashlib.sha256(f"split\x1f{clip_id}".encode()).digest()[:8], "big") / 2**64
    if u < config.test_fraction:
        return "test"
    if u < config.test_fraction + config.val_fraction:
        return "val"
    return "train"


def image_file_name(clip: Clip, spec: ImageSpec) -> str:
    """Return the file name of a triplet image: clip, real frame index, and crop/mirror tags."""
    name = f"{clip.clip_id}_{clip.frames[spec.frame_index].frame_index:06d}"
    if spec.crop is not None:
        name += "_crop" + hashlib.sha256(spec.key.encode()).hexdigest()[:6]
    if spec.mirror:
        name += "_mirror"
    return name + ".jpg"


def find_candidates(clip: Clip, preset: RulePreset) -> tuple[list[TripletCandidate], list[Reject]]:
    """Run every rule that applies to the clip's annotations (plus mirrored copies where the preset asks)."""
    candidates: list[TripletCandidate] = []
    rejects: list[Reject] = []
    if clip.T_world_cam is not None:
        found, dropped = find_camera_rotation_triplets(clip, preset.camera_rotation)
        candidates += found
        rejects += dropped
    if any(name.endswith(".ee_xyz_m") or name.endswith(".gripper_closed") for name in clip.tracks):
        manipulation: list[TripletCandidate] = []
        for rule in (find_arm_direction_triplets, find_gripper_triplets):
            found, dropped = rule(clip, preset.manipulation)
            manipulation += found
            rejects += dropped
        if preset.manipulation.mirror:
            manipulation += [mirror_candidate(c) for c in manipulation]
        candidates += manipulation
    if clip.T_world_cam is None and not clip.tracks:
        rejects.append(
            Reject(
                stage="rule",
                source=clip.source,
                clip_id=clip.clip_id,
                reason="no_rule_applies",
                detail=f"clip {clip.clip_id} has no annotation any rule uses",
            )
        )
    return candidates, rejects


def make_rows(
    clip: Clip, candidates: list[TripletCandidate], preset: RulePreset, config: BuildConfig
) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Render questions and images for the candidates of one clip; return contract rows and frame rejects.

    A candidate whose frames cannot be read (a truncated or unreadable video) becomes a rejects row naming the file
    and the frames; it is never given a substitute image.
    """
    images, failed = render_images(clip, [spec for c in candidates for spec in c.images], config.frames)
    split = assign_split(clip.clip_id, config)
    rows, rejects = [], []
    for c in candidates:
        missing = [spec for spec in c.images if spec.key in failed]
        if missing:
            frames = sorted({clip.frames[s.frame_index].frame_index for s in missing})
            frame = clip.frames[missing[0].frame_index]
            rejects.append(
                Reject(
                    stage="frames",
                    source=c.source,
                    clip_id=c.clip_id,
                    reason="unreadable_frames",
                    path=str(frame.video_path or frame.image_path),
                    frame_index=frames[0],
                    detail=f"{c.family} triplet needs frames {frames}: {failed[missing[0].key]}",
                )
            )
            continue
        id_text = "\x1f".join(
            [c.source, c.clip_id, c.family, c.subject, c.negative_method, preset.short_hash, *(s.key for s in c.images)]
        )
        triplet_id = hashlib.sha256(id_text.encode()).hexdigest()[:16]
        question = render_question(c, seed=derive_seed(config.seed, triplet_id), preset=preset)
        row: dict[str, Any] = {
            "schema_version": schema_version("triplets"),
            "triplet_id": triplet_id,
            "split": split,
            "source": c.source,
            "clip_id": c.clip_id,
            "family": c.family,
            "rule": c.rule,
            "subject": c.subject,
            "negative_method": c.negative_method,
            "mirrored": c.images[0].mirror,
            "prompt": question.prompt,
            "answer": question.answer,
            "solution": question.solution,
            "labels": list(question.labels),
            "options": [list(o) for o in question.options],
            "question_seed": question.seed,
            "attribute_names": list(c.attribute_names),
            "values_12": list(c.values_12),
            "values_13": list(c.values_13),
            "values_23": list(c.values_23),
            "magnitude": c.magnitude,
            "margin": c.margin,
            "preset": preset.name,
            "preset_hash": preset.short_hash,
        }
        for role, spec in zip(ROLES, c.images, strict=True):
            row[f"{role}_frame_index"] = clip.frames[spec.frame_index].frame_index
            row[f"{role}_image"] = {"bytes": images[spec.key], "path": image_file_name(clip, spec)}
        rows.append(row)
    return rows, rejects


def process_clip(
    clip_input: ClipInput, preset: RulePreset, config: BuildConfig
) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Read one clip, apply the rules, render questions and images.

    This is the per-clip error boundary: with ``on_bad_clip="reject"`` any error becomes one rejects row with the
    stage, reason ``bad_clip`` and the exception type, and the clip yields no triplets.

    Returns:
        ``(rows, rejects)``.
    """
    stage = "read"
    try:
        clip = reader_for(clip_input.source, config).read_clip(clip_input.root, clip_input.clip_id)
        stage = "rule"
        candidates, rejects = find_candidates(clip, preset)
        stage = "frames"
        rows, frame_rejects = make_rows(clip, candidates, preset, config)
        return rows, [*clip.dropped, *rejects, *frame_rejects]
    except Exception as err:  # the per-clip boundary: every failure becomes a rejects row
        if config.on_bad_clip == "raise" or not isinstance(err, (RemotError, ValueError, OSError)):
            raise
        logger.warning("rejecting clip %s at stage %s: %s", clip_input.clip_id, stage, err)
        return [], [
            Reject(
                stage=stage,
                source=clip_input.source,
                clip_id=clip_input.clip_id,
                reason="bad_clip",
                detail=str(err),
                path=str(clip_input.root),
                error_type=type(err).__name__,
            )
        ]


def part_key(clip_input: ClipInput, preset: RulePreset, config: BuildConfig) -> str:
    """Return the staging key of a clip: content hash + preset hash + config digest."""
    text = "\x1f".join(
        [clip_input.source, clip_input.content_sha256, preset.sha256, config.digest, str(schema_version("triplets"))]
    )
    return f"{clip_input.clip_id}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def process_batch(clip_inputs: list[ClipInput], config: BuildConfig, staging_dir: Path) -> list[str]:
    """Process a batch of clips into staged Parquet parts, reusing parts a previous run finished.

    Each clip's parts are written to temporary names and renamed, so a crash leaves whole parts or none.

    Returns:
        The part keys, one per clip.
    """
    preset = load_rule_preset(config.preset)
    staging_dir = Path(staging_dir)
    keys = []
    for clip_input in clip_inputs:
        key = part_key(clip_input, preset, config)
        keys.append(key)
        if (staging_dir / f"{key}.rejects.parquet").exists():
            logger.info("reusing staged part %s", key)
            continue
        rows, rejects = process_clip(clip_input, preset, config)
        tmp_triplets, tmp_rejects = staging_dir / f".{key}.tmp.parquet", staging_dir / f".{key}.rejects.tmp.parquet"
        write_parquet(rows_to_table(rows, "triplets"), tmp_triplets)
        write_parquet(rejects_to_table(rejects), tmp_rejects)
        tmp_triplets.replace(staging_dir / f"{key}.parquet")
        # The rejects part is renamed last: its presence marks the clip as finished.
        tmp_rejects.replace(staging_dir / f"{key}.rejects.parquet")
    return keys


def code_version() -> str:
    """Return the package version plus the git commit, when the code runs from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return f"{remot_data.__version__}+{commit}"


def summarise(table: pa.Table, rejects: pa.Table) -> dict[str, Any]:
    """Return the counts that go to the manifest and the CLI summary."""
    rows = table.select(["split", "family", "source", "labels", "options"]).to_pylist()
    # The label of a triplet is its 1->2 direction: (horizontal, vertical) for the camera family.
    camera_dirs = [
        f"{r['labels'][0]}/{r['labels'][2]}" if r["family"] == "camera_rotation" else r["labels"][0] for r in rows
    ]
    return {
        "counts": {
            "triplets": len(rows),
            "by_split": dict(sorted(Counter(r["split"] for r in rows).items())),
            "by_family": dict(sorted(Counter(r["family"] for r in rows).items())),
            "by_label": dict(sorted(Counter(camera_dirs).items())),
            "by_source": dict(sorted(Counter(r["source"] for r in rows).items())),
            "by_negative_method": dict(sorted(Counter(table.column("negative_method").to_pylist()).items())),
        },
        "rejects": {
            "total": len(rejects),
            "by_reason": dict(sorted(Counter(rejects.column("reason").to_pylist()).items())),
            "by_stage": dict(sorted(Counter(rejects.column("stage").to_pylist()).items())),
        },
    }


def publish_dataset(
    clip_inputs: list[ClipInput],
    keys: list[str],
    *,
    inputs: list[SourceInput],
    staging_dir: Path,
    out_dir: Path,
    config: BuildConfig,
) -> dict[str, Any]:
    """Validate the staged parts and publish the dataset directory atomically.

    Writes ``data/<split>/part-00000.parquet``, ``rejects.parquet``, ``manifest.json``, ``validation.json``,
    ``README.md`` (dataset card) and ``contact_sheet.png``. A table that fails validation is not published: the
    validation report is written to the staging directory and ``ContractError`` is raised.

    Returns:
        The manifest.

    Raises:
        ContractError: If the table fails the suite.
    """
    preset = load_rule_preset(config.preset)
    staging_dir = Path(staging_dir)
    triplets = pa.concat_tables([read_parquet(staging_dir / f"{k}.parquet", "triplets") for k in keys])
    rejects = pa.concat_tables([read_parquet(staging_dir / f"{k}.rejects.parquet", "rejects") for k in keys])
    violations, n_expectations = find_violations(triplets, preset)
    report = {
        "success": not violations,
        "expectations": n_expectations,
        "rows": len(triplets),
        "failed": [asdict(v) for v in violations],
    }
    if violations:
        write_json(staging_dir / VALIDATION_REPORT_PATH, report)
        lines = "\n  ".join(str(v) for v in violations)
        raise ContractError(
            f"dataset not published: {len(violations)} of {n_expectations} expectations failed "
            f"(report: {staging_dir / VALIDATION_REPORT_PATH}):\n  {lines}"
        )
    manifest = {
        "schema_version": schema_version("triplets"),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "source": "+".join(sorted({i.source for i in inputs})),
        "input": {
            "roots": [{"source": i.source, "path": str(Path(i.path).resolve())} for i in inputs],
            "clips": [
                {"source": c.source, "clip_id": c.clip_id, "content_sha256": c.content_sha256} for c in clip_inputs
            ],
        },
        "preset": {"name": preset.name, "sha256": preset.sha256},
        "config": asdict(config),
        **summarise(triplets, rejects),
        "validation": {"success": True, "expectations": n_expectations, "failed": []},
    }
    with publish_directory(out_dir) as tmp:
        split_files = write_triplet_splits(triplets, tmp)
        write_parquet(rejects, tmp / REJECTS_PATH)
        write_json(tmp / VALIDATION_REPORT_PATH, report)
        write_json(tmp / MANIFEST_PATH, manifest)
        write_dataset_card(tmp, manifest, split_files)
        write_contact_sheet(triplets, tmp / CONTACT_SHEET_PATH)
    shutil.rmtree(staging_dir, ignore_errors=True)
    return manifest


def staging_dir_for(out_dir: Path) -> Path:
    """Return the staging directory of an output directory (a hidden sibling, kept across crashed runs)."""
    out_dir = Path(out_dir)
    return out_dir.parent / f".{out_dir.name}.partial"


def build_dataset(inputs: list[SourceInput], out_dir: Path, config: BuildConfig) -> dict[str, Any]:
    """Build and publish a dataset in-process, without orchestration (what the flow does, serially).

    Returns:
        The manifest.
    """
    clip_inputs = plan_clips(inputs, config)
    staging = staging_dir_for(out_dir)
    staging.mkdir(parents=True, exist_ok=True)
    keys = process_batch(clip_inputs, config, staging)
    return publish_dataset(clip_inputs, keys, inputs=inputs, staging_dir=staging, out_dir=out_dir, config=config)

"""Plan a build: list and hash every input clip, assign splits, cut the work into batches.

Reads the inputs and checks the output path; writes nothing.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from remot_data.errors import READ_ERRORS, SourceFormatError
from remot_data.frames import check_ffmpeg
from remot_data.outputs import check_output_path
from remot_data.pipeline.config import BuildConfig, ClipInput, SourceInput
from remot_data.records import SplitName
from remot_data.rules.registry import RulePreset, load_rule_preset
from remot_data.sources.base import SourceReader
from remot_data.sources.registry import get_reader
from remot_data.sources.scannet import SCENE_ID_RE
from schemas import load_layout


def reader_for(item: SourceInput | ClipInput) -> SourceReader:
    """Return the reader of an input's source, set up with that input's options."""
    return get_reader(item.source, lerobot_mapping=item.lerobot_mapping, nuscenes_version=item.nuscenes_version)


def plan_clips(inputs: list[SourceInput], config: BuildConfig) -> list[ClipInput]:
    """List and hash the clips of every input (``preflight`` has checked each input as a whole).

    Raises:
        ValueError: If two inputs yield the same clip id (splits and staging are keyed by it).
    """
    planned: list[ClipInput] = []
    rules = split_rules(config)
    for item in inputs:
        reader, root = reader_for(item), Path(item.path)
        for clip_id in reader.list_clips(root):
            try:
                content = reader.hash_clip(root, clip_id)
            except READ_ERRORS as err:
                # A clip that cannot even be hashed is still planned: reading it fails the same way and becomes a
                # bad_clip rejects row (or stops the build with on_bad_clip="raise"), never a silent gap.
                content = "unhashable-" + hashlib.sha256(str(err).encode()).hexdigest()
            group = reader.group_of(root, clip_id)
            planned.append(
                ClipInput(
                    source=item.source,
                    root=root,
                    clip_id=clip_id,
                    content_sha256=content,
                    group=group,
                    split=split_of(clip_id, group, config, rules),
                    lerobot_mapping=item.lerobot_mapping,
                    nuscenes_version=item.nuscenes_version,
                    options_digest=item.options_digest,
                )
            )
    seen: dict[str, ClipInput] = {}
    for clip in planned:
        if clip.clip_id in seen:
            raise ValueError(
                f"clip id {clip.clip_id!r} occurs in {seen[clip.clip_id].root} and {clip.root}; "
                "inputs must not share clip ids"
            )
        seen[clip.clip_id] = clip
    return planned


def assign_split(group: str, config: BuildConfig) -> SplitName:
    """Return the split of a group from a hash of its id, so a group never crosses splits and keeps its split.

    Example:
        >>> assign_split("scene0000", BuildConfig()) == assign_split("scene0000", BuildConfig())
        True
    """
    u = int.from_bytes(hashlib.sha256(f"split\x1f{group}".encode()).digest()[:8], "big") / 2**64
    if u < config.test_fraction:
        return "test"
    if u < config.test_fraction + config.val_fraction:
        return "val"
    return "train"


SPLITS: tuple[SplitName, ...] = get_args(SplitName)


def read_split_file(path: Path) -> dict[str, SplitName]:
    """Read fixed splits: a CSV of ``id,split`` rows, or a ScanNet list file whose name says the split.

    Raises:
        SourceFormatError: Naming the file and line that is not ``id,split`` with a known split.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise SourceFormatError(f"{path}: cannot read the split file: {err}") from err
    named = next((s for s in SPLITS if s in path.stem.lower()), None)
    out: dict[str, SplitName] = {}
    for lineno, line in enumerate(lines, start=1):
        fields = [f.strip() for f in line.split(",")]
        if not fields[0] or fields[0].startswith("#") or fields[0].lower() == "id":
            continue
        split = fields[1] if len(fields) == 2 else named if len(fields) == 1 else None
        if split not in SPLITS:
            raise SourceFormatError(
                f"{path}:{lineno}: expected 'id,split' with split in {list(SPLITS)} (or a list file named after its "
                f"split), got {line!r}"
            )
        out[fields[0]] = split
    return out


def read_exclusions(entries: tuple[str, ...]) -> set[str]:
    """Return the ids that must not enter train: the entries themselves, and the scenes named in release JSONL files."""
    ids: set[str] = set()
    for entry in entries:
        path = Path(entry)
        if path.suffix == ".jsonl":
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise SourceFormatError(f"{path}: cannot read the exclusion file: {err}") from err
            ids.update(m.group(0) for m in SCENE_ID_RE.finditer(text))
        else:
            ids.add(entry)
    return ids


def split_rules(config: BuildConfig) -> tuple[dict[str, SplitName], set[str]]:
    """Return the fixed splits and the ids kept out of train that the config names."""
    fixed = read_split_file(config.split_file) if config.split_file is not None else {}
    return fixed, read_exclusions(config.exclude_from_train)


def split_of(clip_id: str, group: str, config: BuildConfig, rules: tuple[dict[str, SplitName], set[str]]) -> SplitName:
    """Return a clip's split: the split file's (clip, then group), else its group's hash; never train if excluded."""
    fixed, excluded = rules
    split = fixed.get(clip_id) or fixed.get(group) or assign_split(group, config)
    if split == "train" and (clip_id in excluded or group in excluded):
        return "test"
    return split


def staging_dir_for(out_dir: Path) -> Path:
    """Return the staging folder of an output directory (inside it, kept across crashed runs)."""
    return Path(out_dir) / load_layout().staging


@dataclass(frozen=True, kw_only=True)
class BuildPlan:
    """Everything the later steps need: the inputs, where to stage and publish, the config, the clips.

    Attributes:
        inputs: The build's inputs.
        out_dir: Dataset directory to publish.
        staging_dir: Hidden sibling holding finished clips' parts (what a rerun resumes from).
        config: The build config.
        clips: Every planned clip, in input order.
        preset: The rule preset ``config.preset`` names, loaded once for the whole build.
    """

    inputs: tuple[SourceInput, ...]
    out_dir: Path
    staging_dir: Path
    config: BuildConfig
    clips: tuple[ClipInput, ...]
    preset: RulePreset

    @property
    def batches(self) -> list[list[ClipInput]]:
        """Return the clips cut into batches of ``config.batch_size`` (default: ``auto_batch_size``)."""
        size = self.config.batch_size or auto_batch_size(len(self.clips))
        return [list(self.clips[i : i + size]) for i in range(0, len(self.clips), size)]


TASKS_PER_CPU = 4
MAX_AUTO_BATCH = 64


def auto_batch_size(n_clips: int, cpus: int | None = None) -> int:
    """Return clips per batch: about ``TASKS_PER_CPU`` batches per CPU, 1 to ``MAX_AUTO_BATCH`` clips each.

    Each batch is a Prefect task with its own API calls (about 0.2 s on a busy 2-CPU machine,
    ``benchmarks/flow_overhead.py``): 96 clips in batches of 4 cost the flow 11 % over the library, in 8 batches
    less. Several batches per CPU keep every CPU busy to the end when clips differ in length.

    Example:
        >>> auto_batch_size(96, cpus=2), auto_batch_size(3, cpus=2), auto_batch_size(100_000, cpus=2)
        (12, 1, 64)
    """
    cpus = cpus or os.cpu_count() or 1
    return max(1, min(MAX_AUTO_BATCH, math.ceil(n_clips / (TASKS_PER_CPU * cpus))))


def preflight(inputs: list[SourceInput], out_dir: Path, config: BuildConfig) -> RulePreset:
    """Run every check that concerns the whole build before any work: output, preset, split files, ffmpeg, inputs.

    Returns:
        The build's rule preset (loaded and validated here, once).

    Raises:
        OutputError: If ``out_dir`` is an input, inside or above one, or not a remot dataset.
        FileNotFoundError, ValueError: For a preset that does not exist or does not validate.
        FrameExtractionError: If a video source needs ffmpeg and the configured one cannot run.
        SourceFormatError: If an input does not fit its source options, or a split or exclusion file is unreadable.
    """
    check_output_path(out_dir, kind="dataset", inputs=[i.path for i in inputs])
    preset = load_rule_preset(config.preset)
    split_rules(config)  # the split file and exclusion files read and parsed
    if any(i.source == "lerobot" for i in inputs):
        check_ffmpeg(config.frames.ffmpeg_path)
    for item in inputs:
        reader_for(item).check_input(Path(item.path))
    return preset


def plan_build(inputs: list[SourceInput], out_dir: Path, config: BuildConfig) -> BuildPlan:
    """Run ``preflight``, then list and hash the clips; writes nothing.

    Raises:
        OutputError: If ``out_dir`` is an input, inside or above one, or not a remot dataset.
        SourceFormatError: If an input does not fit its source options.
        ValueError: If there are no clips, or two inputs share a clip id.
    """
    preset = preflight(inputs, out_dir, config)
    clips = plan_clips(inputs, config)
    if not clips:
        roots = ", ".join(f"{i.source} {i.path}" for i in inputs)
        raise ValueError(f"no clips in the inputs ({roots}): nothing to build")
    return BuildPlan(
        inputs=tuple(inputs),
        out_dir=Path(out_dir),
        staging_dir=staging_dir_for(out_dir),
        config=config,
        clips=tuple(clips),
        preset=preset,
    )

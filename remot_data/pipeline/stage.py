"""Stage finished clips as Parquet parts in the build's hidden staging folder, so a rerun resumes.

A clip's parts are keyed by its content hash + preset hash + the digest of the row-changing config, and written
under temporary names then renamed: a crash leaves whole parts or none.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from remot_data.outputs import require_inside, safe_name
from remot_data.pipeline.config import BuildConfig, ClipInput
from remot_data.pipeline.rows import process_clip
from remot_data.rules.registry import RulePreset, load_rule_preset
from remot_data.table import rejects_to_table, rows_to_table, write_parquet
from schemas import schema_version

logger = logging.getLogger(__name__)

TRIPLET_PART = "{key}.parquet"
REJECTS_PART = "{key}.rejects.parquet"


def part_key(clip_input: ClipInput, preset: RulePreset, config: BuildConfig) -> str:
    """Return the staging key of a clip: its id made harmless, then a hash of everything the part depends on.

    The hash covers the id, content, source options, preset, config digest and contract version. The clip id comes
    from the data (a nuScenes scene name, say): it names the file only through ``safe_name``, and the hash keeps
    apart two ids that look alike once made safe.
    """
    text = "\x1f".join(
        [
            clip_input.clip_id,
            clip_input.source,
            clip_input.content_sha256,
            clip_input.options_digest,
            clip_input.split,
            preset.sha256,
            config.digest,
            str(schema_version("triplets")),
        ]
    )
    return f"{safe_name(clip_input.clip_id)}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def staged_paths(staging_dir: Path, key: str) -> tuple[Path, Path]:
    """Return the (triplets, rejects) part files of a staged clip (always inside ``staging_dir``).

    Raises:
        OutputError: If a key would place a part outside the staging folder.
    """
    paths = staging_dir / TRIPLET_PART.format(key=key), staging_dir / REJECTS_PART.format(key=key)
    return tuple(require_inside(p, staging_dir) for p in paths)


def staged_part_is_readable(*paths: Path) -> bool:
    """Return whether every staged file is a readable Parquet file (footer and schema)."""
    try:
        for path in paths:
            pq.read_schema(path)
    except (OSError, pa.ArrowInvalid):
        return False
    return True


def process_batch(
    clip_inputs: list[ClipInput], config: BuildConfig, staging_dir: Path, *, preset: RulePreset | None = None
) -> list[str]:
    """Process a batch of clips into staged Parquet parts, reusing parts a previous run finished.

    Args:
        clip_inputs: The batch's clips.
        config: The build config.
        staging_dir: Where the parts go.
        preset: The build's rule preset (the plan's, loaded once); None loads the one ``config.preset`` names.

    Returns:
        The part keys, one per clip.
    """
    preset = preset if preset is not None else load_rule_preset(config.preset)
    staging_dir = Path(staging_dir)
    keys = []
    for clip_input in clip_inputs:
        key = part_key(clip_input, preset, config)
        keys.append(key)
        triplets_path, rejects_path = staged_paths(staging_dir, key)
        if rejects_path.exists():
            if staged_part_is_readable(triplets_path, rejects_path):
                logger.info("reusing staged part %s", key)
                continue
            # A damaged part (disk full, a copy gone wrong) is redone, not a reason for every rerun to fail.
            logger.warning("staged part %s is damaged; processing clip %s again", key, clip_input.clip_id)
            triplets_path.unlink(missing_ok=True)
            rejects_path.unlink(missing_ok=True)
        rows, rejects = process_clip(clip_input, preset, config)
        tmp_triplets, tmp_rejects = (staging_dir / f".{p.name}.tmp" for p in (triplets_path, rejects_path))
        write_parquet(rows_to_table(rows, "triplets"), tmp_triplets)
        write_parquet(rejects_to_table(rejects), tmp_rejects)
        tmp_triplets.replace(triplets_path)
        # The rejects part is renamed last: its presence marks the clip as finished.
        tmp_rejects.replace(rejects_path)
    return keys

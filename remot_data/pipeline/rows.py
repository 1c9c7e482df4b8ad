"""Turn one clip into contract rows: read it, run the rules, render questions and pixels.

``process_clip`` is the per-clip error boundary: any error there becomes one rejects row (or stops the build).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from remot_data.errors import RemotError
from remot_data.frames import render_images
from remot_data.outputs import safe_name
from remot_data.pipeline.config import BuildConfig, ClipInput
from remot_data.pipeline.plan import reader_for
from remot_data.questions.render import derive_seed, render_question
from remot_data.records import Clip, ImageSpec, Reject, SplitName, TripletCandidate
from remot_data.rules.ego import has_ego_motion
from remot_data.rules.families import FAMILIES, RULES
from remot_data.rules.mirror import mirror_candidate
from remot_data.rules.registry import RulePreset
from remot_data.rules.retrieval import swap_positive_negative
from schemas import IMAGE_COLUMNS, schema_version

logger = logging.getLogger(__name__)


def source_image_key(clip: Clip, spec: ImageSpec) -> str:
    """Return an image's key by its source frame number (plus crop and mirror), stable when other frames drop out."""
    ghost = None if spec.ghost_frame_index is None else clip.frames[spec.ghost_frame_index].frame_index
    return spec.key_with(clip.frames[spec.frame_index].frame_index, ghost)


def image_file_name(clip: Clip, spec: ImageSpec) -> str:
    """Return the file name of a triplet image: clip id (``safe_name``: it comes from the data), frame, tags."""
    safe = safe_name(clip.clip_id)
    if safe != clip.clip_id:  # made harmless: a hash of the id keeps two ids that now look alike apart
        safe += "-" + hashlib.sha256(clip.clip_id.encode()).hexdigest()[:8]
    name = f"{safe}_{clip.frames[spec.frame_index].frame_index:06d}"
    if spec.crop is not None:
        name += "_crop" + hashlib.sha256(source_image_key(clip, spec).encode()).hexdigest()[:6]
    if spec.mark is not None or spec.ghost_frame_index is not None:
        name += "_mark" + hashlib.sha256(source_image_key(clip, spec).encode()).hexdigest()[:6]
    if spec.mirror:
        name += "_mirror"
    return name + ".jpg"


def find_candidates(clip: Clip, preset: RulePreset) -> tuple[list[TripletCandidate], list[Reject]]:
    """Run every rule that applies to the clip, plus mirrored copies of the families the preset mirrors.

    The rules and their order are ``rules/families.py``'s ``RULES``; which families are mirrored, its ``FAMILIES``.
    """
    candidates: list[TripletCandidate] = []
    rejects: list[Reject] = []
    applied = False  # whether any rule ran on the clip
    for rule in RULES:
        if not rule.applies(clip, preset):
            continue
        applied = True
        found, dropped = rule.find(clip, preset)
        candidates += found + [mirror_candidate(c) for c in found if FAMILIES[c.family].is_mirrored(preset)]
        rejects += dropped
    if preset.questions.balance_directions:
        candidates = [balanced(clip, c) for c in candidates]
    if not applied:
        newer = clip.objects is not None or has_ego_motion(clip)
        rejects.append(
            Reject(
                stage="rule",
                source=clip.source,
                clip_id=clip.clip_id,
                reason="no_rule_applies",
                detail=f"clip {clip.clip_id} has no annotation any rule of preset {preset.name} uses"
                + (
                    " (object boxes and driving logs need a preset with objects and ego sections, v3 or later)"
                    if newer
                    else ""
                ),
            )
        )
    return candidates, rejects


def balanced(clip: Clip, candidate: TripletCandidate) -> TripletCandidate:
    """Return the candidate, or it with images 2 and 3 exchanged, by a coin seeded on its identity (retrieval only)."""
    if candidate.negative_method != "retrieval":
        return candidate
    keys = (source_image_key(clip, s) for s in candidate.images)
    coin = derive_seed("balance", candidate.clip_id, candidate.family, candidate.subject, *keys) % 2
    return swap_positive_negative(candidate) if coin else candidate


def make_rows(
    clip: Clip, candidates: list[TripletCandidate], preset: RulePreset, config: BuildConfig, *, split: SplitName
) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Render questions and images for the candidates of one clip; return contract rows and frame rejects.

    A candidate whose frames cannot be read (a truncated or unreadable video) becomes a rejects row naming the file
    and the frames; it is never given a substitute image.
    """
    images, failed = render_images(clip, [spec for c in candidates for spec in c.images], config.frames)

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
        # The id names source frame numbers (not positions in the clip, which shift when a frame is dropped), so
        # an id always means the same three images.
        id_text = "\x1f".join(
            [
                c.source,
                c.clip_id,
                c.family,
                c.subject,
                c.negative_method,
                preset.short_hash,
                *(source_image_key(clip, s) for s in c.images),
            ]
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
        for column, spec in zip(IMAGE_COLUMNS, c.images, strict=True):
            role = column.removesuffix("_image")
            row[f"{role}_frame_index"] = clip.frames[spec.frame_index].frame_index
            row[column] = {"bytes": images[spec.key], "path": image_file_name(clip, spec)}
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
        clip = reader_for(clip_input).read_clip(clip_input.root, clip_input.clip_id)
        stage = "rule"
        candidates, rejects = find_candidates(clip, preset)
        stage = "frames"
        rows, frame_rejects = make_rows(clip, candidates, preset, config, split=clip_input.split)
        return rows, [*clip.dropped, *rejects, *frame_rejects]
    except Exception as err:  # the per-clip boundary: a bad clip's error (RemotError, ValueError, OSError) becomes a
        # rejects row unless on_bad_clip is raise; anything else is a bug and stops the build
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

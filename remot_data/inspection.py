"""Read a source without building: its clips, frames, annotation ranges, candidates per rule, and every problem.

What ``remot inspect`` prints. Runs the same readers and rules as a build (no frames are decoded, nothing is written),
so a source that inspects cleanly builds, and one that does not says why with file, field and value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from remot_data.errors import READ_ERRORS
from remot_data.pipeline.config import SourceInput
from remot_data.pipeline.plan import reader_for
from remot_data.pipeline.rows import find_candidates
from remot_data.rules.registry import RulePreset


@dataclass(kw_only=True)
class ClipReport:
    """What one clip holds and yields.

    Attributes:
        clip_id: The clip.
        frames: Frames read.
        dropped: Frames the reader dropped, per reason.
        problems: Every dropped frame's problem (file and what is wrong), in frame order.
        ranges: Per annotation track, the (min, max) of its values.
        candidates: Triplet candidates per family.
        rejects: Rule rejects per reason.
        error: The error that makes the clip a ``bad_clip``, if any.
    """

    clip_id: str
    frames: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    candidates: dict[str, int] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass(kw_only=True)
class SourceReport:
    """An inspected source.

    Attributes:
        source: Source format.
        path: Input directory.
        problem: A mistake that affects the whole input (nothing can be built), if any.
        clips: One report per clip.
    """

    source: str
    path: Path
    problem: str | None = None
    clips: list[ClipReport] = field(default_factory=list)

    @property
    def buildable(self) -> bool:
        """Return whether a build of this source would publish triplets."""
        return self.problem is None and any(sum(c.candidates.values()) for c in self.clips)


def inspect_source(item: SourceInput, preset: RulePreset, *, limit: int | None = None) -> SourceReport:
    """Read every clip of an input (or the first ``limit``) and run the rules on it, collecting what went wrong."""
    report = SourceReport(source=item.source, path=Path(item.path))
    try:
        reader = reader_for(item)
        reader.check_input(Path(item.path))
        clip_ids = reader.list_clips(Path(item.path))
    except READ_ERRORS as err:
        report.problem = str(err)
        return report
    for clip_id in clip_ids[:limit]:
        clip_report = ClipReport(clip_id=clip_id)
        report.clips.append(clip_report)
        try:
            clip = reader.read_clip(Path(item.path), clip_id)
            candidates, rejects = find_candidates(clip, preset)
        except Exception as err:  # noqa: BLE001 - the build's per-clip boundary: whatever it rejects, report here
            clip_report.error = f"{type(err).__name__}: {err}"
            continue
        clip_report.frames = len(clip.frames)
        clip_report.dropped = dict(Counter(r.reason for r in clip.dropped))
        clip_report.problems = [f"{r.reason}: {r.detail}" for r in clip.dropped]
        clip_report.ranges = {name: (float(np.min(t)), float(np.max(t))) for name, t in clip.tracks.items()}
        if clip.T_world_cam is not None:
            positions = clip.T_world_cam[:, :3, 3]
            clip_report.ranges["camera_travel_m"] = (0.0, float(np.linalg.norm(positions - positions[0], axis=1).max()))
        if clip.objects is not None and len(clip.objects.position):
            per_frame = np.bincount(clip.objects.position, minlength=len(clip.frames))
            clip_report.ranges["boxes_per_frame"] = (float(per_frame.min()), float(per_frame.max()))
        clip_report.candidates = dict(Counter(c.family for c in candidates))
        clip_report.rejects = dict(Counter(r.reason for r in rejects))
    return report


MAX_PROBLEMS_SHOWN = 20  # per clip; the report object keeps them all


def format_report(report: SourceReport) -> str:
    """Return the report as text: one line per clip, then totals and problems."""
    lines = [f"{report.source} {report.path}"]
    if report.problem:
        return "\n".join([*lines, f"  cannot be built: {report.problem}"])
    families: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for clip in report.clips:
        if clip.error:
            lines.append(f"  {clip.clip_id}: bad clip: {clip.error}")
            continue
        families.update(clip.candidates)
        reasons.update(clip.rejects)
        ranges = ", ".join(f"{k} [{lo:.3g}, {hi:.3g}]" for k, (lo, hi) in clip.ranges.items())
        dropped = f", dropped {clip.dropped}" if clip.dropped else ""
        lines.append(f"  {clip.clip_id}: {clip.frames} frames{dropped}; {ranges}; candidates {clip.candidates or 0}")
        lines += [f"    {problem}" for problem in clip.problems[:MAX_PROBLEMS_SHOWN]]
        if len(clip.problems) > MAX_PROBLEMS_SHOWN:
            lines.append(f"    ... and {len(clip.problems) - MAX_PROBLEMS_SHOWN} more")
    bad = sum(1 for c in report.clips if c.error)
    totals = f"candidates {dict(families) or 0}; rule rejects {dict(reasons)}"
    lines.append(f"  {len(report.clips)} clips ({bad} bad): {totals}")
    if not report.buildable:
        lines.append("  cannot be built: no clip yields a triplet")
    return "\n".join(lines)

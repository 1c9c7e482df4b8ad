"""Time one-pass frame extraction (one ffmpeg run per clip) against per-frame extraction (one run per frame).

Uses the frames that the rules actually need on the LeRobot demo corpus (``demo_data/corpus/lerobot``, written
to a temporary folder if absent). Both ways decode the same frames; the script checks the pixels agree, then
prints medians of ``--repeats`` runs and their ratio. Absolute times on a shared machine mean little; the ratio does.

    .venv/bin/python benchmarks/frame_extraction.py [--corpus demo_data/corpus/lerobot] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from remot_data.build import find_candidates
from remot_data.demo.lerobot import write_demo_lerobot
from remot_data.frames import FrameConfig, decode_video_frame, load_clip_frames
from remot_data.rules.registry import load_rule_preset
from remot_data.sources.lerobot import list_lerobot_episodes, load_lerobot_mapping, read_lerobot_episode


def needed_frames(root: Path) -> list[tuple]:
    """Return (clip, positions) for every episode: the frames its triplets use."""
    preset = load_rule_preset("v1")
    out = []
    for clip_id in list_lerobot_episodes(root):
        clip = read_lerobot_episode(root, clip_id, load_lerobot_mapping("remot_demo"))
        candidates, _ = find_candidates(clip, preset)
        out.append((clip, sorted({spec.frame_index for c in candidates for spec in c.images})))
    return out


def one_pass(work: list[tuple]) -> dict:
    """Decode every needed frame with one ffmpeg run per clip."""
    return {
        (clip.clip_id, p): np.asarray(image)
        for clip, positions in work
        for p, image in load_clip_frames(clip, positions, FrameConfig())[0].items()
    }


def per_frame(work: list[tuple]) -> dict:
    """Decode every needed frame with its own ffmpeg run (seek to its time, take one frame)."""
    return {
        (clip.clip_id, p): decode_video_frame(clip.frames[p].video_path, clip.frames[p].timestamp_s, fps=clip.fps)
        for clip, positions in work
        for p in positions
    }


def main() -> None:
    """Run both ways, check they agree, print times and the ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="demo_data/corpus/lerobot")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = Path(args.corpus)
    if not (root / "meta" / "info.json").exists():
        root = write_demo_lerobot(Path(tempfile.mkdtemp()) / "lerobot")
    work = needed_frames(root)
    n_frames = sum(len(p) for _, p in work)
    n_total = sum(len(c.frames) for c, _ in work)
    times = {"one_pass": [], "per_frame": []}
    results = {}
    for _ in range(args.repeats):
        for name, fn in (("one_pass", one_pass), ("per_frame", per_frame)):
            start = time.perf_counter()
            results[name] = fn(work)
            times[name].append(time.perf_counter() - start)
    assert results["one_pass"].keys() == results["per_frame"].keys()
    worst = max(
        np.abs(results["one_pass"][k].astype(int) - results["per_frame"][k].astype(int)).max()
        for k in results["one_pass"]
    )
    one, per = statistics.median(times["one_pass"]), statistics.median(times["per_frame"])
    print(f"corpus {root}: {len(work)} episodes, {n_frames} of {n_total} frames needed by triplets")
    print(f"one pass per clip : {one:.3f} s  ({n_frames / one:.0f} frames/s)")
    print(f"one run per frame : {per:.3f} s  ({n_frames / per:.0f} frames/s)")
    print(f"ratio per-frame / one-pass: {per / one:.1f}x  (max pixel difference between the two: {worst})")


if __name__ == "__main__":
    main()

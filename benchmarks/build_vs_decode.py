"""Benchmark 1: a whole build against decoding the frames it needs (issue 13: build >= 0.5x the decode limit).

Builds the demo LeRobot corpus (``_corpus.py``: 640 x 480, 300-frame episodes, 30 fps; 96 episodes is about 16.5 K
triplets, ReMoT's size) with the library (rules, extraction, resize, encode, Parquet, validation, audit, publish),
timing each phase, then decodes the same needed frames the way the build does (``frames_needed`` +
``load_clip_frames``: segments, scaled while decoding) and, for scale, every frame of every video to ffmpeg's null
muxer. Each in a fresh process, in one run on one machine; the ratios are what to read.

    .venv/bin/python benchmarks/build_vs_decode.py [--episodes 96] [--cache /tmp/remot_bench]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _corpus import DEFAULT_PRESET, build_in_child, lerobot_corpus, run_measured

DECODE_NEEDED = """
import time
from pathlib import Path
from remot_data.pipeline import BuildConfig, SourceInput, find_candidates, plan_build
from remot_data.pipeline.plan import reader_for
from remot_data.frames import frames_needed, load_clip_frames
from remot_data.rules.registry import load_rule_preset
config = BuildConfig(preset=PRESET)
preset = load_rule_preset(PRESET)
plan = plan_build([SourceInput(source='lerobot', path=Path(ROOT), lerobot_mapping='remot_demo')], Path(OUT), config)
work = []
for item in plan.clips:
    clip = reader_for(item).read_clip(item.root, item.clip_id)
    candidates, _ = find_candidates(clip, preset)
    work.append((clip, frames_needed([s for c in candidates for s in c.images], config.frames)))
start = time.perf_counter()
frames = sum(len(load_clip_frames(clip, sorted(need), config.frames, side_needed=need)[0]) for clip, need in work)
RESULT = {'wall_s': time.perf_counter() - start, 'frames': frames, 'video_frames': sum(len(c.frames) for c, _ in work)}
"""

DECODE_ALL = """
import time, subprocess
from pathlib import Path
from remot_data.frames import ffmpeg_exe
videos = sorted(Path(ROOT).rglob('*.mp4'))
start = time.perf_counter()
for v in videos:
    subprocess.run([ffmpeg_exe(), '-v', 'error', '-nostdin', '-i', str(v), '-f', 'null', '-'], check=True)
RESULT = {'wall_s': time.perf_counter() - start, 'videos': len(videos)}
"""


def main() -> None:
    """Run the build and the two decodes; print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=96, help="demo episodes (about 175 triplets each)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "remot_bench")
    args = parser.parse_args()
    root = lerobot_corpus(args.cache, args.episodes)
    preset = DEFAULT_PRESET
    out = Path(tempfile.mkdtemp(prefix="remot_build_bench_")) / "dataset"
    build = build_in_child(root, out, preset, "library")
    needed = run_measured(DECODE_NEEDED, ROOT=str(root), OUT=f"{out}_decode", PRESET=str(preset))
    every = run_measured(DECODE_ALL, ROOT=str(root))
    n = build["triplets"]
    print(f"corpus {root}: {args.episodes} episodes, {needed['video_frames']} video frames; {n} triplets")
    print("| step | wall s | per 1 K triplets s | peak RSS GB |")
    print("|---|---|---|---|")
    for name, wall, rss in (
        ("build: plan", build["plan_s"], None),
        ("build: clips (read, rules, decode, resize, encode, stage)", build["clips_s"], None),
        ("build: publish (validate, audit, write)", build["publish_s"], None),
        ("build: whole", build["wall_s"], build["max_rss_gb"]),
        (f"decode the {needed['frames']} needed frames as the build does", needed["wall_s"], needed["max_rss_gb"]),
        ("decode every frame of every video to null", every["wall_s"], None),
    ):
        print(f"| {name} | {wall:.1f} | {1000 * wall / n:.2f} | {'' if rss is None else f'{rss:.2f}'} |")
    print(f"build throughput / needed-frame decode limit: {needed['wall_s'] / build['wall_s']:.2f}x (target >= 0.5)")
    print(f"build throughput / decode-everything: {every['wall_s'] / build['wall_s']:.2f}x")
    print(f"{n} triplets in {build['wall_s']:.0f} s (target: 16.5 K in <= 180 s)")


if __name__ == "__main__":
    main()

"""Benchmark 2: frame extraction strategies on short and long videos, for dense, clustered and sparse frame sets.

Strategies, all through ``decode_video_frames``: one ffmpeg pass over the whole span (a ``select`` filter), one run
per frame (a seek each), and the default (``plan_segments``: separate runs only where a gap costs more than a new
run). Then, for the dense set, frames scaled while decoding (ffmpeg) against full-size decoding plus a PIL resize.
Videos are H.264 at 640 x 480, 30 fps, a keyframe every 2 s (what ``encode_video`` and LeRobot write), made by
ffmpeg's ``testsrc2`` source. Every strategy must return the same pixels (checked). Medians of ``--repeats`` runs,
measured in one run; the ratios against the default are what to read.

    .venv/bin/python benchmarks/frame_extraction.py [--long-seconds 120] [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import remot_data.frames as frames_module
from remot_data.frames import decode_video_frames, ffmpeg_exe, stored_size

FPS = 30
WIDTH, HEIGHT = 640, 480


def make_video(path: Path, seconds: int) -> Path:
    """Write an H.264 test-pattern video (moving, so every frame differs) of ``seconds`` at 640 x 480, 30 fps."""
    if not path.exists():
        subprocess.run(
            [ffmpeg_exe(), "-v", "error", "-nostdin", "-f", "lavfi", "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}",
             "-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", str(2 * FPS), "-y", str(path)],
            check=True,
        )  # fmt: skip
    return path


def frame_sets(n_frames: int) -> dict[str, list[int]]:
    """Return the frame sets: dense (every 3rd frame of 10 s), clustered (5 runs of 10), sparse (20 spread)."""
    mid = n_frames // 2
    return {
        "dense": list(range(mid, min(n_frames, mid + 10 * FPS), 3)),
        "clustered": sorted({c + k for c in np.linspace(0, n_frames - 11, 5, dtype=int) for k in range(10)}),
        "sparse": sorted(set(np.linspace(0, n_frames - 1, 20, dtype=int).tolist())),
    }


def timed(fn, repeats: int):
    """Return (median seconds, last result) of ``repeats`` calls."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def decode_with(seek_cost_pixels: int, video: Path, wanted: list[int], **kwargs) -> dict:
    """Decode with ``plan_segments`` set to a given cost of a new run (0: a run per frame; huge: one pass)."""
    saved = frames_module.SEEK_COST_PIXELS
    frames_module.SEEK_COST_PIXELS = seek_cost_pixels
    try:
        return decode_video_frames(video, wanted, fps=FPS, **kwargs)
    finally:
        frames_module.SEEK_COST_PIXELS = saved


def main() -> None:
    """Run every strategy on every video and frame set; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-seconds", type=int, default=10)
    parser.add_argument("--long-seconds", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "remot_bench")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    default = frames_module.SEEK_COST_PIXELS
    strategies = {"one pass": 10**15, "run per frame": 0, "segments (default)": default}
    print(f"seek cost of a new run: {default // (WIDTH * HEIGHT)} frames of {WIDTH} x {HEIGHT}")
    print("| video | frame set | frames | " + " | ".join(f"{s} s" for s in strategies) + " | best / default |")
    print("|---|---|---|" + "---|" * len(strategies) + "---|")
    worst_difference = 0
    for name, seconds in (("short", args.short_seconds), ("long", args.long_seconds)):
        video = make_video(args.cache / f"testsrc_{seconds}s.mp4", seconds)
        for set_name, wanted in frame_sets(seconds * FPS).items():
            times, results = {}, {}
            for strategy, cost in strategies.items():
                run = functools.partial(decode_with, cost, video, wanted)
                times[strategy], results[strategy] = timed(run, args.repeats)
            reference = results["segments (default)"]
            for result in results.values():
                assert result.keys() == reference.keys() == set(wanted), "a strategy lost frames"
                worst_difference = max(
                    worst_difference, max(int(np.abs(result[k].astype(int) - reference[k]).max()) for k in wanted)
                )
            ratio = min(times.values()) / times["segments (default)"]
            cells = " | ".join(f"{times[s]:.3f}" for s in strategies)
            print(f"| {name} ({seconds} s) | {set_name} | {len(wanted)} | {cells} | {ratio:.2f}x |")
    print(f"max pixel difference between strategies: {worst_difference}")

    video = make_video(args.cache / f"testsrc_{args.long_seconds}s.mp4", args.long_seconds)
    wanted = frame_sets(args.long_seconds * FPS)["dense"]
    size = stored_size((WIDTH, HEIGHT), 448)

    def full_then_pil() -> dict:
        full = decode_video_frames(video, wanted, fps=FPS)
        return {k: np.asarray(Image.fromarray(v).resize(size, Image.Resampling.BILINEAR)) for k, v in full.items()}

    scaled_s, scaled = timed(lambda: decode_video_frames(video, wanted, fps=FPS, max_side=448), args.repeats)
    pil_s, resized = timed(full_then_pil, args.repeats)
    mean_difference = float(np.mean([np.abs(scaled[k].astype(float) - resized[k]).mean() for k in wanted]))
    print(f"\n{len(wanted)} dense frames to {size[0]} x {size[1]}: scaled while decoding {scaled_s:.3f} s, "
          f"full decode + PIL resize {pil_s:.3f} s, ratio {pil_s / scaled_s:.2f}x "
          f"(mean pixel difference {mean_difference:.1f})")  # fmt: skip


if __name__ == "__main__":
    main()

"""Demo corpus, MOTChallenge part: street scenes with people walking and cars driving past a fixed camera.

People stroll, walk and hurry, cars brake and speed up (the pace changes every second or two).

Every frame is rendered from exactly the boxes written to ``gt/gt.txt`` (MOT17 format: class 1 pedestrian, 3 car;
visibility measured on the rendered frame, nearer objects hiding farther ones), so the pixels show the annotated
positions and counts. People enter and leave at both edges and turn around; deterministic from the seed.
Imports numpy and Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from remot_data.sources.mot import GT_PATH, SEQINFO

PEDESTRIAN, CAR = 1, 3


@dataclass(frozen=True, kw_only=True)
class DemoMotConfig:
    """Size and traffic of the demo street scenes.

    Attributes:
        n_sequences: Number of sequences (``DEMO-01`` ...).
        n_frames: Frames per sequence.
        fps: Frame rate.
        width: Frame width, pixels.
        height: Frame height, pixels.
        n_people: People per sequence (each walks in and out, some turn around).
        n_cars: Cars per sequence.
        seed: Seed of colours and paths.
    """

    n_sequences: int = 4
    n_frames: int = 200
    fps: float = 10.0
    width: int = 320
    height: int = 240
    n_people: int = 10
    n_cars: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        """Check sizes are positive."""
        if min(self.n_sequences, self.n_frames, self.width, self.height, self.fps) <= 0 or self.n_people < 0:
            raise ValueError(f"demo sizes must be > 0, got {self}")


@dataclass(frozen=True)
class _Walker:
    track_id: int
    mot_class: int
    colour: tuple[int, int, int]
    x: npt.NDArray[np.float64]  # box left per frame (NaN: not in the scene)
    foot_y: float
    width: float
    height: float


def _background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    sky = (int(rng.integers(110, 200)), int(rng.integers(150, 215)), int(rng.integers(200, 250)))
    image = Image.new("RGB", (width, height), sky)
    draw = ImageDraw.Draw(image)
    horizon = int(height * rng.uniform(0.38, 0.5))
    x = 0
    while x < width:  # a row of houses
        w = int(rng.integers(width // 10, width // 5))
        top = int(rng.integers(int(height * 0.02), horizon - 10))
        r, g, b = (int(c) for c in rng.integers(90, 200, size=3))
        draw.rectangle((x, top, x + w, horizon), fill=(r, max(g, 110), b))  # no red: see _walkers
        for wx in range(x + 6, x + w - 8, 14):
            draw.rectangle((wx, top + 8, wx + 6, top + 16), fill=(60, 70, 90))
        x += w
    pavement = tuple(int(v) for v in rng.integers(140, 200, size=3))
    draw.rectangle((0, horizon, width, int(height * 0.72)), fill=pavement)
    draw.rectangle((0, int(height * 0.72), width, height), fill=(80, 80, 85))  # road
    for lx in range(0, width, 40):
        draw.rectangle((lx, int(height * 0.86), lx + 20, int(height * 0.87)), fill=(230, 230, 230))
    return image


def _walkers(rng: np.random.Generator, config: DemoMotConfig) -> list[_Walker]:
    """Return people on the pavement and cars on the road, each with a box left per frame."""
    n, w, h = config.n_frames, config.width, config.height
    walkers = []
    for k in range(config.n_people + config.n_cars):
        is_car = k >= config.n_people
        if is_car:
            bw, bh = w * rng.uniform(0.22, 0.3), h * rng.uniform(0.16, 0.2)
            foot_y = h * rng.uniform(0.8, 0.95)
            speed = w * rng.uniform(0.2, 0.3) / config.fps  # px per frame
        else:
            scale = rng.uniform(0.8, 1.15)
            bw, bh = w * 0.055 * scale, h * 0.26 * scale
            foot_y = h * rng.uniform(0.5, 0.7)
            speed = w * rng.uniform(0.09, 0.14) / config.fps
        start = int(rng.integers(0, max(1, n - n // 4)))
        heading = 1 if rng.random() < 0.5 else -1
        x = np.full(n, np.nan)
        pos = -bw if heading > 0 else float(w)
        turn_at = int(rng.integers(start + 20, start + 60)) if (not is_car and rng.random() < 0.5) else -1
        # the pace changes every 1-2 s (strolling, walking, hurrying; a car brakes and speeds up)
        paces = (0.5, 1.0, 2.0)
        pace, change_at = 1.0, start
        for t in range(start, n):
            x[t] = pos
            if t == turn_at:
                heading = -heading
            if t == change_at:
                pace = float(rng.choice(paces))
                change_at = t + int(rng.integers(round(1.0 * config.fps), round(2 * config.fps) + 1))
            pos += heading * speed * pace
            if pos < -bw - 1 or pos > w + 1:
                break
        r, g, b = (int(c) for c in rng.integers(30, 255, size=3))
        colour = (r, max(g, 110), b)  # never red: red is the mark that names a question's object
        walkers.append(
            _Walker(
                track_id=k + 1,
                mot_class=CAR if is_car else PEDESTRIAN,
                colour=colour,
                x=x,
                foot_y=foot_y,
                width=bw,
                height=bh,
            )
        )
    return walkers


def _draw(draw: ImageDraw.ImageDraw, walker: _Walker, box: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = box
    if walker.mot_class == CAR:
        draw.rectangle((x0, y0 + (y1 - y0) * 0.35, x1, y1 - (y1 - y0) * 0.15), fill=walker.colour)
        draw.rectangle((x0 + (x1 - x0) * 0.2, y0, x1 - (x1 - x0) * 0.2, y0 + (y1 - y0) * 0.4), fill=walker.colour)
        for cx in (x0 + (x1 - x0) * 0.22, x1 - (x1 - x0) * 0.22):
            r = (y1 - y0) * 0.16
            draw.ellipse((cx - r, y1 - 2 * r, cx + r, y1), fill=(20, 20, 20))
        return
    head = (x1 - x0) * 0.5
    cx = (x0 + x1) / 2
    draw.ellipse((cx - head / 2, y0, cx + head / 2, y0 + head), fill=(235, 200, 170))
    draw.rectangle((x0, y0 + head, x1, y0 + (y1 - y0) * 0.62), fill=walker.colour)
    draw.rectangle((x0 + (x1 - x0) * 0.1, y0 + (y1 - y0) * 0.62, x1 - (x1 - x0) * 0.1, y1), fill=(40, 40, 70))


def render_sequence(seq_dir: Path, name: str, rng: np.random.Generator, config: DemoMotConfig) -> None:
    """Write one sequence: ``seqinfo.ini``, ``img1/%06d.jpg`` and the ``gt/gt.txt`` the frames were drawn from."""
    w, h = config.width, config.height
    background = _background(rng, w, h)
    walkers = _walkers(rng, config)
    (seq_dir / "img1").mkdir(parents=True, exist_ok=True)
    (seq_dir / GT_PATH).parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for t in range(config.n_frames):
        frame = background.copy()
        draw = ImageDraw.Draw(frame)
        labels = Image.new("I", (w, h), 0)  # which object owns each pixel: visibility is measured, not assumed
        label_draw = ImageDraw.Draw(labels)
        present = sorted((k for k in walkers if not np.isnan(k.x[t])), key=lambda k: k.foot_y)  # far ones first
        boxes = {}
        for walker in present:
            box = (float(walker.x[t]), walker.foot_y - walker.height, float(walker.x[t]) + walker.width, walker.foot_y)
            boxes[walker.track_id] = box
            _draw(draw, walker, box)
            label_draw.rectangle(box, fill=walker.track_id)
        owner = np.asarray(labels)
        for walker in present:
            x0, y0, x1, y1 = boxes[walker.track_id]
            full = max(1.0, (x1 - x0) * (y1 - y0))
            inside = owner[max(0, int(y0)) : max(0, int(y1)), max(0, int(x0)) : max(0, int(x1))]
            # Visibility (MOT's sense): the share of the whole box not hidden by another object; the part outside
            # the frame counts as visible there (truncation is its own measure).
            hidden = np.count_nonzero((inside != walker.track_id) & (inside != 0))
            visibility = float(np.clip(1.0 - hidden / full, 0.0, 1.0))
            rows.append(
                f"{t + 1},{walker.track_id},{x0:.1f},{y0:.1f},{x1 - x0:.1f},{y1 - y0:.1f},1,{walker.mot_class},"
                f"{visibility:.3f}"
            )
        frame.save(seq_dir / "img1" / f"{t + 1:06d}.jpg", quality=90)
    (seq_dir / GT_PATH).write_text("\n".join(rows) + "\n")
    (seq_dir / SEQINFO).write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate={config.fps:g}\nseqLength={config.n_frames}\n"
        f"imWidth={w}\nimHeight={h}\nimExt=.jpg\n"
    )


def write_demo_mot(root: Path, config: DemoMotConfig = DemoMotConfig()) -> Path:
    """Write the demo MOTChallenge sequences under ``root/train/`` (the benchmark's layout); return ``root``."""
    rng = np.random.default_rng(config.seed + 4049)
    for i in range(config.n_sequences):
        name = f"DEMO-{i + 1:02d}"
        render_sequence(Path(root) / "train" / name, name, rng, config)
    return Path(root)

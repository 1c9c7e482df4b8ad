"""What a training run leaves beside its checkpoints for people to read: rollout samples and curves of its metrics.

``rollouts.jsonl``: sampled completions with their rewards per component and advantage, every N steps (the first
place to spot reward hacking). ``metrics.png``: reward components, total reward and KL over steps, drawn from
``metrics.jsonl``. Pillow only; no torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROLLOUTS_LOG = "rollouts.jsonl"
METRICS_PLOT = "metrics.png"


def prompt_text(prompt) -> str:
    """Return the text of a conversational prompt (its images left out), or the prompt itself if it is text."""
    if isinstance(prompt, str):
        return prompt
    parts = []
    for message in prompt or []:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        else:
            parts += [item.get("text") or "" for item in content or [] if item.get("type") == "text"]
    return "\n".join(p for p in parts if p)


def write_rollouts(path: Path, step: int, prompts: Iterable, completions: Iterable, rewards: dict, advantages) -> int:
    """Append one line per rollout of a step: prompt text, completion text, each reward component, advantage.

    Returns:
        The number of lines written.
    """
    prompts, completions, advantages = list(prompts), list(completions), list(advantages)
    columns = {name: list(values) for name, values in rewards.items()}
    with Path(path).open("a", encoding="utf-8") as handle:
        for i, completion in enumerate(completions):
            record = {
                "step": step,
                "prompt": prompt_text(prompts[i]) if i < len(prompts) else None,
                "completion": prompt_text(completion),
                "rewards": {name: values[i] for name, values in columns.items() if i < len(values)},
                "advantage": advantages[i] if i < len(advantages) else None,
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(completions)


def plotted_series(records: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """Return the curves worth drawing: each reward component's mean, the total reward and the KL, by step.

    Validation records (``eval_`` keys) give curves of their own.
    """
    series: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        for key, value in record.items():
            name = key.removeprefix("eval_")  # validation records: the same curves, on the val split
            wanted = (name.startswith("rewards/") and name.endswith("/mean")) or name in ("reward", "kl", "sft/loss")
            if wanted and isinstance(value, int | float):
                series.setdefault(key, []).append((int(record["step"]), float(value)))
    return series


def render_metrics_plot(metrics_log: Path, path: Path) -> bool:
    """Draw ``metrics.png``: one small panel per curve of ``plotted_series``. Returns False when nothing to draw."""
    lines = Path(metrics_log).read_text(encoding="utf-8").splitlines() if Path(metrics_log).is_file() else []
    series = plotted_series([json.loads(line) for line in lines])
    if not series:
        return False
    font = ImageFont.load_default()
    panel_w, panel_h, pad = 320, 150, 36
    columns = 2
    rows = (len(series) + columns - 1) // columns
    image = Image.new("RGB", (columns * panel_w, rows * panel_h), "white")
    draw = ImageDraw.Draw(image)
    for index, (name, points) in enumerate(sorted(series.items())):
        x0, y0 = (index % columns) * panel_w, (index // columns) * panel_h
        steps, values = [p[0] for p in points], [p[1] for p in points]
        lo, hi = min(values), max(values)
        span_v, span_s = (hi - lo) or 1.0, (max(steps) - min(steps)) or 1
        draw.text((x0 + pad, y0 + 4), f"{name}  [{lo:.3g}, {hi:.3g}]", fill="black", font=font)
        box = (x0 + pad, y0 + 20, x0 + panel_w - 10, y0 + panel_h - 20)
        draw.rectangle(box, outline=(180, 180, 180))
        xy = [
            (
                box[0] + (s - min(steps)) / span_s * (box[2] - box[0]),
                box[3] - (v - lo) / span_v * (box[3] - box[1]),
            )
            for s, v in points
        ]
        if len(xy) > 1:
            draw.line(xy, fill=(40, 80, 160), width=2)
        else:
            draw.ellipse([xy[0][0] - 2, xy[0][1] - 2, xy[0][0] + 2, xy[0][1] + 2], fill=(40, 80, 160))
        draw.text((box[0], box[3] + 4), f"step {min(steps)}..{max(steps)}", fill="black", font=font)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    image.save(tmp, format="PNG")
    tmp.replace(path)
    return True

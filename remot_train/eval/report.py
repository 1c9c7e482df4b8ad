"""Evaluation reports: ``metrics.json``, ``report.md`` (the paper's Table 1 layout) and ``report.png`` (bar chart)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def describe(protocol: dict | None) -> str:
    """Return the decoding protocol of a report as one phrase (scored files: the predictions' own)."""
    if not protocol:
        return "predictions scored as given (how they were decoded is not known here)"
    text = f"{protocol['decoding']} decoding, {protocol['repeats']} generation(s) per item, seed {protocol['seed']}"
    if protocol.get("sampling"):
        text += ", sampling " + ", ".join(f"{k} {v}" for k, v in protocol["sampling"].items())
    return text + f", {protocol['processes']} process(es)"


def render_markdown(metrics: dict, *, title: str = "remot evaluation") -> str:
    """Return the Markdown report: Table 1 row, per-family and per-task metrics, diagnostics, controls."""
    table1 = metrics["table1"]
    columns = list(table1)
    header = "| model | " + " | ".join(f"{c} Ov | {c} Par" for c in columns) + " |"
    rule = "|---|" + "---|---|" * len(columns)
    row = "| this run | " + " | ".join(f"{_pct(table1[c]['Ov'])} | {_pct(table1[c]['Par'])}" for c in columns) + " |"
    lines = [
        f"# {title}",
        "",
        f"{metrics['n']} items. Avg. Ov {_pct(metrics['overall']['ov'])}, Par {_pct(metrics['overall']['par'])} "
        "(official: unweighted mean over tasks; camera items count their Avg Partial Match as Ov). "
        f"Exact Match {_pct(metrics['overall']['exact_match'])}, Per-Char {_pct(metrics['overall']['per_char'])}.",
        "",
        f"Protocol: {describe(metrics.get('protocol'))}.",
        "",
        "## Table 1 layout (%)",
        "",
        header,
        rule,
        row,
        "",
        "## Families",
        "",
        "| family | n | Ov | Par | Exact Match | Per-Char |",
        "|---|---|---|---|---|---|",
    ]
    for family, entry in metrics["by_family"].items():
        lines.append(
            f"| {family} | {entry['n']} | {_pct(entry['ov'])} | {_pct(entry['par'])} | {_pct(entry['exact_match'])} "
            f"| {_pct(entry['per_char'])} |"
        )
        for group, value in entry.get("camera_groups", {}).items():
            lines.append(f"| {family}: {group} | {entry['n']} | {_pct(value)} | | | |")
    lines += ["", "## Tasks", "", "| task | n | Exact Match | Per-Char |", "|---|---|---|---|"]
    lines += [
        f"| {t} | {e['n']} | {_pct(e['exact_match'])} | {_pct(e['per_char'])} |" for t, e in metrics["by_task"].items()
    ]
    lines += [
        "",
        "## Diagnostics",
        "",
        f"- average response words: {metrics['avg_response_words']:.1f}",
        f"- answer-parse failures (no <answer> tag): {metrics['parse_failures']}",
        f"- missing predictions: {metrics['missing_predictions']}",
        f"- logical consistency of the three pair answers: {_pct(metrics['consistency_rate'])} % "
        f"of {metrics['consistency_scorable']} scorable",
    ]
    if metrics.get("controls"):
        lines += [
            "",
            "## Temporal controls (images reversed / shuffled, truth transformed)",
            "",
            "| control | n | Exact Match | Per-Char |",
            "|---|---|---|---|",
            f"| original | {metrics['n']} | {_pct(metrics['overall']['exact_match'])} "
            f"| {_pct(metrics['overall']['per_char'])} |",
        ]
        lines += [
            f"| {k} | {c['n']} | {_pct(c['overall']['exact_match'])} | {_pct(c['overall']['per_char'])} |"
            for k, c in metrics["controls"].items()
        ]
    return "\n".join(lines) + "\n"


def render_png(metrics: dict, path: Path) -> None:
    """Write a bar chart of the Table 1 cells (Ov and Par per column) as a PNG."""
    table1 = metrics["table1"]
    font = ImageFont.load_default()
    bar_w, gap, height, top, left = 18, 30, 220, 30, 40
    width = left + max(1, len(table1)) * (2 * bar_w + gap) + 20
    image = Image.new("RGB", (max(width, 260), top + height + 40), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 8), "Ov (dark) / Par (light), %", fill="black", font=font)
    draw.line([(left - 4, top), (left - 4, top + height)], fill="black")
    for tick in (0, 50, 100):
        y = top + height - tick * height / 100
        draw.text((4, y - 6), str(tick), fill="black", font=font)
    for i, (column, cell) in enumerate(table1.items()):
        x = left + i * (2 * bar_w + gap)
        for j, (key, colour) in enumerate((("Ov", (40, 80, 160)), ("Par", (140, 170, 220)))):
            h = cell[key] * height
            draw.rectangle([x + j * bar_w, top + height - h, x + (j + 1) * bar_w - 2, top + height], fill=colour)
        draw.text((x, top + height + 6), column[:12], fill="black", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")


def write_reports(metrics: dict, out_dir: Path, *, title: str = "remot evaluation") -> None:
    """Write ``metrics.json``, ``scored_items.jsonl``, ``report.md`` and ``report.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {k: v for k, v in metrics.items() if k != "items"}
    (out_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    with (out_dir / "scored_items.jsonl").open("w", encoding="utf-8") as handle:
        for record in metrics.get("items", []):
            handle.write(json.dumps(record) + "\n")
    (out_dir / "report.md").write_text(render_markdown(metrics, title=title), encoding="utf-8")
    render_png(metrics, out_dir / "report.png")

"""A contact sheet PNG: a few triplets side by side with their question labels and answers, for a human to check."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
from PIL import Image, ImageDraw, ImageFont

from schemas import IMAGE_COLUMNS

THUMB = 200
TEXT_WIDTH = 420


def pick_examples(table: pa.Table, n: int) -> list[int]:
    """Return the indices of up to ``n`` rows (at least one per family and source), cycling over them and their kinds.

    Within a (family, source) the kinds are (negative method, mirrored), taken in turn, so every kind shows up.
    Only the small columns are read: the caller fetches the picked rows' images.
    """
    keys = table.select(["triplet_id", "family", "source", "negative_method", "mirrored"]).to_pylist()
    kinds: dict[tuple[str, str], dict[tuple[str, bool], list[int]]] = {}
    for index in sorted(range(len(keys)), key=lambda i: keys[i]["triplet_id"]):
        row = keys[index]
        kinds.setdefault((row["family"], row["source"]), {}).setdefault(
            (row["negative_method"], row["mirrored"]), []
        ).append(index)
    n = max(n, len(kinds))
    picked: list[int] = []
    turn = 0
    while len(picked) < n and any(any(k.values()) for k in kinds.values()):
        for group in sorted(kinds):
            left = [key for key in sorted(kinds[group]) if kinds[group][key]]
            if left and len(picked) < n:
                picked.append(kinds[group][left[turn % len(left)]].pop(0))
        turn += 1
    return picked


def write_contact_sheet(examples: list[dict[str, Any]], path: Path) -> None:
    """Write a PNG showing triplet rows (``pick_examples``): the three images, labels per pair, and the answers."""
    font = ImageFont.load_default()
    thumbs = [
        [Image.open(io.BytesIO(row[column]["bytes"])).convert("RGB") for column in IMAGE_COLUMNS] for row in examples
    ]
    for images in thumbs:
        for image in images:
            image.thumbnail((THUMB, THUMB))
    row_h = max([im.size[1] for images in thumbs for im in images] or [THUMB]) + 24
    sheet = Image.new("RGB", (3 * (THUMB + 10) + TEXT_WIDTH, max(1, len(examples)) * row_h + 10), "white")
    draw = ImageDraw.Draw(sheet)
    if not examples:
        draw.text((10, 10), "no triplets", fill="black", font=font)
    for r, row in enumerate(examples):
        y = 10 + r * row_h
        for c, (column, image) in enumerate(zip(IMAGE_COLUMNS, thumbs[r], strict=True)):
            role = column.removesuffix("_image")
            x = 10 + c * (THUMB + 10)
            sheet.paste(image, (x, y))
            draw.text(
                (x, y + image.size[1] + 4), f"{c + 1} {role} f{row[f'{role}_frame_index']}", fill="black", font=font
            )
        labels = row["labels"]
        per_pair = len(labels) // 3
        kind = " / ".join(
            x
            for x in (
                row["family"],
                row["subject"] and (f"{row['subject']} arm" if row["subject"] in ("left", "right") else row["subject"]),
                row["negative_method"],
                "mirrored" if row["mirrored"] else "",
            )
            if x
        )
        lines = [kind, row["clip_id"], f"answer {row['answer']}"]
        for p, pair in enumerate(("1->2", "1->3", "2->3")):
            lines.append(f"{pair}: " + ", ".join(labels[p * per_pair : (p + 1) * per_pair]))
        text = "\n".join(textwrap.fill(line, 64) for line in lines)
        draw.multiline_text((10 + 3 * (THUMB + 10), y), text, fill="black", font=font, spacing=4)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, format="PNG")

"""The whole demo corpus: ScanNet-format scenes and a LeRobot v3.0 robot dataset, written once, atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

from remot_data.demo.lerobot import DemoLeRobotConfig, write_demo_lerobot
from remot_data.demo.scannet import DemoScanNetConfig, write_demo_scannet

COMPLETE_MARKER = "COMPLETE"


def write_demo_corpus(root: Path, *, seed: int = 0) -> dict[str, Path]:
    """Write the demo corpus under ``root`` unless a complete one is there; return ``{source: input path}``.

    A half-written corpus (no ``COMPLETE`` marker) is removed and written again.
    """
    root = Path(root)
    paths = {"scannet": root / "scannet", "lerobot": root / "lerobot"}
    if (root / COMPLETE_MARKER).exists():
        return paths
    if root.exists():
        shutil.rmtree(root)
    write_demo_scannet(paths["scannet"], DemoScanNetConfig(seed=seed))
    write_demo_lerobot(paths["lerobot"], DemoLeRobotConfig(seed=seed))
    (root / COMPLETE_MARKER).write_text("demo corpus written by remot\n")
    return paths

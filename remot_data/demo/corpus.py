"""The whole demo corpus (ScanNet, LeRobot, MOTChallenge and nuScenes parts), written once."""

from __future__ import annotations

import shutil
from pathlib import Path

from remot_data.demo.lerobot import DemoLeRobotConfig, write_demo_lerobot
from remot_data.demo.mot import DemoMotConfig, write_demo_mot
from remot_data.demo.nuscenes import DemoNuScenesConfig, write_demo_nuscenes
from remot_data.demo.scannet import DemoScanNetConfig, write_demo_scannet
from remot_data.outputs import check_output_path, claim_output, is_output

COMPLETE_MARKER = "COMPLETE"


def write_demo_corpus(root: Path, *, seed: int = 0) -> dict[str, Path]:
    """Write the demo corpus under ``root`` unless a complete one is there; return ``{source: input path}``.

    A half-written corpus (remot's marker, no ``COMPLETE``) is written again; a folder remot did not make is refused.

    Raises:
        OutputError: If ``root`` exists and is not a remot demo corpus.
    """
    root = Path(root)
    paths = {
        "scannet": root / "scannet",
        "lerobot": root / "lerobot",
        "motchallenge": root / "mot",
        "nuscenes": root / "nuscenes",
    }
    check_output_path(root, kind="corpus")  # never a folder remot did not make
    if (root / COMPLETE_MARKER).exists() and all(p.exists() for p in paths.values()):
        return paths  # (a corpus from an older remot, without a part added since, is written again)
    if is_output(root, kind="corpus"):  # ours, half-written: its parts go, nothing else was ever in it
        (root / COMPLETE_MARKER).unlink(missing_ok=True)
        for path in paths.values():
            shutil.rmtree(path, ignore_errors=True)
    claim_output(root, kind="corpus")
    write_demo_scannet(paths["scannet"], DemoScanNetConfig(seed=seed))
    write_demo_lerobot(paths["lerobot"], DemoLeRobotConfig(seed=seed))
    write_demo_mot(paths["motchallenge"], DemoMotConfig(seed=seed))
    write_demo_nuscenes(paths["nuscenes"], DemoNuScenesConfig(seed=seed))
    (root / COMPLETE_MARKER).write_text("demo corpus written by remot\n")
    return paths

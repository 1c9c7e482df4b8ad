"""MOTChallenge fixtures: the demo street scenes (small), a built dataset from them, and the real TUD ground truth."""

from pathlib import Path

import pytest

from remot_data.demo.mot import DemoMotConfig, write_demo_mot
from remot_data.frames import FrameConfig
from remot_data.pipeline import SourceInput, build_dataset
from tests.factories.scannet import SMALL_BUILD

SMALL_MOT = DemoMotConfig(n_sequences=3, n_frames=90, width=240, height=180)
# Real MOTChallenge ground truth shipped by the motmetrics wheel (MIT), MOT15 style, no images.
TUD_SEQUENCES = {"TUD-Campus": 71, "TUD-Stadtmitte": 179}  # frames (MOT15's seqinfo: 25 fps, 640 x 480)


def tud_gt(name: str) -> Path:
    """Return the path of a TUD ``gt.txt`` inside the installed motmetrics wheel."""
    import motmetrics  # a dev dependency: its wheel is the test data

    return Path(motmetrics.__file__).parent / "data" / name / "gt.txt"


def write_sequence(seq: Path, gt_text: str, *, length: int, fps: float = 25.0, width: int = 640, height: int = 480):
    """Write a MOTChallenge sequence folder around a gt text (frames are small grey stills)."""
    from PIL import Image

    (seq / "gt").mkdir(parents=True, exist_ok=True)
    (seq / "gt" / "gt.txt").write_text(gt_text)
    (seq / "img1").mkdir(exist_ok=True)
    still = Image.new("RGB", (width, height), (128, 128, 128))
    for i in range(1, length + 1):
        still.save(seq / "img1" / f"{i:06d}.jpg", quality=50)
    (seq / "seqinfo.ini").write_text(
        f"[Sequence]\nname={seq.name}\nimDir=img1\nframeRate={fps:g}\nseqLength={length}\n"
        f"imWidth={width}\nimHeight={height}\nimExt=.jpg\n"
    )
    return seq


@pytest.fixture(scope="session")
def demo_mot_root(tmp_path_factory) -> Path:
    """Demo street scenes in the MOTChallenge layout (``train/DEMO-0k``)."""
    return write_demo_mot(tmp_path_factory.mktemp("mot_corpus"), SMALL_MOT)


@pytest.fixture(scope="session")
def built_mot_dataset(demo_mot_root, tmp_path_factory) -> Path:
    """A dataset built from the demo street scenes with the default config (preset v4)."""
    out = tmp_path_factory.mktemp("mot_dataset") / "ds"
    # 160 px: small enough to be quick, large enough that a marked pedestrian's box stays a visible rectangle
    config = SMALL_BUILD.model_copy(update={"frames": FrameConfig(max_side_px=160, jpeg_quality=85)})
    build_dataset([SourceInput(source="mot", path=demo_mot_root)], out, config)
    return out

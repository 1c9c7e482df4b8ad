import io
from pathlib import Path

import numpy as np
import pytest

from remot_data.errors import FrameExtractionError
from remot_data.frames import FrameConfig, decode_video_frame, decode_video_frames, probe_video, render_images
from remot_data.records import Clip, FrameRef, ImageSpec
from tests.factories.lerobot import frame_number_of, make_index_video


@pytest.fixture(scope="module")
def index_video(tmp_path_factory) -> Path:
    return make_index_video(tmp_path_factory.mktemp("video") / "index.mp4")


def test_probe_reads_size_and_rate(index_video):
    info = probe_video(index_video)
    assert (info.width, info.height, info.fps, info.pix_fmt) == (64, 48, 10.0, "yuv420p")


def test_one_pass_returns_exactly_the_asked_frames(index_video):
    frames = decode_video_frames(index_video, [0, 7, 8, 31, 39], fps=10)
    assert {n: frame_number_of(p) for n, p in frames.items()} == {0: 0, 7: 7, 8: 8, 31: 31, 39: 39}


def test_one_pass_after_a_seek_counts_from_the_seek_point(index_video):
    frames = decode_video_frames(index_video, [0, 1, 10], start_s=2.0, fps=10)
    assert {n: frame_number_of(p) for n, p in frames.items()} == {0: 20, 1: 21, 10: 30}


def test_one_pass_equals_decoding_each_frame_alone(index_video):
    together = decode_video_frames(index_video, [3, 17, 26], start_s=0.5, fps=10)
    for n in (3, 17, 26):
        alone = decode_video_frame(index_video, 0.5 + n / 10, fps=10)
        np.testing.assert_array_equal(together[n], alone)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    return make_index_video(tmp_path_factory.mktemp("video") / "long.mp4", n_frames=450, fps=30, width=32, height=24)


@pytest.mark.parametrize("step", [1, 2, 3], ids=["every frame", "every other", "every third"])
def test_hundreds_of_frames_come_from_one_pass(long_video, step):
    # one select term per run of frames: every other frame of 450 is 150+ terms, past ffmpeg's 100-term limit
    wanted = list(range(10, 440, step))
    frames = decode_video_frames(long_video, wanted, fps=30)
    assert sorted(frames) == wanted
    assert [frame_number_of(frames[n]) for n in wanted] == wanted
    for n in wanted[::37]:  # pixel-identical to decoding that frame alone
        np.testing.assert_array_equal(frames[n], decode_video_frame(long_video, n / 30, fps=30))


def test_frames_past_the_end_are_missing_not_invented(index_video):
    frames = decode_video_frames(index_video, [5, 45, 60], fps=10)
    assert sorted(frames) == [5]


def test_truncated_video_reports_the_unreadable_frames(index_video, tmp_path):
    truncated = tmp_path / "truncated.mp4"
    data = index_video.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    clip = Clip(
        source="lerobot",
        clip_id="episode_000000",
        fps=10.0,
        frames=tuple(FrameRef(frame_index=i, video_path=truncated, timestamp_s=i / 10) for i in range(40)),
    )
    images, failed = render_images(
        clip, [ImageSpec(frame_index=1), ImageSpec(frame_index=38)], FrameConfig(max_side_px=32)
    )
    assert ImageSpec(frame_index=38).key in failed
    assert str(truncated) in failed[ImageSpec(frame_index=38).key]
    assert ImageSpec(frame_index=38).key not in images


def test_unreadable_video_fails_every_frame_with_ffmpegs_reason(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 1000)
    clip = Clip(
        source="lerobot", clip_id="e", fps=10.0, frames=(FrameRef(frame_index=0, video_path=garbage, timestamp_s=0.0),)
    )
    images, failed = render_images(clip, [ImageSpec(frame_index=0)], FrameConfig(max_side_px=32))
    assert images == {} and "garbage.mp4" in failed[ImageSpec(frame_index=0).key]
    with pytest.raises(FrameExtractionError, match="garbage.mp4"):
        probe_video(garbage)


def test_mirror_and_crop_are_applied(tmp_path):
    import io

    from PIL import Image

    from remot_data.frames import encode_video

    ramp = np.tile(np.linspace(0, 250, 64, dtype=np.uint8)[None, :, None], (48, 1, 3))  # dark left, bright right
    video = tmp_path / "ramp.mp4"
    encode_video([ramp] * 5, video, fps=10)
    clip = Clip(
        source="lerobot",
        clip_id="e",
        fps=10.0,
        frames=tuple(FrameRef(frame_index=i, video_path=video, timestamp_s=i / 10) for i in range(5)),
    )
    from remot_data.records import CropBox

    specs = [
        ImageSpec(frame_index=2),
        ImageSpec(frame_index=2, mirror=True),
        ImageSpec(frame_index=2, crop=CropBox(x0=0.0, y0=0.0, x1=0.25, y1=1.0)),
    ]
    images, failed = render_images(clip, specs, FrameConfig(max_side_px=64))
    plain, mirrored, crop = (
        np.asarray(Image.open(io.BytesIO(images[s.key])), dtype=float).mean(axis=(0, 2)) for s in specs
    )
    assert not failed
    assert plain[:8].mean() < 60 < 190 < plain[-8:].mean()
    assert mirrored[:8].mean() > 190 and mirrored[-8:].mean() < 60  # flipped left-right
    assert crop.mean() < 70  # the left quarter only: dark


def test_small_frames_are_never_upscaled():
    from PIL import Image

    from remot_data.frames import apply_image_spec

    image = Image.new("RGB", (64, 48))
    assert apply_image_spec(image, ImageSpec(frame_index=0), FrameConfig(max_side_px=448)).size == (64, 48)
    assert apply_image_spec(image, ImageSpec(frame_index=0), FrameConfig(max_side_px=32)).size == (32, 24)


def test_marks_and_double_exposures_are_drawn_from_the_frames(tmp_path):
    from PIL import Image

    from remot_data.records import CropBox

    black, white = Image.new("RGB", (300, 200), (0, 0, 0)), Image.new("RGB", (300, 200), (250, 250, 250))
    black.save(tmp_path / "0.png")
    white.save(tmp_path / "1.png")
    clip = Clip(
        source="motchallenge",
        clip_id="s",
        frames=(
            FrameRef(frame_index=0, image_path=tmp_path / "0.png"),
            FrameRef(frame_index=1, image_path=tmp_path / "1.png"),
        ),
    )
    box = CropBox(x0=0.2, y0=0.25, x1=0.4, y1=0.75)
    specs = [
        ImageSpec(frame_index=0, ghost_frame_index=1),
        ImageSpec(frame_index=0, mark=box),
        ImageSpec(frame_index=1, ghost_frame_index=0, mark=box, mirror=True),
        ImageSpec(frame_index=0, ghost_frame_index=5),
    ]
    clip = Clip(
        **{
            **clip.__dict__,
            "frames": clip.frames
            + tuple(FrameRef(frame_index=i, image_path=tmp_path / "missing.png") for i in range(2, 6)),
        }
    )
    images, failed = render_images(clip, specs, FrameConfig(max_side_px=60, jpeg_quality=95))
    ghost, marked, both = (np.asarray(Image.open(io.BytesIO(images[s.key])), dtype=float) for s in specs[:3])
    assert ghost.shape == (40, 60, 3) and abs(ghost.mean() - 0.4 * 250) < 6  # 40 % of the earlier (white) frame
    red = (marked[..., 0] > 150) & (marked[..., 1] < 80)
    rows, cols = np.nonzero(red)
    assert red.sum() > 20 and cols.min() >= 10 and cols.max() <= 25 and rows.min() >= 9 and rows.max() <= 31
    red_both = (both[..., 0] > 150) & (both[..., 1] < 100) & (both[..., 2] < 100)
    assert np.nonzero(red_both)[1].mean() > 30  # the mark is drawn before the mirror: it moves to the right half
    assert specs[3].key in failed and "missing.png" in failed[specs[3].key]  # a ghost frame that cannot be read


def test_far_apart_frames_come_from_separate_seeks_and_equal_one_pass(long_video, monkeypatch):
    import remot_data.frames as frames_module

    wanted = [5, 6, 40, 200, 201, 430]
    one_pass = decode_video_frames(long_video, wanted, fps=30)
    monkeypatch.setattr(frames_module, "SEEK_COST_PIXELS", 20 * 32 * 24)  # a run pays off past 20 frames
    assert frames_module.plan_segments(wanted, frame_pixels=32 * 24) == [[5, 6], [40], [200, 201], [430]]
    runs = []
    original = frames_module._decode_segment
    monkeypatch.setattr(frames_module, "_decode_segment", lambda *a, **k: runs.append(a[1]) or original(*a, **k))
    segmented = decode_video_frames(long_video, wanted, fps=30)
    assert len(runs) == 4
    assert [frame_number_of(segmented[n]) for n in wanted] == wanted
    for n in wanted:
        np.testing.assert_array_equal(segmented[n], one_pass[n])


def test_frames_are_scaled_while_decoding_to_the_size_they_are_stored_at(index_video):
    from PIL import Image

    full = decode_video_frames(index_video, [3, 9], fps=10)
    small = decode_video_frames(index_video, [3, 9], fps=10, max_side=32)
    for n in (3, 9):
        assert small[n].shape == (24, 32, 3)
        expected = np.asarray(Image.fromarray(full[n]).resize((32, 24), Image.Resampling.BILINEAR), dtype=float)
        assert np.abs(small[n].astype(float) - expected).mean() < 8


def test_a_rewritten_video_is_probed_again(tmp_path):
    from remot_data.frames import encode_video

    video = tmp_path / "v.mp4"
    encode_video([np.zeros((48, 64, 3), np.uint8)] * 3, video, fps=10)
    assert probe_video(video).size == (64, 48)
    encode_video([np.zeros((24, 32, 3), np.uint8)] * 5, video, fps=10)
    assert probe_video(video).size == (32, 24)


def test_a_mirrored_image_is_its_twin_flipped_and_large_jpegs_decode_scaled(tmp_path):
    from PIL import Image

    from remot_data.records import CropBox

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:968, 0:1296]
    pixels = np.stack([x % 256, y % 256, (x // 7 + y // 5) % 256], axis=-1).astype(np.uint8)
    pixels[100:300, 200:500] = rng.integers(0, 255, size=(200, 300, 3))
    Image.fromarray(pixels).save(tmp_path / "0.jpg", quality=95)  # a ScanNet-size colour frame
    clip = Clip(
        source="scannet", clip_id="scene0000_00", frames=(FrameRef(frame_index=0, image_path=tmp_path / "0.jpg"),)
    )
    crop = CropBox(x0=0.1, y0=0.1, x1=0.7, y1=0.7)
    specs = [ImageSpec(frame_index=0), ImageSpec(frame_index=0, mirror=True), ImageSpec(frame_index=0, crop=crop)]
    images, failed = render_images(clip, specs, FrameConfig(max_side_px=448))
    plain, mirrored, cropped = (np.asarray(Image.open(io.BytesIO(images[s.key])), dtype=float) for s in specs)
    assert not failed and plain.shape == (335, 448, 3) and cropped.shape == (335, 448, 3)
    assert np.abs(mirrored[:, ::-1] - plain).mean() < 2  # the same pixels flipped (JPEG-encoded each)
    source = Image.open(tmp_path / "0.jpg").convert("RGB")
    full = np.asarray(source.resize((448, 335), Image.Resampling.BILINEAR), dtype=float)
    assert np.abs(plain - full).mean() < 6  # decoded at half scale, then resized: the same picture
    crop_full = source.crop((130, 97, 907, 678)).resize((448, 335), Image.Resampling.BILINEAR)
    assert np.abs(cropped - np.asarray(crop_full, dtype=float)).mean() < 6  # a crop still comes from enough pixels


def test_a_damaged_stretch_names_ffmpegs_complaint_for_its_frames_only(long_video, monkeypatch):
    import remot_data.frames as frames_module

    monkeypatch.setattr(frames_module, "SEEK_COST_PIXELS", 20 * 32 * 24)  # three runs: [5, 6], [200], [430]
    original = frames_module._decode_segment

    def damaged_middle(path, wanted, **kwargs):
        if kwargs["start_s"] > 6 and kwargs["start_s"] < 7:  # the run that seeks to frame 200
            return {}, "exit status 1: ['Invalid NAL unit size']"
        return original(path, wanted, **kwargs)

    monkeypatch.setattr(frames_module, "_decode_segment", damaged_middle)
    clip = Clip(
        source="lerobot",
        clip_id="e",
        fps=30.0,
        frames=tuple(FrameRef(frame_index=i, video_path=long_video, timestamp_s=i / 30) for i in range(450)),
    )
    specs = [ImageSpec(frame_index=n) for n in (5, 6, 200, 430)]
    images, failed = render_images(clip, specs, FrameConfig(max_side_px=32))
    assert set(failed) == {ImageSpec(frame_index=200).key}
    assert "Invalid NAL unit size" in failed[ImageSpec(frame_index=200).key]
    assert "long.mp4" in failed[ImageSpec(frame_index=200).key]
    assert len(images) == 3

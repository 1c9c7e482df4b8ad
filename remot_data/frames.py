"""Frame pixels: decode each needed frame once, crop/mirror/resize it, encode JPEG once, share it between triplets.

The only module that decodes source images and videos and the only one that starts processes (ffmpeg, through
ffmpeg-python; the binary comes from the imageio-ffmpeg wheel unless the caller names another). For one video, all
frames a clip needs are decoded by as few ffmpeg runs as pay off (each a seek, then a ``select`` filter over a
segment of nearby frames: ``plan_segments``), scaled while decoding to no more than the stored images need.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import re
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from remot_data.errors import FrameExtractionError, SourceFormatError
from remot_data.records import Clip, CropBox, ImageSpec
from remot_data.sources.paths import lies_inside, require_regular_file

STREAM_RE = re.compile(r"Stream #\S+.*?: Video: .*?(\d{2,5})x(\d{2,5}).*$", re.MULTILINE)
INPUT_RE = re.compile(r"^Input #0, (.+?), from ", re.MULTILINE)
# Demuxers of real video files. Anything else is refused before a frame is decoded: a concat list, an HLS or other
# playlist, an image2 pattern would make ffmpeg open files the list names, wherever they are.
VIDEO_DEMUXERS = frozenset(
    {"mov", "mp4", "matroska", "webm", "avi", "mpegts", "flv", "mpeg", "ogg", "asf", "ivf", "h264", "hevc", "nut"}
)
# Every ffmpeg input remot opens: local files only, and only those demuxers (ffmpeg refuses any other format before
# it opens what a list names; the demuxer named in the probe's header is checked again as a second layer).
VIDEO_INPUT_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": ",".join(sorted(VIDEO_DEMUXERS))}
FPS_RE = re.compile(r"([\d.]+) fps")
PIX_FMT_RE = re.compile(r"Video: [^,]+, (\w+)")


class FrameConfig(BaseModel):
    """How triplet images are stored (part of ``BuildConfig``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_side_px: int = Field(
        448,
        ge=16,
        le=4096,
        description="Longer side of stored images, pixels (aspect kept; smaller frames are kept as they are)",
        json_schema_extra={"flag": "--max-side"},
    )
    jpeg_quality: int = Field(
        90,
        ge=1,
        le=95,
        description="JPEG quality of stored images (PNG would be ~50x slower to encode and ~10x larger)",
    )
    ffmpeg_path: str | None = Field(
        None,
        description="ffmpeg binary to decode videos (default: the imageio-ffmpeg wheel's)",
        json_schema_extra={"flag": "--ffmpeg"},
    )


GHOST_WEIGHT = 0.4  # share of the earlier frame in a double exposure: faint, but its copy of a moving object shows


def apply_image_spec(
    image: Image.Image, spec: ImageSpec, config: FrameConfig, *, ghost: Image.Image | None = None
) -> Image.Image:
    """Return the frame (over its ghost frame, if any) marked, cropped, mirrored and resized as ``spec`` says."""
    if spec.ghost_frame_index is not None:
        if ghost is None:
            raise ValueError(f"image {spec.key} needs its ghost frame {spec.ghost_frame_index}")
        image = Image.blend(image.convert("RGB"), ghost.convert("RGB").resize(image.size), GHOST_WEIGHT)
    if spec.mark is not None:
        # the line must stay at least 2 px wide in the stored image, whatever the resize
        kept = max(image.size) * (max(spec.crop.x1 - spec.crop.x0, spec.crop.y1 - spec.crop.y0) if spec.crop else 1.0)
        image = draw_mark(image, spec.mark, min_line_px=math.ceil(2 * max(1.0, kept / config.max_side_px)))
    if spec.crop is not None:
        w, h = image.size
        box = (round(spec.crop.x0 * w), round(spec.crop.y0 * h), round(spec.crop.x1 * w), round(spec.crop.y1 * h))
        image = image.crop(box)
    size = stored_size(image.size, config.max_side_px)
    if size != image.size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    # last, so a mirrored image is exactly the flip of its unmirrored twin (render_images flips that one)
    return ImageOps.mirror(image) if spec.mirror else image


def stored_size(size: tuple[int, int], max_side_px: float) -> tuple[int, int]:
    """Return the size an image of ``size`` is stored at: longer side at most ``max_side_px``, aspect kept.

    Never upscaled: that invents no detail, only bytes.
    """
    scale = min(1.0, max_side_px / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def source_side_needed(spec: ImageSpec, config: FrameConfig) -> float:
    """Return the longer side a source frame needs for ``spec`` to keep full stored resolution (crops need more).

    A crop keeps a fraction of each side; dividing by the smaller fraction is enough whatever the frame's aspect.
    """
    if spec.crop is None:
        return float(config.max_side_px)
    return config.max_side_px / min(spec.crop.x1 - spec.crop.x0, spec.crop.y1 - spec.crop.y0)


MARK_COLOUR = (255, 0, 0)


def draw_mark(image: Image.Image, box: CropBox, *, min_line_px: int = 2) -> Image.Image:
    """Return a copy of the frame with a red rectangle around ``box`` (the object a question is about).

    The line is about 1/150 of the longer side and at least ``min_line_px`` (what keeps it visible after a resize).
    """
    marked = image.convert("RGB")
    w, h = marked.size
    line = max(min_line_px, round(max(w, h) / 150))
    ImageDraw.Draw(marked).rectangle(
        (round(box.x0 * w), round(box.y0 * h), round(box.x1 * w) - 1, round(box.y1 * h) - 1),
        outline=MARK_COLOUR,
        width=line,
    )
    return marked


def encode_jpeg(image: Image.Image, *, quality: int) -> bytes:
    """Return the image encoded as JPEG bytes."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def ffmpeg_exe(path: str | None = None) -> str:
    """Return the ffmpeg binary: ``path`` if given, else the imageio-ffmpeg wheel's."""
    if path:
        return path
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def check_ffmpeg(path: str | None = None) -> str:
    """Run ``ffmpeg -version`` once; return its first line.

    Raises:
        FrameExtractionError: Naming the binary when it cannot be run (a wrong ``--ffmpeg``).
    """
    exe = ffmpeg_exe(path)
    try:
        done = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as err:
        raise FrameExtractionError(f"ffmpeg {exe!r} cannot be run: {err}") from err
    if done.returncode != 0 or not done.stdout.startswith("ffmpeg"):
        raise FrameExtractionError(f"ffmpeg {exe!r} does not answer -version like ffmpeg: {done.stderr.strip()[-200:]}")
    return done.stdout.splitlines()[0]


@dataclass(frozen=True, kw_only=True)
class VideoInfo:
    """What ``probe_video`` reads from ffmpeg's stream header.

    Attributes:
        width: Frame width, pixels.
        height: Frame height, pixels.
        fps: Frame rate, when the header states one.
        pix_fmt: Pixel format (``yuv420p``), when the header states one.
    """

    width: int
    height: int
    fps: float | None
    pix_fmt: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """Return (width, height)."""
        return self.width, self.height


def probe_video(path: Path, *, exe: str | None = None) -> VideoInfo:
    """Read a video's frame size and rate from ``ffmpeg -i`` (the wheel ships no ffprobe).

    Remembered per process for the file as it is (path, size, modification time): LeRobot packs many episodes
    into one file, and a run of ffmpeg costs about as much as decoding a hundred frames.

    Raises:
        FrameExtractionError: If ffmpeg finds no video stream.
    """
    try:
        require_regular_file(path)  # ffmpeg would block on a FIFO
        stat = Path(path).stat()
    except (OSError, SourceFormatError) as err:
        raise FrameExtractionError(f"{path}: cannot read video: {err}") from err
    return _probe_video(str(path), stat.st_size, stat.st_mtime_ns, exe)


PROBE_TIMEOUT_S = 60  # reading a header takes milliseconds: anything longer is a file that is not a video


@functools.lru_cache(maxsize=1024)
def _probe_video(path: str, size: int, mtime_ns: int, exe: str | None) -> VideoInfo:
    command = (
        ffmpeg.input(str(path), **VIDEO_INPUT_OPTIONS).output("pipe:", format="null", t=0).compile(cmd=ffmpeg_exe(exe))
    )
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as err:
        raise FrameExtractionError(f"{path}: ffmpeg did not read its header within {PROBE_TIMEOUT_S} s") from err
    except OSError as err:
        raise FrameExtractionError(f"{path}: cannot start ffmpeg {command[0]!r}: {err}") from err
    text = done.stderr.decode("utf-8", "replace")
    if "Invalid argument" in text and INPUT_RE.search(text) is None:
        raise FrameExtractionError(
            f"{path}: ffmpeg does not read it as a video container; remot decodes video containers only "
            "(a playlist or concat list would make ffmpeg open the files it names): not a video file"
        )
    demuxer = INPUT_RE.search(text)
    if demuxer is not None and not set(demuxer.group(1).split(",")) & VIDEO_DEMUXERS:
        raise FrameExtractionError(
            f"{path}: ffmpeg reads it as a {demuxer.group(1)!r} input, not a video file; remot decodes video "
            "containers only (a playlist or concat list would make ffmpeg open the files it names)"
        )
    match = STREAM_RE.search(text)
    if match is None:
        raise FrameExtractionError(f"{path}: ffmpeg finds no video stream: {text.strip().splitlines()[-1:]}")
    fps = FPS_RE.search(match.group(0))
    pix_fmt = PIX_FMT_RE.search(match.group(0))
    return VideoInfo(
        width=int(match.group(1)),
        height=int(match.group(2)),
        fps=float(fps.group(1)) if fps else None,
        pix_fmt=pix_fmt.group(1) if pix_fmt else None,
    )


def encode_video(
    frames: Iterable[npt.NDArray[np.uint8]],
    path: Path,
    *,
    fps: float,
    exe: str | None = None,
    crf: int = 18,
    gop: int | None = None,
) -> None:
    """Encode RGB frames (H, W, 3) as an H.264/yuv420p mp4 at a constant frame rate.

    Raises:
        FrameExtractionError: With ffmpeg's complaint.
    """
    frames = list(frames)
    height, width = frames[0].shape[:2]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    stream = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", r=fps).output(
        str(path),
        vcodec="libx264",
        pix_fmt="yuv420p",
        crf=crf,
        g=gop or int(2 * fps),
        r=fps,
        an=None,
        movflags="+faststart",
    )
    try:
        stream.overwrite_output().run(
            cmd=ffmpeg_exe(exe),
            input=np.stack(frames).astype(np.uint8).tobytes(),
            capture_stdout=True,
            capture_stderr=True,
        )
    except ffmpeg.Error as error:
        tail = error.stderr.decode("utf-8", "replace")[-400:]
        raise FrameExtractionError(f"{path}: ffmpeg could not encode {len(frames)} frames: {tail}") from error


# ffmpeg 9's select filter fails ("Cannot allocate memory") on an expression of more than 100 terms.
MAX_SELECT_TERMS = 100


def frame_runs(wanted: list[int]) -> list[tuple[int, int]]:
    """Return sorted distinct frame numbers as inclusive runs of consecutive numbers.

    Example:
        >>> frame_runs([1, 2, 3, 7, 9, 10])
        [(1, 3), (7, 7), (9, 10)]
    """
    runs: list[tuple[int, int]] = []
    for n in wanted:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def select_expression(wanted: list[int]) -> tuple[str, list[int]]:
    """Return the ``select`` expression for the wanted frames and the frame numbers it emits, in order.

    One term per run of consecutive frames (``eq`` or ``between``); past ``MAX_SELECT_TERMS`` runs, one ``between``
    over the whole span: the frames in between are decoded anyway (one pass) and dropped while reading.

    Example:
        >>> select_expression([2, 3, 4, 9])
        ('between(n,2,4)+eq(n,9)', [2, 3, 4, 9])
    """
    runs = frame_runs(wanted)
    if len(runs) > MAX_SELECT_TERMS:
        return f"between(n,{wanted[0]},{wanted[-1]})", list(range(wanted[0], wanted[-1] + 1))
    terms = [f"eq(n,{a})" if a == b else f"between(n,{a},{b})" for a, b in runs]
    return "+".join(terms), wanted


# A new ffmpeg run (process start, seek, decode from the keyframe before) costs about as much as decoding and
# dropping 120 frames of 640 x 480 (benchmarks/frame_extraction.py, docs/performance.md); decoding costs about
# the same per pixel at other sizes. Wanted frames further apart than that are fetched by separate runs with a seek.
SEEK_COST_PIXELS = 120 * 640 * 480


def plan_segments(wanted: list[int], *, frame_pixels: int) -> list[list[int]]:
    """Split sorted frame numbers where decoding through the gap would cost more than a new run with a seek.

    Dense frames come from one pass (a ``select`` over the span); sparse ones from seeks; clusters from segments.

    Example:
        >>> plan_segments([0, 5, 10, 400, 401, 2000], frame_pixels=640 * 480)
        [[0, 5, 10], [400, 401], [2000]]
    """
    max_gap = max(1, SEEK_COST_PIXELS // max(1, frame_pixels))
    segments: list[list[int]] = []
    for n in wanted:
        if segments and n - segments[-1][-1] <= max_gap:
            segments[-1].append(n)
        else:
            segments.append([n])
    return segments


def decode_video_frames(
    path: Path,
    frame_numbers: Iterable[int],
    *,
    start_s: float = 0.0,
    fps: float,
    exe: str | None = None,
    max_side: float | None = None,
    failures: dict[int, str] | None = None,
) -> dict[int, npt.NDArray[np.uint8]]:
    """Decode the given frames of a video, each once, by the cheapest runs of ffmpeg (``plan_segments``).

    Args:
        path: Video file.
        frame_numbers: Frame numbers counted from the frame at ``start_s`` (0 = that frame).
        start_s: Time of frame 0; every run seeks to its first frame, so frames in the middle of a long file cost
            a decode from the previous keyframe, not from the file's start.
        fps: Frame rate of the video.
        exe: ffmpeg binary (None: the imageio-ffmpeg one).
        max_side: Scale frames while decoding (ffmpeg's bilinear scaler) so the longer side is at most this
            (``stored_size``), or None for the video's own size.
        failures: If given, filled with ``{frame_number: ffmpeg's complaint}`` for the missing frames of runs that
            failed (a damaged stretch of the file); frames missing without a complaint are past the file's end.

    Returns:
        ``{frame_number: RGB array (H, W, 3)}`` for every frame that could be decoded; a truncated file gives fewer
        entries than asked for (the caller names the missing ones).

    Raises:
        FrameExtractionError: If ffmpeg cannot read the file at all.
    """
    wanted = sorted(set(int(n) for n in frame_numbers))
    if not wanted:
        return {}
    info = probe_video(path, exe=exe)
    size = info.size if max_side is None else stored_size(info.size, max_side)
    frames: dict[int, npt.NDArray[np.uint8]] = {}
    errors: list[str] = []
    for segment in plan_segments(wanted, frame_pixels=info.width * info.height):
        first = segment[0]
        decoded, error = _decode_segment(
            path, [n - first for n in segment], start_s=start_s + first / fps, fps=fps, exe=exe, size=size, info=info
        )
        frames.update({n + first: pixels for n, pixels in decoded.items()})
        if error:
            errors.append(error)
            if failures is not None:
                failures.update({n: _decode_complaint(path, segment, error) for n in segment})
    if not frames and errors:
        raise FrameExtractionError(_decode_complaint(path, wanted, errors[0]))
    return frames


def _decode_complaint(path: Path, numbers: list[int], error: str) -> str:
    """Return what a failed decode says: the file, the first ten frame numbers and ffmpeg's complaint."""
    shown = numbers if len(numbers) <= 10 else [*numbers[:10], "..."]
    return f"{path}: ffmpeg could not decode frames {shown} ({error})"


def _decode_segment(
    path: Path,
    wanted: list[int],
    *,
    start_s: float,
    fps: float,
    exe: str | None,
    size: tuple[int, int],
    info: VideoInfo,
) -> tuple[dict[int, npt.NDArray[np.uint8]], str]:
    """Decode frames (numbered from the one at ``start_s``) in one ffmpeg run; return them and ffmpeg's complaint."""
    expression, emitted = select_expression(wanted)
    keep = set(wanted)
    width, height = size
    # Seek half a frame early: the first frame at or after that time is frame 0, even with rounded timestamps.
    stream = ffmpeg.input(str(path), ss=max(0.0, start_s - 0.5 / fps), **VIDEO_INPUT_OPTIONS)
    stream = stream.filter("select", expression)
    if size != info.size:
        stream = stream.filter("scale", width, height, flags="bilinear")
        if info.pix_fmt == "yuv420p" and width % 2 == 0 and height % 2 == 0:
            # scale in the video's own format, then convert to RGB once: ~1.5x faster than one scaler doing both
            # (and closer to PIL's bilinear; benchmarks/frame_extraction.py)
            stream = stream.filter("format", "yuv420p")
    command = (
        # -frames:v stops ffmpeg after the last emitted frame instead of decoding the rest of a long file.
        stream.output("pipe:", format="rawvideo", pix_fmt="rgb24", fps_mode="passthrough", **{"frames:v": len(emitted)})
        .global_args("-loglevel", "error", "-nostdin")
        .compile(cmd=ffmpeg_exe(exe))
    )
    frame_bytes = width * height * 3
    frames: dict[int, npt.NDArray[np.uint8]] = {}
    # Frames are read one at a time from the pipe and kept only when wanted: memory holds the wanted frames only,
    # whatever the span decoded. stderr goes to a file, so ffmpeg never blocks on a full pipe.
    with tempfile.TemporaryFile() as stderr:
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
        except OSError as err:
            raise FrameExtractionError(f"{path}: cannot start ffmpeg {command[0]!r}: {err}") from err
        with process:
            for number in emitted:
                data = process.stdout.read(frame_bytes)
                if len(data) < frame_bytes:
                    break
                if number in keep:
                    frames[number] = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
            process.stdout.close()
            code = process.wait()
        stderr.seek(0)
        tail = stderr.read().decode("utf-8", "replace").strip().splitlines()[-1:]
    return frames, (f"exit status {code}: {tail}" if code != 0 else "")


def decode_video_frame(path: Path, timestamp_s: float, *, fps: float, exe: str | None = None) -> npt.NDArray[np.uint8]:
    """Decode one frame by seeking to its time (the per-frame way; ``decode_video_frames`` is the fast way).

    Raises:
        FrameExtractionError: If that frame cannot be read.
    """
    frames = decode_video_frames(path, [0], start_s=timestamp_s, fps=fps, exe=exe)
    if 0 not in frames:
        raise FrameExtractionError(f"{path}: no frame at {timestamp_s:.3f} s")
    return frames[0]


def load_clip_frames(
    clip: Clip, positions: list[int], config: FrameConfig, *, side_needed: dict[int, float] | None = None
) -> tuple[dict[int, Image.Image], dict[int, str]]:
    """Decode the frames at the given clip positions: ffmpeg runs as ``plan_segments`` chooses, one open per file.

    Args:
        clip: The clip.
        positions: Positions in ``clip.frames``.
        config: The ffmpeg binary.
        side_needed: Per position, the longer side its images need (``source_side_needed``); frames are then
            decoded no larger than that (ffmpeg scales video frames while decoding; JPEG files decode at 1/2, 1/4
            or 1/8 scale when that is still enough). None: full size.
    """
    images: dict[int, Image.Image] = {}
    failed: dict[int, str] = {}
    by_video: dict[Path, list[int]] = {}
    for position in positions:
        frame = clip.frames[position]
        path = frame.video_path or frame.image_path
        if clip.root is not None and path is not None and path.exists() and not lies_inside(path, clip.root):
            failed[position] = f"{path}: a symbolic link out of the input {clip.root}; not read"
            continue
        if frame.video_path is not None:
            by_video.setdefault(frame.video_path, []).append(position)
            continue
        try:
            with Image.open(require_regular_file(frame.image_path)) as opened:
                if side_needed is not None:
                    opened.draft("RGB", stored_size(opened.size, side_needed[position]))
                images[position] = opened.convert("RGB")
        except SourceFormatError as err:  # a FIFO or device in place of a frame: never opened
            failed[position] = str(err)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as err:
            failed[position] = f"{frame.image_path}: cannot decode frame {frame.frame_index}: {err}"
    for video, video_positions in by_video.items():
        if clip.fps is None:
            raise FrameExtractionError(f"clip {clip.clip_id}: video frames need the clip's fps")
        start = min(clip.frames[p].timestamp_s for p in video_positions)
        numbers = {p: round((clip.frames[p].timestamp_s - start) * clip.fps) for p in video_positions}
        max_side = None if side_needed is None else max(side_needed[p] for p in video_positions)
        complaints: dict[int, str] = {}
        try:
            require_regular_file(video)  # ffmpeg would block on a FIFO
            decoded = decode_video_frames(
                video,
                numbers.values(),
                start_s=start,
                fps=clip.fps,
                exe=config.ffmpeg_path,
                max_side=max_side,
                failures=complaints,
            )
        except (FrameExtractionError, SourceFormatError, FileNotFoundError) as err:
            decoded, reason = {}, str(err)
        else:
            reason = f"{video}: video ends before this frame (truncated?)"
        for p, n in numbers.items():
            if n in decoded:
                images[p] = Image.fromarray(decoded[n])
            else:
                failed[p] = complaints.get(n, reason)
    return images, failed


def frames_needed(specs: Iterable[ImageSpec], config: FrameConfig) -> dict[int, float]:
    """Return the clip positions that images need (frames and ghost frames), each with the longer side it needs."""
    side_needed: dict[int, float] = {}
    for spec in specs:
        for position in (spec.frame_index, spec.ghost_frame_index):
            if position is not None:
                side_needed[position] = max(side_needed.get(position, 0.0), source_side_needed(spec, config))
    return side_needed


def render_images(
    clip: Clip, specs: Iterable[ImageSpec], config: FrameConfig
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Return JPEG bytes for each distinct image spec, keyed by ``ImageSpec.key``, and the specs that failed.

    Each source frame is decoded once however many specs use it, no larger than its largest use needs; an image
    is marked, cropped and resized once and encoded once; a mirrored image is its unmirrored twin's pixels flipped.

    Args:
        clip: The clip the specs index into (``spec.frame_index`` is a position in ``clip.frames``).
        specs: The images wanted.
        config: Size, quality and ffmpeg binary.

    Returns:
        ``({spec.key: jpeg_bytes}, {spec.key: reason})``: a frame that cannot be read is reported, never replaced.
    """
    specs = list({spec.key: spec for spec in specs}.values())
    side_needed = frames_needed(specs, config)
    frames, failed_frames = load_clip_frames(clip, sorted(side_needed), config, side_needed=side_needed)
    unmirrored: dict[str, Image.Image] = {}
    out: dict[str, bytes] = {}
    failed: dict[str, str] = {}
    for spec in specs:
        missing = [p for p in (spec.frame_index, spec.ghost_frame_index) if p is not None and p not in frames]
        if missing:
            failed[spec.key] = failed_frames[missing[0]]
            continue
        twin = dataclasses.replace(spec, mirror=False)
        if twin.key not in unmirrored:
            ghost = frames[spec.ghost_frame_index] if spec.ghost_frame_index is not None else None
            unmirrored[twin.key] = apply_image_spec(frames[spec.frame_index], twin, config, ghost=ghost)
        image = unmirrored[twin.key]
        out[spec.key] = encode_jpeg(ImageOps.mirror(image) if spec.mirror else image, quality=config.jpeg_quality)
    return out, failed

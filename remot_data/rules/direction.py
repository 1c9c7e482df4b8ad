"""Direction-flip rules. Camera rotation: the positive turns by +s from the anchor, the negative by -s.

Takes Clip records and motion-expert values, never a reader. Every dropped anchor becomes a Reject with a reason.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from remot_data.motion.camera import estimate_pan_tilt_deg, heading_elevation_deg, look_at_pose, pan_tilt_matrix_deg
from remot_data.records import Clip, CropBox, ImageSpec, Reject, TripletCandidate
from remot_data.rules.registry import CameraRotationConfig, ManipulationConfig
from remot_data.rules.retrieval import TIE_DECIMALS, RetrievalWindow, find_retrieval_triplets, retrieved_to_records
from remot_data.rules.timeline import Clock, rule_clock

CAMERA_ATTRIBUTES = ("pan_right_deg", "tilt_up_deg")


def classify_angle_deg(value: float, config: CameraRotationConfig, *, windowed: bool) -> tuple[int, float] | None:
    """Classify a signed angle as -1, 0 or +1 with its margin, or None when it is ambiguous or too large.

    Args:
        value: Signed angle, degrees.
        config: Thresholds.
        windowed: Whether the upper bound ``max_deg`` applies (pairs 1->2 and 1->3; not 2->3, which spans both).

    Returns:
        ``(sign, margin_deg)``: 0 inside the dead-band, ±1 for a stated rotation; None if the value lies between
        the dead-band and ``min_deg`` or (windowed) above ``max_deg``.

    Example:
        >>> from remot_data.rules.registry import load_rule_preset
        >>> cfg = load_rule_preset("v1").camera_rotation
        >>> classify_angle_deg(-12.0, cfg, windowed=True), classify_angle_deg(3.0, cfg, windowed=True)
        ((-1, 7.0), None)
    """
    size = abs(value)
    if size < config.dead_band_deg:
        return 0, config.dead_band_deg - size
    if size < config.min_deg:
        return None
    if windowed:
        if size > config.max_deg:
            return None
        return (1 if value > 0 else -1), min(size - config.min_deg, config.max_deg - size)
    return (1 if value > 0 else -1), size - config.min_deg


def _classify_pair(
    values: tuple[float, ...], config: CameraRotationConfig, *, windowed: bool
) -> tuple[tuple[int, ...], float] | None:
    results = [classify_angle_deg(v, config, windowed=windowed) for v in values]
    if any(r is None for r in results):
        return None
    return tuple(r[0] for r in results), min(r[1] for r in results)


def _focal_px(clip: Clip, config: CameraRotationConfig) -> float | None:
    if clip.focal_px is not None:
        return clip.focal_px
    if clip.image_width_px is None:
        return None
    return clip.image_width_px / (2.0 * math.tan(math.radians(config.default_hfov_deg) / 2.0))


def _crop_negative(
    clip: Clip, i: int, values_12: tuple[float, float], config: CameraRotationConfig
) -> tuple[CropBox, CropBox, npt.NDArray[np.float64]] | str:
    """Return (centre crop, shifted crop, virtual pose of the shifted crop) or the reason it cannot be made.

    A crop whose centre sits ``f·tan(θ)`` pixels off the principal point sees (to first order) what a camera turned
    by θ sees, so shifting the crop the opposite way of the positive's rotation simulates the opposite motion.
    """
    focal = _focal_px(clip, config)
    if focal is None or clip.image_width_px is None or clip.image_height_px is None:
        return "no_intrinsics"
    pan_12, tilt_12 = values_12
    # Opposite rotation: pan -pan_12 (image x grows to the right), tilt -tilt_12 (image y grows downwards).
    dx_px = focal * math.tan(math.radians(-pan_12))
    dy_px = -focal * math.tan(math.radians(-tilt_12))
    half = config.crop_fraction / 2.0
    cx, cy = 0.5 + dx_px / clip.image_width_px, 0.5 + dy_px / clip.image_height_px
    if not (half <= cx <= 1.0 - half and half <= cy <= 1.0 - half):
        return "crop_outside_frame"
    centre = CropBox(x0=0.5 - half, y0=0.5 - half, x1=0.5 + half, y1=0.5 + half)
    shifted = CropBox(x0=cx - half, y0=cy - half, x1=cx + half, y1=cy + half)
    # The virtual camera of the shifted crop looks along the ray through the crop centre.
    ray_cam = np.array([dx_px, dy_px, focal])
    ray_world = clip.T_world_cam[i, :3, :3] @ ray_cam
    virtual = look_at_pose(
        heading_deg=math.degrees(math.atan2(ray_world[1], ray_world[0])),
        elevation_deg=math.degrees(math.atan2(ray_world[2], math.hypot(ray_world[0], ray_world[1]))),
        position_xyz_m=tuple(clip.T_world_cam[i, :3, 3]),
    )
    return centre, shifted, virtual


def find_camera_rotation_triplets(
    clip: Clip, config: CameraRotationConfig
) -> tuple[list[TripletCandidate], list[Reject]]:
    """Find camera-rotation direction-flip triplets in one clip.

    For each anchor (every ``anchor_stride_s`` seconds, or ``anchor_stride`` frames when the clip has no times or the
    preset no seconds: ``rules/timeline.py``) the positive is the first frame ``frame_gap_s`` (``frame_gap``) later;
    its pan/tilt from the anchor must be unambiguous, within ``max_deg``, with at least one axis at ``min_deg`` or
    more. Negatives, per ``negative_methods``: ``retrieval`` takes the frame of the clip whose rotation from the
    anchor has the opposite sign on every rotating axis, no rotation on the others, and the closest magnitude
    (ratio at most ``max_magnitude_ratio``); ``crop`` shifts a crop of the anchor frame to simulate the opposite
    rotation (images 1 and 2 are then centre crops). Labels for 1->2, 1->3, 2->3 are (s, -s, -s) on each axis.

    Args:
        clip: A clip with ``T_world_cam``.
        config: Thresholds.

    Returns:
        ``(candidates, rejects)``: one candidate per anchor and method, one reject per dropped anchor and method.

    Raises:
        ValueError: If the clip has no poses.

    """
    if clip.T_world_cam is None:
        raise ValueError(f"clip {clip.clip_id}: camera rotation needs poses (T_world_cam), got none")
    pan, tilt = pan_tilt_matrix_deg(clip.T_world_cam)
    indices = np.array([f.frame_index for f in clip.frames])
    clock = rule_clock(
        clip,
        gap_s=config.frame_gap_s,
        stride_s=config.anchor_stride_s,
        gap_frames=config.frame_gap,
        stride_frames=config.anchor_stride,
    )
    # Pan is the change of world heading; a camera pitched by e sees it shrunk by about cos(e) in the image, so
    # frames looking steeply up or down are kept out (when the preset bounds it).
    _, elevation = heading_elevation_deg(clip.T_world_cam)
    level = np.abs(elevation) <= (config.max_abs_elevation_deg if config.max_abs_elevation_deg is not None else 90.0)
    candidates: list[TripletCandidate] = []
    rejects: list[Reject] = []

    def reject(i: int, reason: str, detail: str) -> None:
        rejects.append(
            Reject(
                stage="rule",
                source=clip.source,
                clip_id=clip.clip_id,
                reason=reason,
                detail=f"camera_rotation anchor frame {indices[i]}: {detail}",
                frame_index=int(indices[i]),
            )
        )

    for i in clock.anchors():
        later = np.nonzero(clock.at >= clock.at[i] + clock.gap - 1e-9)[0]
        if later.size == 0:
            continue  # the clip ends: not a dropped candidate, there is no candidate
        j = int(later[0])
        if not (level[i] and level[j]):
            steep = i if not level[i] else j
            reject(
                i,
                "camera_too_steep",
                f"frame {indices[steep]} looks {elevation[steep]:+.0f}° from the horizon, beyond "
                f"max_abs_elevation_deg {config.max_abs_elevation_deg}: its pan would not be what the image shows",
            )
            continue
        if clock.at[j] - clock.at[i] > clock.gap * 1.5:
            reject(
                i,
                "positive_frame_missing",
                f"next frame is at {clock.describe(clock.at[j])}, "
                f"wanted about {clock.describe(clock.at[i] + clock.gap)}",
            )
            continue
        v12 = (float(pan[i, j]), float(tilt[i, j]))
        c12 = _classify_pair(v12, config, windowed=True)
        if c12 is None or not any(c12[0]):
            reason = "positive_still" if c12 is not None else "positive_out_of_window"
            reject(
                i,
                reason,
                f"rotation to frame {indices[j]} is pan {v12[0]:+.1f}°, tilt {v12[1]:+.1f}°; "
                f"need each axis < {config.dead_band_deg}° or in [{config.min_deg}°, {config.max_deg}°], "
                "one axis rotating",
            )
            continue
        signs_12, margin_12 = c12
        magnitude = max(abs(v) for v in v12)
        for method in config.negative_methods:
            if method == "retrieval":
                found = _retrieve_negative(
                    i, j, signs_12, magnitude, pan, tilt, config, clip.T_world_cam[:, :3, 3], level, clock
                )
                if isinstance(found, str):
                    reject(
                        i,
                        found,
                        f"no frame rotates opposite to pan {v12[0]:+.1f}°, tilt {v12[1]:+.1f}° within the window"
                        + (
                            f" and {_negative_bounds(config, clock)} of the anchor"
                            if found == "negative_too_far"
                            else ""
                        ),
                    )
                    continue
                k, margin = found
                images = (ImageSpec(frame_index=i), ImageSpec(frame_index=j), ImageSpec(frame_index=k))
                v13 = (float(pan[i, k]), float(tilt[i, k]))
                v23 = (float(pan[j, k]), float(tilt[j, k]))
            else:
                made = _crop_negative(clip, i, v12, config)
                if isinstance(made, str):
                    reject(
                        i,
                        made,
                        f"cannot simulate pan {-v12[0]:+.1f}°, tilt {-v12[1]:+.1f}° "
                        f"by a crop of {config.crop_fraction:.0%}",
                    )
                    continue
                centre, shifted, virtual = made
                v13 = tuple(float(x) for x in estimate_pan_tilt_deg(clip.T_world_cam[i], virtual))
                v23 = tuple(float(x) for x in estimate_pan_tilt_deg(clip.T_world_cam[j], virtual))
                c13 = _classify_pair(v13, config, windowed=True)
                c23 = _classify_pair(v23, config, windowed=False)
                if c13 is None or c23 is None or c13[0] != tuple(-s for s in signs_12) or c23[0] != c13[0]:
                    reject(i, "crop_ambiguous", f"crop pairs read pan/tilt {v13} and {v23}")
                    continue
                margin = min(c13[1], c23[1])
                images = (
                    ImageSpec(frame_index=i, crop=centre),
                    ImageSpec(frame_index=j, crop=centre),
                    ImageSpec(frame_index=i, crop=shifted),
                )
            candidates.append(
                TripletCandidate(
                    source=clip.source,
                    clip_id=clip.clip_id,
                    family="camera_rotation",
                    rule="direction_flip",
                    negative_method=method,
                    images=images,
                    attribute_names=CAMERA_ATTRIBUTES,
                    values_12=v12,
                    values_13=v13,
                    values_23=v23,
                    magnitude=magnitude,
                    margin=min(margin_12, margin),
                )
            )
    return candidates, rejects


def _retrieve_negative(
    i: int,
    j: int,
    signs_12: tuple[int, ...],
    magnitude: float,
    pan: npt.NDArray[np.float64],
    tilt: npt.NDArray[np.float64],
    config: CameraRotationConfig,
    positions: npt.NDArray[np.float64],
    level: npt.NDArray[np.bool_],
    clock: Clock,
) -> tuple[int, float] | str:
    """Return (frame position, margin) of the best opposite-rotation frame for anchor i, or a reject reason.

    Best: closest magnitude to the positive's, then nearest in time. With ``max_negative_translation_m`` the camera
    may not have moved further than that from the anchor (farther, the image shows another part of the room and the
    heading cannot be read from it); with ``max_negative_time_s`` (on a clock in seconds) the frame may not lie
    further than that from the anchor in time.
    """
    max_time = config.max_negative_time_s if clock.unit == "s" else None
    wanted = tuple(-s for s in signs_12)
    best: tuple[float, int, int, float] | None = None
    too_far = False
    for k in range(pan.shape[0]):
        if k in (i, j) or not level[k]:
            continue
        c13 = _classify_pair((pan[i, k], tilt[i, k]), config, windowed=True)
        if c13 is None or c13[0] != wanted:
            continue
        c23 = _classify_pair((pan[j, k], tilt[j, k]), config, windowed=False)
        if c23 is None or c23[0] != wanted:
            continue
        mag_13 = max(abs(pan[i, k]), abs(tilt[i, k]))
        ratio = max(mag_13, magnitude) / max(min(mag_13, magnitude), 1e-9)
        if ratio > config.max_magnitude_ratio:
            continue
        limit = config.max_negative_translation_m
        far_in_space = limit is not None and float(np.linalg.norm(positions[k] - positions[i])) > limit
        if far_in_space or (max_time is not None and abs(clock.at[k] - clock.at[i]) > max_time):
            too_far = True
            continue
        score = (round(abs(mag_13 - magnitude), TIE_DECIMALS), abs(clock.at[k] - clock.at[i]))
        if best is None or score < best[:2]:
            best = (*score, k, min(c13[1], c23[1]))
    if best is None:
        return "negative_too_far" if too_far else "no_opposite_frame"
    return best[2], best[3]


def _negative_bounds(config: CameraRotationConfig, clock: Clock) -> str:
    bounds = []
    if config.max_negative_translation_m is not None:
        bounds.append(f"{config.max_negative_translation_m} m")
    if config.max_negative_time_s is not None and clock.unit == "s":
        bounds.append(f"{config.max_negative_time_s} s")
    return " and ".join(bounds)


# End-effector families: asked axes and the axes that must stay still in comparison (robot base frame x, y, z).
ARM_FAMILIES = {
    "move_lr": ((1,), (0, 2)),
    "lift_lower": ((2,), (0, 1)),
    "move_complex": ((1, 2), (0,)),
}
ARM_ATTRIBUTE_NAMES = {1: "left_m", 2: "up_m"}


def find_arm_direction_triplets(clip: Clip, config: ManipulationConfig) -> tuple[list[TripletCandidate], list[Reject]]:
    """Find end-effector direction-flip triplets (move_lr, lift_lower, move_complex) for every arm of the clip.

    Values are signed changes of the end effector in the robot base frame: ``left_m`` (y, + = the robot's left,
    which the head camera shows on the image's left) and ``up_m`` (z). Labels for 1->2, 1->3, 2->3 are (s, -s, -s).

    Returns:
        ``(candidates, rejects)``; the subject of each candidate is its arm.
    """
    candidates, rejects = [], []
    arms = sorted({name.split(".")[0] for name in clip.tracks if name.endswith(".ee_xyz_m")})
    for arm in arms:
        xyz = clip.tracks[f"{arm}.ee_xyz_m"]
        for family, (axes, off_axes) in ARM_FAMILIES.items():
            window = RetrievalWindow(
                min_delta=config.min_delta_m,
                max_delta=config.max_delta_m,
                off_axis_ratio=config.off_axis_ratio,
                balance=config.diagonal_balance,
                max_magnitude_ratio=config.max_magnitude_ratio,
            )
            found, dropped = find_retrieval_triplets(
                xyz[:, list(axes)], xyz[:, list(off_axes)], window, anchor_stride=config.anchor_stride
            )
            more, less = retrieved_to_records(
                clip,
                found,
                dropped,
                family=family,
                rule="direction_flip",
                attribute_names=tuple(ARM_ATTRIBUTE_NAMES[a] for a in axes),
                subject=arm,
                about=f"{arm} arm",
            )
            candidates += more
            rejects += less
    return candidates, rejects

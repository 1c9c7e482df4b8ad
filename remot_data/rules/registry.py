"""Versioned rule presets (``presets/<name>.yaml``) loaded into frozen pydantic models, validated as a whole.

The meaning of each threshold is written once, in ``presets/v4.yaml``; the models check types, unknown keys and
that thresholds are ordered, and name the file and field when they are not.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from remot_data.config_files import read_yaml_mapping, validate_document

PRESET_DIR = Path(__file__).resolve().parent / "presets"


def require_increasing(model: BaseModel, *names: str) -> None:
    """Raise unless the named fields of ``model`` strictly increase (a dead-band below a window's ends, say).

    Raises:
        ValueError: ``need a < b < c, got 1, 2, 2``.
    """
    values = [getattr(model, name) for name in names]
    if not all(low < high for low, high in zip(values, values[1:], strict=False)):
        raise ValueError(f"need {' < '.join(names)}, got {', '.join(repr(v) for v in values)}")


class _PresetSection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class CameraRotationConfig(_PresetSection):
    """Thresholds of the camera-rotation direction flip (meanings in ``presets/v4.yaml``).

    Attributes:
        frame_gap: Frames from anchor to positive (when the clip has no times or the preset no ``frame_gap_s``).
        anchor_stride: Frames between anchors (likewise).
        frame_gap_s: Seconds from anchor to positive (None: frames only).
        anchor_stride_s: Seconds between anchors (None: frames only).
        max_negative_time_s: Retrieval negatives within this time of the anchor (None: any).
        dead_band_deg: Below this |angle| reads as no rotation.
        min_deg: Smallest stated rotation.
        max_deg: Largest rotation from image 1 to images 2 and 3.
        max_magnitude_ratio: Allowed magnitude ratio between positive and retrieved negative.
        crop_fraction: Fraction of the frame each crop keeps.
        default_hfov_deg: Field of view used when intrinsics are missing.
        negative_methods: Negative methods to emit.
        max_negative_translation_m: Retrieval negatives within this camera distance of the anchor (None: any).
        max_abs_elevation_deg: Frames looking further up or down are not used (None: any).
    """

    frame_gap: int
    anchor_stride: int
    dead_band_deg: float
    min_deg: float
    max_deg: float
    max_magnitude_ratio: float
    crop_fraction: float
    default_hfov_deg: float
    negative_methods: tuple[Literal["retrieval", "crop"], ...]
    max_negative_translation_m: float | None = None
    max_abs_elevation_deg: float | None = None
    frame_gap_s: float | None = None
    anchor_stride_s: float | None = None
    max_negative_time_s: float | None = None

    @model_validator(mode="after")
    def _check(self) -> CameraRotationConfig:
        """Check the thresholds are ordered and in range."""
        if self.frame_gap < 1 or self.anchor_stride < 1:
            raise ValueError(
                f"frame_gap and anchor_stride must be >= 1, got {self.frame_gap!r}, {self.anchor_stride!r}"
            )
        if (self.frame_gap_s is None) != (self.anchor_stride_s is None):
            raise ValueError("frame_gap_s and anchor_stride_s are given together or not at all")
        for name in ("frame_gap_s", "anchor_stride_s", "max_negative_time_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 seconds, got {value!r}")
        if not 0.0 <= self.dead_band_deg <= self.min_deg < self.max_deg <= 90.0:
            raise ValueError(
                "need 0 <= dead_band_deg <= min_deg < max_deg <= 90, got "
                f"{self.dead_band_deg!r}, {self.min_deg!r}, {self.max_deg!r}"
            )
        if self.max_magnitude_ratio < 1.0:
            raise ValueError(f"max_magnitude_ratio must be >= 1.0, got {self.max_magnitude_ratio!r}")
        if not 0.1 <= self.crop_fraction < 1.0:
            raise ValueError(f"crop_fraction must be in [0.1, 1), got {self.crop_fraction!r}")
        if not 1.0 < self.default_hfov_deg < 179.0:
            raise ValueError(f"default_hfov_deg must be in (1, 179), got {self.default_hfov_deg!r}")
        if not self.negative_methods:
            raise ValueError("camera negative_methods must list at least one of ['retrieval', 'crop'], got []")
        return self


class QuestionConfig(_PresetSection):
    """Question-rendering settings (meanings in ``presets/v4.yaml``).

    Attributes:
        angle_distractor_max_deg: Largest distractor angle.
        angle_distractor_min_gap_deg: Smallest gap between offered angles, degrees.
        angle_distractor_min_gap_ratio: Smallest gap as a fraction of the larger angle.
        angle_distractor_policy: ``uniform`` (v1: anywhere in [1, max]) or ``around_truth`` (v2: the truth takes a
            uniformly drawn rank among the offered numbers, distractors stepped off it).
        angle_distractor_spread: ``around_truth``: each step is the gap times a factor drawn from [1, spread].
        angle_distractor_floor: ``around_truth``: a distractor step below 1 moves above the truth (``flip``, v2-v4)
            or lands between 1 and the gap below the options (``clamp``, v5), so a truth near the floor keeps its
            uniform rank.
        balance_directions: Exchange images 2 and 3 of half of the retrieval triplets (seeded), so the stated
            anchor->positive directions are balanced.
    """

    angle_distractor_max_deg: int
    angle_distractor_min_gap_deg: int
    angle_distractor_min_gap_ratio: float
    angle_distractor_policy: Literal["uniform", "around_truth"] = "uniform"
    angle_distractor_spread: float = 1.8
    angle_distractor_floor: Literal["flip", "clamp"] = "flip"
    balance_directions: bool = False

    @model_validator(mode="after")
    def _check(self) -> QuestionConfig:
        """Check that distractors can be drawn."""
        if self.angle_distractor_max_deg < 30 or self.angle_distractor_min_gap_deg < 1:
            raise ValueError(
                "angle_distractor_max_deg must be >= 30 and angle_distractor_min_gap_deg >= 1, got "
                f"{self.angle_distractor_max_deg!r}, {self.angle_distractor_min_gap_deg!r}"
            )
        return self

    def keeps_gap(self, angle: int, taken: list[int]) -> bool:
        """Return whether an angle option keeps the gap from every option already taken."""
        return all(
            abs(angle - t) >= max(self.angle_distractor_min_gap_deg, self.angle_distractor_min_gap_ratio * t)
            for t in taken
        )


class ManipulationConfig(_PresetSection):
    """Thresholds of the robot-arm families (meanings in ``presets/v4.yaml``).

    Attributes:
        anchor_stride: Frames between anchors.
        min_delta_m: Smallest end-effector change on an asked axis.
        max_delta_m: Largest change from image 1 to images 2 and 3.
        dead_band_m: Below this |change| a label reads "No movement".
        off_axis_ratio: Off-axis change limit, as a fraction of the asked change.
        diagonal_balance: move_complex axis balance.
        max_magnitude_ratio: Positive/negative magnitude ratio limit.
        gripper_min_delta: Smallest gripper closedness change.
        gripper_dead_band: Below this |change| the gripper label reads "No movement".
        mirror: Emit mirrored copies too.
    """

    anchor_stride: int
    min_delta_m: float
    max_delta_m: float
    dead_band_m: float
    off_axis_ratio: float
    diagonal_balance: float
    max_magnitude_ratio: float
    gripper_min_delta: float
    gripper_dead_band: float
    mirror: bool

    @model_validator(mode="after")
    def _check(self) -> ManipulationConfig:
        """Check the thresholds are ordered."""
        if self.anchor_stride < 1:
            raise ValueError(f"anchor_stride must be >= 1, got {self.anchor_stride!r}")
        if not 0.0 <= self.dead_band_m < self.min_delta_m < self.max_delta_m:
            raise ValueError(
                "need 0 <= dead_band_m < min_delta_m < max_delta_m, got "
                f"{self.dead_band_m!r}, {self.min_delta_m!r}, {self.max_delta_m!r}"
            )
        if not 0.0 <= self.gripper_dead_band < self.gripper_min_delta <= 1.0:
            raise ValueError(
                "need 0 <= gripper_dead_band < gripper_min_delta <= 1, got "
                f"{self.gripper_dead_band!r}, {self.gripper_min_delta!r}"
            )
        if self.off_axis_ratio <= 0 or self.diagonal_balance < 1 or self.max_magnitude_ratio < 1:
            raise ValueError("off_axis_ratio must be > 0, diagonal_balance and max_magnitude_ratio >= 1")
        return self


class ObjectsConfig(_PresetSection):
    """Thresholds of the object-box families, tracks and counts (meanings in ``presets/v4.yaml``).

    Attributes:
        anchor_stride_s: Seconds between anchors.
        max_time_s: Positive and negative within this many seconds of the anchor.
        count_categories: Counted subject (``pedestrians``) -> the object categories it counts.
        count_min_change: Smallest count change k.
        count_max_change: Largest count change k.
        min_visibility: Smallest visible fraction of a counted box.
        visibility_margin: Boxes this close to min_visibility (or max_truncation) make a count uncertain.
        max_truncation: Largest fraction of a counted box outside the frame.
        min_box_height: Smallest box height, as a fraction of the frame height.
        size_margin: Boxes within this fraction of min_box_height make a count uncertain.
        min_shift: Smallest horizontal move of a tracked box centre, fraction of the frame width.
        max_shift: Largest such move from image 1 to images 2 and 3.
        dead_band_shift: Below this |move| a label reads "No movement".
        off_axis_ratio: Vertical move limit, as a fraction of the horizontal move.
        max_magnitude_ratio: Positive/negative move ratio limit.
        mark_min_visibility: A marked object must be at least this visible in all three images.
        ghost_s: Speed images blend in the frame this many seconds earlier.
        min_ghost_shift: The object must move at least this fraction of the width in that time.
        speed_min_ratio: Smallest speed ratio stated as faster or slower.
        speed_max_ratio: Largest speed ratio from image 1 to images 2 and 3.
        speed_same_ratio: Below this ratio (either way) a label reads "About the same speed".
        mirror: Emit mirrored copies of track triplets too.
    """

    anchor_stride_s: float = Field(gt=0)
    max_time_s: float = Field(gt=0)
    count_categories: dict[str, tuple[str, ...]]
    count_min_change: int = Field(ge=1)
    count_max_change: int = Field(ge=1)
    min_visibility: float = Field(ge=0, le=1)
    visibility_margin: float = Field(ge=0, le=1)
    max_truncation: float = Field(ge=0, le=1)
    min_box_height: float = Field(gt=0, le=1)
    size_margin: float = Field(ge=0, lt=1)
    min_shift: float = Field(gt=0, le=1)
    max_shift: float = Field(gt=0, le=1)
    dead_band_shift: float = Field(ge=0)
    off_axis_ratio: float = Field(gt=0)
    max_magnitude_ratio: float = Field(ge=1)
    mark_min_visibility: float = Field(ge=0, le=1)
    ghost_s: float = Field(gt=0)
    min_ghost_shift: float = Field(gt=0, le=1)
    speed_min_ratio: float = Field(gt=1)
    speed_max_ratio: float = Field(gt=1)
    speed_same_ratio: float = Field(ge=1)
    mirror: bool

    @model_validator(mode="after")
    def _check(self) -> ObjectsConfig:
        """Check the thresholds are ordered."""
        if self.count_min_change > self.count_max_change:
            raise ValueError(
                f"need count_min_change <= count_max_change, got {self.count_min_change!r}, {self.count_max_change!r}"
            )
        require_increasing(self, "dead_band_shift", "min_shift", "max_shift")
        require_increasing(self, "speed_same_ratio", "speed_min_ratio", "speed_max_ratio")
        if not self.count_categories:
            raise ValueError("count_categories must name at least one counted subject")
        return self


class EgoConfig(_PresetSection):
    """Thresholds of the recording vehicle's own-motion families (meanings in ``presets/v4.yaml``).

    Attributes:
        anchor_stride_s: Seconds between anchors.
        max_time_s: Positive and negative within this many seconds of the anchor.
        turn_min_deg: Smallest stated turn.
        turn_max_deg: Largest turn from image 1 to images 2 and 3.
        turn_dead_band_deg: Below this |turn| a label reads "No turn".
        forward_min_m: Smallest stated move along the path.
        forward_max_m: Largest such move from image 1 to images 2 and 3.
        forward_dead_band_m: Below this |move| a label reads "No movement".
        forward_max_turn_deg: The heading may turn at most this much between any two images of a forward triplet.
        min_speed_mps: Slower than this, a frame's speed is not used (a standing car has no speed ratio).
        max_magnitude_ratio: Positive/negative magnitude ratio limit.
        mirror: Emit mirrored copies of turn triplets too.
    """

    anchor_stride_s: float = Field(gt=0)
    max_time_s: float = Field(gt=0)
    turn_min_deg: float = Field(gt=0)
    turn_max_deg: float = Field(gt=0, le=180)
    turn_dead_band_deg: float = Field(ge=0)
    forward_min_m: float = Field(gt=0)
    forward_max_m: float = Field(gt=0)
    forward_dead_band_m: float = Field(ge=0)
    forward_max_turn_deg: float = Field(gt=0)
    min_speed_mps: float = Field(gt=0)
    max_magnitude_ratio: float = Field(ge=1)
    mirror: bool

    @model_validator(mode="after")
    def _check(self) -> EgoConfig:
        """Check the thresholds are ordered."""
        require_increasing(self, "turn_dead_band_deg", "turn_min_deg", "turn_max_deg")
        require_increasing(self, "forward_dead_band_m", "forward_min_m", "forward_max_m")
        return self


class AuditConfig(_PresetSection):
    """Thresholds of the audit every build runs (meanings in ``presets/v4.yaml``; v1, which has none, never fails).

    Attributes:
        max_blind_gain: Largest accuracy above chance any blind policy may reach on a family.
        min_items: Families with fewer triplets are reported, not judged (too few to measure).
        max_cross_split_image_hashes: Near-identical images allowed in more than one split.
        max_cross_split_triplets: Near-identical triplets (all three images) allowed in more than one split.
        max_cross_split_triplet_share: Largest share of the distinct triplets that may recur in another split.
        max_image_hash_distance: Images whose average hashes differ in at most this many bits are near-identical
            (0: equal hashes only).
        image_hash_side: Average hashes are taken on side x side grey pixels (8: 64 bits, as v1/v2).
        compare_content: Hash images without their constant borders (letterbox bars) and compare triplets on what
            moves too (the difference of image 1 to images 2 and 3), not on the images alone (v5).
        decontaminate: Remove each val/test triplet that near-duplicates one of an earlier split (a rejects row
            names the match) instead of refusing the build (v5).
        max_decontaminated_share: Refuse the build when decontamination removes more than this share of a split:
            then the split assignment, not a few repeated takes, is wrong.
    """

    max_blind_gain: float = 1.0
    min_items: int = 30
    max_cross_split_image_hashes: int = 10**9
    max_cross_split_triplets: int = 10**9
    max_cross_split_triplet_share: float = Field(1.0, ge=0.0, le=1.0)
    max_image_hash_distance: int = Field(0, ge=0, le=64)
    image_hash_side: int = Field(8, ge=4, le=32)
    compare_content: bool = False
    decontaminate: bool = False
    max_decontaminated_share: float = Field(1.0, ge=0.0, le=1.0)


class RulePreset(_PresetSection):
    """A loaded preset: its name, the hash of its file, and the config of each rule.

    Attributes:
        name: Preset name (file stem).
        sha256: SHA-256 of the preset file's bytes.
        camera_rotation: Camera-rotation rule config.
        manipulation: Robot-arm rules config.
        questions: Question config.
        audit: Audit thresholds.
        objects: Object-box rules config (None: the preset predates them; object families are not built).
        ego: Recording-vehicle rules config (None: ego families are not built).
    """

    name: str
    sha256: str
    camera_rotation: CameraRotationConfig
    manipulation: ManipulationConfig
    questions: QuestionConfig
    audit: AuditConfig = AuditConfig()
    objects: ObjectsConfig | None = None
    ego: EgoConfig | None = None

    @model_validator(mode="after")
    def _ego_needs_objects(self) -> RulePreset:
        if self.ego is not None and self.objects is None:
            raise ValueError(
                "ego: the ego speed flip takes ghost_s and the speed ratios from objects; add that section"
            )
        return self

    @model_validator(mode="after")
    def _options_can_be_drawn(self) -> RulePreset:
        # Every stated camera angle needs two more angle options (three when the answer is "No rotation") that keep
        # the questions' gaps: checked here for each whole degree in the window, so rendering never searches in vain.
        q = self.questions
        answers = [None, *range(max(1, round(self.camera_rotation.min_deg)), round(self.camera_rotation.max_deg) + 1)]
        for answer in answers:
            taken = [] if answer is None else [answer]
            for angle in range(1, q.angle_distractor_max_deg + 1):
                if len(taken) == 3:
                    break
                if q.keeps_gap(angle, taken):
                    taken.append(angle)
            if len(taken) < 3:
                raise ValueError(
                    f"questions: angle options for a {answer or 'no'}-degree answer cannot be drawn: "
                    f"angle_distractor_max_deg={q.angle_distractor_max_deg} leaves no room for the gaps "
                    f"(min_gap_deg={q.angle_distractor_min_gap_deg}, min_gap_ratio={q.angle_distractor_min_gap_ratio})"
                )
        return self

    @property
    def short_hash(self) -> str:
        """Return the first 12 hex digits of the preset hash (stored in every row)."""
        return self.sha256[:12]


def _preset_path(name_or_path: str | Path, *, relative_to: Path | None = None) -> Path:
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = PRESET_DIR / f"{name_or_path}.yaml"
    elif relative_to is not None and not path.is_absolute():
        path = relative_to / path
    if not path.is_file():
        shipped = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"rule preset {str(name_or_path)!r} not found; shipped presets: {shipped}")
    return path


def _resolved_document(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict, str]:
    """Return a preset file's document with its ``extends:`` chain applied, and the hash of the chain's bytes.

    A preset that ``extends: v4`` holds only what differs: each section it names is the parent's section with its
    keys on top (a key it lists replaces the parent's value whole). The hash covers every file of the chain, so a
    change in a parent changes the child's hash too.

    Raises:
        ValueError: For a preset that extends itself through its chain.
    """
    if path.resolve() in seen:
        raise ValueError(f"{path}: extends itself through {[str(p) for p in seen]}")
    doc = read_yaml_mapping(path)
    digest = hashlib.sha256(path.read_bytes())
    parent_name = doc.pop("extends", None)
    if parent_name is None:
        return doc, digest.hexdigest()
    parent, parent_sha = _resolved_document(
        _preset_path(str(parent_name), relative_to=path.parent), (*seen, path.resolve())
    )
    parent.pop("name", None)
    for key, value in doc.items():
        if isinstance(value, dict) and isinstance(parent.get(key), dict):
            parent[key] = {**parent[key], **value}
        else:
            parent[key] = value
    digest.update(parent_sha.encode())
    return parent, digest.hexdigest()


def load_rule_preset(name_or_path: str | Path) -> RulePreset:
    """Load a rule preset by name (``v1``) or by path to a YAML file (``extends:`` applied).

    Raises:
        FileNotFoundError: If no such preset exists; the message lists the shipped ones.
        ValueError: Naming the file and the field that is missing, unknown or out of range.
    """
    path = _preset_path(name_or_path)
    document, sha256 = _resolved_document(path)
    name = str(document.get("name", path.stem))
    return validate_document(
        RulePreset, {**document, "name": name, "sha256": sha256}, source=str(path), what="rule preset"
    )

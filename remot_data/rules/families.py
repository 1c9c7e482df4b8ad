"""The family table: every question family's facts in one entry, and the rules that find them, in build order.

A family entry says which contrast rule makes it, which preset section its thresholds live in, the signed
attributes each pair carries (their axes and signs are the contract's, ``schemas/vocabulary.yaml`` ``attributes``),
the prompt template it is worded with, what reads as no change (its dead-band), the window its stated magnitudes
must lie in, and whether mirrored copies are made. The build (``pipeline/rows.py``), the question renderer, the
validation gate and the audit read these entries; none of them keeps a list of families of its own.

``RULES`` lists the rule functions in the order the build runs them on a clip (the order of the rows it writes):
each says which clips it applies to and which families it finds.

Adding a family: one ``FAMILIES`` entry, its rule (a ``RULES`` entry, or a family more of an existing rule), its
template (``questions/templates.py``), its words (``schemas/vocabulary.yaml``) and its tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from remot_data.records import Clip, FamilyName, Reject, RuleName, TripletCandidate
from remot_data.rules.direction import find_arm_direction_triplets, find_camera_rotation_triplets
from remot_data.rules.ego import find_ego_triplets, has_ego_motion
from remot_data.rules.objects import (
    COUNT_DEAD_BAND,
    find_count_triplets,
    find_object_direction_triplets,
    find_object_speed_triplets,
)
from remot_data.rules.registry import RulePreset
from remot_data.rules.state import find_gripper_triplets

Section = Literal["camera_rotation", "manipulation", "objects", "ego"]
Template = Literal["camera", "arm", "object"]


@dataclass(frozen=True, kw_only=True)
class Family:
    """One question family's facts.

    Attributes:
        name: Family name (the ``family`` column).
        rule: The contrast rule that makes it.
        section: Preset section its thresholds are read from (a preset without it does not build the family).
        attributes: Signed attribute of each value of a pair, in value order (``attribute_names``).
        template: Prompt wording: ``camera`` (the release's 12-question camera prompt), ``arm`` (the release's
            AgiBot prompt) or ``object`` (AgiBot-style prompts about a marked or counted subject).
        dead_band: Section config -> the |value| below which a pair reads as no change, in attribute units.
        window: Section config -> (min, max) of the stated 1->2 magnitude (and the largest 1->3 one).
        mirrored: Section config -> whether mirrored copies of its triplets are made too.
    """

    name: FamilyName
    rule: RuleName
    section: Section
    attributes: tuple[str, ...]
    template: Template
    dead_band: Callable[[Any], float]
    window: Callable[[Any], tuple[float, float]]
    mirrored: Callable[[Any], bool]

    def config(self, preset: RulePreset) -> Any:
        """Return the preset section this family reads.

        Raises:
            KeyError: Naming the preset and the section it lacks.
        """
        config = getattr(preset, self.section)
        if config is None:
            raise KeyError(f"preset {preset.name} has no {self.section} section for {self.name}")
        return config

    def dead_band_of(self, preset: RulePreset) -> float:
        """Return the family's dead-band under ``preset``."""
        return self.dead_band(self.config(preset))

    def window_of(self, preset: RulePreset) -> tuple[float, float]:
        """Return the family's magnitude window under ``preset``."""
        return self.window(self.config(preset))

    def is_mirrored(self, preset: RulePreset) -> bool:
        """Return whether mirrored copies of the family's triplets are made under ``preset``."""
        return self.mirrored(self.config(preset))


def _never(_config: Any) -> bool:
    return False


def _mirror_flag(config: Any) -> bool:
    return bool(config.mirror)


def _arm_window(m: Any) -> tuple[float, float]:
    return m.min_delta_m, m.max_delta_m


def _arm_dead_band(m: Any) -> float:
    return m.dead_band_m


def _speed_dead_band(o: Any) -> float:
    return math.log(o.speed_same_ratio)


def _speed_window(o: Any) -> tuple[float, float]:
    return math.log(o.speed_min_ratio), math.log(o.speed_max_ratio)


_ARM = dict(rule="direction_flip", section="manipulation", template="arm", dead_band=_arm_dead_band,
            window=_arm_window, mirrored=_mirror_flag)  # fmt: skip

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            name="camera_rotation",
            rule="direction_flip",
            section="camera_rotation",
            attributes=("pan_right_deg", "tilt_up_deg"),
            template="camera",
            dead_band=lambda c: c.dead_band_deg,
            window=lambda c: (c.min_deg, c.max_deg),
            mirrored=_never,  # its negatives come from the clip (retrieval, crops), never from a mirror
        ),
        Family(
            name="grab_release",
            rule="state_flip",
            section="manipulation",
            attributes=("gripper_closing",),
            template="arm",
            dead_band=lambda m: m.gripper_dead_band,
            window=lambda m: (m.gripper_min_delta, 1.0),
            mirrored=_mirror_flag,
        ),
        Family(name="lift_lower", attributes=("up_m",), **_ARM),
        Family(name="move_lr", attributes=("left_m",), **_ARM),
        Family(name="move_complex", attributes=("left_m", "up_m"), **_ARM),
        Family(
            name="object_count",
            rule="count_flip",
            section="objects",
            attributes=("count_change",),
            template="object",
            dead_band=lambda o: COUNT_DEAD_BAND,
            window=lambda o: (float(o.count_min_change), float(o.count_max_change)),
            mirrored=_never,  # a mirror changes no count
        ),
        Family(
            name="object_move_lr",
            rule="direction_flip",
            section="objects",
            attributes=("right_frac",),
            template="object",
            dead_band=lambda o: o.dead_band_shift,
            window=lambda o: (o.min_shift, o.max_shift),
            mirrored=_mirror_flag,
        ),
        Family(
            name="object_speed",
            rule="speed_flip",
            section="objects",
            attributes=("log_speed_ratio",),
            template="object",
            dead_band=_speed_dead_band,
            window=_speed_window,
            mirrored=_never,  # a mirror changes no speed
        ),
        Family(
            name="ego_turn",
            rule="direction_flip",
            section="ego",
            attributes=("turn_right_deg",),
            template="object",
            dead_band=lambda e: e.turn_dead_band_deg,
            window=lambda e: (e.turn_min_deg, e.turn_max_deg),
            mirrored=_mirror_flag,
        ),
        Family(
            name="ego_forward",
            rule="direction_flip",
            section="ego",
            attributes=("forward_m",),
            template="object",
            dead_band=lambda e: e.forward_dead_band_m,
            window=lambda e: (e.forward_min_m, e.forward_max_m),
            mirrored=_never,  # a mirror changes no distance
        ),
        Family(
            name="ego_speed",
            rule="speed_flip",
            section="objects",  # the speed ratios are the object speed flip's
            attributes=("log_speed_ratio",),
            template="object",
            dead_band=_speed_dead_band,
            window=_speed_window,
            mirrored=_never,
        ),
    )
}


def family(name: str) -> Family:
    """Return a family's entry.

    Raises:
        ValueError: For a family the table does not hold (the message lists those it does).
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown question family {name!r}; known families: {list(FAMILIES)}") from None


Found = tuple[list[TripletCandidate], list[Reject]]


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One rule function of the build, with the clips it applies to.

    Attributes:
        name: What the rule finds (for messages).
        families: The families it finds.
        applies: ``(clip, preset) -> bool``: whether the clip carries what the rule reads and the preset the
            sections it needs.
        find: ``(clip, preset) -> (candidates, rejects)``.
    """

    name: str
    families: tuple[FamilyName, ...]
    applies: Callable[[Clip, RulePreset], bool]
    find: Callable[[Clip, RulePreset], Found]


def _has_arm_tracks(clip: Clip, preset: RulePreset) -> bool:
    return any(name.endswith(".ee_xyz_m") or name.endswith(".gripper_closed") for name in clip.tracks)


def _find_manipulation(clip: Clip, preset: RulePreset) -> Found:
    candidates, rejects = find_arm_direction_triplets(clip, preset.manipulation)
    more, dropped = find_gripper_triplets(clip, preset.manipulation)
    return candidates + more, rejects + dropped


def _has_objects(clip: Clip, preset: RulePreset) -> bool:
    return clip.objects is not None and preset.objects is not None


RULES: tuple[Rule, ...] = (
    Rule(
        name="camera rotation",
        families=("camera_rotation",),
        applies=lambda clip, preset: clip.T_world_cam is not None,
        find=lambda clip, preset: find_camera_rotation_triplets(clip, preset.camera_rotation),
    ),
    Rule(
        name="robot arm and gripper",
        families=("move_lr", "lift_lower", "move_complex", "grab_release"),
        applies=_has_arm_tracks,
        find=_find_manipulation,
    ),
    Rule(
        name="object count",
        families=("object_count",),
        applies=_has_objects,
        find=lambda clip, preset: find_count_triplets(clip, preset.objects),
    ),
    Rule(
        name="object direction",
        families=("object_move_lr",),
        applies=_has_objects,
        find=lambda clip, preset: find_object_direction_triplets(clip, preset.objects),
    ),
    Rule(
        name="object speed",
        families=("object_speed",),
        applies=_has_objects,
        find=lambda clip, preset: find_object_speed_triplets(clip, preset.objects),
    ),
    Rule(
        name="recording vehicle",
        families=("ego_turn", "ego_forward", "ego_speed"),
        applies=lambda clip, preset: has_ego_motion(clip) and preset.ego is not None and preset.objects is not None,
        find=lambda clip, preset: find_ego_triplets(clip, preset.ego, preset.objects),
    ),
)

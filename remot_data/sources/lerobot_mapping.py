"""The LeRobot source's options: which features hold each arm's end effector (or joints) and gripper, and the camera.

Each quantity names its own feature, so layouts that keep end effector and gripper apart (AgiBot World) map as they
are. An arm's position is either recorded (``kind: position``: x/y/z names, metres in the robot base frame) or
computed from joint positions by forward kinematics over a URDF (``kind: joints``). Shipped mappings for robots
with openly licensed URDFs live in ``remot_data/robots/`` and are named by file stem (``--lerobot-mapping so101``).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from remot_data.config_files import read_yaml_mapping, validate_document
from remot_data.sources.paths import read_source_bytes, read_source_text

ROBOTS_DIR = Path(__file__).resolve().parents[1] / "robots"
ArmName = Literal["left", "right"]
# Steps per turn of the Feetech STS3215 and Dynamixel XL330/XL430 encoders LeRobot's arms use (its max_res + 1).
ENCODER_STEPS = 4096
# Motor buses whose LeRobot driver applies each motor's drive_mode to normalised readings (Feetech: SO-100/101).
DRIVE_MODE_APPLIED = {"feetech": True, "dynamixel": False}


def read_lerobot_calibration(path: Path) -> dict[str, tuple[int, int, int]]:
    """Return a LeRobot motor calibration file as motor -> (range_min, range_max, drive_mode).

    It is what ``lerobot-calibrate`` writes (``calibration/robots/<type>/<id>.json``); read once per process while
    the file stays unchanged (size and modification time).

    Raises:
        ValueError: Naming the file, the motor and the field that is missing or wrong.
    """
    try:
        stat = Path(path).stat()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read a LeRobot calibration file: {exc}") from exc
    return _read_lerobot_calibration(Path(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=16)
def _read_lerobot_calibration(path: Path, size: int, mtime_ns: int) -> dict[str, tuple[int, int, int]]:
    del size, mtime_ns  # part of the cache key only
    try:
        doc = json.loads(read_source_text(Path(path)))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read a LeRobot calibration file: {exc}") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected an object of motors, got {type(doc).__name__}")
    out = {}
    for motor, entry in doc.items():
        fields = [entry.get(k) if isinstance(entry, dict) else None for k in ("range_min", "range_max", "drive_mode")]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in fields) or fields[0] >= fields[1]:
            raise ValueError(
                f"{path}: motor {motor!r} needs whole range_min < range_max and drive_mode, got {entry!r:.120}"
            )
        out[str(motor)] = (fields[0], fields[1], fields[2])
    return out


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PositionNames(_Options):
    """An end-effector position the dataset records: three names of one feature (metres, robot base frame)."""

    kind: Literal["position"] = "position"
    feature: str | None = Field(None, description="Feature holding the values (default: the mapping's state_key)")
    x: str = Field(description="Name of the forward coordinate")
    y: str = Field(description="Name of the left coordinate")
    z: str = Field(description="Name of the up coordinate")

    def names(self) -> tuple[str, ...]:
        """Return the names this source reads, in column order."""
        return (self.x, self.y, self.z)

    @model_validator(mode="after")
    def _not_joint_names(self) -> PositionNames:
        # LeRobot names motor readings "<motor>.pos" (SO-100/101, Koch, ALOHA): joint angles, not metres.
        joints = [n for n in self.names() if n.endswith(".pos") or "joint" in n.lower()]
        if joints:
            raise ValueError(
                f"{joints} look like joint positions, not end-effector metres: map them with kind: joints and the "
                "robot's URDF (shipped: so101, unitree_g1_inspire)"
            )
        return self


class JointKinematics(_Options):
    """An end-effector position computed by forward kinematics from recorded joint positions."""

    kind: Literal["joints"] = "joints"
    feature: str | None = Field(None, description="Feature holding the joint values (default: the mapping's state_key)")
    urdf: Path = Field(description="URDF file; a relative path is resolved next to the mapping file, or in robots/")
    joints: dict[str, str] = Field(
        min_length=1, description="Recorded joint name -> URDF joint name (the recorded order does not matter)"
    )
    units: Literal["rad", "deg", "lerobot_range"] = Field(
        description="Unit of the recorded joint values (no default: say it): rad, deg, or lerobot_range (LeRobot's "
        "default -100..100 per motor over its calibrated range; needs calibration and motor_bus)"
    )
    calibration: Path | None = Field(
        None,
        description="With lerobot_range: the recording arm's LeRobot calibration file (calibration/robots/<type>/"
        "<id>.json); a recorded name '<motor>.pos' reads motor <motor>",
    )
    motor_bus: Literal["feetech", "dynamixel"] | None = Field(
        None, description="With lerobot_range: the arm's motors (feetech: SO-100/101; dynamixel: Koch)"
    )
    base_frame: str = Field(description="URDF frame the positions are expressed in: x forward, y left, z up")
    ee_frame: str = Field(description="URDF frame whose origin is the end effector")

    @model_validator(mode="after")
    def _calibration_with_range(self) -> JointKinematics:
        ranged = self.units == "lerobot_range"
        if ranged != (self.calibration is not None) or ranged != (self.motor_bus is not None):
            raise ValueError(
                "units lerobot_range needs calibration and motor_bus; rad and deg take neither"
                f" (units {self.units}, calibration {self.calibration}, motor_bus {self.motor_bus})"
            )
        if ranged:
            motors = read_lerobot_calibration(self.calibration)
            missing = [n for n in self.joints if n.removesuffix(".pos") not in motors]
            if missing:
                raise ValueError(f"{self.calibration}: no motor for {missing} (has {sorted(motors)})")
        return self

    def radians(self, recorded: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Return recorded joint values (columns in ``names()`` order) as radians.

        ``lerobot_range`` readings are turned into the angle LeRobot's ``use_degrees`` mode would have recorded for
        the same encoder position: ``(raw - mid) * 360 / (steps - 1)`` with ``raw`` from LeRobot's
        ``norm = (raw - min) / (max - min) * 200 - 100`` (negated first where the bus applies ``drive_mode``).

        Example:
            >>> import numpy as np
            >>> arm = JointKinematics(urdf="a.urdf", joints={"j": "j"}, units="deg", base_frame="b", ee_frame="e")
            >>> arm.radians(np.array([[180.0]])).round(4).tolist()
            [[3.1416]]
        """
        if self.units == "rad":
            return recorded
        if self.units == "deg":
            return np.deg2rad(recorded)
        motors = read_lerobot_calibration(self.calibration)
        degrees = np.empty_like(recorded, dtype=np.float64)
        for k, name in enumerate(self.names()):
            low, high, drive_mode = motors[name.removesuffix(".pos")]
            norm = -recorded[:, k] if drive_mode and DRIVE_MODE_APPLIED[self.motor_bus] else recorded[:, k]
            degrees[:, k] = norm / 200 * (high - low) * 360 / (ENCODER_STEPS - 1)
        return np.deg2rad(degrees)

    @field_validator("urdf")
    @classmethod
    def _shipped_urdf(cls, path: Path) -> Path:
        # A relative path that is not next to a mapping file (inline options) names a shipped URDF.
        return ROBOTS_DIR / path if not path.is_absolute() and (ROBOTS_DIR / path).is_file() else path

    def names(self) -> tuple[str, ...]:
        """Return the recorded joint names this source reads, in column order."""
        return tuple(self.joints)


class GripperSource(_Options):
    """Where a gripper's value is and which way is closed.

    Either ``open_value`` and ``closed_value`` (the robot's physical range: normalised by it, so a still gripper's
    noise never becomes a label) or ``closed_is`` (normalised over the dataset's range, which must reach
    ``min_range``).
    """

    feature: str | None = Field(None, description="Feature holding the value (default: the mapping's state_key)")
    name: str = Field(description="Name of the gripper value in the feature")
    open_value: float | None = Field(None, description="Recorded value of a fully open gripper")
    closed_value: float | None = Field(None, description="Recorded value of a fully closed gripper")
    closed_is: Literal["high", "low"] | None = Field(
        None, description="Without open/closed values: high = larger values are more closed (DROID), low = an opening"
    )
    min_range: float = Field(
        0.0, ge=0.0, description="With closed_is: the dataset's range of the value must reach this (recorded units)"
    )

    @model_validator(mode="after")
    def _one_sign(self) -> GripperSource:
        values = (self.open_value is not None, self.closed_value is not None)
        if values == (True, True):
            if self.closed_is is not None:
                raise ValueError("give either open_value and closed_value or closed_is, not both")
            if self.open_value == self.closed_value:
                raise ValueError(f"open_value and closed_value must differ, both are {self.open_value!r}")
        elif any(values):
            raise ValueError("open_value and closed_value go together")
        elif self.closed_is is None:
            raise ValueError("say which way the gripper closes: open_value and closed_value, or closed_is high|low")
        return self


class ArmMapping(_Options):
    """One arm: its end-effector position and its gripper (optional: an arm without one gets no grab_release)."""

    position: Annotated[PositionNames | JointKinematics, Field(discriminator="kind")]
    gripper: GripperSource | None = None


class LeRobotMapping(_Options):
    """How a LeRobot dataset's features map to arms, and which camera is the head/front view."""

    robot: str = Field("", description="Robot name, for people (e.g. so101, unitree_g1)")
    state_key: str = Field("observation.state", description="Default feature of every quantity that names none")
    video_key: str | None = Field(
        None, description="Head/front camera feature; may be omitted only when the dataset has one video feature"
    )
    arms: dict[ArmName, ArmMapping] = Field(min_length=1, description="Arm (left/right) -> its sources")

    def feature_of(self, source: PositionNames | JointKinematics | GripperSource) -> str:
        """Return the feature a quantity is read from."""
        return source.feature or self.state_key

    def digest(self) -> str:
        """Return a hash of the mapping and the URDF files it uses (part of every staged clip's key)."""
        digest = hashlib.sha256(self.model_dump_json().encode())
        for arm in self.arms.values():
            if isinstance(arm.position, JointKinematics):
                for path in (arm.position.urdf, arm.position.calibration):
                    if path is not None and path.is_file():
                        digest.update(read_source_bytes(path))
        return digest.hexdigest()[:16]


def shipped_mappings() -> list[str]:
    """Return the names of the mappings shipped in ``remot_data/robots/``."""
    return sorted(p.stem for p in ROBOTS_DIR.glob("*.yaml"))


def load_lerobot_mapping(name_or_path: str | Path) -> LeRobotMapping:
    """Load a mapping by shipped name (``so101``) or from a YAML file; relative URDF paths resolve next to the file.

    Raises:
        FileNotFoundError: If there is no such file or shipped mapping (the message lists the shipped ones).
        ValueError: Naming the file, the field and the value that is wrong.
    """
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        if str(name_or_path) not in shipped_mappings():
            raise FileNotFoundError(
                f"LeRobot mapping {str(name_or_path)!r} is neither a YAML file nor shipped; "
                f"shipped: {shipped_mappings()}"
            )
        path = ROBOTS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: LeRobot mapping file not found")
    doc = read_yaml_mapping(path)
    for arm in (doc.get("arms") or {}).values():
        position = arm.get("position") if isinstance(arm, dict) else None
        for key in ("urdf", "calibration"):  # files named relative to the mapping file
            if isinstance(position, dict) and isinstance(position.get(key), str):
                named = Path(position[key]).expanduser()
                if not named.is_absolute() and (path.parent / named).is_file():
                    named = (path.parent / named).resolve()
                position[key] = str(named)
    return validate_document(LeRobotMapping, doc, source=str(path), what="LeRobot mapping")

"""Forward kinematics of the shipped robots against an independent reference: the URDF's transforms composed by hand.

The reference below reads the URDF XML with the standard library and multiplies the joint transforms with numpy
(fixed rpy origin, then a rotation about the joint axis): nothing is shared with pinocchio, so a wrong joint order,
unit, frame or sign in remot's wiring shows up as a mismatch.
"""

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from remot_data.motion.kinematics import KinematicChain, check_chain, end_effector_positions
from remot_data.sources.lerobot import kinematic_chain
from remot_data.sources.lerobot_mapping import load_lerobot_mapping


def _rot(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k  # Rodrigues


def _rpy(r, p, y):
    return _rot([0, 0, 1], y) @ _rot([0, 1, 0], p) @ _rot([1, 0, 0], r)


def reference_positions(urdf, joints, base, ee, q):
    """End-effector origin in the base frame, by walking the URDF tree from each frame up to the root."""
    tree = ET.parse(urdf).getroot()
    parent_joint = {j.find("child").get("link"): j for j in tree.findall("joint")}
    angles = dict(zip(joints, q, strict=True))

    def world(link):
        transform = np.eye(4)
        while link in parent_joint:
            joint = parent_joint[link]
            origin = joint.find("origin")
            xyz = [float(v) for v in (origin.get("xyz", "0 0 0") if origin is not None else "0 0 0").split()]
            rpy = [float(v) for v in (origin.get("rpy", "0 0 0") if origin is not None else "0 0 0").split()]
            step = np.eye(4)
            step[:3, :3], step[:3, 3] = _rpy(*rpy), xyz
            if joint.get("type") in ("revolute", "continuous"):
                axis = [float(v) for v in joint.find("axis").get("xyz").split()]
                motion = np.eye(4)
                motion[:3, :3] = _rot(axis, angles.get(joint.get("name"), 0.0))
                step = step @ motion
            transform = step @ transform
            link = joint.find("parent").get("link")
        return transform

    return (np.linalg.inv(world(base)) @ world(ee))[:3, 3]


def _link_of_frame(urdf, frame):
    """Pinocchio also names joints as frames: the reference walks links, so map a joint frame to its child link."""
    tree = ET.parse(urdf).getroot()
    for joint in tree.findall("joint"):
        if joint.get("name") == frame:
            return joint.find("child").get("link")
    return frame


def _cases(n_joints, seed):
    rng = np.random.default_rng(seed)
    zero = np.zeros(n_joints)
    singles = [np.eye(n_joints)[k] * angle for k in range(n_joints) for angle in (0.5, -0.9)]
    return [zero, *singles, *rng.uniform(-1.2, 1.2, size=(4, n_joints))]


@pytest.mark.parametrize(
    "mapping, arm",
    [
        ("so101", "right"),
        ("unitree_g1_inspire", "left"),
        ("unitree_g1_inspire", "right"),
        ("remot_demo_joints", "left"),
    ],
)
def test_shipped_robots_match_the_reference(mapping, arm):
    position = load_lerobot_mapping(mapping).arms[arm].position
    chain = kinematic_chain(position)
    qs = np.array(_cases(len(chain.joints), seed=len(mapping)))
    ours = end_effector_positions(chain, qs)
    for q, got in zip(qs, ours, strict=True):
        expected = reference_positions(
            chain.urdf, chain.joints, _link_of_frame(chain.urdf, chain.base_frame), chain.ee_frame, q
        )
        assert_allclose(got, expected, atol=1e-9)


def test_known_answers_of_the_demo_arm():
    chain = kinematic_chain(load_lerobot_mapping("remot_demo_joints").arms["left"].position)
    q = np.array(
        [
            [0.0, 0.0, 0.0],  # straight ahead: shoulder (0, 0.27, 0.10) + 0.70 m along x
            [math.pi / 2, 0.0, 0.0],  # yawed a quarter turn left: 0.70 m along +y
            [0.0, -math.pi / 2, 0.0],  # pitched up (a positive pitch about +y lowers the arm)
            [0.0, 0.0, math.pi / 2],  # elbow bent down a quarter turn
        ]
    )
    expected = [[0.70, 0.27, 0.10], [0.0, 0.97, 0.10], [0.0, 0.27, 0.80], [0.35, 0.27, -0.25]]
    assert_allclose(end_effector_positions(chain, q), expected, atol=1e-12)


def test_a_chain_that_does_not_fit_its_urdf_is_named():
    urdf = load_lerobot_mapping("so101").arms["right"].position.urdf
    with pytest.raises(ValueError, match=r"no joints \['elbow'\]; its movable joints: \['shoulder_pan'"):
        check_chain(KinematicChain(urdf=urdf, joints=("elbow",), base_frame="base_link", ee_frame="gripper_frame_link"))
    with pytest.raises(ValueError, match=r"no frame 'tool0'"):
        check_chain(KinematicChain(urdf=urdf, joints=("elbow_flex",), base_frame="base_link", ee_frame="tool0"))
    with pytest.raises(ValueError, match=r"missing\.urdf: URDF file not found"):
        check_chain(KinematicChain(urdf=urdf.with_name("missing.urdf"), joints=(), base_frame="a", ee_frame="b"))
    with pytest.raises(ValueError, match=r"shape \(N, 1\)"):
        end_effector_positions(
            KinematicChain(urdf=urdf, joints=("elbow_flex",), base_frame="base_link", ee_frame="gripper_frame_link"),
            np.zeros((3, 2)),
        )


REAL_CALIBRATION = Path(__file__).resolve().parents[2] / "data" / "lerobot_calibration" / "so101_follower_black.json"


def test_lerobot_range_readings_become_the_angles_of_lerobots_degree_mode():
    # LeRobot's two ways of recording one encoder position `raw` of a calibrated motor (motors_bus.py _normalize):
    # DEGREES (raw - mid) * 360 / 4095, and the default RANGE_M100_100 (raw - min) / (max - min) * 200 - 100, negated
    # where the bus applies drive_mode (Feetech does). A real SO-101 calibration, encoder positions drawn inside it.
    calibration = json.loads(REAL_CALIBRATION.read_text())
    degrees_arm = load_lerobot_mapping("so101").arms["right"].position
    range_arm = degrees_arm.model_copy(
        update={"units": "lerobot_range", "calibration": REAL_CALIBRATION, "motor_bus": "feetech"}
    )
    type(range_arm).model_validate(range_arm.model_dump())  # a valid mapping, not only a copy
    rng = np.random.default_rng(3)
    motors = [name.removesuffix(".pos") for name in degrees_arm.names()]
    raw = np.stack([rng.integers(calibration[m]["range_min"], calibration[m]["range_max"], 50) for m in motors], 1)
    low = np.array([calibration[m]["range_min"] for m in motors])
    high = np.array([calibration[m]["range_max"] for m in motors])
    flip = np.array([calibration[m]["drive_mode"] == 1 for m in motors])
    degree_mode = (raw - (low + high) / 2) * 360 / 4095
    range_mode = np.where(flip, -1, 1) * ((raw - low) / (high - low) * 200 - 100)
    assert_allclose(range_arm.radians(range_mode), np.deg2rad(degree_mode), atol=1e-12)
    chain = kinematic_chain(degrees_arm)
    assert_allclose(
        end_effector_positions(chain, range_arm.radians(range_mode)),
        end_effector_positions(chain, degrees_arm.radians(degree_mode)),
        atol=1e-12,
    )


def test_lerobot_range_needs_the_arms_calibration(tmp_path):
    arm = load_lerobot_mapping("so101").arms["right"].position.model_dump()
    model = type(load_lerobot_mapping("so101").arms["right"].position)
    with pytest.raises(ValueError, match=r"units lerobot_range needs calibration and motor_bus"):
        model.model_validate({**arm, "units": "lerobot_range"})
    with pytest.raises(ValueError, match=r"rad and deg take neither"):
        model.model_validate({**arm, "calibration": REAL_CALIBRATION, "motor_bus": "feetech"})
    partial = tmp_path / "partial.json"
    partial.write_text(
        json.dumps({k: v for k, v in json.loads(REAL_CALIBRATION.read_text()).items() if k != "elbow_flex"})
    )
    with pytest.raises(ValueError, match=r"partial\.json: no motor for \['elbow_flex\.pos'\]"):
        model.model_validate({**arm, "units": "lerobot_range", "calibration": partial, "motor_bus": "feetech"})
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"shoulder_pan": {"range_min": 3000, "range_max": 100, "drive_mode": 0}}))
    with pytest.raises(ValueError, match=r"broken\.json: motor 'shoulder_pan' needs whole range_min < range_max"):
        model.model_validate({**arm, "units": "lerobot_range", "calibration": broken, "motor_bus": "feetech"})
    # in a mapping file, the calibration is named relative to that file
    (tmp_path / "arm.json").write_text(REAL_CALIBRATION.read_text())
    mapping = tmp_path / "so101_mine.yaml"
    text = (Path(__file__).resolve().parents[3] / "remot_data/robots/so101.yaml").read_text()
    mapping.write_text(
        text.replace("units: deg", "units: lerobot_range\n      calibration: arm.json\n      motor_bus: feetech")
    )
    loaded = load_lerobot_mapping(mapping).arms["right"].position
    assert loaded.calibration == (tmp_path / "arm.json").resolve() and loaded.units == "lerobot_range"

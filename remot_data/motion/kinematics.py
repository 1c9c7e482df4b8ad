"""Forward kinematics from a robot's URDF: joint positions -> end-effector positions in a chosen base frame.

Uses pinocchio (the kinematics library under placo, which LeRobot uses); nothing is hand-rolled. Pure computation:
takes arrays and a URDF path, never a reader.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, kw_only=True)
class KinematicChain:
    """A URDF's model with the joints a dataset records and the two frames positions are read between.

    Attributes:
        urdf: The URDF file.
        joints: URDF joint names, in the order of the columns of ``q``.
        base_frame: Frame the positions are expressed in (x forward, y left, z up for remot's arm conventions).
        ee_frame: Frame whose origin is the end effector.
    """

    urdf: Path
    joints: tuple[str, ...]
    base_frame: str
    ee_frame: str


@functools.lru_cache(maxsize=16)
def _load_model(urdf: str):
    import pinocchio as pin

    return pin.buildModelFromUrdf(urdf)


def check_chain(chain: KinematicChain) -> None:
    """Raise unless the URDF loads and names every joint and both frames of the chain.

    Raises:
        ValueError: Naming the URDF, what is missing and what it has.
    """
    if not Path(chain.urdf).is_file():
        raise ValueError(f"{chain.urdf}: URDF file not found")
    try:
        model = _load_model(str(chain.urdf))
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"{chain.urdf}: cannot load URDF: {err}") from err
    names = list(model.names)[1:]
    missing = [j for j in chain.joints if j not in names]
    if missing:
        raise ValueError(f"{chain.urdf}: no joints {missing}; its movable joints: {names}")
    single = [j for j in chain.joints if model.joints[model.getJointId(j)].nq != 1]
    if single:
        raise ValueError(f"{chain.urdf}: joints {single} are not single-valued (revolute/prismatic)")
    frames = {f.name for f in model.frames}
    for frame in (chain.base_frame, chain.ee_frame):
        if frame not in frames:
            raise ValueError(f"{chain.urdf}: no frame {frame!r}; frames: {sorted(frames)}")


def end_effector_positions(chain: KinematicChain, q_rad: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return the end-effector origin in the base frame for each row of joint positions.

    Joints of the URDF that the chain does not name stay at their neutral position (for a humanoid's arms with the
    base at the torso, the legs and waist do not matter).

    Args:
        chain: The URDF, the recorded joints and the two frames.
        q_rad: Joint positions, shape (N, len(chain.joints)), radians (metres for prismatic joints).

    Returns:
        Positions, shape (N, 3), metres, in ``chain.base_frame``.

    Raises:
        ValueError: If the chain does not fit the URDF or ``q_rad`` has the wrong shape.
    """
    import pinocchio as pin

    check_chain(chain)
    q_rad = np.asarray(q_rad, dtype=np.float64)
    if q_rad.ndim != 2 or q_rad.shape[1] != len(chain.joints):
        raise ValueError(f"joint positions must have shape (N, {len(chain.joints)}), got {q_rad.shape}")
    model = _load_model(str(chain.urdf))
    data = model.createData()
    columns = [model.joints[model.getJointId(j)].idx_q for j in chain.joints]
    base, ee = model.getFrameId(chain.base_frame), model.getFrameId(chain.ee_frame)
    q = pin.neutral(model)
    out = np.empty((len(q_rad), 3))
    for i, row in enumerate(q_rad):
        q[columns] = row
        pin.framesForwardKinematics(model, data, q)
        out[i] = (data.oMf[base].actInv(data.oMf[ee])).translation
    return out

"""Camera rotation expert: pan (horizontal) and tilt (vertical) angles between two camera-to-world poses.

Conventions (see ``remot_data/records.py``): world +z is up; cameras have OpenCV axes (x right, y down, z forward).
Signs: ``pan_right_deg > 0`` means the camera turned RIGHT (clockwise seen from above); ``tilt_up_deg > 0`` means
it tilted UP. Both are measured on the forward (optical) axis only, so roll about that axis never leaks into them:
pan is the signed change of heading of the forward axis projected on the ground plane, tilt the change of its
elevation. Pure numpy; imports nothing else.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

WORLD_UP = np.array([0.0, 0.0, 1.0])


def wrap_deg(angle_deg: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Wrap angles to [-180, 180) degrees.

    Example:
        >>> float(wrap_deg(190.0))
        -170.0
    """
    return (np.asarray(angle_deg, dtype=np.float64) + 180.0) % 360.0 - 180.0


def heading_elevation_deg(
    T_world_cam: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return the heading and elevation of each camera's forward axis.

    Args:
        T_world_cam: Camera-to-world poses, shape (4, 4) or (N, 4, 4).

    Returns:
        ``(heading_deg, elevation_deg)``, each of shape () or (N,). Heading is counter-clockwise from world +x seen
        from above (z up); elevation is positive above the horizon.
    """
    forward = np.asarray(T_world_cam, dtype=np.float64)[..., :3, 2]
    heading = np.degrees(np.arctan2(forward[..., 1], forward[..., 0]))
    elevation = np.degrees(np.arctan2(forward[..., 2], np.hypot(forward[..., 0], forward[..., 1])))
    return heading, elevation


def estimate_pan_tilt_deg(
    T_world_cam_1: npt.NDArray[np.float64], T_world_cam_2: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return the camera rotation from pose 1 to pose 2 as (pan_right_deg, tilt_up_deg).

    Args:
        T_world_cam_1: Camera-to-world pose(s) of the first view, shape (4, 4) or (N, 4, 4).
        T_world_cam_2: The same for the second view; broadcasts against the first.

    Returns:
        ``pan_right_deg`` in [-180, 180): positive = turned right; ``tilt_up_deg``: positive = tilted up.

    Example:
        >>> import numpy as np
        >>> T1 = np.eye(4); T1[:3, :3] = [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]  # looking along world +x
        >>> T2 = np.eye(4); T2[:3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]   # looking along world +y (to the left)
        >>> [round(float(a), 6) for a in estimate_pan_tilt_deg(T1, T2)]
        [-90.0, 0.0]
    """
    heading_1, elevation_1 = heading_elevation_deg(T_world_cam_1)
    heading_2, elevation_2 = heading_elevation_deg(T_world_cam_2)
    # Heading grows counter-clockwise (to the left) about +z, so a right turn is a decrease.
    pan_right = -wrap_deg(heading_2 - heading_1)
    tilt_up = elevation_2 - elevation_1
    return pan_right, tilt_up


def pan_tilt_matrix_deg(
    T_world_cam: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return pan and tilt between every ordered pair of poses of a clip.

    Args:
        T_world_cam: Camera-to-world poses, shape (N, 4, 4).

    Returns:
        ``(pan, tilt)``, each of shape (N, N); ``pan[i, j]`` is the rotation from frame i to frame j.
    """
    heading, elevation = heading_elevation_deg(T_world_cam)
    pan = -wrap_deg(heading[None, :] - heading[:, None])
    tilt = elevation[None, :] - elevation[:, None]
    return pan, tilt


def rotate_camera_deg(
    T_world_cam: npt.NDArray[np.float64], *, pan_right_deg: float, tilt_up_deg: float
) -> npt.NDArray[np.float64]:
    """Return the pose of a camera turned in place: first pan about world up, then tilt about its own x axis.

    Args:
        T_world_cam: Camera-to-world pose, shape (4, 4).
        pan_right_deg: Turn to the right, degrees.
        tilt_up_deg: Tilt upwards, degrees.

    Returns:
        New camera-to-world pose, shape (4, 4), same position.
    """
    pan = np.radians(-pan_right_deg)  # right turn = negative rotation about +z
    c, s = np.cos(pan), np.sin(pan)
    R_pan = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    # Tilting up turns forward (+z_cam) toward up (-y_cam): a positive rotation about the camera x axis.
    t = np.radians(tilt_up_deg)
    ct, st = np.cos(t), np.sin(t)
    R_tilt = np.array([[1.0, 0.0, 0.0], [0.0, ct, -st], [0.0, st, ct]])
    out = np.array(T_world_cam, dtype=np.float64, copy=True)
    out[:3, :3] = R_pan @ out[:3, :3] @ R_tilt
    return out


def look_at_pose(
    *,
    heading_deg: float,
    elevation_deg: float,
    roll_deg: float = 0.0,
    position_xyz_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> npt.NDArray[np.float64]:
    """Return a camera-to-world pose whose forward axis has the given heading and elevation.

    Args:
        heading_deg: Counter-clockwise from world +x, seen from above.
        elevation_deg: Above the horizon.
        roll_deg: Rotation about the forward axis (clockwise as seen by the camera).
        position_xyz_m: Camera centre in the world.

    Returns:
        Camera-to-world pose, shape (4, 4); with zero roll the camera's x axis is horizontal.
    """
    h, e = np.radians(heading_deg), np.radians(elevation_deg)
    forward = np.array([np.cos(e) * np.cos(h), np.cos(e) * np.sin(h), np.sin(e)])
    right = np.cross(forward, WORLD_UP)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    r = np.radians(roll_deg)
    right_r = np.cos(r) * right + np.sin(r) * down
    down_r = np.cross(forward, right_r)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2] = right_r, down_r, forward
    T[:3, 3] = position_xyz_m
    return T

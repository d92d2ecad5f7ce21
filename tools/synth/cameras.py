"""The six nuScenes-like cameras of the synthetic ego vehicle.

Ego frame (as nuScenes' ego pose): x forward, y left, z up, origin on the ground under the rear
axle. Camera frame (as OpenCV and nuScenes): x right, y down, z forward. Images are 1600x900.
Intrinsics and extrinsics are rounded nuScenes values: fx = fy ~ 1266 for five cameras and ~809
for the wide CAM_BACK, principal point at the image centre, cameras ~1.5 m high, level, with
yaws CAM_FRONT 0, CAM_FRONT_LEFT +55, CAM_FRONT_RIGHT -55, CAM_BACK 180, CAM_BACK_LEFT +110,
CAM_BACK_RIGHT -110 degrees (positive = to the left).
"""

import math
from dataclasses import dataclass

import numpy as np

WIDTH = 1600
HEIGHT = 900

# DriveLM's image_paths order (and the order the reference fine-tune feeds the images in).
CAMERA_NAMES = (
    "CAM_FRONT",
    "CAM_FRONT_LEFT",
    "CAM_FRONT_RIGHT",
    "CAM_BACK",
    "CAM_BACK_LEFT",
    "CAM_BACK_RIGHT",
)

# Where an object seen by a camera is, relative to the ego vehicle, in DriveLM's words.
CAMERA_DIRECTION = {
    "CAM_FRONT": "front",
    "CAM_FRONT_LEFT": "front left",
    "CAM_FRONT_RIGHT": "front right",
    "CAM_BACK": "back",
    "CAM_BACK_LEFT": "back left",
    "CAM_BACK_RIGHT": "back right",
}


@dataclass(frozen=True)
class Camera:
    name: str
    yaw_deg: float
    x: float
    y: float
    z: float
    fx: float
    fy: float
    cx: float = WIDTH / 2.0
    cy: float = HEIGHT / 2.0

    @property
    def yaw(self) -> float:
        return math.radians(self.yaw_deg)

    def rotation(self) -> np.ndarray:
        """Rows: the camera's right, down and forward axes in ego coordinates.  # [3, 3]"""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.array([[s, -c, 0.0], [0.0, 0.0, -1.0], [c, s, 0.0]])

    def position(self) -> np.ndarray:
        return np.array([self.x, self.y, self.z])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """Ego-frame points [N, 3] -> camera-frame points [N, 3]."""
        return (points - self.position()) @ self.rotation().T

    def project(self, cam_points: np.ndarray) -> np.ndarray:
        """Camera-frame points [N, 3] with z > 0 -> full-resolution pixels [N, 2]."""
        z = cam_points[:, 2]
        return np.stack(
            [self.fx * cam_points[:, 0] / z + self.cx, self.fy * cam_points[:, 1] / z + self.cy],
            axis=1,
        )


def make_cameras():
    """The six cameras in CAMERA_NAMES order."""
    f = 1266.4
    f_back = 809.2
    return (
        Camera("CAM_FRONT", 0.0, 1.70, 0.00, 1.51, f, f),
        Camera("CAM_FRONT_LEFT", 55.0, 1.52, 0.49, 1.51, f, f),
        Camera("CAM_FRONT_RIGHT", -55.0, 1.52, -0.49, 1.51, f, f),
        Camera("CAM_BACK", 180.0, 0.03, 0.00, 1.57, f_back, f_back),
        Camera("CAM_BACK_LEFT", 110.0, 1.04, 0.48, 1.56, f, f),
        Camera("CAM_BACK_RIGHT", -110.0, 1.04, -0.48, 1.56, f, f),
    )

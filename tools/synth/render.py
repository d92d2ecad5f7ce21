"""A small painter's-algorithm renderer for the six cameras.

Per camera: the ground (road, markings, sidewalks, grass) and the sky are shaded per pixel by
casting each pixel's ray onto the ground plane (the rays are fixed per camera, so this is a
precomputed table plus a few numpy operations per frame); objects are cuboids and spheres
(discs), drawn far to near with PIL, each face shaded by the sun. The same polygons are drawn
into an object-id buffer, from which each agent's visible pixel count per camera comes.

Images are rendered at `scale` x 1600x900 (0.5 by default: 800x450) and upscaled to 1600x900
with bilinear filtering; all reported pixel coordinates are full-resolution ones.
"""

import math
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image, ImageDraw

import cameras
from world import CLOTHES_COLORS, FRAME_DT, VEHICLE_COLORS, Agent, Prop, Scene

NEAR = 0.15  # near clipping plane (m)
FAR = 170.0  # objects farther than this are not drawn

GLASS = (46, 56, 66)
TIRE = (22, 22, 24)
SKIN = [(224, 180, 150), (190, 140, 105), (140, 96, 70), (96, 66, 48)]
PANTS = [(40, 44, 60), (30, 30, 34), (90, 80, 70), (60, 70, 95)]

# Box faces: corner indices (corner i has x sign bit0, y bit1, z bit2) and outward normals.
_FACES = (
    ((1, 3, 7, 5), (1.0, 0.0, 0.0), "front"),
    ((0, 4, 6, 2), (-1.0, 0.0, 0.0), "back"),
    ((2, 6, 7, 3), (0.0, 1.0, 0.0), "left"),
    ((0, 1, 5, 4), (0.0, -1.0, 0.0), "right"),
    ((4, 5, 7, 6), (0.0, 0.0, 1.0), "top"),
)
_CORNER_SIGNS = np.array(
    [[1 if i & 1 else -1, 1 if i & 2 else -1, 1 if i & 4 else -1] for i in range(8)], dtype=np.float64
) * 0.5
_FACE_NORMALS = np.array([f[1] for f in _FACES])


@dataclass
class Box:
    center: Tuple[float, float, float]
    size: Tuple[float, float, float]
    color: Tuple[int, int, int]
    faces: Dict[str, Tuple[int, int, int]] = field(default_factory=dict)  # per-face overrides


@dataclass
class Sphere:
    center: Tuple[float, float, float]
    radius: float
    color: Tuple[int, int, int]
    facing: Tuple[float, float, float] = None  # drawn only when seen from this side (lamps)


# ------------------------------------------------------------------------------------------------
# Object shapes, in the object frame (x forward, y left, z up; origin on the ground at the centre)


def agent_shape(a: Agent, t: float) -> List:
    k = a.kind
    if k in ("sedan", "suv", "van"):
        return _car_shape(a)
    if k == "truck":
        return _truck_shape(a)
    if k == "bus":
        return _bus_shape(a)
    if k == "pedestrian":
        return _pedestrian_shape(a, t)
    if k == "cyclist":
        return _cyclist_shape(a, t)
    if k == "barrier":
        return _barrier_shape(a)
    if k == "traffic_light":
        return _light_shape(a)
    raise ValueError(f"unknown agent kind {k!r}")


def _lights(a: Agent, z: float) -> List:
    L, W = a.length, a.width
    braking = abs(a.speed) < 0.1 and not a.parked
    tail = (255, 50, 40) if braking else (140, 24, 22)
    out = []
    for side in (-1, 1):
        out.append(Box((-L / 2 - 0.02, side * (W / 2 - 0.28), z), (0.05, 0.34, 0.16), tail))
        out.append(Box((L / 2 + 0.02, side * (W / 2 - 0.28), z - 0.05), (0.05, 0.32, 0.13),
                       (235, 232, 205)))
    if a.speed < -0.05:  # reversing lights
        for side in (-1, 1):
            out.append(Box((-L / 2 - 0.03, side * (W / 2 - 0.55), z), (0.05, 0.14, 0.12),
                           (250, 250, 250)))
    if a.yaw_rate != 0.0:  # indicator on the turning side, front and back
        side = 1 if a.yaw_rate > 0 else -1
        for x in (-L / 2 - 0.03, L / 2 + 0.03):
            out.append(Box((x, side * (W / 2 - 0.08), z + 0.02), (0.05, 0.14, 0.12),
                           (255, 150, 0)))
    return out


def _wheels(L, W, xs) -> List:
    return [Box((x, side * (W / 2 - 0.1), 0.32), (0.66, 0.24, 0.64), TIRE)
            for x in xs for side in (-1, 1)]


def _car_shape(a: Agent) -> List:
    L, W = a.length, a.width
    body = VEHICLE_COLORS[a.color]
    if a.kind == "sedan":
        z0, z1, z2, cab_len, cab_x = 0.28, 0.95, 1.45, 0.5 * L, -0.08 * L
    elif a.kind == "suv":
        z0, z1, z2, cab_len, cab_x = 0.34, 1.08, 1.8, 0.6 * L, -0.1 * L
    else:  # van
        z0, z1, z2, cab_len, cab_x = 0.34, 1.2, 2.2, 0.8 * L, -0.08 * L
    glass = {"front": GLASS, "back": GLASS, "left": GLASS, "right": GLASS}
    parts = [
        Box((0, 0, (z0 + z1) / 2), (L, W, z1 - z0), body),
        Box((cab_x, 0, (z1 + z2) / 2), (cab_len, W - 0.12, z2 - z1), body, glass),
    ]
    parts += _wheels(L, W, (-0.31 * L, 0.31 * L))
    parts += _lights(a, z1 - 0.15)
    return parts


def _truck_shape(a: Agent) -> List:
    L, W, H = a.length, a.width, a.height
    cab = VEHICLE_COLORS[a.color]
    cargo = VEHICLE_COLORS[a.cargo_color]
    x_cab = L / 2 - 1.1
    glass = {"front": GLASS, "left": GLASS, "right": GLASS}
    parts = [
        Box((x_cab, 0, 1.2), (2.2, W, 1.4), cab),
        Box((x_cab, 0, 2.45), (2.2, W - 0.05, 1.1), cab, glass),
        Box((-1.2, 0, 0.75), (L - 2.4, W - 0.3, 0.5), (40, 40, 42)),
        Box((-(2.4 + 0.2) / 2 + 0.0 - 0.05, 0, (1.0 + H) / 2), (L - 2.5, W, H - 1.0), cargo),
    ]
    parts += _wheels(L, W, (L / 2 - 1.3, -L / 2 + 1.5, -L / 2 + 2.6))
    parts += _lights(a, 1.0)
    return parts


def _bus_shape(a: Agent) -> List:
    L, W, H = a.length, a.width, a.height
    body = VEHICLE_COLORS[a.color]
    parts = [
        Box((0, 0, (0.35 + H) / 2), (L, W, H - 0.35), body),
        Box((0.1, 0, 2.05), (L - 0.0 + 0.04, W + 0.04, 1.25), GLASS, {"top": body}),
    ]
    parts += _wheels(L, W, (L / 2 - 2.4, -L / 2 + 2.8))
    parts += _lights(a, 0.9)
    return parts


def _pedestrian_shape(a: Agent, t: float) -> List:
    H = a.height
    shirt = CLOTHES_COLORS[a.color]
    pants = PANTS[a.variant % len(PANTS)]
    skin = SKIN[a.variant % len(SKIN)]
    leg_h = 0.47 * H
    walking = abs(a.speed) > 0.1
    stride = 0.16 * math.sin(t * 6.0 + a.variant) if walking else 0.0
    stride = stride if abs(stride) > 0.08 else (0.12 if walking else 0.0)
    parts = [
        Box((stride, 0.1, leg_h / 2), (0.16, 0.15, leg_h), pants),
        Box((-stride, -0.1, leg_h / 2), (0.16, 0.15, leg_h), pants),
        Box((0, 0, leg_h + 0.17 * H), (0.26, 0.44, 0.34 * H), shirt),
        Box((-stride * 0.6, 0.27, leg_h + 0.16 * H), (0.12, 0.1, 0.3 * H), shirt),
        Box((stride * 0.6, -0.27, leg_h + 0.16 * H), (0.12, 0.1, 0.3 * H), shirt),
        Sphere((0, 0, 0.9 * H), 0.12, skin),
    ]
    return parts


def _cyclist_shape(a: Agent, t: float) -> List:
    shirt = CLOTHES_COLORS[a.color]
    skin = SKIN[a.variant % len(SKIN)]
    bike = [(30, 30, 30), (180, 30, 30), (40, 80, 160), (200, 200, 200)][a.variant % 4]
    return [
        Box((0.55, 0, 0.34), (0.68, 0.05, 0.68), TIRE),
        Box((-0.55, 0, 0.34), (0.68, 0.05, 0.68), TIRE),
        Box((0.0, 0, 0.62), (1.05, 0.06, 0.09), bike),
        Box((0.05, 0, 0.85), (0.22, 0.3, 0.5), PANTS[a.variant % len(PANTS)]),
        Box((0.18, 0, 1.33), (0.34, 0.42, 0.55), shirt),
        Sphere((0.3, 0, 1.72), 0.13, skin),
    ]


def _barrier_shape(a: Agent) -> List:
    orange, white = (235, 110, 20), (240, 240, 236)
    L = a.length
    parts = []
    if a.variant == 0:  # plastic A-frame barrier with striped boards
        for x in (-L / 2 + 0.1, L / 2 - 0.1):
            parts.append(Box((x, 0, 0.45), (0.1, 0.5, 0.9), (60, 60, 60)))
        n = 5
        for row, z in enumerate((0.55, 0.85)):
            for i in range(n):
                c = orange if (i + row) % 2 == 0 else white
                parts.append(Box((-L / 2 + (i + 0.5) * L / n, 0, z), (L / n, 0.08, 0.22), c))
    else:  # water-filled block barrier
        n = 4
        for i in range(n):
            c = orange if i % 2 == 0 else white
            parts.append(Box((-L / 2 + (i + 0.5) * L / n, 0, 0.45), (L / n, 0.5, 0.9), c))
    return parts


def _light_shape(a: Agent) -> List:
    H = a.height
    z = a.z0
    housing = (34, 36, 38)
    lit = {"red": (255, 40, 30), "yellow": (255, 196, 0), "green": (40, 255, 110)}
    dim = {"red": (80, 28, 26), "yellow": (84, 70, 20), "green": (24, 70, 40)}
    parts = [
        Box((0, 0, z + H / 2), (a.length, a.width, H), housing),
        Box((-0.05, 0, z + H / 2), (0.06, a.width + 0.2, H + 0.2), (20, 20, 20)),
    ]
    for i, c in enumerate(("red", "yellow", "green")):
        color = lit[c] if a.color == c else dim[c]
        parts.append(Sphere((a.length / 2 + 0.03, 0, z + H * (5 - 2 * i) / 6), 0.26, color,
                            facing=(1.0, 0.0, 0.0)))
    return parts


def prop_shape(p: Prop) -> List:
    k = p.kind
    if k == "building":
        wall = p.color
        win = tuple(int(c * 0.45) for c in wall) if p.variant != 2 else (70, 90, 110)
        parts = [Box((0, 0, p.height / 2), (p.length, p.width, p.height), wall,
                     {"top": tuple(int(c * 0.85) for c in wall)})]
        # Window bands on every floor: thin boxes standing out from the walls.
        floor = p.extra
        n = int((p.height - 1.0) / floor)
        for i in range(n):
            z = 1.2 + i * floor + floor * 0.35
            parts.append(Box((0, 0, z), (p.length - 1.2, p.width + 0.06, floor * 0.42), win,
                             {"top": wall}))
            parts.append(Box((0, 0, z), (p.length + 0.06, p.width - 1.2, floor * 0.42), win,
                             {"top": wall}))
        return parts
    if k == "tree":
        trunk = (92, 70, 50)
        return [Box((0, 0, p.height / 2), (p.length, p.width, p.height), trunk),
                Sphere((0, 0, p.height + p.extra * 0.7), p.extra, p.color)]
    if k == "lamp":
        return [Box((0, 0, p.height / 2), (0.18, 0.18, p.height), p.color),
                Box((0, p.extra / 2, p.height - 0.1), (0.12, abs(p.extra), 0.12), p.color),
                Box((0, p.extra, p.height - 0.25), (0.5, 0.3, 0.18), (220, 220, 210))]
    if k == "pole":
        return [Box((0, 0, (p.height + 0.2) / 2), (0.18, 0.18, p.height + 0.2), p.color)]
    if k == "mast":
        arm = p.extra
        return [Box((0, 0, p.height / 2), (0.26, 0.26, p.height), p.color),
                Box((0, arm / 2, p.height - 0.2), (0.16, abs(arm) + 0.2, 0.16), p.color)]
    if k == "jersey":
        return [Box((0, 0, p.height / 2), (p.length - 0.05, p.width, p.height), p.color)]
    raise ValueError(f"unknown prop kind {k!r}")


# ------------------------------------------------------------------------------------------------


@dataclass
class CameraView:
    """One camera's visibility statistics for one agent (full-resolution pixels)."""

    visible_px: float
    bbox: Tuple[float, float, float, float]  # clipped to the image
    hull_area: float  # area of the unoccluded silhouette's convex hull, clipped to the image


@dataclass
class _Ground:
    """A camera's fixed pixel rays: ground pixels (rows first_ground_row.., row-major) and sky."""

    first_ground_row: int
    x: np.ndarray  # ego-frame ground point of each ground pixel  # [N]
    y: np.ndarray  # [N]
    dist: np.ndarray  # metres from the camera  # [N]
    sky_cols: np.ndarray  # column of each sky pixel  # [M]
    sky_elev: np.ndarray  # elevation angle (rad)  # [M]
    col_az: np.ndarray  # ego-frame azimuth of each column (rad)  # [w]


def _convex_hull(points: np.ndarray) -> np.ndarray:
    pts = sorted(set((float(p[0]), float(p[1])) for p in points))
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def _clip_polygon_rect(poly: np.ndarray, w: float, h: float) -> np.ndarray:
    """Sutherland-Hodgman against [0, w] x [0, h]."""
    def clip(points, inside, intersect):
        out = []
        n = len(points)
        for i in range(n):
            cur, prev = points[i], points[i - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(intersect(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(intersect(prev, cur))
        return out

    def ix(xv):
        return lambda p, q: (xv, p[1] + (q[1] - p[1]) * (xv - p[0]) / (q[0] - p[0]))

    def iy(yv):
        return lambda p, q: (p[0] + (q[0] - p[0]) * (yv - p[1]) / (q[1] - p[1]), yv)

    pts = [tuple(p) for p in poly]
    for inside, inter in ((lambda p: p[0] >= 0, ix(0.0)), (lambda p: p[0] <= w, ix(w)),
                          (lambda p: p[1] >= 0, iy(0.0)), (lambda p: p[1] <= h, iy(h))):
        if not pts:
            break
        pts = clip(pts, inside, inter)
    return np.array(pts)


def _area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _clip_near(poly: np.ndarray) -> np.ndarray:
    """Clips a camera-frame polygon [K, 3] to z >= NEAR."""
    out = []
    n = len(poly)
    for i in range(n):
        cur, prev = poly[i], poly[i - 1]
        cin, pin = cur[2] >= NEAR, prev[2] >= NEAR
        if cin:
            if not pin:
                t = (NEAR - prev[2]) / (cur[2] - prev[2])
                out.append(prev + t * (cur - prev))
            out.append(cur)
        elif pin:
            t = (NEAR - prev[2]) / (cur[2] - prev[2])
            out.append(prev + t * (cur - prev))
    return np.array(out) if out else np.zeros((0, 3))


class Renderer:
    def __init__(self, scale: float = 0.5):
        self.scale = scale
        self.w = int(round(cameras.WIDTH * scale))
        self.h = int(round(cameras.HEIGHT * scale))
        self.cams = cameras.make_cameras()
        self.ground = [self._precompute(c) for c in self.cams]
        self._fog_cache = {}  # (camera, fog distance, fog colour) -> fog terms
        self._sky_cache = {}  # (camera, zenith, horizon) -> sky gradient
        self._road_cache = {}  # (camera, curvature) -> ground pixels' road coordinates

    def _precompute(self, cam: cameras.Camera) -> _Ground:
        u = (np.arange(self.w) + 0.5) / self.scale
        v = (np.arange(self.h) + 0.5) / self.scale
        uu, vv = np.meshgrid(u, v)
        a = (uu - cam.cx) / cam.fx
        b = (vv - cam.cy) / cam.fy
        rot = cam.rotation()  # rows right, down, forward
        dx = rot[0, 0] * a + rot[2, 0]
        dy = rot[0, 1] * a + rot[2, 1]
        dz = -b
        ground = b > 1e-4
        t = np.where(ground, cam.z / np.maximum(b, 1e-4), 0.0)
        t = np.minimum(t, 3000.0)
        rows, cols = np.nonzero(ground)
        r0 = int(rows[0])
        if not (ground[r0:].all() and not ground[:r0].any()):
            raise ValueError(f"{cam.name}: the ground must be the rows below the horizon")
        gx = cam.x + t[ground] * dx[ground]
        gy = cam.y + t[ground] * dy[ground]
        dist = t[ground] * np.sqrt(dx[ground] ** 2 + dy[ground] ** 2 + dz[ground] ** 2)
        srows, scols = np.nonzero(~ground)
        elev = np.arctan2(dz[~ground], np.hypot(dx[~ground], dy[~ground]))
        # Level cameras: a column's azimuth does not depend on the row.
        col_az = np.arctan2(dy[0], dx[0])
        return _Ground(r0, gx, gy, dist.astype(np.float32), scols, elev.astype(np.float32),
                       col_az)

    def _fog_terms(self, ci: int, pal):
        """Per-pixel (multiplier [N, 1], addend [N, 3]) that fog the ground colours (one entry
        per camera and weather)."""
        key = (ci, pal["fog_d"], pal["fog"])
        if key not in self._fog_cache:
            f = (1.0 - np.exp(-self.ground[ci].dist / pal["fog_d"])).astype(np.float32)[:, None]
            self._fog_cache[key] = ((1.0 - f).astype(np.float32),
                                    (np.array(pal["fog"], np.float32) * f).astype(np.float32))
        return self._fog_cache[key]

    def _sky_gradient(self, ci: int, pal) -> np.ndarray:
        key = (ci, pal["zenith"], pal["horizon"])
        if key not in self._sky_cache:
            g = self.ground[ci]
            e = (np.clip(g.sky_elev / 0.6, 0.0, 1.0) ** 0.6)[:, None]
            zen = np.array(pal["zenith"], np.float32)
            hor = np.array(pal["horizon"], np.float32)
            self._sky_cache[key] = (hor * (1 - e) + zen * e).astype(np.uint8)
        return self._sky_cache[key]

    # --------------------------------------------------------------------------------------------

    def _palette(self, scene: Scene):
        if scene.weather == "sunny":
            return dict(zenith=(70, 128, 206), horizon=(188, 208, 228), fog=(196, 210, 224),
                        ambient=0.58, diffuse=0.52, fog_d=420.0)
        if scene.weather == "overcast":
            return dict(zenith=(150, 158, 168), horizon=(206, 208, 210), fog=(200, 202, 204),
                        ambient=0.8, diffuse=0.18, fog_d=300.0)
        return dict(zenith=(150, 170, 190), horizon=(214, 214, 206), fog=(212, 212, 204),
                    ambient=0.72, diffuse=0.3, fog_d=160.0)

    def _shade_ground(self, ci: int, scene: Scene, s_ego: float, pal) -> np.ndarray:
        """Colours of the camera's ground pixels.  # [N, 3] uint8"""
        g = self.ground[ci]
        road = scene.road
        key = (ci, road.kappa)
        if key not in self._road_cache:  # fixed within a scene: the ego follows its lane
            ds, d = road.to_road(g.x, g.y)
            self._road_cache[key] = (np.asarray(ds, np.float32), np.asarray(d, np.float32))
            if len(self._road_cache) > 12:
                self._road_cache.pop(next(iter(self._road_cache)))
        ds, d = self._road_cache[key]
        s = ds + np.float32(s_ego)
        urban = road.urban
        # Surface classes, then one palette lookup.
        ASPHALT, OFF, SIDEWALK, CURB, MEDIAN, WHITE, YELLOW = range(7)
        table = np.array([
            [98, 99, 102] if urban else [92, 93, 95],
            [150, 146, 136] if urban else [88, 122, 64],
            [176, 172, 164],
            [196, 194, 188],
            [124, 128, 112],
            [226, 226, 222],
            [222, 178, 52],
        ], np.float32)
        n = len(d)
        cls = np.full(n, OFF, np.uint8)
        sw = road.sidewalk
        on_road = (d >= road.d_right_outer) & (d <= road.d_left)
        if urban and sw > 0:
            right = d < road.d_right_outer
            left = d > road.d_left
            cls[(right & (d >= road.d_right_outer - sw)) | (left & (d <= road.d_left + sw))] = SIDEWALK
            cls[(right & (d >= road.d_right_outer - 0.25)) | (left & (d <= road.d_left + 0.25))] = CURB
        cls[on_road] = ASPHALT
        if road.median > 0:
            cls[(d > road.d_div) & (d < road.d_div + road.median)] = MEDIAN

        inter = None
        if road.intersection is not None:
            rel = np.abs(s - road.intersection)
            half = road.cross_w / 2.0
            inter = rel < half
            outside_main = (d < road.d_right_outer - sw) | (d > road.d_left + sw)
            if urban and sw > 0:
                cls[(rel >= half) & (rel < half + sw) & outside_main] = SIDEWALK
            cls[inter] = ASPHALT
            cls[outside_main & (np.abs(rel - 0.13) < 0.06)] = YELLOW  # crossing road centre line

        # Markings, computed on the carriageway's pixels only.
        idx = np.nonzero(on_road)[0]
        dr, sr = d[idx], s[idx]
        white = np.zeros(len(idx), bool)
        yellow = np.zeros(len(idx), bool)
        hw = 0.075
        dash = np.mod(sr, 12.0) < 4.0
        for i in range(road.n_fwd - 1):
            white |= (np.abs(dr - (road.d_right + (i + 1) * road.lane_w)) < hw) & dash
        white |= np.abs(dr - road.d_right) < hw
        if road.n_back == 0:
            white |= np.abs(dr - road.d_div) < hw
        elif road.median == 0:
            yellow |= np.abs(np.abs(dr - road.d_div) - 0.13) < 0.06
        else:
            yellow |= np.abs(dr - (road.d_div + 0.12)) < hw
            yellow |= np.abs(dr - (road.d_div + road.median - 0.12)) < hw
        for j in range(road.n_back - 1):
            white |= (np.abs(dr - (road.d_div + road.median + (j + 1) * road.lane_w)) < hw) & dash
        if road.n_back > 0:
            white |= np.abs(dr - (road.d_left - 0.15)) < hw
        zebra_d = np.mod(dr, 1.2) < 0.6
        if road.intersection is not None:
            half = road.cross_w / 2.0
            e0, e1 = road.intersection - half, road.intersection + half
            stop = road.stop_line()
            white |= (sr >= stop - 0.5) & (sr <= stop) & (dr >= road.d_right) & (dr <= road.d_div)
            if road.n_back > 0:
                fs = e1 + 3.6
                white |= (sr >= fs) & (sr <= fs + 0.5) & (dr >= road.d_div + road.median)
            white |= zebra_d & (((sr >= e0 - 3.2) & (sr <= e0 - 0.6)) |
                                ((sr >= e1 + 0.6) & (sr <= e1 + 3.2)))
            inside = inter[idx]
            white &= ~inside
            yellow &= ~inside
        if road.crosswalk is not None:
            c = road.crosswalk
            white |= zebra_d & (sr >= c - 1.4) & (sr <= c + 1.4)
            white |= (np.abs(sr - (c - 3.0)) < 0.25) & (dr >= road.d_right) & (dr <= road.d_div)
        white &= cls[idx] == ASPHALT
        yellow &= cls[idx] == ASPHALT
        cls[idx[white]] = WHITE
        cls[idx[yellow]] = YELLOW

        col = table[cls]
        # Markings fade out with distance (they would alias into noise near the horizon).
        m = np.nonzero(cls >= WHITE)[0]
        if len(m):
            fade = np.clip(1.2 - g.dist[m] / 110.0, 0.0, 1.0)[:, None]
            col[m] = col[m] * fade + table[ASPHALT] * (1 - fade)
        light = min(pal["ambient"] + pal["diffuse"] * math.sin(scene.sun_elevation), 1.15)
        mul, add = self._fog_terms(ci, pal)
        col *= mul * np.float32(light)
        col += add
        return col.astype(np.uint8)

    def _shade_sky(self, ci: int, scene: Scene, ego_heading: float, pal) -> np.ndarray:
        g = self.ground[ci]
        col = self._sky_gradient(ci, pal).copy()
        # Distant hills, fixed in the world (so they stay put as the ego turns).
        az = g.col_az + ego_heading
        p = scene.hill_phases
        hill = 0.012 + 0.01 * (np.sin(3 * az + p[0]) * 0.5 + 0.5) + 0.006 * np.sin(7 * az + p[1]) \
            + 0.004 * np.sin(13 * az + p[2])
        if scene.road.urban:
            hill = hill * 0.6
        m = g.sky_elev < hill[g.sky_cols]
        hill_col = np.array([112.0, 132.0, 118.0]) * 0.6 + np.array(pal["fog"]) * 0.4
        col[m] = hill_col.astype(np.uint8)
        return col

    # --------------------------------------------------------------------------------------------

    def render(self, scene: Scene, frame: int):
        """Returns (images: list of six 1600x900 PIL images in CAMERA_NAMES order, views: {agent
        index: {camera name: CameraView}}) for key frame `frame` of the scene."""
        if len(scene.agents) > 254:
            raise ValueError(f"scene {scene.index}: {len(scene.agents)} agents; the id buffer holds 254")
        t = frame * FRAME_DT
        s_ego = scene.ego_s(t)
        road = scene.road
        ego_heading = road.kappa * s_ego
        pal = self._palette(scene)

        # Object poses in the ego frame.
        objects = []  # (agent index or -1, parts, x, y, yaw, source, bounding radius)
        for idx, a in enumerate(scene.agents):
            s, d, yaw = a.state_at(t)
            x, y, head = road.to_ego(s - s_ego, d)
            radius = 0.5 * math.sqrt(a.length ** 2 + a.width ** 2 + (a.height + a.z0) ** 2) + 0.3
            objects.append((idx, agent_shape(a, t), float(x), float(y), float(head) + yaw, a,
                            radius))
        for p in scene.props:
            x, y, head = road.to_ego(p.s - s_ego, p.d)
            radius = 0.5 * math.sqrt(p.length ** 2 + p.width ** 2 + p.height ** 2) \
                + abs(p.extra) * 2.0 + 0.5
            objects.append((-1, prop_shape(p), float(x), float(y), float(head) + p.yaw, p, radius))

        sun_az = scene.sun_azimuth - ego_heading
        sun = np.array([math.cos(sun_az) * math.cos(scene.sun_elevation),
                        math.sin(sun_az) * math.cos(scene.sun_elevation),
                        math.sin(scene.sun_elevation)])

        images = []
        views: Dict[int, Dict[str, CameraView]] = {}
        for ci, (cam, g) in enumerate(zip(self.cams, self.ground)):
            img = np.empty((self.h, self.w, 3), dtype=np.uint8)
            # Level cameras: the sky is the rows above the horizon, the ground those below.
            r0 = g.first_ground_row
            img[r0:] = self._shade_ground(ci, scene, s_ego, pal).reshape(self.h - r0, self.w, 3)
            img[:r0] = self._shade_sky(ci, scene, ego_heading, pal).reshape(r0, self.w, 3)
            pil = Image.fromarray(img, "RGB")
            ids = Image.new("L", (self.w, self.h), 0)
            self._draw_objects(cam, pil, ids, objects, sun, pal, views)
            counts = np.bincount(np.asarray(ids).ravel(), minlength=256)
            for idx, per_cam in views.items():
                if cam.name in per_cam:
                    per_cam[cam.name].visible_px = float(counts[idx + 1]) / (self.scale ** 2)
            images.append(pil.resize((cameras.WIDTH, cameras.HEIGHT), Image.BILINEAR))
        return images, views

    def _draw_objects(self, cam, pil, ids, objects, sun, pal, views):
        draw = ImageDraw.Draw(pil)
        idraw = ImageDraw.Draw(ids)
        rot = cam.rotation()
        cpos = cam.position()
        scale = self.scale
        W, H = cameras.WIDTH, cameras.HEIGHT
        xl = (W / 2.0) / cam.fx
        yl = (H / 2.0) / cam.fy
        kx = math.sqrt(1 + xl * xl)
        ky = math.sqrt(1 + yl * yl)
        fog = np.array(pal["fog"], float)
        ambient, diffuse = pal["ambient"], pal["diffuse"]

        # Frustum culling with each object's bounding sphere.
        todo = []
        for (idx, parts, x, y, yaw, src, radius) in objects:
            rel = np.array([x, y, 0.0]) - cpos
            dist = math.hypot(rel[0], rel[1])
            if dist > FAR:
                continue
            cc = rot @ (rel + np.array([0.0, 0.0, (getattr(src, "height", 1.0)) / 2.0]))
            if cc[2] < -radius:
                continue
            if abs(cc[0]) > xl * cc[2] + radius * kx or abs(cc[1]) > yl * cc[2] + radius * ky + \
                    abs(getattr(src, "z0", 0.0)):
                continue
            todo.append((dist, idx, parts, x, y, yaw, src))

        # Shadows first: dark footprints on the ground under vehicles.
        for dist, idx, parts, x, y, yaw, src in todo:
            if idx >= 0 and src.is_vehicle:
                c, s_ = math.cos(yaw), math.sin(yaw)
                L, Wd = src.length / 2 + 0.25, src.width / 2 + 0.3
                pts = np.array([[x + c * px - s_ * py, y + s_ * px + c * py, 0.01]
                                for px, py in ((L, Wd), (L, -Wd), (-L, -Wd), (-L, Wd))])
                cp = _clip_near((pts - cpos) @ rot.T)
                if len(cp) >= 3:
                    uv = cam.project(cp) * scale
                    f = 1.0 - math.exp(-dist / pal["fog_d"])
                    col = np.array([40.0, 40.0, 44.0]) * (1 - f) + fog * f
                    draw.polygon([tuple(p) for p in uv.tolist()], fill=tuple(int(v) for v in col))

        todo.sort(key=lambda o: -o[0])
        for dist, idx, parts, x, y, yaw, src in todo:
            c, s_ = math.cos(yaw), math.sin(yaw)
            r_obj = np.array([[c, -s_, 0.0], [s_, c, 0.0], [0.0, 0.0, 1.0]])
            origin = np.array([x, y, 0.0])
            items = []  # (depth, is_poly, data, color, brightness)
            boxes = [p for p in parts if isinstance(p, Box)]
            if boxes:
                centers = np.array([b.center for b in boxes])  # [B, 3]
                sizes = np.array([b.size for b in boxes])
                corners = centers[:, None, :] + _CORNER_SIGNS[None, :, :] * sizes[:, None, :]
                world = corners @ r_obj.T + origin  # [B, 8, 3]
                camc = (world - cpos) @ rot.T  # [B, 8, 3]
                normals = _FACE_NORMALS @ r_obj.T  # [5, 3]
                face_idx = np.array([f[0] for f in _FACES])  # [5, 4]
                fcent = world[:, face_idx].mean(axis=2)  # [B, 5, 3]
                facing = np.einsum("bfk,fk->bf", fcent - cpos, normals) < 0.0
                zs = camc[:, face_idx, 2]  # [B, 5, 4]
                facing &= zs.max(axis=2) >= NEAR
                depth = np.linalg.norm(fcent - cpos, axis=2)
                bright = ambient + diffuse * np.maximum(0.0, normals @ sun)  # [5]
                if camc[..., 2].min() >= NEAR:
                    uv_all = cam.project(camc.reshape(-1, 3)).reshape(len(boxes), 8, 2)
                else:
                    uv_all = None
                for bi, fi in zip(*np.nonzero(facing)):
                    b = boxes[bi]
                    fname = _FACES[fi][2]
                    color = b.faces.get(fname, b.color)
                    if uv_all is not None:
                        uv = uv_all[bi, face_idx[fi]]
                    else:
                        quad = camc[bi, face_idx[fi]]
                        if quad[:, 2].min() < NEAR:
                            quad = _clip_near(quad)
                            if len(quad) < 3:
                                continue
                        uv = cam.project(quad)
                    items.append((float(depth[bi, fi]), True, uv, color, float(bright[fi])))
            for sp in parts:
                if not isinstance(sp, Sphere):
                    continue
                wc = r_obj @ np.array(sp.center) + origin
                if sp.facing is not None:
                    fdir = r_obj @ np.array(sp.facing)
                    if float(fdir @ (wc - cpos)) >= 0.0:
                        continue
                cc = rot @ (wc - cpos)
                if cc[2] < NEAR + sp.radius:
                    continue
                uv = cam.project(cc[None, :])[0]
                rp = cam.fx * sp.radius / cc[2]
                quad = np.array([[uv[0] - rp, uv[1] - rp], [uv[0] + rp, uv[1] - rp],
                                 [uv[0] + rp, uv[1] + rp], [uv[0] - rp, uv[1] + rp]])
                k = 1.0 if sp.facing is not None else ambient + diffuse * 0.6
                items.append((float(np.linalg.norm(wc - cpos)) - sp.radius, False, quad,
                              sp.color, k))
            if not items:
                continue
            items.sort(key=lambda p: -p[0])
            f = 1.0 - math.exp(-dist / pal["fog_d"])
            drawn = []  # full-resolution vertices, for the agent's bbox and hull
            fill_id = idx + 1 if idx >= 0 else 0
            for depth_, is_poly, uv, color, k in items:
                fill = tuple(int(min(255.0, v * k * (1 - f) + fv * f)) for v, fv in zip(color, fog))
                pts = (uv * scale).tolist()
                if is_poly:
                    pts = [tuple(p) for p in pts]
                    draw.polygon(pts, fill=fill)
                    idraw.polygon(pts, fill=fill_id)
                else:
                    box = [pts[0][0], pts[0][1], pts[2][0], pts[2][1]]
                    if box[2] - box[0] < 0.5:
                        continue
                    draw.ellipse(box, fill=fill)
                    idraw.ellipse(box, fill=fill_id)
                if idx >= 0:
                    drawn.append(uv)
            if idx < 0 or not drawn:
                continue
            allpts = np.concatenate(drawn)
            if (allpts[:, 0].max() < 0 or allpts[:, 0].min() > W or allpts[:, 1].max() < 0
                    or allpts[:, 1].min() > H):
                continue
            hull = _clip_polygon_rect(_convex_hull(allpts), W, H)
            if len(hull) < 3:
                continue
            bbox = (float(hull[:, 0].min()), float(hull[:, 1].min()), float(hull[:, 0].max()),
                    float(hull[:, 1].max()))
            views.setdefault(idx, {})[cam.name] = CameraView(0.0, bbox, _area(hull))

"""Procedural driving worlds: a road with lanes, the ego vehicle, agents and scenery.

Positions live in road coordinates: s along the ego lane's centre line (metres, increasing in the
ego's driving direction; the ego's rear axle is at s = 0 when a scene starts) and d across it
(metres, + to the left). The road bends with a constant curvature kappa (1/m, + to the left), so
(s, d) -> ego frame is an exact arc transform; intersections and mid-block crosswalks only occur on
straight roads. Right-hand traffic.

Everything is drawn from numpy Generators seeded by (seed, scene index, stream), never from global
state, so a scene is a pure function of its seed and index.
"""

import math
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

# Named colours: the words in visual descriptions and the RGB the renderer paints.
VEHICLE_COLORS = {
    "white": (232, 232, 230),
    "black": (28, 28, 32),
    "gray": (122, 124, 128),
    "red": (172, 28, 26),
    "blue": (32, 64, 160),
    "green": (34, 112, 54),
    "yellow": (222, 182, 30),
    "brown": (112, 72, 42),
}
CLOTHES_COLORS = {
    "red": (190, 36, 36),
    "blue": (40, 70, 180),
    "black": (30, 30, 34),
    "white": (230, 230, 228),
    "green": (40, 140, 60),
    "yellow": (230, 200, 40),
    "gray": (125, 125, 128),
}
LIGHT_COLORS = ("red", "yellow", "green")

VEHICLE_KINDS = ("sedan", "suv", "van", "truck", "bus")
MOVER_KINDS = VEHICLE_KINDS + ("pedestrian", "cyclist")

# Ego speed categories (DriveLM's behaviour words) and their speed ranges in m/s.
SPEED_RANGES = {
    "not moving": (0.0, 0.0),
    "slowly": (1.5, 5.0),
    "normal": (6.5, 11.0),
    "fast": (12.0, 18.0),
    "very fast": (20.0, 28.0),
}

EGO_FRONT = 3.8  # ego bumper ahead of the rear axle (m)
EGO_REAR = 1.0  # ego rear bumper behind the rear axle (m)
EGO_WIDTH = 1.9

FRAME_DT = 1.0  # seconds between key frames of one scene


@dataclass
class Road:
    urban: bool
    lane_w: float
    n_fwd: int  # lanes in the ego's direction
    n_back: int  # lanes in the opposite direction
    ego_lane: int  # 0 = rightmost forward lane
    median: float  # gap between the directions (m)
    shoulder: float  # asphalt strip right of the forward lanes (parking or shoulder)
    sidewalk: float  # sidewalk width on both sides, 0 = none (grass verge)
    kappa: float
    intersection: Optional[float] = None  # absolute s of the crossing road's centre line
    cross_w: float = 0.0  # crossing road width
    crosswalk: Optional[float] = None  # absolute s of a mid-block crosswalk's centre

    @property
    def d_right(self) -> float:
        """Right edge line of the forward lanes."""
        return (-self.ego_lane - 0.5) * self.lane_w

    @property
    def d_right_outer(self) -> float:
        return self.d_right - self.shoulder

    @property
    def d_div(self) -> float:
        """Left edge of the forward lanes (centre line / start of the median)."""
        return (self.n_fwd - self.ego_lane - 0.5) * self.lane_w

    @property
    def d_left(self) -> float:
        return self.d_div + self.median + self.n_back * self.lane_w

    def lane_center(self, i: int) -> float:
        return (i - self.ego_lane) * self.lane_w

    def back_lane_center(self, j: int) -> float:
        """Opposite lane j, 0 = next to the divider."""
        return self.d_div + self.median + (j + 0.5) * self.lane_w

    def stop_line(self) -> Optional[float]:
        """Absolute s of the ego direction's stop line (its far edge) before the intersection."""
        if self.intersection is None:
            return None
        return self.intersection - self.cross_w / 2.0 - 3.6

    def to_ego(self, ds, d):
        """Road coordinates relative to the ego (ds = s - s_ego, d) -> ego-frame x, y and the road's
        heading there relative to the ego (rad). Works on scalars and arrays."""
        ds = np.asarray(ds, dtype=np.float64)
        d = np.asarray(d, dtype=np.float64)
        k = self.kappa
        if abs(k) < 1e-7:
            return ds, d, np.zeros_like(ds)
        r = 1.0 / k
        theta = ds * abs(k)
        rad = abs(r) - math.copysign(1.0, r) * d
        x = rad * np.sin(theta)
        y = r - math.copysign(1.0, r) * rad * np.cos(theta)
        return x, y, ds * k

    def to_road(self, x, y):
        """Ego-frame ground points -> (ds, d)."""
        k = self.kappa
        if abs(k) < 1e-7:
            return x, y
        r = 1.0 / k
        sg = math.copysign(1.0, r)
        d = sg * (abs(r) - np.hypot(x, y - r))
        ds = abs(r) * np.arctan2(x, sg * (r - y))
        return ds, d

    def lane_of(self, d: float) -> Optional[str]:
        """'ego', 'left', 'right' (adjacent forward lanes), 'fwd' (another forward lane),
        'opposite', 'shoulder' or None (off the carriageway)."""
        w = self.lane_w
        if self.d_right <= d <= self.d_div:
            i = int(math.floor((d - self.d_right) / w))
            i = min(max(i, 0), self.n_fwd - 1)
            if i == self.ego_lane:
                return "ego"
            if i == self.ego_lane + 1:
                return "left"
            if i == self.ego_lane - 1:
                return "right"
            return "fwd"
        if self.d_right_outer <= d < self.d_right:
            return "shoulder"
        if self.d_div + self.median <= d <= self.d_left:
            return "opposite"
        return None


@dataclass
class Agent:
    """A road user, barrier or traffic light; the things questions are asked about."""

    kind: str  # sedan suv van truck bus pedestrian cyclist barrier traffic_light
    color: str  # body / clothes colour name; traffic lights: the lit lamp
    s: float  # absolute road s at t = 0
    d: float
    yaw: float  # heading relative to the road direction (rad)
    speed: float = 0.0  # m/s along the heading; negative = backing up
    yaw_rate: float = 0.0  # rad/s, turning vehicles only (straight roads)
    length: float = 4.5
    width: float = 1.8
    height: float = 1.5
    z0: float = 0.0  # elevation of the bottom (traffic light housings)
    parked: bool = False
    crossing: bool = False  # pedestrian crossing the main road
    faces_ego: bool = False  # traffic light that controls the ego's lanes
    stop_at_light: bool = False  # moving now, will stop at the red light ahead
    cargo_color: str = "white"  # trucks
    variant: int = 0

    @property
    def is_vehicle(self) -> bool:
        return self.kind in VEHICLE_KINDS

    @property
    def is_mover(self) -> bool:
        return self.kind in MOVER_KINDS

    def state_at(self, t: float):
        """(s, d, yaw) at time t: straight motion along the curvilinear lane, or a left/right turn
        of at most 90 degrees followed by straight motion (turns happen on straight roads)."""
        if self.yaw_rate == 0.0 or self.speed == 0.0:
            return (
                self.s + self.speed * math.cos(self.yaw) * t,
                self.d + self.speed * math.sin(self.yaw) * t,
                self.yaw,
            )
        w = self.yaw_rate
        t_turn = min(t, (math.pi / 2.0) / abs(w))
        yaw_t = self.yaw + w * t_turn
        s = self.s + self.speed / w * (math.sin(yaw_t) - math.sin(self.yaw))
        d = self.d - self.speed / w * (math.cos(yaw_t) - math.cos(self.yaw))
        rest = t - t_turn
        return s + self.speed * math.cos(yaw_t) * rest, d + self.speed * math.sin(yaw_t) * rest, yaw_t

    # DriveLM's closed vocabularies -------------------------------------------------------------

    def moving_status(self) -> str:
        """Answer to "What is the moving status of object ...?" (movers only)."""
        if abs(self.speed) < 0.1:
            return "Stopped."
        if self.speed < 0:
            return "Back up."
        if self.yaw_rate > 0.02:
            return "Turn left."
        if self.yaw_rate < -0.02:
            return "Turn right."
        return "Going ahead."

    def future_state(self) -> str:
        """Answer to "What is the future state of ...?" (movers only)."""
        if self.kind == "pedestrian":
            if abs(self.speed) < 0.1:
                return "Stationary."
            return "Cross the road." if self.crossing else "Keep going straight."
        status = self.moving_status()
        if status == "Stopped." or self.stop_at_light:
            return "Stationary."
        if status == "Back up.":
            return "Back up."
        if status in ("Turn left.", "Turn right."):
            return status
        return "Keep going straight."

    def noun(self) -> str:
        """Lower-case description used in sentences: 'white sedan', 'pedestrian in red'."""
        if self.kind in ("sedan", "van", "truck", "bus"):
            return f"{self.color} {self.kind}"
        if self.kind == "suv":
            return f"{self.color} SUV"
        if self.kind == "pedestrian":
            return f"pedestrian in {self.color}"
        if self.kind == "cyclist":
            return f"cyclist in {self.color}"
        if self.kind == "barrier":
            return "road barrier"
        if self.kind == "traffic_light":
            return f"{self.color} light"
        raise ValueError(f"unknown agent kind {self.kind!r}")

    def visual_description(self) -> str:
        n = self.noun()
        return n[0].upper() + n[1:] + "."

    def count_class(self) -> str:
        """The class word of "What are objects to the ... of the ego car?" answers."""
        return {
            "sedan": "car",
            "suv": "car",
            "van": "car",
            "truck": "truck",
            "bus": "bus",
            "pedestrian": "pedestrian",
            "cyclist": "cyclist",
            "barrier": "barrier",
            "traffic_light": "traffic light",
        }[self.kind]

    def category(self) -> str:
        """key_object_infos' Category, as DriveLM's training layout has it."""
        if self.is_vehicle:
            return "Vehicle"
        if self.kind == "pedestrian":
            return "Pedestrian"
        if self.kind == "cyclist":
            return "Cyclist"
        if self.kind == "barrier":
            return "Barrier"
        return "Traffic element"


@dataclass
class Prop:
    """Scenery that occludes but is never asked about."""

    kind: str  # building tree lamp pole mast jersey
    s: float
    d: float
    yaw: float = 0.0
    length: float = 1.0
    width: float = 1.0
    height: float = 1.0
    color: tuple = (128, 128, 128)
    extra: float = 0.0  # mast arm length, tree crown radius, building floor height
    variant: int = 0


@dataclass
class Scene:
    index: int
    scenario: str
    road: Road
    ego_speed: float
    speed_cat: str  # key of SPEED_RANGES
    agents: List[Agent]
    props: List[Prop]
    n_frames: int
    light: Optional[str] = None  # state of the ego's traffic light, None without one
    weather: str = "sunny"
    sun_azimuth: float = 0.0  # world azimuth of the sun (rad)
    sun_elevation: float = 0.8
    hill_phases: tuple = ()
    description: str = ""

    def ego_s(self, t: float) -> float:
        return self.ego_speed * t

    def steering(self) -> str:
        """Ego steering words, from the road's bend (the ego follows its lane)."""
        if self.ego_speed == 0.0:
            return "going straight"
        k = self.road.kappa
        if abs(k) < 1.0 / 400.0:
            return "going straight"
        side = "left" if k > 0 else "right"
        if abs(k) < 1.0 / 110.0:
            return f"slightly steering to the {side}"
        return f"steering to the {side}"


# ------------------------------------------------------------------------------------------------
# Scene generation


def _vehicle(rng, kind: Optional[str] = None, urban: bool = True) -> Agent:
    if kind is None:
        weights = [0.44, 0.24, 0.12, 0.12, 0.08] if urban else [0.42, 0.24, 0.08, 0.2, 0.06]
        kind = VEHICLE_KINDS[rng.choice(len(VEHICLE_KINDS), p=weights)]
    names = list(VEHICLE_COLORS)
    if kind == "bus":
        color = names[rng.choice(len(names), p=[0.32, 0.0, 0.1, 0.2, 0.18, 0.14, 0.06, 0.0])]
    else:
        color = names[rng.choice(len(names), p=[0.26, 0.2, 0.17, 0.1, 0.11, 0.05, 0.04, 0.07])]
    dims = {
        "sedan": (rng.uniform(4.3, 4.8), rng.uniform(1.78, 1.88), 1.45),
        "suv": (rng.uniform(4.6, 5.0), rng.uniform(1.9, 2.0), 1.8),
        "van": (rng.uniform(5.0, 5.5), 2.0, 2.2),
        "truck": (rng.uniform(7.0, 9.5), 2.5, rng.uniform(3.3, 3.7)),
        "bus": (rng.uniform(11.0, 12.5), 2.55, 3.2),
    }[kind]
    a = Agent(kind, color, 0.0, 0.0, 0.0, length=dims[0], width=dims[1], height=dims[2])
    a.cargo_color = ["white", "gray", "blue", "red", "white"][int(rng.integers(5))]
    return a


def _pedestrian(rng) -> Agent:
    names = list(CLOTHES_COLORS)
    return Agent(
        "pedestrian",
        names[int(rng.integers(len(names)))],
        0.0,
        0.0,
        0.0,
        length=0.45,
        width=0.55,
        height=float(rng.uniform(1.6, 1.88)),
        variant=int(rng.integers(4)),
    )


def _cyclist(rng) -> Agent:
    names = list(CLOTHES_COLORS)
    return Agent(
        "cyclist",
        names[int(rng.integers(len(names)))],
        0.0,
        0.0,
        0.0,
        length=1.75,
        width=0.6,
        height=1.75,
        variant=int(rng.integers(4)),
    )


class _Lanes:
    """Occupied s-intervals per lateral lane position, so vehicles never overlap."""

    def __init__(self):
        self.used = {}

    def free(self, d: float, lo: float, hi: float) -> bool:
        for a, b in self.used.get(round(d, 2), []):
            if lo < b and hi > a:
                return False
        return True

    def take(self, d: float, lo: float, hi: float):
        self.used.setdefault(round(d, 2), []).append((lo, hi))


def _place(agents, lanes, a: Agent, s: float, d: float, yaw: float, speed: float, gap: float = 1.0):
    """Adds a vehicle centred at (s, d) when its interval (plus gap) is free; returns it or None."""
    lo, hi = s - a.length / 2 - gap, s + a.length / 2 + gap
    if not lanes.free(d, lo, hi):
        return None
    lanes.take(d, lo, hi)
    a.s, a.d, a.yaw, a.speed = s, d, yaw, speed
    agents.append(a)
    return a


def _queue(rng, agents, lanes, road, d, front_s, heading, n, gap_range=(1.5, 3.5), speed=0.0,
           urban=True):
    """n vehicles one behind the other; the first one's front bumper at front_s. heading +1: driving
    towards +s (the queue extends to -s); -1: towards -s."""
    s_front = front_s
    placed = []
    for _ in range(n):
        a = _vehicle(rng, urban=urban)
        centre = s_front - heading * a.length / 2
        yaw = 0.0 if heading > 0 else math.pi
        if _place(agents, lanes, a, centre, d, yaw, speed * 1.0, gap=0.5) is None:
            break
        placed.append(a)
        s_front = centre - heading * (a.length / 2 + rng.uniform(*gap_range))
    return placed


def _flow(rng, agents, lanes, d, s_lo, s_hi, heading, speed, density, urban=True):
    """Vehicles spread along a lane, all at the lane's speed (so they keep their gaps)."""
    s = s_lo + rng.uniform(0, 15)
    while s < s_hi:
        if rng.random() < density:
            a = _vehicle(rng, urban=urban)
            _place(agents, lanes, a, s + a.length / 2, d, 0.0 if heading > 0 else math.pi,
                   speed, gap=3.0)
            s += a.length
        s += rng.uniform(8.0, 22.0)


def _sidewalk_pedestrians(rng, agents, road, n, s_lo=-30.0, s_hi=60.0, avoid=None):
    if road.sidewalk <= 0:
        return
    for _ in range(n):
        p = _pedestrian(rng)
        right = rng.random() < 0.5
        if right:
            d = road.d_right_outer - rng.uniform(0.6, road.sidewalk - 0.6)
        else:
            d = road.d_left + rng.uniform(0.6, road.sidewalk - 0.6)
        s = rng.uniform(s_lo, s_hi)
        if avoid is not None and avoid[0] < s < avoid[1]:
            continue
        walking = rng.random() < 0.6
        p.s, p.d = s, d
        p.yaw = (0.0 if rng.random() < 0.5 else math.pi) if walking else rng.uniform(-math.pi, math.pi)
        p.speed = rng.uniform(1.1, 1.6) if walking else 0.0
        agents.append(p)


def _traffic_light(rng, road, props, state: str) -> Agent:
    """The ego direction's light on the far side of the intersection, on a roadside pole or hanging
    from a mast arm over the forward lanes; facing the ego (yaw pi)."""
    far = road.intersection + road.cross_w / 2.0 + 1.5
    overhead = rng.random() < 0.6
    pole_d = road.d_right_outer - 0.6
    if overhead:
        d = (road.d_right + road.d_div) / 2.0
        z0 = 4.6
        props.append(Prop("mast", far, pole_d, 0.0, height=6.8, extra=d - pole_d,
                          color=(70, 72, 74)))
    else:
        d = pole_d
        z0 = 3.3
        props.append(Prop("pole", far, pole_d, 0.0, height=z0, color=(70, 72, 74)))
    return Agent("traffic_light", state, far, d, math.pi, length=0.45, width=0.75, height=1.8,
                 z0=z0, faces_ego=True)


def _add_cross_light(rng, road, props, agents, state: str):
    """A light for the crossing road at the near-left corner, facing the crossing traffic."""
    near = road.intersection - road.cross_w / 2.0 - 1.0
    d = road.d_left + (road.sidewalk * 0.5 if road.sidewalk > 0 else 1.0)
    props.append(Prop("pole", near, d, 0.0, height=3.3, color=(70, 72, 74)))
    agents.append(Agent("traffic_light", state, near, d, -math.pi / 2, length=0.45, width=0.75,
                        height=1.8, z0=3.3))


def _cross_traffic(rng, agents, road, moving: bool, urban: bool):
    """Vehicles on the crossing road: driving across the intersection, or queued before it."""
    w = road.lane_w
    sx = road.intersection
    half_main_r = road.d_right_outer - road.sidewalk - 1.0
    half_main_l = road.d_left + road.sidewalk + 1.0
    for direction in (+1, -1):  # +1: towards +d (ego's left)
        lane_s = sx + direction * w / 2.0
        yaw = direction * math.pi / 2.0
        if moving:
            n = int(rng.integers(0, 3))
            for _ in range(n):
                a = _vehicle(rng, urban=urban)
                a.s, a.d, a.yaw = lane_s, float(rng.uniform(-35.0, 35.0)), yaw
                a.speed = float(rng.uniform(6.0, 10.0))
                if all(abs(o.d - a.d) > 9.0 or abs(o.s - a.s) > 1.0 for o in agents):
                    agents.append(a)
        elif rng.random() < 0.7:
            # Queued before the intersection, on the side they come from.
            edge = half_main_r if direction > 0 else half_main_l
            front = edge - direction * rng.uniform(0.5, 2.0)
            for _ in range(int(rng.integers(1, 3))):
                a = _vehicle(rng, urban=urban)
                a.s, a.yaw, a.speed = lane_s, yaw, 0.0
                a.d = front - direction * a.length / 2.0
                agents.append(a)
                front = a.d - direction * (a.length / 2.0 + rng.uniform(1.5, 3.0))


def _crossing_pedestrians(rng, agents, road, s_center, n):
    """Pedestrians walking across the main road on a crosswalk centred at s_center."""
    lo, hi = road.d_right_outer - 1.0, road.d_left + 1.0
    for _ in range(n):
        p = _pedestrian(rng)
        p.s = s_center + rng.uniform(-0.9, 0.9)
        p.d = float(rng.uniform(lo, hi))
        if any(o.kind == "pedestrian" and abs(o.d - p.d) < 1.0 and abs(o.s - p.s) < 1.5
               for o in agents):
            continue
        direction = 1.0 if rng.random() < 0.5 else -1.0
        p.yaw = direction * math.pi / 2.0
        p.speed = float(rng.uniform(1.1, 1.5))
        p.crossing = True
        agents.append(p)


def _scenery(rng, road: Road, props: List[Prop]):
    """Buildings, trees and street lamps (urban) or verge trees and a median wall (highway)."""
    cut = []  # s-ranges kept free for the crossing road and its sidewalks
    if road.intersection is not None:
        half = road.cross_w / 2.0 + max(road.sidewalk, 2.0) + 1.5
        cut.append((road.intersection - half, road.intersection + half))

    def blocked(lo, hi):
        return any(lo < b and hi > a for a, b in cut)

    k = abs(road.kappa)
    building_palette = [(196, 182, 160), (160, 92, 70), (150, 152, 156), (112, 126, 140),
                        (210, 205, 196), (126, 110, 96), (176, 170, 150), (92, 100, 110)]
    if road.urban:
        for side in (-1, +1):
            s = -90.0 + rng.uniform(0, 10)
            edge = road.d_right_outer - road.sidewalk if side < 0 else road.d_left + road.sidewalk
            max_len = 30.0 if k < 1e-4 else min(30.0, (20.0 / k) ** 0.5)
            while s < 170.0:
                length = float(rng.uniform(min(10.0, max_len / 2.0), max_len))
                depth = float(rng.uniform(10.0, 20.0))
                setback = float(rng.uniform(1.0, 9.0)) + (length ** 2) * k / 8.0
                if not blocked(s, s + length) and rng.random() < 0.75:
                    height = float(rng.choice([rng.uniform(6, 12), rng.uniform(12, 24),
                                               rng.uniform(24, 40)], p=[0.45, 0.4, 0.15]))
                    d = edge + side * (setback + depth / 2.0)
                    color = building_palette[int(rng.integers(len(building_palette)))]
                    props.append(Prop("building", s + length / 2.0, d, 0.0, length, depth, height,
                                      color, extra=float(rng.uniform(3.0, 3.8)),
                                      variant=int(rng.integers(3))))
                s += length + float(rng.choice([0.0, rng.uniform(3.0, 14.0)], p=[0.45, 0.55]))
            # Street trees and lamps on the sidewalk's outer half.
            if road.sidewalk > 0:
                s = -60.0 + rng.uniform(0, 12)
                tree_side = rng.random() < 0.6
                while s < 140.0:
                    d = edge - side * 0.9
                    if not blocked(s - 3, s + 3):
                        if tree_side and rng.random() < 0.75:
                            props.append(Prop("tree", s, d, 0.0, 0.35, 0.35,
                                              float(rng.uniform(2.5, 4.0)),
                                              (60 + int(rng.integers(30)), 110 + int(rng.integers(40)), 50),
                                              extra=float(rng.uniform(1.4, 2.4))))
                        elif rng.random() < 0.35:
                            props.append(Prop("lamp", s, d, 0.0, 0.18, 0.18, 7.0, (90, 92, 95),
                                              extra=-side * 1.5))
                    s += float(rng.uniform(9.0, 16.0))
    else:
        # Median wall and verge trees.
        if road.median > 0 and road.n_back > 0:
            d = road.d_div + road.median / 2.0
            s = -80.0
            while s < 200.0:
                props.append(Prop("jersey", s + 4.0, d, 0.0, 8.0, 0.6, 0.85, (168, 166, 160)))
                s += 8.0
        for side in (-1, +1):
            edge = road.d_right_outer if side < 0 else road.d_left
            s = -80.0 + rng.uniform(0, 20)
            while s < 200.0:
                if rng.random() < 0.55:
                    d = edge + side * float(rng.uniform(6.0, 30.0))
                    props.append(Prop("tree", s, d, 0.0, 0.45, 0.45, float(rng.uniform(2.5, 5.0)),
                                      (50 + int(rng.integers(30)), 100 + int(rng.integers(40)), 45),
                                      extra=float(rng.uniform(2.0, 3.6))))
                s += float(rng.uniform(6.0, 25.0))


URBAN_SCENARIOS = (
    ("red_stop", 0.14),
    ("queue", 0.09),
    ("approach_red", 0.12),
    ("green_go", 0.18),
    ("urban_free", 0.25),
    ("crosswalk", 0.11),
    ("construction", 0.11),
)
HIGHWAY_SCENARIOS = (("highway_free", 0.6), ("highway_construction", 0.15), ("highway_jam", 0.25))


def make_scene(seed: int, index: int, attempt: int = 0) -> Scene:
    """The scene of index `index`: a pure function of (seed, index, attempt)."""
    rng = np.random.default_rng([seed, index, 0, attempt])
    n_frames = frames_in_scene(seed, index)
    urban = rng.random() < 0.65
    table = URBAN_SCENARIOS if urban else HIGHWAY_SCENARIOS
    names = [n for n, _ in table]
    weights = np.array([w for _, w in table])
    scenario = names[int(rng.choice(len(names), p=weights / weights.sum()))]

    needs_intersection = scenario in ("red_stop", "queue", "approach_red", "green_go")
    if urban:
        n_fwd = int(rng.choice([1, 2], p=[0.45, 0.55]))
        n_back = int(rng.choice([0, 1, 2], p=[0.08, 0.5, 0.42]))
        if scenario == "crosswalk" and n_back == 0:
            n_back = 1
        road = Road(True, float(rng.uniform(3.1, 3.5)), n_fwd, n_back, int(rng.integers(n_fwd)),
                    0.0, float(rng.choice([0.4, 2.4], p=[0.5, 0.5])),
                    float(rng.uniform(2.5, 4.0)), 0.0)
        if not needs_intersection and scenario != "crosswalk" and rng.random() < 0.55:
            road.kappa = float(rng.choice([-1, 1]) * 1.0 / rng.uniform(35.0, 300.0))
    else:
        n_fwd = int(rng.choice([2, 3], p=[0.5, 0.5]))
        n_back = int(rng.choice([2, 3], p=[0.5, 0.5]))
        road = Road(False, float(rng.uniform(3.5, 3.75)), n_fwd, n_back, int(rng.integers(n_fwd)),
                    float(rng.uniform(1.2, 3.0)), float(rng.uniform(2.5, 3.2)), 0.0, 0.0)
        if rng.random() < 0.5:
            road.kappa = float(rng.choice([-1, 1]) * 1.0 / rng.uniform(250.0, 1500.0))

    agents: List[Agent] = []
    props: List[Prop] = []
    lanes = _Lanes()
    w = road.lane_w
    ego_lane_d = 0.0
    lanes.take(ego_lane_d, -EGO_REAR - 1.0, EGO_FRONT + 1.0)
    light = None
    speed_cat = "normal"
    description = ""
    stop_line = None

    def speed_of(cat):
        lo, hi = SPEED_RANGES[cat]
        return float(rng.uniform(lo, hi))

    if needs_intersection:
        cross_lanes = int(rng.choice([1, 2], p=[0.6, 0.4]))
        road.cross_w = 2 * cross_lanes * w + 1.0

    if scenario == "red_stop":
        speed_cat = "not moving"
        light = "red"
        stop_line = EGO_FRONT + float(rng.uniform(0.8, 4.0))
        road.intersection = stop_line + 3.6 + road.cross_w / 2.0
        for i in range(n_fwd):
            d = road.lane_center(i)
            if i == road.ego_lane:
                # Vehicles queued behind the ego.
                _queue(rng, agents, lanes, road, d, -EGO_REAR - rng.uniform(1.5, 3.5), +1,
                       int(rng.integers(0, 3)), urban=True)
            elif rng.random() < 0.65:
                _queue(rng, agents, lanes, road, d, stop_line - rng.uniform(0.3, 2.0), +1,
                       int(rng.integers(1, 4)))
        description = "The ego vehicle waits at a red light at an intersection."
    elif scenario == "queue":
        speed_cat = "not moving"
        light = "red"
        front = EGO_FRONT + float(rng.uniform(2.5, 6.0))
        lead = _vehicle(rng)
        _place(agents, lanes, lead, front + lead.length / 2, 0.0, 0.0, 0.0, gap=0.5)
        s_front = front + lead.length
        for _ in range(int(rng.integers(0, 2))):
            a = _vehicle(rng)
            s0 = s_front + rng.uniform(1.5, 3.0)
            _place(agents, lanes, a, s0 + a.length / 2, 0.0, 0.0, 0.0, gap=0.5)
            s_front = s0 + a.length
        stop_line = s_front + float(rng.uniform(0.5, 2.0))
        road.intersection = stop_line + 3.6 + road.cross_w / 2.0
        for i in range(n_fwd):
            if i != road.ego_lane and rng.random() < 0.7:
                _queue(rng, agents, lanes, road, road.lane_center(i),
                       stop_line - rng.uniform(0.3, 2.0), +1, int(rng.integers(1, 4)))
        if rng.random() < 0.5:
            _queue(rng, agents, lanes, road, 0.0, -EGO_REAR - rng.uniform(1.5, 3.5), +1,
                   int(rng.integers(1, 3)))
        description = "The ego vehicle waits in a queue of vehicles stopped at a red light."
    elif scenario == "approach_red":
        speed_cat = "slowly"
        light = "red" if rng.random() < 0.7 else "yellow"
        stop_line = EGO_FRONT + float(rng.uniform(20.0, 42.0))
        road.intersection = stop_line + 3.6 + road.cross_w / 2.0
        for i in range(n_fwd):
            d = road.lane_center(i)
            if i == road.ego_lane:
                if stop_line - EGO_FRONT > 30 and rng.random() < 0.5:
                    _queue(rng, agents, lanes, road, d, stop_line - rng.uniform(0.3, 1.5), +1, 1)
            elif rng.random() < 0.6:
                _queue(rng, agents, lanes, road, d, stop_line - rng.uniform(0.3, 2.0), +1,
                       int(rng.integers(1, 3)))
        description = f"The ego vehicle slows down for a {light} light ahead."
    elif scenario == "green_go":
        speed_cat = "normal"
        light = "green"
        stop_line = EGO_FRONT + float(rng.uniform(10.0, 50.0))
        road.intersection = stop_line + 3.6 + road.cross_w / 2.0
        description = "The ego vehicle drives through an intersection on a green light."
    elif scenario == "urban_free":
        speed_cat = "normal"
        description = "The ego vehicle drives along a city street."
        if road.ego_lane == 0 and rng.random() < 0.35:
            speed_cat = "slowly"
            c = _cyclist(rng)
            c.s, c.d, c.yaw = EGO_FRONT + float(rng.uniform(7.0, 18.0)), -0.6, 0.0
            agents.append(c)
            lanes.take(0.0, c.s - 1.5, c.s + 1.5)
            description = "The ego vehicle follows a cyclist along a city street."
    elif scenario == "crosswalk":
        dist = float(rng.uniform(4.0, 9.0)) if rng.random() < 0.4 else float(rng.uniform(14.0, 28.0))
        speed_cat = "not moving" if dist < 10 else "slowly"
        road.crosswalk = EGO_FRONT + dist + 1.5
        _crossing_pedestrians(rng, agents, road, road.crosswalk, int(rng.integers(1, 4)))
        if not any(p.crossing for p in agents):
            _crossing_pedestrians(rng, agents, road, road.crosswalk, 1)
        # At least one pedestrian in or next to the ego lane, so the stop is explained.
        for p in agents:
            if p.crossing:
                p.d = float(rng.uniform(-1.2, 1.2))
                break
        description = "The ego vehicle yields to pedestrians on a crosswalk."
    elif scenario in ("construction", "highway_construction"):
        in_ego = rng.random() < 0.5 or n_fwd == 1
        if in_ego:
            target = road.ego_lane
        else:
            target = road.ego_lane + (1 if road.ego_lane + 1 < n_fwd else -1)
        dist = float(rng.uniform(14.0, 40.0))
        d_lane = road.lane_center(target)
        n = int(rng.integers(2, 4))
        for j in range(n):
            b = Agent("barrier", "orange", EGO_FRONT + dist + j * 2.2,
                      d_lane + (j - (n - 1) / 2.0) * 1.1 * (1 if target <= road.ego_lane else -1),
                      math.pi / 2 + rng.uniform(-0.4, 0.4), length=2.0, width=0.5, height=1.0,
                      variant=int(rng.integers(2)))
            agents.append(b)
        lanes.take(d_lane, EGO_FRONT + dist - 3.0, EGO_FRONT + dist + n * 2.2 + 3.0)
        if in_ego:
            speed_cat = "slowly"
            description = "The ego vehicle approaches road works closing its lane."
        else:
            speed_cat = "normal" if urban else "fast"
            description = "The ego vehicle passes road works in the next lane."
    elif scenario == "highway_free":
        speed_cat = "very fast" if n_fwd == 3 else "fast"
        description = "The ego vehicle drives on a multi-lane road."
    elif scenario == "highway_jam":
        speed_cat = "not moving" if rng.random() < 0.5 else "slowly"
        description = "The ego vehicle is in slow traffic on a multi-lane road."

    road.cross_w = road.cross_w if road.intersection is not None else 0.0
    ego_speed = speed_of(speed_cat)
    for a in agents:
        if a.kind == "cyclist" and a.speed == 0.0:
            a.speed = ego_speed  # the cyclist the ego follows sets its pace

    # A cyclist along the right edge of the rightmost lane, with room around it.
    if urban and scenario not in ("red_stop", "queue", "crosswalk") and road.ego_lane > 0 \
            and rng.random() < 0.3:
        c = _cyclist(rng)
        c.s, c.d = float(rng.uniform(-25.0, 50.0)), road.d_right + 0.7
        c.speed = float(rng.uniform(3.5, 6.0))
        lane0 = road.lane_center(0)
        if lanes.free(lane0, c.s - 25.0, c.s + 25.0):
            lanes.take(lane0, c.s - 25.0, c.s + 25.0)
            agents.append(c)

    # Ego lane: lead and following vehicles consistent with the ego's speed.
    if scenario in ("green_go", "urban_free", "highway_free", "construction",
                    "highway_construction") and not any(
                        a.kind == "cyclist" for a in agents):
        blocked_ego = scenario.endswith("construction") and speed_cat == "slowly"
        if not blocked_ego and rng.random() < 0.6:
            lead = _vehicle(rng, urban=urban)
            if speed_cat == "very fast":
                gap = float(rng.uniform(55.0, 90.0))
            else:
                gap = float(rng.uniform(9.0, 40.0))
            _place(agents, lanes, lead, EGO_FRONT + gap + lead.length / 2, 0.0, 0.0, ego_speed)
        if rng.random() < 0.5:
            f = _vehicle(rng, urban=urban)
            gap = float(rng.uniform(5.0, 18.0))
            _place(agents, lanes, f, -EGO_REAR - gap - f.length / 2, 0.0, 0.0, ego_speed)
    if scenario == "highway_jam":
        gap = float(rng.uniform(2.5, 7.0)) if speed_cat == "not moving" else float(rng.uniform(5.0, 11.0))
        s0 = EGO_FRONT + gap
        for _ in range(int(rng.integers(1, 4))):
            a = _vehicle(rng, urban=False)
            _place(agents, lanes, a, s0 + a.length / 2, 0.0, 0.0, ego_speed, gap=0.3)
            s0 += a.length + float(rng.uniform(2.5, 8.0))
        for i in range(n_fwd):
            if i != road.ego_lane:
                d = road.lane_center(i)
                s0 = float(rng.uniform(-30.0, -10.0))
                while s0 < 70.0:
                    a = _vehicle(rng, urban=False)
                    _place(agents, lanes, a, s0 + a.length / 2, d, 0.0, ego_speed, gap=0.5)
                    s0 += a.length + float(rng.uniform(2.5, 8.0))
        if rng.random() < 0.6:
            _queue(rng, agents, lanes, road, 0.0, -EGO_REAR - rng.uniform(2.0, 5.0), +1,
                   int(rng.integers(1, 3)), speed=ego_speed, urban=False)

    # Other forward lanes and the opposite lanes.
    if scenario in ("green_go", "urban_free", "crosswalk", "construction", "highway_free",
                    "highway_construction"):
        for i in range(n_fwd):
            if i == road.ego_lane:
                continue
            lane_speed = ego_speed if speed_cat in ("not moving", "slowly") else max(
                0.0, ego_speed + float(rng.uniform(-3.0, 3.0)))
            if scenario == "crosswalk":
                lane_speed = 0.0
                _queue(rng, agents, lanes, road, road.lane_center(i),
                       road.crosswalk - 2.5 - rng.uniform(0.5, 3.0), +1, int(rng.integers(0, 3)))
                continue
            _flow(rng, agents, lanes, road.lane_center(i), -45.0, 80.0, +1, lane_speed,
                  0.45 if urban else 0.5, urban)
    for j in range(road.n_back):
        d = road.back_lane_center(j)
        if light in ("red", "yellow") and road.intersection is not None:
            if rng.random() < 0.5:
                far_stop = road.intersection + road.cross_w / 2.0 + 3.6
                _queue(rng, agents, lanes, road, d, far_stop + rng.uniform(0.3, 2.0), -1,
                       int(rng.integers(1, 3)))
        elif scenario == "crosswalk":
            if rng.random() < 0.6:
                _queue(rng, agents, lanes, road, d, road.crosswalk + 2.5 + rng.uniform(0.5, 3.0),
                       -1, int(rng.integers(1, 3)))
        else:
            v = 0.0 if speed_cat == "not moving" and not urban else float(
                rng.uniform(*((7.0, 11.0) if urban else (18.0, 26.0))))
            _flow(rng, agents, lanes, d, -40.0, 90.0, -1, v, 0.35 if urban else 0.45, urban)

    # Intersections: lights, cross traffic, turning vehicles, crossing pedestrians.
    if road.intersection is not None:
        agents.append(_traffic_light(rng, road, props, light))
        if rng.random() < 0.5:
            _add_cross_light(rng, road, props, agents, "green" if light == "red" else "red")
        _cross_traffic(rng, agents, road, moving=(light in ("red", "yellow")), urban=True)
        near_walk = road.intersection - road.cross_w / 2.0 - 1.9
        if light == "red" and rng.random() < 0.55:
            _crossing_pedestrians(rng, agents, road, near_walk, int(rng.integers(1, 4)))
        if light == "green":
            sx = road.intersection
            if road.n_back > 0 and rng.random() < 0.5:
                # An oncoming vehicle turning left across the ego's path.
                a = _vehicle(rng, kind=("sedan", "suv")[int(rng.integers(2))])
                a.s = sx + float(rng.uniform(-1.0, 3.0))
                a.d = road.back_lane_center(0) - float(rng.uniform(0.0, 1.5))
                a.yaw = math.pi + float(rng.uniform(0.15, 0.6))
                a.speed = float(rng.uniform(3.0, 5.0))
                a.yaw_rate = a.speed / 9.0
                agents.append(a)
            if rng.random() < 0.45:
                # A vehicle ahead turning right into the crossing road.
                a = _vehicle(rng, kind=("sedan", "suv", "van")[int(rng.integers(3))])
                a.s = sx - road.cross_w / 2.0 + float(rng.uniform(-1.0, 2.0))
                a.d = road.lane_center(0) - float(rng.uniform(0.0, 0.8))
                a.yaw = -float(rng.uniform(0.15, 0.6))
                a.speed = float(rng.uniform(3.0, 5.0))
                a.yaw_rate = -a.speed / 7.0
                lane0 = road.lane_center(0)
                if lanes.free(lane0, a.s - 25.0, a.s + 8.0):
                    lanes.take(lane0, a.s - 25.0, a.s + 8.0)
                    agents.append(a)
        # Forward-lane vehicles moving towards a red light stop there.
        if light in ("red", "yellow"):
            for a in agents:
                if a.is_vehicle and a.speed > 0 and abs(a.yaw) < 0.3 and a.s < stop_line:
                    a.stop_at_light = True

    # Roadside life.
    if road.urban:
        avoid = None
        _sidewalk_pedestrians(rng, agents, road, int(rng.integers(0, 5)), avoid=avoid)
        if road.shoulder > 2.0:
            d = road.d_right - road.shoulder / 2.0
            s = float(rng.uniform(-40.0, -20.0))
            while s < 70.0:
                if rng.random() < 0.45:
                    a = _vehicle(rng, kind=("sedan", "suv", "van")[int(rng.choice(3, p=[.5, .35, .15]))])
                    blocked = road.intersection is not None and abs(
                        s - road.intersection) < road.cross_w / 2.0 + 14.0
                    blocked = blocked or (road.crosswalk is not None
                                          and abs(s - road.crosswalk) < 8.0)
                    if not blocked and _place(agents, lanes, a, s + a.length / 2, d, 0.0, 0.0,
                                              gap=0.8) is not None:
                        a.parked = True
                        if scenario == "urban_free" and rng.random() < 0.12 and 5.0 < s < 40.0:
                            a.speed = -1.2
                            a.yaw = float(rng.uniform(0.05, 0.25))
                    s += a.length
                s += float(rng.uniform(1.5, 9.0))

    _scenery(rng, road, props)

    weather = str(rng.choice(["sunny", "overcast", "hazy"], p=[0.5, 0.35, 0.15]))
    return Scene(
        index=index,
        scenario=scenario,
        road=road,
        ego_speed=ego_speed,
        speed_cat=speed_cat,
        agents=agents,
        props=props,
        n_frames=n_frames,
        light=light,
        weather=weather,
        sun_azimuth=float(rng.uniform(-math.pi, math.pi)),
        sun_elevation=float(rng.uniform(0.5, 1.1)),
        hill_phases=tuple(float(x) for x in rng.uniform(0, 2 * math.pi, size=4)),
        description=description,
    )


def frames_in_scene(seed: int, index: int) -> int:
    """Key frames of scene `index` (1-3), from its own stream so rerolls keep the count."""
    rng = np.random.default_rng([seed, index, 1])
    return int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))


def is_test_scene(seed: int, index: int, test_fraction: float) -> bool:
    rng = np.random.default_rng([seed, index, 2])
    return bool(rng.random() < test_fraction)

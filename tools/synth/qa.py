"""DriveLM-style questions and answers for one rendered key frame, derived from the scene state.

Every answer is a deterministic function of the scene (positions, velocities, lanes, the light)
and of what the cameras see (which objects are visible, where); the only randomness is which
objects a question is asked about and the order of multiple-choice options, drawn from the
frame's own generator. Wording follows DriveLM-nuScenes v1.1 (the public sample's templates).

Tags, as DriveLM's evaluation files use them: 0 accuracy (exact match: multiple-choice letters,
Yes./No., short closed-vocabulary answers), 1 judge-style free text (actions and reasons),
2 language (BLEU/ROUGE/CIDEr: descriptions), 3 match (answers listing <c,CAM,x,y> references).
"""

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from cameras import CAMERA_DIRECTION, CAMERA_NAMES, HEIGHT, WIDTH
from render import CameraView
from world import EGO_FRONT, EGO_REAR, FRAME_DT, Agent, Scene

IMPORTANT_OBJECTS_Q = ("What are the important objects in the current scene? Those objects will be "
                       "considered for the future reasoning and driving decision.")
NOTICE_Q = (
    "What object should the ego vehicle notice first when the ego vehicle is getting to the next "
    "possible location? What is the state of the object that is first noticed by the ego vehicle "
    "and what action should the ego vehicle take? What object should the ego vehicle notice second "
    "when the ego vehicle is getting to the next possible location? What is the state of the "
    "object perceived by the ego vehicle as second and what action should the ego vehicle take? "
    "What object should the ego vehicle notice third? What is the state of the object perceived "
    "by the ego vehicle as third and what action should the ego vehicle take?")
SAFE_Q = "In this scenario, what are safe actions to take for the ego vehicle?"
DANGEROUS_Q = "In this scenario, what are dangerous actions to take for the ego vehicle?"
SIGNAL_Q = "What is the traffic signal that the ego vehicle should pay attention to?"
TARGET_Q = "What is the target action of the ego vehicle?"
PRIORITY_Q = "What is the priority of the objects that the ego vehicle should consider?(in descending order)"
BEHAVIOR_Q = "Predict the behavior of the ego vehicle."
MC_SUFFIX = " Please select the correct answer from the following options:"

MOVING_STATUS_OPTIONS = ("Going ahead.", "Turn right.", "Turn left.", "Stopped.", "Back up.",
                         "Reverse parking.", "Drive backward.")
STEERING_WORDS = ("going straight", "steering to the left", "steering to the right",
                  "slightly steering to the left", "slightly steering to the right")
SPEED_WORDS = {
    "very fast": "driving very fast",
    "fast": "driving fast",
    "normal": "driving with normal speed",
    "slowly": "driving slowly",
    "not moving": "not moving",
}

# Ego actions, in DriveLM's words.
KEEP = "keep going at the same speed"
ACCEL = "accelerate and go straight"
DECEL = "decelerate gradually without braking"
BRAKE = "brake gently to a stop"
BRAKE_HARD = "brake suddenly"
LEFT_LANE = "change to the left lane"
RIGHT_LANE = "change to the right lane"
BACK = "back up"
REMAIN = "remain stationary"

REASON_RULES = "to follow the traffic rules"
REASON_COLLISION = "to avoid a collision"
REASON_NONE = "that there is no safety issue"

COLLISION_PHRASES = (  # (question phrase, collision key)
    ("goes straight and keeps the same speed", "keep"),
    ("accelerates and goes straight", "accel"),
    ("changes to the left lane", "left"),
    ("changes to the right lane", "right"),
    ("backs up", "back"),
)

COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}
COUNT_CLASSES = ("car", "truck", "bus", "cyclist", "pedestrian", "barrier", "traffic light")
PLURALS = {"bus": "buses"}

# Full-resolution pixels an object must show to be "seen" (asked about, counted): about 35x35
# for vehicles, less for thin pedestrians and small traffic lights.
MIN_VISIBLE_PX = {"sedan": 1200.0, "suv": 1200.0, "van": 1200.0, "truck": 1200.0, "bus": 1200.0,
                  "pedestrian": 450.0, "cyclist": 550.0, "barrier": 700.0, "traffic_light": 180.0}
MIN_VISIBLE_FRACTION = 0.3
MAX_IMPORTANT = 4


@dataclass
class Seen:
    """An agent as one key frame shows it."""

    idx: int
    agent: Agent
    cam: str
    view: Optional[CameraView]  # None: not seen well enough by any camera
    s_rel: float  # road s relative to the ego's rear axle
    d: float
    yaw: float
    dist: float
    lane: Optional[str]
    in_path: bool = False
    score: float = 0.0
    ref: str = ""

    @property
    def px(self) -> Tuple[float, float]:
        b = self.view.bbox
        return (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0

    @property
    def direction(self) -> str:
        return CAMERA_DIRECTION[self.cam]


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _plural(word: str, n: int) -> str:
    if n == 1:
        return word
    return PLURALS.get(word, word + "s")


def _join(items: List[str]) -> str:
    """'a', 'a and b', 'a, b, and c' (DriveLM's Oxford comma)."""
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + ", and " + items[-1]


class FrameFacts:
    """Everything the questions need about one key frame."""

    def __init__(self, scene: Scene, frame: int, views: Dict[int, Dict[str, CameraView]]):
        self.scene = scene
        self.frame = frame
        self.t = frame * FRAME_DT
        self.road = scene.road
        self.s_ego = scene.ego_s(self.t)
        self.v = scene.ego_speed
        # Every agent (the ego's sensors know them all: its plan and speed come from these) and
        # the ones the cameras show well enough to be asked about.
        self.everyone: List[Seen] = []
        self.seen: List[Seen] = []
        for idx, a in enumerate(scene.agents):
            s, d, yaw = a.state_at(self.t)
            s_rel = s - self.s_ego
            x, y, _ = self.road.to_ego(s_rel, d)
            o = Seen(idx, a, "", None, s_rel, d, yaw, float(math.hypot(x, y)),
                     self.road.lane_of(d))
            o.in_path = self._in_path(a)
            self.everyone.append(o)
            per_cam = views.get(idx)
            if not per_cam:
                continue
            cam, view = max(per_cam.items(), key=lambda kv: (kv[1].visible_px,
                                                             -CAMERA_NAMES.index(kv[0])))
            if view.visible_px < MIN_VISIBLE_PX[a.kind] or \
                    view.visible_px < MIN_VISIBLE_FRACTION * view.hull_area:
                continue
            o.cam, o.view = cam, view
            self.seen.append(o)
        self.light = self._ego_light()
        self.stop_line_ahead = self._stop_line_ahead()
        self.plan, self.plan_reason = self._plan()
        self.important = self._importance()

    # Geometry ------------------------------------------------------------------------------------

    def _in_path(self, a: Agent) -> bool:
        """Would the agent be in the ego's lane ahead, now or within three seconds?"""
        if a.kind == "traffic_light":
            s, _, _ = a.state_at(self.t)
            return a.faces_ego and s - self.s_ego > 0
        reach = max(40.0, self.v * 4.0 + 15.0)
        half = self.road.lane_w / 2.0 + min(a.width, 1.2) / 2.0 - 0.2
        for dt in (0.0, 1.0, 2.0, 3.0):
            s, d, _ = a.state_at(self.t + dt)
            rel = s - self.scene.ego_s(self.t + dt)  # relative to where the ego will be
            if abs(d) < half and EGO_FRONT - 1.0 < rel + a.length / 2.0 and rel < reach:
                return True
        return False

    def _gap_ahead(self, o: Seen) -> float:
        return o.s_rel - o.agent.length / 2.0 - EGO_FRONT

    def _gap_behind(self, o: Seen) -> float:
        return -o.s_rel - o.agent.length / 2.0 - EGO_REAR

    def _ego_light(self) -> Optional[Seen]:
        for o in self.seen:
            if o.agent.kind == "traffic_light" and o.agent.faces_ego and o.s_rel > 0:
                return o
        return None

    def _stop_line_ahead(self) -> Optional[float]:
        sl = self.road.stop_line()
        if sl is None:
            return None
        rel = sl - self.s_ego - EGO_FRONT
        return rel if rel > -1.0 else None

    def blockers(self) -> List[Seen]:
        """Agents in the ego's path ahead that are slower than the ego or cross its lane."""
        out = []
        for o in self.everyone:
            a = o.agent
            if not o.in_path or a.kind == "traffic_light":
                continue
            slower = a.speed < self.v - 0.5 or abs(a.yaw) > 0.3 or a.kind == "barrier"
            if slower or self.v == 0.0:
                out.append(o)
        return out

    def _red_ahead(self) -> bool:
        return (self.scene.light in ("red", "yellow") and self.stop_line_ahead is not None
                and self.stop_line_ahead < 50.0)

    def _plan(self) -> Tuple[str, str]:
        """The ego's overall action and its reason."""
        if self.v == 0.0:
            return REMAIN, (REASON_RULES if self._red_ahead() and not self._close_blocker()
                            else REASON_COLLISION)
        if self._red_ahead():
            return BRAKE, REASON_RULES
        blockers = [o for o in self.blockers() if self._gap_ahead(o) < 45.0]
        if blockers:
            gap = min(self._gap_ahead(o) for o in blockers)
            return (BRAKE if gap < 25.0 else DECEL), REASON_COLLISION
        if self.light is not None and self.scene.light == "green":
            return KEEP, REASON_RULES
        return KEEP, REASON_NONE

    def _close_blocker(self) -> bool:
        return any(self._gap_ahead(o) < 12.0 for o in self.blockers())

    def _importance(self) -> List[Seen]:
        for o in self.seen:
            o.score = self._score(o)
        ranked = sorted([o for o in self.seen if o.score > 0], key=lambda o: (-o.score, o.idx))
        chosen = []
        for o in ranked:  # at most two barriers of a row of them
            if len(chosen) < MAX_IMPORTANT and (o.agent.kind != "barrier" or sum(
                    x.agent.kind == "barrier" for x in chosen) < 2):
                chosen.append(o)
        if not chosen:
            movers = sorted([o for o in self.seen if o.agent.is_mover], key=lambda o: o.dist)
            chosen = movers[:1]
            for o in chosen:
                o.score = 1.0
        # DriveLM ids: c1, c2, ... in camera order (image_paths), then left to right.
        chosen.sort(key=lambda o: (CAMERA_NAMES.index(o.cam), o.px[0], o.idx))
        for i, o in enumerate(chosen):
            x, y = o.px
            o.ref = f"<c{i + 1},{o.cam},{_fmt(x)},{_fmt(y)}>"
        return chosen

    def _score(self, o: Seen) -> float:
        a = o.agent
        if a.kind == "traffic_light":
            return 100.0 - 0.3 * o.dist if (a.faces_ego and o.s_rel > 0 and o.dist < 80) else 0.0
        if o.in_path and o.s_rel > 0:
            return 95.0 - 0.5 * max(0.0, self._gap_ahead(o))
        if a.kind == "barrier" and o.lane in ("left", "right") and 0 < o.s_rel < 50:
            return 72.0 - 0.5 * o.s_rel
        if a.is_vehicle and a.yaw_rate != 0.0 and o.dist < 40:
            return 70.0 - 0.5 * o.dist
        if o.lane in ("left", "right") and a.is_mover and -15.0 < o.s_rel < 30.0:
            return 65.0 - abs(o.s_rel)
        if o.lane == "ego" and o.s_rel < 0 and self._gap_behind(o) < 20.0:
            return 55.0 - self._gap_behind(o)
        if a.kind == "cyclist" and -10.0 < o.s_rel < 30.0:
            return 50.0 - abs(o.s_rel)
        if a.kind == "pedestrian" and a.crossing and o.dist < 35:
            return 60.0 - o.dist
        if o.lane == "opposite" and 0 < o.s_rel < 30 and a.is_mover:
            return 30.0 - o.s_rel
        if a.kind == "pedestrian" and o.dist < 14:
            return 20.0 - o.dist
        return 0.0

    # Per-object answers --------------------------------------------------------------------------

    def collision_keys(self, o: Seen) -> List[str]:
        """Ego actions that can lead to a collision with the object."""
        a = o.agent
        keys = []
        if a.kind == "traffic_light":
            return keys
        if o.in_path and o.s_rel > 0:
            keys.append("accel")
            gap = self._gap_ahead(o)
            if self.v > 0 and (a.speed < self.v - 0.5 or abs(a.yaw) > 0.3
                               or a.kind == "barrier") and gap < self.v * 4.0 + 5.0:
                keys.append("keep")
        elif o.lane == "ego" and o.s_rel < 0 and self._gap_behind(o) < 15.0:
            keys.append("back")
        elif o.lane == "left" and -12.0 < o.s_rel < 20.0:
            keys.append("left")
        elif o.lane == "right" and -12.0 < o.s_rel < 20.0:
            keys.append("right")
        return keys

    def collision_answer(self, o: Seen) -> str:
        keys = self.collision_keys(o)
        if "accel" in keys:
            return "Accelerate and go straight."
        if "back" in keys:
            return "Back up."
        if "left" in keys:
            return "Change to the left lane."
        if "right" in keys:
            return "Change to the right lane."
        return "No such action will lead to a collision."

    def action_answer(self, o: Seen) -> str:
        reason = REASON_RULES if o.agent.kind == "traffic_light" else self.plan_reason
        return (f"The action is to {self.plan}. The reason is {reason}. "
                f"The probability of this action is high.")

    def state_words(self, o: Seen) -> str:
        a = o.agent
        if a.kind == "traffic_light":
            return "a traffic sign"
        if a.kind == "barrier":
            return "a road barrier"
        if a.kind == "pedestrian" and a.crossing and abs(a.speed) > 0.1:
            return "crossing the road"
        return {
            "Going ahead.": "going ahead",
            "Stopped.": "stationary",
            "Turn left.": "turning left",
            "Turn right.": "turning right",
            "Back up.": "backing up",
        }[a.moving_status()]

    def status_word(self, a: Agent) -> Optional[str]:
        """moving / stopped / parked (vehicles, cyclists), walking / standing (pedestrians)."""
        if a.kind == "pedestrian":
            return "walking" if abs(a.speed) > 0.1 else "standing"
        if a.is_mover:
            if abs(a.speed) > 0.1:
                return "moving"
            return "parked" if a.parked else "stopped"
        return None

    # Ego-level answers ---------------------------------------------------------------------------

    def _occupied(self, lane: str) -> bool:
        """Anything in that lane beside the ego (seen or not: the ego's sensors cover it)."""
        return any(o.lane == lane and -12.0 < o.s_rel < 20.0 and o.agent.kind != "traffic_light"
                   for o in self.everyone)

    def _vehicle_behind_close(self) -> bool:
        return any(o.agent.is_vehicle and o.lane == "ego" and o.s_rel < 0
                   and self._gap_behind(o) < 15.0 for o in self.everyone)

    def action_safety(self) -> Dict[str, Optional[bool]]:
        """True: dangerous; False: safe; None: not applicable here."""
        moving = self.v > 0.0
        blockers = self.blockers()
        gaps = [self._gap_ahead(o) for o in blockers]
        nearest = min(gaps) if gaps else math.inf
        red = self._red_ahead()
        road = self.road
        out: Dict[str, Optional[bool]] = {}
        if moving:
            out[KEEP] = nearest < self.v * 4.0 + 10.0 or (red and self.stop_line_ahead < 45.0)
            out[DECEL] = nearest < self.v * 1.5 + 6.0
            out[BRAKE_HARD] = self._vehicle_behind_close()
            out[BACK] = True
            out[REMAIN] = None
        else:
            out[KEEP] = None
            out[DECEL] = None
            out[BRAKE_HARD] = None
            out[BACK] = True if self._vehicle_behind_close() else None
            out[REMAIN] = False
        out[ACCEL] = nearest < 50.0 or red or self.scene.speed_cat == "very fast"
        out[BRAKE] = False if moving else None
        left_exists = road.ego_lane < road.n_fwd - 1
        right_exists = road.ego_lane > 0
        out[LEFT_LANE] = (not left_exists) or self._occupied("left")
        out[RIGHT_LANE] = (not right_exists) or self._occupied("right")
        if not moving:
            # Changing lanes while waiting is no option worth listing unless it is dangerous.
            out[LEFT_LANE] = True if out[LEFT_LANE] else None
            out[RIGHT_LANE] = True if out[RIGHT_LANE] else None
        return out

    def safe_actions(self) -> List[str]:
        safety = self.action_safety()
        order = {
            KEEP: [KEEP, DECEL, BRAKE, LEFT_LANE, RIGHT_LANE, BRAKE_HARD],
            BRAKE: [BRAKE, DECEL, LEFT_LANE, RIGHT_LANE, BRAKE_HARD],
            DECEL: [DECEL, BRAKE, LEFT_LANE, RIGHT_LANE, BRAKE_HARD],
            REMAIN: [REMAIN, LEFT_LANE, RIGHT_LANE],
        }[self.plan]
        out = [a for a in order if a == self.plan or safety.get(a) is False]
        return out[:3]

    def dangerous_actions(self) -> List[str]:
        safety = self.action_safety()
        order = [ACCEL, KEEP, BACK, LEFT_LANE, RIGHT_LANE, BRAKE_HARD, DECEL]
        return [a for a in order if safety.get(a) is True][:3]

    def behavior(self) -> str:
        return (f"The ego vehicle is {self.scene.steering()}. "
                f"The ego vehicle is {SPEED_WORDS[self.scene.speed_cat]}.")

    def target_action(self) -> str:
        st = self.scene.steering()
        if st == "steering to the left":
            return "Turn left."
        if st == "steering to the right":
            return "Turn right."
        return "Go straight."


# ------------------------------------------------------------------------------------------------


def _mc(rng, question: str, answer: str, pool: List[str]) -> Tuple[str, str]:
    """DriveLM's multiple choice: the answer and three other options, shuffled; answer letter."""
    others = [p for p in pool if p != answer]
    picks = [others[i] for i in rng.choice(len(others), size=3, replace=False)]
    options = picks + [answer]
    order = rng.permutation(4)
    options = [options[i] for i in order]
    letters = "ABCD"
    text = question + MC_SUFFIX + "".join(f" {letters[i]}. {o}" for i, o in enumerate(options))
    return text, letters[options.index(answer)]


def _pick(rng, items: List, prefer: List = None):
    """A random item; with probability 1/2 from `prefer` when it is non-empty (balances yes/no)."""
    if prefer and rng.random() < 0.5:
        return prefer[int(rng.integers(len(prefer)))]
    return items[int(rng.integers(len(items)))]


def important_objects_answer(important: List[Seen]) -> str:
    parts = [f"a {o.agent.noun()} to the {o.direction} of the ego vehicle" for o in important]
    refs = [o.ref for o in important]
    if len(important) == 1:
        return f"There is {parts[0]}. The ID of this object is {refs[0]}."
    return f"There is {_join(parts)}. The IDs of these objects are {_join(refs)}."


def make_qa(facts: FrameFacts, rng) -> Dict[str, List[dict]]:
    """The frame's QA lists; every item is {"Q", "A", "tag"}."""
    imp = facts.important
    if not imp:
        raise ValueError("frame without important objects")
    movers = [o for o in imp if o.agent.is_mover]
    qa = {"perception": [], "prediction": [], "planning": [], "behavior": []}

    def add(stage, q, a, tag):
        qa[stage].append({"Q": q, "A": a, "tag": [tag]})

    # Perception.
    add("perception", IMPORTANT_OBJECTS_Q, important_objects_answer(imp), 2)
    if movers:
        n = min(2, len(movers))
        for i in sorted(rng.choice(len(movers), size=n, replace=False).tolist()):
            o = movers[i]
            q, a = _mc(rng, f"What is the moving status of object {o.ref}?",
                       o.agent.moving_status(), list(MOVING_STATUS_OPTIONS))
            add("perception", q, a, 0)
    o = _pick(rng, imp)
    add("perception", f"What is the visual description of {o.ref}?",
        o.agent.visual_description(), 2)
    q, a = _objects_at_direction(facts, rng)
    add("perception", q, a, 2)
    q, a = _are_there(facts, rng)
    add("perception", q, a, 0)

    # Prediction.
    if len(imp) > 0:
        lines = []
        for rank, o in zip(("Firstly", "Secondly", "Thirdly"),
                           sorted(imp, key=lambda o: (-o.score, o.ref))[:3]):
            lines.append(f"{rank} notice that {o.ref}. The object is {facts.state_words(o)}, so the "
                         f"ego vehicle should {facts.plan}.")
        add("prediction", NOTICE_Q, " ".join(lines), 3)
    infra = [o for o in imp if o.agent.kind in ("traffic_light", "barrier")]
    o = _pick(rng, imp, infra)
    add("prediction", f"Is {o.ref} a traffic sign or a road barrier?",
        "Yes." if o.agent.kind in ("traffic_light", "barrier") else "No.", 0)
    if movers:
        o = _pick(rng, movers)
        add("prediction", f"What is the future state of {o.ref}?", o.agent.future_state(), 0)
    in_path = [o for o in imp if o.in_path]
    o = _pick(rng, imp, in_path)
    add("prediction", f"Would {o.ref} be in the moving direction of the ego vehicle?",
        "Yes." if o.in_path else "No.", 0)

    # Planning.
    o = _pick(rng, imp)
    add("planning", f"What actions could the ego vehicle take based on {o.ref}? Why take this "
        f"action and what's the probability?", facts.action_answer(o), 1)
    colliding = [o for o in imp if facts.collision_keys(o)]
    o = _pick(rng, imp, colliding)
    add("planning", f"What actions taken by the ego vehicle can lead to a collision with {o.ref}?",
        facts.collision_answer(o), 1)
    o = _pick(rng, imp, colliding)
    keys = facts.collision_keys(o)
    hits = [p for p in COLLISION_PHRASES if p[1] in keys]
    phrase, key = _pick(rng, list(COLLISION_PHRASES), hits)
    add("planning", f"What is the probability of colliding with {o.ref} after the ego vehicle "
        f"{phrase}?", "High." if key in keys else "Low.", 0)
    add("planning", SAFE_Q, _cap(", ".join(facts.safe_actions())) + ".", 1)
    add("planning", DANGEROUS_Q, _cap(", ".join(facts.dangerous_actions())) + ".", 1)
    light = facts.light
    add("planning", SIGNAL_Q, _cap(f"{light.agent.color} light.") if light else "None.", 0)
    add("planning", TARGET_Q, facts.target_action(), 0)
    ranked = sorted(imp, key=lambda o: (-o.score, o.ref))
    add("planning", PRIORITY_Q, ", ".join(o.ref for o in ranked) + ".", 3)

    # Behavior.
    combos = [f"The ego vehicle is {s}. The ego vehicle is {v}." for s in STEERING_WORDS
              for v in SPEED_WORDS.values()]
    q, a = _mc(rng, BEHAVIOR_Q, facts.behavior(), combos)
    add("behavior", q, a, 0)
    return qa


def _visible_by_direction(facts: FrameFacts) -> Dict[str, List[Seen]]:
    out = {c: [] for c in CAMERA_NAMES}
    for o in facts.seen:
        out[o.cam].append(o)
    return out


def _objects_at_direction(facts: FrameFacts, rng) -> Tuple[str, str]:
    by_dir = _visible_by_direction(facts)
    cams = list(CAMERA_NAMES)
    busy = [c for c in cams if by_dir[c]]
    cam = _pick(rng, cams, busy)
    direction = CAMERA_DIRECTION[cam]
    counts = {}
    for o in by_dir[cam]:
        k = o.agent.count_class()
        counts[k] = counts.get(k, 0) + 1
    q = f"What are objects to the {direction} of the ego car?"
    if not counts:
        return q, f"There are no objects to the {direction} of the ego car."
    parts = []
    for k in COUNT_CLASSES:
        if k in counts:
            n = counts[k]
            parts.append(f"{COUNT_WORDS.get(n, 'many')} {_plural(k, n)}")
    verb = "is" if counts[next(k for k in COUNT_CLASSES if k in counts)] == 1 else "are"
    return q, f"There {verb} {_join(parts)} to the {direction} of the ego car."


def _are_there(facts: FrameFacts, rng) -> Tuple[str, str]:
    by_dir = _visible_by_direction(facts)
    combos = []  # (class word, status word or None)
    for k in ("car", "truck", "bus"):
        for st in ("moving", "stopped", "parked"):
            combos.append((k, st))
    combos += [("pedestrian", "walking"), ("pedestrian", "standing"), ("cyclist", None),
               ("barrier", None), ("traffic light", None)]
    present = set()
    for cam, objs in by_dir.items():
        for o in objs:
            k = o.agent.count_class()
            st = facts.status_word(o.agent) if k not in ("cyclist", "barrier", "traffic light") \
                else None
            present.add((cam, k, st))
    cams = list(CAMERA_NAMES)
    true_items = sorted(present)
    if true_items and rng.random() < 0.5:
        cam, k, st = true_items[int(rng.integers(len(true_items)))]
    else:
        cam = cams[int(rng.integers(len(cams)))]
        k, st = combos[int(rng.integers(len(combos)))]
    words = _plural(k, 2) if st is None else f"{st} {_plural(k, 2)}"
    q = f"Are there {words} to the {CAMERA_DIRECTION[cam]} of the ego car?"
    return q, "Yes." if (cam, k, st) in present else "No."


def key_object_infos(facts: FrameFacts) -> Dict[str, dict]:
    """The training layout's per-object facts."""
    out = {}
    for o in facts.important:
        a = o.agent
        if a.kind == "traffic_light":
            status = None
        elif a.kind == "barrier" or abs(a.speed) < 0.1:
            status = "Stationary"
        else:
            status = "Moving"
        out[o.ref] = {
            "Category": a.category(),
            "Status": status,
            "Visual_description": a.visual_description(),
            "2d_bbox": [round(v, 1) for v in o.view.bbox],
        }
    return out

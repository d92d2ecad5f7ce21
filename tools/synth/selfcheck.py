"""Self-check of the synthetic DriveLM generator (no pytest needed).

    selfcheck.py [--synth PATH_TO_tools/synth/synth] [--keep DIR]

Generates 5 key frames through the entry point (tools/synth/synth, with this Python), then:
  - validates train.json / test.json against the DriveLM layout that drivelm_eval and the
    official evaluation read (scene -> key_frames -> QA {perception, prediction, planning,
    behavior} -> {Q, A, tag}, six image_paths relative to DIR, 1600x900 JPEGs);
  - checks every <c,CAM,x,y> lies inside its 1600x900 image, later questions only name objects
    of the frame's first answer (the official match-set rule), every Q and A has an even count
    of \\d+\\.\\d+ numbers (the official scorer reshapes them into points);
  - re-creates every frame's scene and checks the answers against it: multiple-choice letters,
    yes/no answers, moving/future states and the ego behaviour; each reference sits on its
    object's projected 3D centre; a traffic light's lit lamp has the answer's colour in the JPEG;
  - generates the same data again in-process with another worker count and compares JSON and
    image bytes (determinism).
Exit 0 and "selfcheck: OK ..." on success; 1 with every failure listed otherwise.
"""

import argparse
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cameras  # noqa: E402
import generate  # noqa: E402
import qa as qa_mod  # noqa: E402
import render  # noqa: E402
import world  # noqa: E402

SEED = 7
FRAMES = 5
SPLIT = 0.4
STAGES = ("perception", "prediction", "planning", "behavior")
REF = re.compile(r"<c(\d+),(CAM_[A-Z_]+),(\d+\.\d+),(\d+\.\d+)>")
NUM = re.compile(r"\d+\.\d+")


class Checker:
    def __init__(self):
        self.failures = []
        self.checks = 0

    def ok(self, cond: bool, what: str) -> bool:
        self.checks += 1
        if not cond:
            self.failures.append(what)
        return cond


def _questions(frame):
    return [q for st in STAGES for q in frame["QA"].get(st, [])]


def check_layout(c: Checker, out: str, name: str, data, is_test: bool):
    c.ok(isinstance(data, dict) and data, f"{name}: expected a non-empty object of scenes")
    for scene_token, scene in data.items():
        where = f"{name}:{scene_token}"
        c.ok(re.fullmatch(r"[0-9a-f]{32}", scene_token) is not None, f"{where}: token format")
        c.ok(isinstance(scene.get("key_frames"), dict) and scene["key_frames"],
             f"{where}: key_frames")
        if not is_test:
            c.ok(isinstance(scene.get("scene_description"), str), f"{where}: scene_description")
        for frame_token, frame in scene["key_frames"].items():
            fw = f"{where}/{frame_token}"
            c.ok(set(frame["QA"]) == set(STAGES), f"{fw}: QA stages {sorted(frame['QA'])}")
            c.ok(set(frame["image_paths"]) == set(cameras.CAMERA_NAMES), f"{fw}: image_paths")
            c.ok(list(frame["image_paths"]) == list(cameras.CAMERA_NAMES),
                 f"{fw}: image_paths order")
            c.ok(("key_object_infos" in frame) != is_test, f"{fw}: key_object_infos presence")
            for cam, rel in frame["image_paths"].items():
                c.ok(not os.path.isabs(rel), f"{fw}: {cam} path must be relative to DIR")
                path = os.path.join(out, rel)
                if c.ok(os.path.isfile(path), f"{fw}: missing image {rel}"):
                    with Image.open(path) as im:
                        c.ok(im.format == "JPEG" and im.size == (1600, 900),
                             f"{fw}: {rel} is {im.format} {im.size}")
            qs = _questions(frame)
            c.ok(12 <= len(qs) <= 24, f"{fw}: {len(qs)} questions")
            for i, q in enumerate(qs):
                qw = f"{fw}[{i}]"
                c.ok(set(q) == {"Q", "A", "tag"}, f"{qw}: keys {sorted(q)}")
                c.ok(isinstance(q["Q"], str) and q["Q"] and isinstance(q["A"], str) and q["A"],
                     f"{qw}: Q and A must be non-empty strings")
                c.ok(isinstance(q["tag"], list) and len(q["tag"]) == 1 and q["tag"][0] in (0, 1, 2, 3),
                     f"{qw}: tag {q['tag']}")
                for text in (q["Q"], q["A"]):
                    c.ok(len(NUM.findall(text)) % 2 == 0, f"{qw}: odd count of decimals in {text!r}")
                    for _, cam, x, y in REF.findall(text):
                        c.ok(cam in cameras.CAMERA_NAMES, f"{qw}: camera {cam}")
                        c.ok(0.0 <= float(x) < 1600.0 and 0.0 <= float(y) < 900.0,
                             f"{qw}: reference ({x}, {y}) outside the image")
                if q["tag"][0] == 0:
                    c.ok(re.fullmatch(r"[ABCD]|Yes\.|No\.|[A-Z][a-z ]+\.", q["A"]) is not None,
                         f"{qw}: tag-0 answer {q['A']!r} is not a short closed answer")
                if q["A"] in ("A", "B", "C", "D"):
                    c.ok(all(f" {L}. " in q["Q"] for L in "ABCD"), f"{qw}: options A-D")
            first = qs[0]
            c.ok(first["Q"] == qa_mod.IMPORTANT_OBJECTS_Q, f"{fw}: first question")
            allowed = set(m.group(0) for m in REF.finditer(first["A"]))
            c.ok(len(allowed) >= 1, f"{fw}: first answer names no object")
            ids = [int(m.group(1)) for m in REF.finditer(first["A"])]
            c.ok(ids == list(range(1, len(ids) + 1)), f"{fw}: ids {ids} not c1..cN")
            for q in qs[1:]:
                for m in REF.finditer(q["Q"] + " " + q["A"]):
                    c.ok(m.group(0) in allowed,
                         f"{fw}: {m.group(0)} is not among the important objects")
            if not is_test:
                infos = frame["key_object_infos"]
                c.ok(set(infos) == allowed, f"{fw}: key_object_infos keys")
                for ref, info in infos.items():
                    m = REF.fullmatch(ref)
                    x, y = float(m.group(3)), float(m.group(4))
                    b = info["2d_bbox"]
                    c.ok(b[0] - 0.11 <= x <= b[2] + 0.11 and b[1] - 0.11 <= y <= b[3] + 0.11,
                         f"{fw}: {ref} outside its 2d_bbox {b}")


def _option(question: str, letter: str) -> str:
    m = re.search(rf" {letter}\. (.*?)(?= [A-D]\. |$)", question)
    return m.group(1) if m else ""


def check_against_scenes(c: Checker, out: str, data, seed: int):
    """Rebuilds each frame's facts from the scene and compares the answers."""
    r = render.Renderer(0.5)
    scene_by_token = {generate.token(seed, "scene", i): i for i in range(200)}
    for scene_token, scene_entry in data.items():
        index = scene_by_token[scene_token]
        frames = list(scene_entry["key_frames"].items())
        # The same attempt search build_scene makes.
        for attempt in range(generate.MAX_ATTEMPTS):
            scene = world.make_scene(seed, index, attempt)
            facts = []
            for k in range(len(frames)):
                images, views = r.render(scene, k)
                f = qa_mod.FrameFacts(scene, k, views)
                if not f.important:
                    break
                facts.append(f)
            if len(facts) == len(frames):
                break
        for (frame_token, frame), f in zip(frames, facts):
            fw = f"{scene_token}/{frame_token}"
            by_ref = {o.ref: o for o in f.important}
            c.ok(set(by_ref) == set(m.group(0) for m in REF.finditer(_questions(frame)[0]["A"])),
                 f"{fw}: important objects differ from the scene's")
            cams = {cam.name: cam for cam in r.cams}
            for ref, o in by_ref.items():
                # The reference sits on the object's projected 3D centre (when that is in view).
                a = o.agent
                s, d, _ = a.state_at(f.t)
                x, y, _ = f.road.to_ego(s - f.s_ego, d)
                cam = cams[o.cam]
                pc = cam.to_camera(np.array([[float(x), float(y), a.z0 + a.height / 2.0]]))
                if pc[0, 2] > 0.5:
                    u, v = cam.project(pc)[0]
                    b = o.view.bbox
                    if 0 <= u < 1600 and 0 <= v < 900 and b[2] - b[0] < 1500:
                        rx, ry = o.px
                        tol_x = 0.35 * (b[2] - b[0]) + 8.0
                        tol_y = 0.35 * (b[3] - b[1]) + 8.0
                        c.ok(abs(u - rx) <= tol_x and abs(v - ry) <= tol_y,
                             f"{fw}: {ref} is ({rx:.0f}, {ry:.0f}) but the object's centre "
                             f"projects to ({u:.0f}, {v:.0f})")
                if a.kind == "traffic_light":
                    _check_lamp(c, out, frame, f, o, cam, fw)
            for q in _questions(frame):
                text, ans = q["Q"], q["A"]
                refs = [m.group(0) for m in REF.finditer(text)]
                o = by_ref.get(refs[0]) if refs else None
                if text.startswith("What is the moving status of object"):
                    c.ok(_option(text, ans) == o.agent.moving_status(),
                         f"{fw}: moving status {ans} -> {_option(text, ans)!r}, scene says "
                         f"{o.agent.moving_status()!r}")
                elif text.startswith(qa_mod.BEHAVIOR_Q):
                    c.ok(_option(text, ans) == f.behavior(), f"{fw}: behavior {ans}")
                    c.ok(f.scene.speed_cat in _option(text, ans).replace("with normal speed",
                                                                         "normal")
                         or (f.scene.speed_cat == "normal" and "normal speed" in _option(text, ans)),
                         f"{fw}: behavior speed")
                elif "a traffic sign or a road barrier" in text:
                    want = "Yes." if o.agent.kind in ("traffic_light", "barrier") else "No."
                    c.ok(ans == want, f"{fw}: sign/barrier {ans} for a {o.agent.kind}")
                elif text.startswith("What is the future state of"):
                    c.ok(ans == o.agent.future_state(), f"{fw}: future state {ans}")
                    if o.agent.moving_status() == "Stopped.":
                        c.ok(ans == "Stationary.", f"{fw}: a stopped object's future {ans}")
                elif "be in the moving direction of the ego vehicle" in text:
                    c.ok(ans == ("Yes." if o.in_path else "No."), f"{fw}: moving direction")
                    if o.agent.kind == "traffic_light":
                        c.ok(ans == "Yes.", f"{fw}: the ego's light is in its direction")
                elif text == qa_mod.SIGNAL_Q:
                    lights = [x for x in f.important if x.agent.kind == "traffic_light"
                              and x.agent.faces_ego]
                    want = f"{lights[0].agent.color.capitalize()} light." if lights else "None."
                    c.ok(ans == want, f"{fw}: traffic signal {ans}, want {want}")
                elif text.startswith("What is the visual description of"):
                    c.ok(ans == o.agent.visual_description(), f"{fw}: description {ans}")
                elif text.startswith("What is the probability of colliding"):
                    c.ok(ans in ("High.", "Low."), f"{fw}: collision probability {ans}")
                    if o.agent.kind == "traffic_light":
                        c.ok(ans == "Low.", f"{fw}: colliding with a traffic light")
                elif text == qa_mod.SAFE_Q:
                    c.ok(ans.lower().startswith(f.plan), f"{fw}: safe actions start with the plan")
                    c.ok(not any(x in ans.lower() for x in f.dangerous_actions()),
                         f"{fw}: an action is both safe and dangerous")
            # Ego speed agrees with its words; a stopped ego never 'keeps going'.
            lo, hi = world.SPEED_RANGES[f.scene.speed_cat]
            c.ok(lo <= f.scene.ego_speed <= hi, f"{fw}: ego speed")
            if f.scene.speed_cat == "not moving":
                c.ok(f.plan == qa_mod.REMAIN, f"{fw}: a stopped ego's plan is {f.plan}")


def _check_lamp(c, out, frame, f, o, cam, fw):
    """The lit lamp's pixels in the JPEG have the colour the answers give the light."""
    a = o.agent
    s, d, yaw = a.state_at(f.t)
    x, y, head = f.road.to_ego(s - f.s_ego, d)
    h = float(head) + yaw
    i = ("red", "yellow", "green").index(a.color)
    lx = a.length / 2 + 0.03
    lz = a.z0 + a.height * (5 - 2 * i) / 6
    p = np.array([[float(x) + math.cos(h) * lx, float(y) + math.sin(h) * lx, lz]])
    pc = cam.to_camera(p)
    if pc[0, 2] < 1.0:
        return
    u, v = cam.project(pc)[0]
    if not (4 <= u < 1596 and 4 <= v < 896):
        return
    with Image.open(os.path.join(out, frame["image_paths"][o.cam])) as im:
        px = np.asarray(im.convert("RGB"), dtype=np.int32)[int(v) - 2:int(v) + 3,
                                                            int(u) - 2:int(u) + 3].reshape(-1, 3)
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    if a.color == "red":
        hit = (r > g + 60) & (r > b + 60)
    elif a.color == "green":
        hit = (g > r + 60) & (g > b + 20)
    else:
        hit = (r > 150) & (g > 110) & (b < 90)
    c.ok(hit.sum() >= 3, f"{fw}: the {a.color} lamp of {o.ref} is not {a.color} in the image "
                         f"(pixels {px[:3].tolist()})")


def digest(out: str) -> str:
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(out)):
        for name in sorted(files):
            if name == "meta.json":
                continue
            path = os.path.join(root, name)
            h.update(os.path.relpath(path, out).encode())
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--synth", default=os.path.join(HERE, "synth"),
                   help="the entry point to run (default: the one beside this file)")
    p.add_argument("--keep", help="write the generated set here instead of a temp dir")
    args = p.parse_args(argv)
    c = Checker()
    with tempfile.TemporaryDirectory(prefix="synth_selfcheck_") as tmp:
        out = args.keep or os.path.join(tmp, "a")
        env = dict(os.environ, DRIVELM_SYNTH_PYTHON=sys.executable)
        cmd = [args.synth, "--out", out, "--seed", str(SEED), "--frames", str(FRAMES),
               "--split_test", str(SPLIT), "--workers", "2"]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if not c.ok(res.returncode == 0, f"{' '.join(cmd)} exited {res.returncode}: {res.stderr}"):
            return report(c)
        with open(os.path.join(out, "train.json")) as f:
            train = json.load(f)
        with open(os.path.join(out, "test.json")) as f:
            test = json.load(f)
        with open(os.path.join(out, "meta.json")) as f:
            meta = json.load(f)
        n_frames = sum(len(s["key_frames"]) for d in (train, test) for s in d.values())
        c.ok(n_frames == FRAMES, f"{n_frames} key frames written, asked for {FRAMES}")
        c.ok(meta["train_frames"] + meta["test_frames"] == FRAMES, "meta frame counts")
        c.ok(not set(train) & set(test), "a scene is in both splits")
        c.ok(len(test) >= 1 and len(train) >= 1, "both splits non-empty")
        check_layout(c, out, "train.json", train, is_test=False)
        check_layout(c, out, "test.json", test, is_test=True)
        check_against_scenes(c, out, {**train, **test}, SEED)

        # Determinism: in-process, one worker, another directory: identical bytes.
        again = os.path.join(tmp, "b")
        generate.generate(again, SEED, FRAMES, SPLIT, workers=1)
        c.ok(digest(out) == digest(again), "a second run with the same seed differs")
        # Prefix stability: fewer frames give the first scenes unchanged.
        fewer = os.path.join(tmp, "c")
        generate.generate(fewer, SEED, 2, SPLIT, workers=1)
        with open(os.path.join(fewer, "train.json")) as f:
            small = json.load(f)
        with open(os.path.join(fewer, "test.json")) as f:
            small.update(json.load(f))
        both = {**train, **test}
        first = next(iter(small))
        c.ok(first in both and list(both[first]["key_frames"])[:1] ==
             list(small[first]["key_frames"])[:1], "scene 0 differs between --frames 2 and 5")

        # Bad input is an error, not a crash.
        bad = subprocess.run([args.synth, "--out", os.path.join(tmp, "d"), "--seed", "1",
                              "--frames", "0"], env=env, capture_output=True, text=True)
        c.ok(bad.returncode == 2 and "--frames" in bad.stderr,
             f"--frames 0: exit {bad.returncode}, stderr {bad.stderr!r}")
        n_q = sum(len(_questions(fr)) for d in (train, test) for s in d.values()
                  for fr in s["key_frames"].values())
    return report(c, f"{FRAMES} frames, {n_q} questions")


def report(c: Checker, extra: str = "") -> int:
    if c.failures:
        for f in c.failures:
            print(f"selfcheck: FAIL {f}")
        print(f"selfcheck: {len(c.failures)} of {c.checks} checks failed")
        return 1
    print(f"selfcheck: OK, {c.checks} checks ({extra})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

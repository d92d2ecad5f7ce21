"""Writes a synthetic DriveLM-nuScenes-format data set: six-camera JPEGs and train/test JSON.

    generate.py --out DIR --seed N --frames K [--split_test F] [--workers W] [--scale S]

(tools/synth/synth is the entry point; it picks the Python.) Output:

    DIR/train.json   DriveLM layout {scene_token: {"scene_description", "key_frames": {frame_token:
                     {"key_object_infos", "QA": {stage: [{"Q", "A", "tag"}]}, "image_paths"}}}}
    DIR/test.json    the evaluation layout: QA items with "tag", no key_object_infos
    DIR/meta.json    the command, versions and counts
    DIR/samples/CAM_*/*.jpg   1600x900 JPEGs; image_paths are relative to DIR

Scene i is a pure function of (seed, i): a larger --frames only appends scenes, and whether scene i
is a test scene depends only on (seed, i, F). Frames are never split across train and test (a
scene's key frames share one split).
"""

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import shutil
import sys
import time

import numpy as np
import PIL

import cameras
import qa
import render
import world

GENERATOR_VERSION = "drivelm-synth 1"
JPEG_QUALITY = 85
DEFAULT_TEST_FRACTION = 0.1
MAX_ATTEMPTS = 50


def token(seed: int, *parts) -> str:
    """nuScenes-like 32-hex-digit token, deterministic."""
    text = ":".join(["drivelm-synth", str(seed)] + [str(p) for p in parts])
    return hashlib.md5(text.encode()).hexdigest()


def plan_scenes(seed: int, frames: int, test_fraction: float):
    """[(scene index, key frames, is_test)] covering exactly `frames` key frames."""
    jobs = []
    total = 0
    i = 0
    while total < frames:
        n = min(world.frames_in_scene(seed, i), frames - total)
        jobs.append([i, n, world.is_test_scene(seed, i, test_fraction)])
        total += n
        i += 1
    # Tiny runs: keep both splits non-empty when there is more than one scene.
    if test_fraction > 0 and len(jobs) >= 2:
        if not any(j[2] for j in jobs):
            jobs[-1][2] = True
        if all(j[2] for j in jobs):
            jobs[0][2] = False
    return [tuple(j) for j in jobs]


_RENDERER = None


def _renderer(scale: float) -> render.Renderer:
    global _RENDERER
    if _RENDERER is None or _RENDERER.scale != scale:
        _RENDERER = render.Renderer(scale)
    return _RENDERER


def build_scene(job):
    """Renders one scene's key frames, writes their JPEGs, returns their JSON entries."""
    seed, index, n_frames, is_test, out_dir, scale, quality = job
    r = _renderer(scale)
    rendered = None
    for attempt in range(MAX_ATTEMPTS):
        scene = world.make_scene(seed, index, attempt)
        frames = []
        for k in range(n_frames):
            images, views = r.render(scene, k)
            facts = qa.FrameFacts(scene, k, views)
            if not facts.important:
                break
            frames.append((images, facts))
        if len(frames) == n_frames:
            rendered = (scene, frames, attempt)
            break
    if rendered is None:
        raise RuntimeError(f"scene {index}: no attempt gave every key frame a visible object")
    scene, frames, attempt = rendered

    scene_token = token(seed, "scene", index)
    key_frames = {}
    n_questions = 0
    for k, (images, facts) in enumerate(frames):
        frame_token = token(seed, "frame", index, k)
        stamp = 1_700_000_000_000_000 + index * 100_000_000 + k * int(world.FRAME_DT * 1e6)
        paths = {}
        for cam, img in zip(cameras.CAMERA_NAMES, images):
            rel = f"samples/{cam}/synth-s{seed}-{index:06d}__{cam}__{stamp}.jpg"
            img.save(os.path.join(out_dir, rel), "JPEG", quality=quality)
            paths[cam] = rel
        rng = np.random.default_rng([seed, index, 3, k])
        questions = qa.make_qa(facts, rng)
        n_questions += sum(len(v) for v in questions.values())
        entry = {}
        if not is_test:
            entry["key_object_infos"] = qa.key_object_infos(facts)
        entry["QA"] = questions
        entry["image_paths"] = paths
        key_frames[frame_token] = entry
    scene_entry = {}
    if not is_test:
        scene_entry["scene_description"] = scene.description
    scene_entry["key_frames"] = key_frames
    stats = {"scenario": scene.scenario, "frames": len(frames), "questions": n_questions,
             "attempt": attempt}
    return index, scene_token, scene_entry, is_test, stats


def _write_json(path: str, data) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def _prepare_out(out: str) -> None:
    """Creates DIR; clears a previous run's outputs there; refuses to clobber anything else."""
    if os.path.isdir(out):
        entries = set(os.listdir(out))
        ours = {"train.json", "test.json", "meta.json", "samples", "train.json.tmp",
                "test.json.tmp", "meta.json.tmp"}
        if entries and "meta.json" not in entries:
            raise SystemExit(f"synth: --out {out} is not empty and holds no previous synth run "
                             f"(no meta.json); refusing to write there")
        if entries - ours:
            raise SystemExit(f"synth: --out {out} holds files synth did not write: "
                             f"{sorted(entries - ours)[:5]}; refusing to clear it")
        for name in entries:
            p = os.path.join(out, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    os.makedirs(out, exist_ok=True)
    for cam in cameras.CAMERA_NAMES:
        os.makedirs(os.path.join(out, "samples", cam), exist_ok=True)


def generate(out: str, seed: int, frames: int, test_fraction: float, workers: int = 1,
             scale: float = 0.5, quality: int = JPEG_QUALITY, log=None) -> dict:
    """Writes the data set; returns meta (also written to DIR/meta.json)."""
    if frames <= 0:
        raise ValueError(f"--frames must be positive, got {frames}")
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"--split_test must be in [0, 1], got {test_fraction}")
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    _prepare_out(out)
    jobs = [(seed, i, n, t, out, scale, quality) for i, n, t in plan_scenes(seed, frames,
                                                                           test_fraction)]
    start = time.time()
    train, test = {}, {}
    scenarios = {}
    counts = {"train_frames": 0, "test_frames": 0, "train_questions": 0, "test_questions": 0}
    if workers > 1:
        pool = multiprocessing.get_context("fork").Pool(workers)
        results = pool.imap(build_scene, jobs, chunksize=1)
    else:
        pool = None
        results = map(build_scene, jobs)
    try:
        done = 0
        for index, scene_token, entry, is_test, stats in results:
            split = "test" if is_test else "train"
            (test if is_test else train)[scene_token] = entry
            counts[f"{split}_frames"] += stats["frames"]
            counts[f"{split}_questions"] += stats["questions"]
            scenarios[stats["scenario"]] = scenarios.get(stats["scenario"], 0) + stats["frames"]
            done += stats["frames"]
            if log and (done % 200 < stats["frames"] or done == frames):
                rate = done / max(time.time() - start, 1e-9)
                log(f"synth: {done}/{frames} frames, {rate:.1f} frames/s")
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    elapsed = time.time() - start
    _write_json(os.path.join(out, "train.json"), train)
    _write_json(os.path.join(out, "test.json"), test)
    meta = {
        "generator": GENERATOR_VERSION,
        "command": f"tools/synth/synth --out DIR --seed {seed} --frames {frames} "
                   f"--split_test {test_fraction}",
        "seed": seed,
        "frames": frames,
        "split_test": test_fraction,
        "scale": scale,
        "jpeg_quality": quality,
        "scenes": len(jobs),
        "train_scenes": len(train),
        "test_scenes": len(test),
        **counts,
        "scenarios_by_frames": dict(sorted(scenarios.items())),
        "seconds": round(elapsed, 1),
        "frames_per_second": round(frames / max(elapsed, 1e-9), 2),
        "workers": workers,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pillow": PIL.__version__,
    }
    _write_json(os.path.join(out, "meta.json"), meta)
    return meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--frames", type=int, required=True, help="key frames in all")
    p.add_argument("--split_test", type=float, default=DEFAULT_TEST_FRACTION,
                   help="fraction of scenes in test.json (default %(default)s)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes (default min(2, CPUs)); the output does not depend on it")
    p.add_argument("--scale", type=float, default=0.5,
                   help="render resolution relative to 1600x900 before the upscale "
                        "(default %(default)s; part of the data set's identity)")
    p.add_argument("--quality", type=int, default=JPEG_QUALITY, help="JPEG quality")
    args = p.parse_args(argv)
    try:
        meta = generate(args.out, args.seed, args.frames, args.split_test, args.workers,
                        args.scale, args.quality, log=lambda m: print(m, file=sys.stderr))
    except ValueError as e:
        print(f"synth: {e}", file=sys.stderr)
        return 2
    print(json.dumps({k: meta[k] for k in ("frames", "train_frames", "test_frames",
                                            "train_questions", "test_questions", "seconds",
                                            "frames_per_second")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

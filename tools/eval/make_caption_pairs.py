#!/usr/bin/env python3
"""Writes a deterministic set of DriveLM-style answer pairs (prediction, reference) for the
caption-metric parity test (eval/coco_caption_metrics_test.cc).

Usage: python3 tools/eval/make_caption_pairs.py [--seed 6] [--count 240] \
           [--out eval/testdata/caption_pairs.json]

The references imitate DriveLM-nuScenes answers (perception descriptions with <c1,CAM_X,x,y>
object tags, prediction/planning sentences, yes/no and option answers, numbers with decimals,
parentheses, apostrophes); the predictions are the reference perturbed as a model would get it
wrong: words swapped, dropped or added, coordinates moved, sentences reordered or truncated, a
different answer altogether, and some identical and some empty predictions. Standard library
only; the same seed always gives the same file.
"""
import argparse
import json
import random

CAMERAS = ["CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK", "CAM_BACK_LEFT",
           "CAM_BACK_RIGHT"]
OBJECTS = ["car", "truck", "bus", "pedestrian", "traffic sign", "traffic light", "barrier",
           "traffic cone", "bicycle", "motorcycle", "trailer", "construction vehicle", "sedan",
           "SUV", "van"]
COLORS = ["white", "black", "red", "gray", "silver", "blue", "green", "brown", "yellow"]
DIRECTIONS = ["front", "front left", "front right", "back", "back left", "back right"]
STATES = ["moving", "stationary", "parked", "going ahead", "turning left", "turning right",
          "stopped"]
ACTIONS = ["keep going at the same speed", "decelerate gradually without braking",
           "brake suddenly", "turn left", "turn right", "change to the left lane",
           "change to the right lane", "accelerate and go ahead", "stop", "back up"]
REASONS = ["to follow the traffic rules", "to avoid a collision", "to keep a safe distance",
           "the road ahead is clear", "there is a red light ahead", "the pedestrian is crossing"]
PROBS = ["high", "low", "medium"]
LETTERS = ["A", "B", "C", "D"]
FILLERS = ["the", "a", "very", "slowly", "also", "still", "now", "probably", "nearby"]


def tag(rng, c=None):
    c = c or rng.randint(1, 6)
    return "<c{},{},{:.1f},{:.1f}>".format(c, rng.choice(CAMERAS), rng.uniform(0, 1600),
                                            rng.uniform(0, 900))


def obj(rng):
    o = rng.choice(OBJECTS)
    return (rng.choice(COLORS) + " " + o) if rng.random() < 0.5 else o


def reference(rng):
    kind = rng.randrange(12)
    if kind == 0:
        n = rng.randint(1, 4)
        items = ["a {} to the {} of the ego vehicle".format(obj(rng), rng.choice(DIRECTIONS))
                 for _ in range(n)]
        tags = [tag(rng, i + 1) for i in range(n)]
        return "There is {}. The IDs of these objects are {}.".format(
            ", ".join(items[:-1]) + (", and " if n > 1 else "") + items[-1], ", ".join(tags))
    if kind == 1:
        parts = []
        for i, word in enumerate(["Firstly", "Secondly", "Thirdly"][:rng.randint(1, 3)]):
            parts.append("{} notice that {}. The object is a {}, so the ego vehicle should {}."
                         .format(word, tag(rng, i + 1), obj(rng), rng.choice(ACTIONS)))
        return " ".join(parts)
    if kind == 2:
        return "The action is to {}. The reason is {}, which has a {} probability.".format(
            rng.choice(ACTIONS), rng.choice(REASONS), rng.choice(PROBS))
    if kind == 3:
        acts = rng.sample(ACTIONS, rng.randint(1, 3))
        return (", ".join(a.capitalize() if i == 0 else a for i, a in enumerate(acts)) + ".")
    if kind == 4:
        return rng.choice(["Yes.", "No.", "None.", "Yes", "No"])
    if kind == 5:
        return rng.choice(LETTERS)
    if kind == 6:
        return "The {} is {}.".format(obj(rng), rng.choice(STATES))
    if kind == 7:
        return "The ego vehicle's speed is {:.1f} m/s, and it's {} m away from {}.".format(
            rng.uniform(0, 20), rng.randint(2, 60), tag(rng))
    if kind == 8:
        return "({}, {}, {:.1f}, {:.1f}, {:.1f}, {:.1f})".format(
            rng.choice(["traffic light", "traffic sign"]), rng.choice(["red", "green", "none"]),
            rng.uniform(0, 1600), rng.uniform(0, 900), rng.uniform(0, 1600), rng.uniform(0, 900))
    if kind == 9:
        return "{} is a {} {}, it's {} to the {} of the ego car; don't {}.".format(
            tag(rng), rng.choice(COLORS), rng.choice(OBJECTS), rng.choice(STATES),
            rng.choice(DIRECTIONS), rng.choice(ACTIONS))
    if kind == 10:
        return "There are {} {}s and {} {}s in front of the ego car.".format(
            rng.choice(["two", "three", "many"]), rng.choice(OBJECTS),
            rng.choice(["two", "no", "several"]), rng.choice(OBJECTS))
    return "{}. The ego vehicle is {} (about {:.2f} m/s); the {} is {}.".format(
        rng.choice(LETTERS), rng.choice(["going straight", "slightly steering to the left",
                                         "driving slowly"]),
        rng.uniform(0, 15), obj(rng), rng.choice(STATES))


def perturb(rng, ref):
    kind = rng.randrange(10)
    out = _perturb(rng, ref, kind)
    if kind != 0 and out == ref:  # a perturbation that changed nothing: swap a word instead
        words = ref.split(" ")
        words[rng.randrange(len(words))] = rng.choice(FILLERS)
        out = " ".join(words)
    return out


def _perturb(rng, ref, kind):
    words = ref.split(" ")
    if kind == 0:
        return ref  # identical
    if kind == 1:
        return ""  # empty prediction
    if kind == 2:
        return reference(rng)  # unrelated answer
    if kind == 3:  # drop words
        keep = [w for w in words if rng.random() > 0.25]
        return " ".join(keep)
    if kind == 4:  # substitute words
        vocab = FILLERS + OBJECTS + STATES
        return " ".join(rng.choice(vocab) if rng.random() < 0.2 else w for w in words)
    if kind == 5:  # insert words
        out = []
        for w in words:
            out.append(w)
            if rng.random() < 0.15:
                out.append(rng.choice(FILLERS))
        return " ".join(out)
    if kind == 6:  # move coordinates
        import re
        return re.sub(r"\d+\.\d+", lambda m: "{:.1f}".format(
            float(m.group(0)) + rng.uniform(-30, 30)), ref)
    if kind == 7:  # truncate
        return " ".join(words[:max(1, len(words) // 2)])
    if kind == 8:  # reorder sentences
        sents = [s for s in ref.split(". ") if s]
        rng.shuffle(sents)
        return ". ".join(sents)
    return ref.lower()  # case change only


def make_pairs(seed=6, count=240):
    rng = random.Random(seed)
    pairs = []
    for i in range(count):
        ref = reference(rng)
        pairs.append({"id": i, "prediction": perturb(rng, ref), "reference": ref})
    # Fixed corner cases, after the random ones.
    pairs.append({"id": count, "prediction": "", "reference": "No."})
    pairs.append({"id": count + 1, "prediction": "Yes.", "reference": "Yes."})
    pairs.append({"id": count + 2, "prediction": "The answer is B. The car is moving.",
                  "reference": "B"})
    return pairs


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--count", type=int, default=240)
    ap.add_argument("--out", default="eval/testdata/caption_pairs.json")
    args = ap.parse_args()
    doc = {
        "generator": "tools/eval/make_caption_pairs.py",
        "seed": args.seed,
        "count": args.count,
        "pairs": make_pairs(args.seed, args.count),
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote {} pairs to {}".format(len(doc["pairs"]), args.out))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Compares eval/ptb_tokenizer (C++) with Stanford CoreNLP 3.4.1's PTBTokenizer, the jar that
pycocoevalcap ships and runs (`-preserveLines -lowerCase`), on a corpus of lines.

Usage (Java and pycocoevalcap installed: pip install -r tools/eval/requirements.txt):
  bazel build //eval:ptb_tokenize
  python3 tools/eval/check_ptb_tokenizer.py --binary bazel-bin/eval/ptb_tokenize \
      [--drivelm ../shared/data/drivelm-nuscenes-mini/data] [--fuzz 20000] [--seed 1]
  python3 tools/eval/check_ptb_tokenizer.py --write_cases eval/testdata/ptb_tokenizer_cases.json
      writes the jar's output for the edge cases and a fixed fuzz sample (no binary needed), for
      eval/ptb_tokenizer_test.cc.

The corpus: DriveLM-style answers from tools/eval/make_caption_pairs.py, every question and
answer of the DriveLM JSON files found under --drivelm, hand-written edge cases, and --fuzz random
lines over the characters DriveLM answers use plus common punctuation. Every line is tokenized in
one batch (as pycocoevalcap does), so the cross-line context is exercised too. Prints the lines
that differ and a summary; exits 1 if a DriveLM-style line differs.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_caption_pairs  # noqa: E402

EDGE_CASES = [
    "There is a car <c1,CAM_FRONT,1088.3,497.5> ahead of the ego vehicle.",
    "The ego vehicle's speed is 3.5 m/s (slow), don't turn left; it's \"safe\".",
    "e.g. U.S. Mr. Smith etc. vs. No. 5 Fig. 3 approx. 5",
    "[bracket] {brace} a*b 5% $3 & &amp; x--y 1,000 2.5km -3.2 +4",
    "<c2,CAM_BACK,1.0,2.0>, <c3,CAM_FRONT_LEFT,100.25,200.5>.",
    "cars' wheels ' single 'quoted' `tick` O'Neil can't won't gonna cannot",
    "A. Going ahead. B. Stopped. C. Turning. D. Reversing.",
    "Option A. The car is moving. B. A truck.",
    "The answer is B.",
    "The answer is D",
    "(c, s, x1, y1, x2, y2) = (1, 0, 1011.7, 438.3, 1050.8, 505.1).",
    "<a> <a b=\"c\"> </a> <a/> <a /> <!x> <1> < a>",
    "... .... . . . x -- --- ---- ----- ?! !!",
    "555-123-4567 (412) 555-1212 123 456 7890 100 200 3000",
    "http://x.com/a?b=c www.x.com a@b.com @user #tag",
    "",
    "   ",
    "Yes.",
    "No.",
    "km</h  left> <a b=c> <a 'b'> =D :( ;] C# c++ 5t.h 3.C a@b.c <x@y> >_^ x_x",
    "555-123-4567 555.123.4567 (41) 555-1212 12 345 6789",
    "The answer is B.",
    "The car is parked. U.S.",
    "The next",
    "etc.5",
]

ALPHABET_WORDS = (
    "the a an ego vehicle car truck is moving parked front left right back of to and "
    "it's don't can't vehicle's cars' A B C D No Yes U.S. e.g. etc. Mr. I i x1 c1 CAM_FRONT "
    "CAM_BACK_LEFT 1088.3 497.5 3 10 0.5 -2.5 +4 1,000 12:30 5th 3-way left-turn km/h"
).split()
PUNCT = list(".,;:?!'\"()[]{}<>-_/%+=&*#@$~^|\\`")


def fuzz_line(rng):
    parts = []
    for _ in range(rng.randint(1, 12)):
        r = rng.random()
        if r < 0.45:
            parts.append(rng.choice(ALPHABET_WORDS))
        elif r < 0.75:
            w = rng.choice(ALPHABET_WORDS)
            i = rng.randint(0, len(w))
            parts.append(w[:i] + rng.choice(PUNCT) + w[i:])
        elif r < 0.9:
            parts.append("".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 3))))
        else:
            parts.append(rng.choice(ALPHABET_WORDS) + rng.choice(PUNCT) +
                         rng.choice(ALPHABET_WORDS))
    sep = [" "] * 8 + ["", "  ", "\t"]
    out = parts[0]
    for p in parts[1:]:
        out += rng.choice(sep) + p
    return out


def drivelm_lines(root):
    lines = []
    if not root or not os.path.isdir(root):
        return lines
    for name in sorted(os.listdir(root)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(root, name)) as f:
            data = json.load(f)
        for scene in data.values():
            for frame in scene.get("key_frames", {}).values():
                for qas in frame.get("QA", {}).values():
                    for qa in qas:
                        lines += [qa["Q"], qa["A"]]
    return lines


def java_lines(text):
    from pycocoevalcap.tokenizer import ptbtokenizer
    jar_dir = os.path.dirname(os.path.abspath(ptbtokenizer.__file__))
    with tempfile.NamedTemporaryFile("wb", delete=False, suffix=".txt") as f:
        f.write(text.encode())
        path = f.name
    try:
        out = subprocess.run(
            ["java", "-cp", os.path.join(jar_dir, ptbtokenizer.STANFORD_CORENLP_3_4_1_JAR),
             "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines", "-lowerCase", path],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout.decode()
    finally:
        os.remove(path)
    return out.split("\n")


def cc_lines(binary, text):
    out = subprocess.run([binary], input=text.encode(), stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    return out.split("\n")


# Captions that hold extra line breaks, empty captions and cross-caption context, tokenized by
# pycocoevalcap's PTBTokenizer itself (the caption-level pipeline).
CAPTION_BATCH = ["", "A car.", "", "x\ry", "a\u2028b", "c\u2029d", "e\x0bf", "g\x0ch", "i\r\nj",
                 "tail  ", "...", "The answer is B.", "The car (left)", "B.", "k\nl",
                 "Option A.", "The end", "last B."]


def write_cases(path, seed):
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    rng = random.Random(seed)
    lines = EDGE_CASES + [fuzz_line(rng) for _ in range(400)]
    text = "\n".join(lines)
    raw = java_lines(text)[:len(lines)]
    tok = PTBTokenizer().tokenize({i: [{"caption": c}] for i, c in enumerate(CAPTION_BATCH)})
    doc = {
        "generator": "tools/eval/check_ptb_tokenizer.py --write_cases",
        "corenlp": "stanford-corenlp-3.4.1.jar (pycocoevalcap 1.2), -preserveLines -lowerCase",
        "raw_batch": {"lines": lines, "expected": raw},
        "caption_batch": {"captions": CAPTION_BATCH,
                          "expected": [tok[i][0] for i in range(len(CAPTION_BATCH))]},
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", help="bazel-bin/eval/ptb_tokenize")
    ap.add_argument("--write_cases", help="write the test cases file and exit")
    ap.add_argument("--drivelm", default="", help="folder of DriveLM JSON files")
    ap.add_argument("--fuzz", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--show", type=int, default=40, help="differing lines to print")
    args = ap.parse_args()
    if args.write_cases:
        write_cases(args.write_cases, args.seed)
        return 0
    if not args.binary:
        ap.error("--binary is required")

    pairs = make_caption_pairs.make_pairs(seed=args.seed, count=400)
    drivelm_style = [p["prediction"] for p in pairs] + [p["reference"] for p in pairs]
    drivelm_style += drivelm_lines(args.drivelm) + EDGE_CASES
    rng = random.Random(args.seed)
    fuzz = [fuzz_line(rng) for _ in range(args.fuzz)]

    failed_style = 0
    for name, lines in (("drivelm-style", drivelm_style), ("fuzz", fuzz)):
        lines = [l.replace("\n", " ").replace("\r", " ") for l in lines]
        text = "\n".join(lines)
        want = java_lines(text)[:len(lines)]
        got = cc_lines(args.binary, text)[:len(lines)]
        bad = [(i, lines[i], w, g) for i, (w, g) in enumerate(zip(want, got)) if w != g]
        if len(want) != len(got):
            bad.append((-1, "<line count>", str(len(want)), str(len(got))))
        print(f"{name}: {len(lines)} lines, {len(bad)} differ")
        for i, src, w, g in bad[:args.show]:
            print(f"  line {i}: {src!r}\n    corenlp: {w!r}\n    c++:     {g!r}")
        if name == "drivelm-style":
            failed_style = len(bad)
    return 1 if failed_style else 0


if __name__ == "__main__":
    sys.exit(main())

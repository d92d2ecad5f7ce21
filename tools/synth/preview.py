"""Draws one key frame of a DriveLM-format file as a 3x2 PNG grid with its object references.

    preview.py --json DIR/train.json --root DIR --frame 0 --out /tmp/frame.png

Top row CAM_FRONT_LEFT, CAM_FRONT, CAM_FRONT_RIGHT; bottom row CAM_BACK_LEFT, CAM_BACK,
CAM_BACK_RIGHT (as nuScenes shows them). Every <c,CAM,x,y> of the frame's first answer is
marked with a cross and its id; the questions and answers are printed.
"""

import argparse
import json
import os
import re
import sys

from PIL import Image, ImageDraw

GRID = (("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT"),
        ("CAM_BACK_LEFT", "CAM_BACK", "CAM_BACK_RIGHT"))
REF = re.compile(r"<(c\d+),(CAM_[A-Z_]+),(\d+\.\d+),(\d+\.\d+)>")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", required=True)
    p.add_argument("--root", required=True, help="directory image_paths are relative to")
    p.add_argument("--frame", type=int, default=0, help="index of the key frame in file order")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--width", type=int, default=1800, help="grid width in pixels")
    args = p.parse_args(argv)
    with open(args.json) as f:
        data = json.load(f)
    frames = [(s, k, v) for s, scene in data.items() for k, v in scene["key_frames"].items()]
    if not 0 <= args.frame < len(frames):
        print(f"preview: --frame {args.frame} out of range (0..{len(frames) - 1})", file=sys.stderr)
        return 2
    scene_token, frame_token, frame = frames[args.frame]
    qa = [q for stage in ("perception", "prediction", "planning", "behavior")
          for q in frame["QA"].get(stage, [])]
    refs = REF.findall(qa[0]["A"]) if qa else []
    cw = args.width // 3
    ch = cw * 9 // 16
    grid = Image.new("RGB", (cw * 3, ch * 2))
    for r, row in enumerate(GRID):
        for c, cam in enumerate(row):
            img = Image.open(os.path.join(args.root, frame["image_paths"][cam])).convert("RGB")
            draw = ImageDraw.Draw(img)
            for cid, rcam, x, y in refs:
                if rcam != cam:
                    continue
                x, y = float(x), float(y)
                draw.line([(x - 18, y), (x + 18, y)], fill=(255, 0, 255), width=5)
                draw.line([(x, y - 18), (x, y + 18)], fill=(255, 0, 255), width=5)
                draw.rectangle([x + 8, y - 40, x + 70, y - 10], fill=(255, 0, 255))
                draw.text((x + 14, y - 36), cid, fill=(255, 255, 255))
            draw.text((12, 10), cam, fill=(255, 255, 0))
            grid.paste(img.resize((cw, ch)), (c * cw, r * ch))
    grid.save(args.out)
    print(f"{scene_token} {frame_token}")
    for q in qa:
        print(f"[{','.join(map(str, q.get('tag', [])))}] Q: {q['Q']}\n    A: {q['A']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Draws six small synthetic camera images (a road, lane marks, boxes for vehicles) for the
golden parity tests. Deterministic; real nuScenes frames stay out of the repository.

    python tools/reference/make_golden_images.py --out tests/golden/images
"""
import argparse
import os
import random

from PIL import Image, ImageDraw

CAMERAS = ["CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK", "CAM_BACK_LEFT",
           "CAM_BACK_RIGHT"]


def draw_camera(index: int, width: int, height: int) -> Image.Image:
    rng = random.Random(1000 + index)
    img = Image.new("RGB", (width, height))
    d = ImageDraw.Draw(img)
    horizon = int(height * (0.40 + 0.1 * rng.random()))
    sky = (90 + rng.randint(0, 60), 140 + rng.randint(0, 50), 200 + rng.randint(0, 55))
    for y in range(horizon):  # sky gradient
        f = y / max(1, horizon)
        d.line([(0, y), (width, y)], fill=tuple(int(c * (1 - 0.3 * f)) for c in sky))
    d.rectangle([0, horizon, width, height], fill=(70 + index * 5, 72, 75))  # road
    cx = width // 2 + rng.randint(-width // 6, width // 6)
    for lane in (-1, 1):  # lane marks converging at the horizon
        d.line([(cx, horizon), (cx + lane * width, height)], fill=(230, 230, 210), width=2)
    for _ in range(rng.randint(2, 5)):  # vehicles
        w = rng.randint(width // 12, width // 5)
        h = int(w * rng.uniform(0.5, 0.9))
        x = rng.randint(0, width - w)
        y = rng.randint(horizon - h // 2, height - h)
        color = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        d.rectangle([x, y, x + w, y + h], fill=color, outline=(20, 20, 20))
        d.rectangle([x + w // 6, y + h // 6, x + w - w // 6, y + h // 2], fill=(40, 60, 80))
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=180)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for i, cam in enumerate(CAMERAS):
        img = draw_camera(i, args.width, args.height)
        # cam5 is a PNG so both decoders are on the golden path.
        path = os.path.join(args.out, f"cam{i}." + ("png" if i == 5 else "jpg"))
        if i == 5:
            img.save(path, optimize=True)
        else:
            img.save(path, quality=90)
        print(cam, path)


if __name__ == "__main__":
    main()

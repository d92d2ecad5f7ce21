#!/usr/bin/env python3
"""Writes the image-pipeline goldens of engine/vision/testdata/ from PIL and transformers.

    /tmp/venv/ref/bin/python tools/reference/image/make_image_goldens.py [--out DIR]

What it writes (everything deterministic; the whole directory stays well under 1 MB):
- small test images: PNGs of every color type and bit depth the decoder handles (including
  16-bit, low-bit gray, palette with tRNS and out-of-range indices, Adam7 interlaced) and JPEGs
  (4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1, progressive, gray, Adobe CMYK, YCCK);
- for each: PIL's `Image.open(f).convert("RGB")` pixels (raw RGB, small images only) and the
  image's content hash (XXH64 of those pixels, seed = width << 32 ^ height, computed by the
  system libxxhash), and for a few of them PIL's bicubic resize to 56x56;
- PIL resizes of synthetic images that the C++ test regenerates bit for bit (splitmix64 noise and
  a "scene" pattern; see SyntheticImage below and engine/vision/golden_test_util.cc), including
  the camera case 1600x900 -> 224x224 and every PIL filter;
- transformers SiglipImageProcessor pixel_values ([3, H, W] float32) for a few images at 32x48,
  and for a 16x16 image holding all 256 values per channel at its own size (no resize), which
  pins down rescale + normalize for every uint8 value;
- index.json describing all of the above. Binary files are raw little-endian.
"""

import argparse
import ctypes
import io
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DEFAULT_OUT = os.path.join(REPO, "engine", "vision", "testdata")

# Decoded RGB of images up to this many pixels is stored raw; larger ones only by hash.
MAX_RAW_DECODED_PIXELS = 64 * 48
# Files whose PIL resize to 56x56 is stored too (the synthetic cases cover resizing broadly).
RESIZED_FILES = {"rgb420_160x90.jpg", "rgb420_320x180.jpg", "cmyk_61x47.jpg", "gray16_37x23.png",
                 "palette4_trns_37x23.png"}


# ------------------------------------------------------------------------------------------
# Synthetic images, reproduced exactly by golden_test_util.cc.

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(seed, index):
    """splitmix64 of (seed + index * golden gamma), vectorized over uint64 `index`."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + index.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def synthetic_image(kind, width, height, seed):
    """[height, width, 3] uint8.

    noise: every value is the top byte of splitmix64(seed, flat index).
    scene: ((x * (97 + 31 c)) // w + (y * (151 - 29 c)) // h + 40 c) & 255 plus noise in
           [-16, 15] (top 5 bits of splitmix64 minus 16), clamped; sharp wraps and smooth ramps.
    """
    y, x, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(3), indexing="ij")
    flat = (y * width + x) * 3 + c
    z = splitmix64(seed, flat)
    if kind == "noise":
        return (z >> np.uint64(56)).astype(np.uint8)
    if kind == "scene":
        base = ((x * (97 + 31 * c)) // width + (y * (151 - 29 * c)) // height + 40 * c) & 255
        noise = (z >> np.uint64(59)).astype(np.int64) - 16
        return np.clip(base + noise, 0, 255).astype(np.uint8)
    raise ValueError(kind)


# ------------------------------------------------------------------------------------------
# Hashing (must equal engine/vision/content_hash.cc).

_xxhash = None


def content_hash(rgb):
    global _xxhash
    if _xxhash is None:
        try:
            _xxhash = ctypes.CDLL("libxxhash.so.0")
        except OSError as e:
            raise SystemExit("libxxhash.so.0 (Debian libxxhash0) is needed for the hashes") from e
        _xxhash.XXH64.restype = ctypes.c_uint64
        _xxhash.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
    h, w, _ = rgb.shape
    data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    seed = ((w << 32) ^ h) & 0xFFFFFFFFFFFFFFFF
    return "0x%016x" % _xxhash.XXH64(data, len(data), seed)


# ------------------------------------------------------------------------------------------
# PNG writer for what PIL cannot write (16-bit RGB/RGBA, 2-bit gray, interlaced, odd palettes).

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def _chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _pack_row(samples, depth):
    """One row of samples (1D ints) at `depth` bits, big-endian, MSB-first packing."""
    samples = np.asarray(samples)
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    if depth == 16:
        return samples.astype(">u2").tobytes()
    per_byte = 8 // depth
    out = bytearray((len(samples) + per_byte - 1) // per_byte)
    for i, v in enumerate(samples):
        out[i // per_byte] |= int(v) << (8 - depth * (i % per_byte + 1))
    return bytes(out)


def write_png(samples, depth, color_type, plte=None, trns=None, interlace=False):
    """samples: [height, width, channels] ints."""
    height, width, _ = samples.shape
    raw = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for row in sub:
            raw += b"\x00" + _pack_row(row.reshape(-1), depth)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 1 if interlace else 0)
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
    if plte is not None:
        out += _chunk(b"PLTE", bytes(plte))
    if trns is not None:
        out += _chunk(b"tRNS", bytes(trns))
    out += _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    return out


# ------------------------------------------------------------------------------------------
# JPEG encoding through the system TurboJPEG for what PIL cannot write (4:4:0, 4:1:1, YCCK).

TJSAMP = {"444": 0, "422": 1, "420": 2, "gray": 3, "440": 4, "411": 5}
TJPF_RGB, TJPF_GRAY, TJPF_CMYK = 0, 6, 11


def turbojpeg_encode(pixels, pixel_format, subsampling, quality):
    tj = ctypes.CDLL("libturbojpeg.so.0")
    tj.tjInitCompress.restype = ctypes.c_void_p
    tj.tjCompress2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, ctypes.c_int,
                               ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)),
                               ctypes.POINTER(ctypes.c_ulong), ctypes.c_int, ctypes.c_int,
                               ctypes.c_int]
    tj.tjFree.argtypes = [ctypes.c_void_p]
    tj.tjDestroy.argtypes = [ctypes.c_void_p]
    handle = tj.tjInitCompress()
    height, width = pixels.shape[:2]
    buf = ctypes.POINTER(ctypes.c_ubyte)()
    size = ctypes.c_ulong(0)
    data = np.ascontiguousarray(pixels).tobytes()
    rc = tj.tjCompress2(handle, data, width, 0, height, pixel_format, ctypes.byref(buf),
                        ctypes.byref(size), TJSAMP[subsampling], quality, 4096)
    if rc != 0:
        raise RuntimeError("tjCompress2 failed")
    out = ctypes.string_at(buf, size.value)
    tj.tjFree(buf)
    tj.tjDestroy(handle)
    return out


def pil_save(image, fmt, **kwargs):
    b = io.BytesIO()
    image.save(b, format=fmt, **kwargs)
    return b.getvalue()


# ------------------------------------------------------------------------------------------


def make_test_images(rng):
    """name -> encoded bytes."""
    files = {}
    w, h = 37, 23
    rgb = synthetic_image("scene", w, h, 11)
    files["rgb_37x23.png"] = pil_save(Image.fromarray(rgb, "RGB"), "PNG")
    files["gray_37x23.png"] = pil_save(Image.fromarray(rgb[..., 1], "L"), "PNG")
    rgba = np.concatenate([rgb, rng.integers(0, 256, (h, w, 1), dtype=np.uint8)], axis=2)
    files["rgba_37x23.png"] = pil_save(Image.fromarray(rgba, "RGBA"), "PNG")
    la = np.stack([rgb[..., 0], rng.integers(0, 256, (h, w), dtype=np.uint8)], axis=2)
    files["la_37x23.png"] = pil_save(Image.fromarray(la, "LA"), "PNG")
    # 4-bit palette with a tRNS chunk (alpha must be dropped, not composited).
    palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    index = rng.integers(0, 16, (h, w, 1))
    files["palette4_trns_37x23.png"] = write_png(index, 4, 3, plte=palette.reshape(-1),
                                                 trns=rng.integers(0, 256, 9, dtype=np.uint8))
    # 8-bit palette of 5 entries with indices up to 9: PIL shows the missing ones black.
    palette = rng.integers(0, 256, (5, 3), dtype=np.uint8)
    files["palette8_short_37x23.png"] = write_png(rng.integers(0, 10, (h, w, 1)), 8, 3,
                                                  plte=palette.reshape(-1))
    files["gray1_37x23.png"] = write_png(rng.integers(0, 2, (h, w, 1)), 1, 0)
    files["gray2_37x23.png"] = write_png(rng.integers(0, 4, (h, w, 1)), 2, 0)
    files["gray4_trns_37x23.png"] = write_png(rng.integers(0, 16, (h, w, 1)), 4, 0,
                                              trns=struct.pack(">H", 3))
    # 16-bit gray ("I;16"): values around 255 exercise PIL's clamp to 255.
    files["gray16_37x23.png"] = write_png(rng.integers(0, 600, (h, w, 1)), 16, 0)
    files["rgb16_37x23.png"] = write_png(rng.integers(0, 65536, (h, w, 3)), 16, 2)
    files["rgba16_37x23.png"] = write_png(rng.integers(0, 65536, (h, w, 4)), 16, 6)
    files["la16_37x23.png"] = write_png(rng.integers(0, 65536, (h, w, 2)), 16, 4)
    files["rgb_trns_37x23.png"] = write_png(rgb, 8, 2, trns=struct.pack(">HHH", 1, 2, 3))
    files["rgb_interlaced_37x23.png"] = write_png(rgb, 8, 2, interlace=True)
    files["palette2_interlaced_37x23.png"] = write_png(
        rng.integers(0, 4, (h, w, 1)), 2, 3, plte=rng.integers(0, 256, 12, dtype=np.uint8),
        interlace=True)

    # JPEGs at an odd size (partial MCUs on both edges).
    w, h = 61, 47
    rgb = synthetic_image("scene", w, h, 12)
    im = Image.fromarray(rgb, "RGB")
    files["rgb444_61x47.jpg"] = pil_save(im, "JPEG", quality=90, subsampling=0)
    files["rgb422_61x47.jpg"] = pil_save(im, "JPEG", quality=90, subsampling=1)
    files["rgb420_61x47.jpg"] = pil_save(im, "JPEG", quality=90, subsampling=2)
    files["rgb420_progressive_61x47.jpg"] = pil_save(im, "JPEG", quality=75, subsampling=2,
                                                     progressive=True)
    files["rgb440_61x47.jpg"] = turbojpeg_encode(rgb, TJPF_RGB, "440", 90)
    files["rgb411_61x47.jpg"] = turbojpeg_encode(rgb, TJPF_RGB, "411", 90)
    files["gray_61x47.jpg"] = pil_save(Image.fromarray(rgb[..., 0], "L"), "JPEG", quality=90)
    cmyk = np.concatenate([synthetic_image("scene", w, h, 13),
                           synthetic_image("scene", w, h, 16)[..., 2:]], axis=2)
    files["cmyk_61x47.jpg"] = pil_save(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=90)
    files["ycck_61x47.jpg"] = turbojpeg_encode(cmyk, TJPF_CMYK, "420", 90)
    # Larger: the 16:9 camera aspect.
    files["rgb420_160x90.jpg"] = pil_save(
        Image.fromarray(synthetic_image("scene", 160, 90, 14), "RGB"), "JPEG", quality=90)
    files["rgb420_320x180.jpg"] = pil_save(
        Image.fromarray(synthetic_image("scene", 320, 180, 15), "RGB"), "JPEG", quality=90)
    return files


def siglip(height, width, mean, std, rescale_factor=1 / 255):
    from transformers import SiglipImageProcessor

    # do_convert_rgb must be explicit: transformers 4.47's SiglipImageProcessor leaves it unset
    # (None) and then refuses gray and RGBA images. PaliGemma pipelines load images with
    # transformers.image_utils.load_image or Image.open(...).convert("RGB"), i.e. this.
    return SiglipImageProcessor(do_resize=True, size={"height": height, "width": width},
                                resample=3, do_rescale=True, rescale_factor=rescale_factor,
                                do_normalize=True, image_mean=mean, image_std=std,
                                do_convert_rgb=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()
    out = args.out
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    os.makedirs(os.path.join(out, "golden"), exist_ok=True)
    rng = np.random.default_rng(20240607)

    def write(rel, data):
        with open(os.path.join(out, rel), "wb") as f:
            f.write(data)
        return rel

    index = {"generator": "tools/reference/image/make_image_goldens.py",
             "pillow": Image.__version__, "decode": [], "resize": [], "processor": [],
             "processor_lut": []}
    import transformers

    index["transformers"] = transformers.__version__

    files = make_test_images(rng)
    for name, data in sorted(files.items()):
        path = write(f"images/{name}", data)
        pil = Image.open(io.BytesIO(data))
        mode = pil.mode
        rgb = np.asarray(pil.convert("RGB"))
        entry = {"file": path, "pil_mode": mode, "width": rgb.shape[1], "height": rgb.shape[0],
                 "content_hash": content_hash(rgb)}
        if rgb.shape[0] * rgb.shape[1] <= MAX_RAW_DECODED_PIXELS:
            entry["rgb"] = write(f"golden/{name}.rgb", rgb.tobytes())
        index["decode"].append(entry)
        if name not in RESIZED_FILES:
            continue
        for ow, oh in [(56, 56)]:
            resized = np.asarray(pil.convert("RGB").resize((ow, oh), resample=Image.BICUBIC))
            index["resize"].append({
                "source": {"file": path}, "width": ow, "height": oh, "filter": 3,
                "rgb": write(f"golden/{name}.{ow}x{oh}.bicubic.rgb", resized.tobytes())})

    # Synthetic sources: (kind, seed, in size, out size, filter).
    synthetic = [
        ("scene", 1, (1600, 900), (224, 224), 3),  # the camera case
        ("noise", 2, (1600, 900), (56, 56), 3),
        ("noise", 3, (37, 23), (56, 56), 3),        # upscale both axes
        ("scene", 4, (160, 90), (56, 56), 3),
        ("noise", 5, (57, 301), (224, 17), 3),      # up in x, down in y, odd sizes
        ("noise", 6, (120, 80), (120, 40), 3),      # vertical pass only
        ("noise", 7, (80, 120), (40, 120), 3),      # horizontal pass only
        ("noise", 8, (64, 48), (64, 48), 3),        # unchanged size: a copy
        ("noise", 9, (1, 1), (5, 3), 3),
        ("noise", 10, (97, 61), (1, 1), 3),
        ("noise", 11, (97, 61), (40, 50), 1),       # LANCZOS
        ("noise", 12, (97, 61), (40, 50), 2),       # BILINEAR
        ("noise", 13, (97, 61), (40, 50), 4),       # BOX
        ("noise", 14, (97, 61), (40, 50), 5),       # HAMMING
        ("scene", 15, (61, 41), (101, 67), 1),
        ("scene", 16, (61, 41), (101, 67), 2),
        ("noise", 17, (61, 41), (40, 50), 6),       # MKS2013
        ("noise", 18, (61, 41), (40, 50), 7),       # MKS2021
        ("noise", 19, (100, 100), (150, 30), 3),    # vertical pass first (recent Pillow)
        ("noise", 20, (22, 173), (9, 110), 3),      # vertical first, both shrinking
        ("noise", 21, (168, 139), (142, 80), 3),    # vertical first, both shrinking
        ("noise", 22, (149, 124), (63, 19), 3),     # horizontal first despite a cheaper V pass
    ]
    # Random sizes (small outputs) around Pillow's pass-order rule.
    rng_sizes = np.random.default_rng(7)
    for seed in range(100, 124):
        iw, ih = (int(v) for v in rng_sizes.integers(2, 160, 2))
        ow, oh = (int(v) for v in rng_sizes.integers(1, 24, 2))
        synthetic.append(("noise", seed, (iw, ih), (ow, oh), 3))
    for kind, seed, (iw, ih), (ow, oh), filt in synthetic:
        src = synthetic_image(kind, iw, ih, seed)
        resized = np.asarray(Image.fromarray(src, "RGB").resize((ow, oh), resample=filt))
        name = f"{kind}{seed}_{iw}x{ih}.{ow}x{oh}.f{filt}.rgb"
        index["resize"].append({
            "source": {"synthetic": kind, "seed": seed, "width": iw, "height": ih},
            "source_hash": content_hash(src), "width": ow, "height": oh, "filter": filt,
            "rgb": write(f"golden/{name}", resized.tobytes())})

    # transformers SiglipImageProcessor end to end (PIL image in, as PaliGemmaProcessor does).
    half = [0.5, 0.5, 0.5]
    for name in ["rgb420_61x47.jpg", "rgba_37x23.png", "gray16_37x23.png"]:
        pil = Image.open(io.BytesIO(files[name]))
        pv = siglip(32, 48, half, half)(pil, return_tensors="np")["pixel_values"][0]
        assert pv.shape == (3, 32, 48) and pv.dtype == np.float32, (pv.shape, pv.dtype)
        index["processor"].append({
            "file": f"images/{name}", "height": 32, "width": 48, "resample": 3,
            "rescale_factor": 1 / 255, "image_mean": half, "image_std": half,
            "pixel_values": write(f"golden/{name}.siglip32x48.f32", pv.astype("<f4").tobytes())})

    # Every uint8 value through rescale + normalize: 16x16 image, pixel v holds (v + 85 c) % 256
    # in channel c; the processor's size is the image's, so PIL's resize is a copy.
    v = np.arange(256).reshape(16, 16, 1)
    lut_image = ((v + 85 * np.arange(3)) % 256).astype(np.uint8)
    for tag, mean, std, factor in [
            ("siglip", half, half, 1 / 255),
            ("imagenet", [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], 1 / 255),
            ("odd", [0.1, -2.0, 300.0], [3.0, 0.01, 7.5], 0.0123)]:
        pv = siglip(16, 16, mean, std, factor)(Image.fromarray(lut_image, "RGB"),
                                               return_tensors="np")["pixel_values"][0]
        index["processor_lut"].append({
            "height": 16, "width": 16, "resample": 3, "rescale_factor": factor,
            "image_mean": mean, "image_std": std,
            "pixel_values": write(f"golden/lut_{tag}.f32", pv.astype("<f4").tobytes())})

    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(out) for n in ns)
    print(f"wrote {out}: {total} bytes")


if __name__ == "__main__":
    main()

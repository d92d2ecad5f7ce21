#!/usr/bin/env python3
"""Writes the expected token ids that engine/tokenizer's tests compare against.

For a SentencePiece tokenizer.model (engine/tokenizer/testdata/tokenizer.model, written by
  bazel run //engine/tokenizer:train_tiny_tokenizer -- \
      --out=$PWD/engine/tokenizer/testdata/tokenizer.model --vocab_size=2048 --seed=0
)
it records, with the pinned transformers 4.47.1 / sentencepiece / tokenizers:

- `encode`: for each string, the raw `sentencepiece` ids and the ids of transformers' slow
  GemmaTokenizer inside a PaliGemmaProcessor (added tokens split out first);
- `prompts`: PaliGemmaProcessor(text=prompt, images=[n images]) input_ids for n = 1 and 6, with a
  SiglipImageProcessor whose image_seq_length is 4 (small files);
- `decode`: tokenizer.decode(ids, skip_special_tokens=True) of the slow tokenizer for hand-made and
  seeded random id sequences (byte pieces, partial characters, specials, <locNNNN>);
- `fast`: what the fast GemmaTokenizerFast (converted from the slow one, as
  PaliGemmaProcessor.from_pretrained would load by default) gives where it differs from the slow
  one (documentation only; the C++ follows the slow tokenizer).

Usage (from the repository root):
  /tmp/venv/ref/bin/python tools/reference/tokenizer/make_tokenizer_reference.py \
      engine/tokenizer/testdata/tokenizer.model engine/tokenizer/testdata/tokenizer_reference.json

Dependencies (tools/requirements.txt): transformers==4.47.1, tokenizers, sentencepiece, numpy,
pillow.
"""

import json
import random
import sys

import numpy as np
import sentencepiece as spm
import transformers
from PIL import Image
from transformers import (GemmaTokenizer, GemmaTokenizerFast, PaliGemmaProcessor,
                          SiglipImageProcessor)

IMAGE_SEQ_LENGTH = 4

# Strings for Encode. Each covers something that could go wrong: leading/trailing/multiple spaces
# (no dummy prefix, whitespace kept), newlines, digits (split), punctuation, DriveLM object
# references, characters outside the vocabulary (byte fallback), CJK and emoji, and added tokens
# written in the text (<bos>, <eos>, <pad>, <unk>, <image>, <locNNNN>, <segNNN>), including
# near-misses that must stay text.
ENCODE_STRINGS = [
    "",
    " ",
    "  ",
    "a",
    "What are the important objects in the current scene?",
    " What is the future state of <c1,CAM_FRONT,1088.3,497.5>?",
    "The ego vehicle should keep going at the same speed.\n",
    "  two  leading spaces and trailing  ",
    "line one\nline two\n\nline four\n",
    "tab\tseparated\tvalues",
    "numbers 0123456789 12.5 m/s 1600x900 -4.1 deg 1,234,567",
    "Speed limit 30 km/h -> 8.3 m/s; braking distance ~12 m.",
    "Punctuation: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "Euro \u20ac and pound \u00a3 and yen \u00a5",
    "\u524d\u65b9\u6709\u884c\u4eba\u6b63\u5728\u8fc7\u9a6c\u8def",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "Emoji \U0001F697 \U0001F6B6 \U0001F6A6 \u26a0\ufe0f \U0001F600\U0001F680",
    "Fu\u00dfg\u00e4nger \u00fcberquert die Stra\u00dfe",
    "Zero width\u200bjoiner and combining e\u0301",
    "\u2581literal lower one eighth block",
    "<bos>",
    "<bos>hello<eos>",
    "a <eos> b",
    "<pad><unk>",
    "<image>",
    "text <image> more <image>",
    "<loc0000><loc0512><loc1023> person",
    "detect car ; <loc0100><loc0200><loc0300><loc0400> car",
    "<seg000><seg127>",
    "<loc1024> is not a location token, <loc12> neither, <LOC0001> neither",
    "<bo<bos>s>",
    "<<loc0001>>",
    "<boss> and <eos",
    "You are an autonomous driving labeler. You have access to six camera images (front, "
    "front-right, front-left, back, back-right, back-left).\nWhat are the important objects in "
    "the current scene? Those objects will be considered for the future reasoning and driving "
    "decision.",
]

PROMPTS = [
    "What are the important objects in the current scene?",
    "You are an autonomous driving labeler. You have access to six camera images (front, "
    "front-right, front-left, back, back-right, back-left).\nWhat is the future state of "
    "<c1,CAM_FRONT,1088.3,497.5>?",
    "",
    "  spaced  prompt  ",
    "caption en",
    "detect car <loc0001> \u20ac \U0001F697",
    "has <bos> and <eos> inside",
]


def byte_id(sp, value):
    return sp.piece_to_id(f"<0x{value:02X}>")


def decode_cases(sp, slow, image_id):
    """Hand-made and random id sequences for decode."""
    b = lambda *values: [byte_id(sp, v) for v in values]
    text = lambda s: sp.encode(s)
    bos, eos, pad, unk = sp.bos_id(), sp.eos_id(), sp.pad_id(), sp.unk_id()
    loc1 = sp.piece_to_id("<loc0001>")
    seg5 = sp.piece_to_id("<seg005>")
    cases = [
        [],
        text("What is the future state of the car?"),
        [bos] + text(" leading space kept") + [eos],
        b(0xE2, 0x82, 0xAC),  # euro sign from bytes
        b(0xE2, 0x82),  # incomplete at the end
        b(0xE2) + text("x") + b(0x82, 0xAC),  # a text piece cuts the byte run
        b(0xE2, 0x82) + [eos] + b(0xAC),  # specials are dropped before SentencePiece sees them
        b(0xE2, 0x82) + [image_id] + b(0xAC),
        b(0xE2) + [loc1] + b(0x82, 0xAC),  # an added token cuts the byte run
        b(0xF0, 0x9F, 0x9A, 0x97),  # car emoji
        b(0xF0, 0x9F, 0x9A),  # incomplete 4-byte character
        b(0xE6, 0x97, 0xA5, 0xE6, 0x9C, 0xAC),  # CJK
        b(0x80, 0xBF, 0xFF, 0xC0, 0xAF),  # stray continuation bytes, invalid leads, overlong
        b(0xED, 0xA0, 0x80),  # surrogate
        b(0xF4, 0x90, 0x80, 0x80),  # above U+10FFFF
        b(0xE2, 0x96, 0x81),  # U+2581 spelled in bytes: the final replace makes it a space
        b(0xC3) + b(0x41),  # lead byte followed by ASCII byte
        [image_id] * 3 + [bos] + text("caption en\n"),
        [pad, unk, bos, eos],
        [loc1, seg5] + text(" car"),
        b(0xE2) + [sp.piece_to_id("\u2581")] + b(0x82),
    ]
    rng = random.Random(1234)
    piece_count = sp.get_piece_size()
    byte_ids = [byte_id(sp, v) for v in range(256)]
    # Bytes of real multi-byte characters, so random runs often complete characters.
    multibyte = [list(ch.encode("utf-8"))
                 for ch in "\u20ac\u00e9\u524d\U0001F697\u2581\u00df\u65e5"]
    for _ in range(60):
        ids = []
        for _ in range(rng.randint(1, 24)):
            r = rng.random()
            if r < 0.3:
                ids += b(*rng.choice(multibyte))
            elif r < 0.45:
                ids.append(rng.choice(byte_ids))
            elif r < 0.55:
                ids.append(rng.choice([bos, eos, pad, unk, image_id]))
            elif r < 0.62:
                ids.append(rng.randrange(4, 4 + 1152))  # <locNNNN>/<segNNN>
            else:
                ids.append(rng.randrange(0, piece_count))
        cases.append(ids)
    return cases


def make_processor(tokenizer):
    image_processor = SiglipImageProcessor(size={"height": 16, "width": 16},
                                           image_seq_length=IMAGE_SEQ_LENGTH)
    return PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)


def main():
    model_path, out_path = sys.argv[1], sys.argv[2]
    sp = spm.SentencePieceProcessor(model_file=model_path)
    slow_processor = make_processor(GemmaTokenizer(vocab_file=model_path))
    fast_processor = make_processor(GemmaTokenizerFast(vocab_file=model_path))
    slow = slow_processor.tokenizer
    fast = fast_processor.tokenizer
    image_id = slow_processor.image_token_id
    assert image_id == fast_processor.image_token_id

    image = Image.fromarray(np.full((16, 16, 3), 128, dtype=np.uint8))

    out = {
        "generator": "tools/reference/tokenizer/make_tokenizer_reference.py",
        "versions": {
            "transformers": transformers.__version__,
            "sentencepiece": spm.__version__,
        },
        "piece_count": sp.get_piece_size(),
        "len_tokenizer": len(slow),
        "image_token_id": image_id,
        "bos_id": slow.bos_token_id,
        "eos_id": slow.eos_token_id,
        "pad_id": slow.pad_token_id,
        "unk_id": slow.unk_token_id,
        "all_special_ids": sorted(slow.all_special_ids),
        "image_seq_length": IMAGE_SEQ_LENGTH,
        "encode": [],
        "prompts": [],
        "decode": [],
        "fast_differences": [],
    }

    for s in ENCODE_STRINGS:
        sp_ids = sp.encode(s)
        hf_ids = slow(s)["input_ids"]
        fast_ids = fast(s)["input_ids"]
        out["encode"].append({"text": s, "sentencepiece_ids": sp_ids, "hf_ids": hf_ids})
        if fast_ids != hf_ids:
            out["fast_differences"].append({"kind": "encode", "text": s, "slow": hf_ids,
                                            "fast": fast_ids})

    for prompt in PROMPTS:
        for n in (1, 6):
            ids = slow_processor(text=prompt, images=[[image] * n])["input_ids"][0]
            ids = [int(i) for i in ids]
            fast_out = fast_processor(text=prompt, images=[[image] * n])
            fast_ids = [int(i) for i in fast_out["input_ids"][0]]
            out["prompts"].append({"prompt": prompt, "num_images": n, "ids": ids})
            if fast_ids != ids:
                out["fast_differences"].append({"kind": "prompt", "text": prompt,
                                                "num_images": n, "slow": ids, "fast": fast_ids})

    for ids in decode_cases(sp, slow, image_id):
        text = slow.decode(ids, skip_special_tokens=True)
        out["decode"].append({"ids": ids, "text": text})
        fast_text = fast.decode(ids, skip_special_tokens=True)
        if fast_text != text:
            out["fast_differences"].append({"kind": "decode", "ids": ids, "slow": text,
                                            "fast": fast_text})

    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out_path}: {len(out['encode'])} encodings, {len(out['prompts'])} prompts, "
          f"{len(out['decode'])} decodings; fast tokenizer differs in "
          f"{len(out['fast_differences'])} cases")
    for d in out["fast_differences"]:
        print("  fast differs:", json.dumps(d, ensure_ascii=False)[:300])


if __name__ == "__main__":
    main()

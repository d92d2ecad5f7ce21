#!/usr/bin/env python3
"""Writes golden outputs of Hugging Face transformers for a PaliGemma checkpoint.

The C++ engine's parity tests compare against these files. Run it through run_reference.sh,
which provides the pinned environment (tools/requirements.txt):

  tools/reference/run_reference.sh --model DIR --out DIR \
      --image CAM_FRONT=front.jpg --image CAM_BACK=back.png --prompt "What is ahead?" \
      [--max_new_tokens 16] [--dtype float32]

Outputs in --out:
  inputs.json          prompt, image files, input_ids, greedy ids/text, versions, checks (README.md)
  tensors.safetensors  float32 tensors: pixel_values, prefill_logits, image_features, ...

How the inputs are built (transformers 4.47.1):
- Processor: PaliGemmaProcessor(image_processor=SiglipImageProcessor.from_pretrained(DIR),
  tokenizer=GemmaTokenizer.from_pretrained(DIR)), i.e. the SLOW SentencePiece tokenizer, which
  is what the C++ engine reproduces (libsentencepiece on tokenizer.model). This equals
  PaliGemmaProcessor.from_pretrained(DIR, use_fast=False). When preprocessor_config.json is
  absent, the image processor is built from config.json (square vision_config.image_size,
  bicubic, x/255, mean=std=0.5). If the fast tokenizer can also be loaded from DIR, its
  input_ids are compared and the result recorded (fast_tokenizer_input_ids_match).
- Multi-image: processor(text=[prompt], images=[[img_1, ..., img_n]]). With no "<image>" in the
  prompt (required here), 4.47 builds the string "<image>" * image_seq_length * n + "<bos>" +
  prompt + "\\n" (processing_paligemma.py build_string_from_input), flattens the nested list into
  pixel_values [n, 3, H, W] in the given order, and returns input_ids and attention_mask only
  (no token_type_ids without a suffix). The model (modeling_paligemma.py forward) runs the vision
  tower on all n images as one batch, get_image_features -> [n, tokens, hidden], and
  masked_scatter fills the <image> positions in row-major order: image 0's tokens first, then
  image 1's, and so on.
- Model: PaliGemmaForConditionalGeneration.from_pretrained(DIR, torch_dtype=float32,
  attn_implementation="eager"); a bf16 checkpoint is upcast on load. Eager attention everywhere
  (SigLIP and Gemma default to SDPA; they differ from eager by ~1e-5 in the logits).
"""

import argparse
import glob
import json
import os
import sys

import numpy as np
import torch
import transformers
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import (GemmaTokenizer, GemmaTokenizerFast, PaliGemmaConfig,
                          PaliGemmaForConditionalGeneration, PaliGemmaProcessor,
                          SiglipImageProcessor)

IMAGE_TOKEN = "<image>"


class GoldenError(Exception):
    """A bad input or an inconsistent checkpoint; main() prints it and exits 2."""


def parse_image_arg(text):
    """'CAM_FRONT=path' -> ('CAM_FRONT', path); a bare path is named after its file stem."""
    name, sep, path = text.partition("=")
    if not sep or not name or "/" in name:
        path = text
        name = os.path.splitext(os.path.basename(text))[0]
    if not os.path.isfile(path):
        raise GoldenError(f"--image {text}: file {path!r} does not exist")
    return name, path


def load_images(image_args):
    """Reads the files with PIL and converts to RGB (the C++ decoder also yields RGB)."""
    names, paths, images = [], [], []
    for arg in image_args:
        name, path = parse_image_arg(arg)
        try:
            with Image.open(path) as im:
                images.append(im.convert("RGB"))
        except OSError as e:
            raise GoldenError(f"--image {arg}: PIL cannot read {path!r}: {e}") from e
        names.append(name)
        paths.append(path)
    return names, paths, images


def build_processor(model_dir, config):
    """Slow-tokenizer PaliGemmaProcessor; see the module docstring for why."""
    if os.path.isfile(os.path.join(model_dir, "preprocessor_config.json")):
        image_processor = SiglipImageProcessor.from_pretrained(model_dir)
    else:
        size = config.vision_config.image_size
        image_processor = SiglipImageProcessor(
            do_resize=True, size={"height": size, "width": size}, resample=3, do_rescale=True,
            rescale_factor=1 / 255, do_normalize=True, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    if not hasattr(image_processor, "image_seq_length"):
        # PaliGemmaProcessor requires it; the Hub's preprocessor_config.json carries it.
        image_processor.image_seq_length = config.text_config.num_image_tokens
    if image_processor.image_seq_length != config.text_config.num_image_tokens:
        raise GoldenError(
            f"preprocessor_config.json image_seq_length {image_processor.image_seq_length} != "
            f"(image_size/patch_size)^2 = {config.text_config.num_image_tokens} from config.json")
    if not os.path.isfile(os.path.join(model_dir, "tokenizer.model")):
        raise GoldenError(f"{model_dir}/tokenizer.model is missing (the slow tokenizer needs it)")
    tokenizer = GemmaTokenizer.from_pretrained(model_dir)
    return PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)


def fast_tokenizer_ids(model_dir, image_processor, text, images):
    """input_ids from the fast tokenizer (tokenizer.json, or converted from tokenizer.model)."""
    try:
        fast = GemmaTokenizerFast.from_pretrained(model_dir)
        proc = PaliGemmaProcessor(image_processor=image_processor, tokenizer=fast)
        return proc(text=[text], images=[images], return_tensors="pt")["input_ids"][0].tolist()
    except Exception as e:  # only a cross-check; its absence is recorded, not fatal
        print(f"make_goldens: fast tokenizer not compared: {e}", file=sys.stderr)
        return None


def checkpoint_dtypes(model_dir):
    """Distinct dtypes stored in the checkpoint's safetensors files, e.g. ['BF16']."""
    dtypes = set()
    for path in sorted(glob.glob(os.path.join(model_dir, "*.safetensors"))):
        with safe_open(path, framework="pt") as f:
            for key in f.keys():
                dtypes.add(f.get_slice(key).get_dtype())
    return sorted(dtypes)


def ideal_mask(prefix_len, total_len, dtype):
    """Additive 4D mask: bidirectional over the prompt, causal after it.

    This is the mask HF itself uses during training (modeling_paligemma.py _update_causal_mask
    with token_type_ids and labels). Gemma-2's sliding-window layers add their window on top
    (Gemma2DecoderLayer.forward), so a forward with it and no cache is the cache-free reference
    for every decode step.
    """
    mask = torch.full((total_len, total_len), torch.finfo(dtype).min, dtype=dtype)
    mask[:, :prefix_len] = 0
    for i in range(prefix_len, total_len):
        mask[i, : i + 1] = 0
    return mask[None, None]


def sliding_cache_bug_expected(text_config, prefix_len, max_new_tokens):
    """True when 4.47's HybridCache gives wrong decode attention (see README.md, fact d).

    A decode step at 0-based query position p >= sliding_window - 1 after a prompt shorter than
    the window rolls a still-empty slot into the sliding cache: the query then sees a zero key
    in place of position p - sliding_window + 1. Decode queries sit at prefix_len ..
    prefix_len + max_new_tokens - 2.
    """
    window = getattr(text_config, "sliding_window", None)
    if text_config.model_type != "gemma2" or window is None:
        return False
    last_query = prefix_len + max_new_tokens - 2
    return prefix_len < window and last_query >= window - 1


def top2_margin(logits):
    """top-1 minus top-2 logit per row: small margins make greedy parity fragile."""
    top = torch.topk(logits.float(), 2, dim=-1).values
    return (top[..., 0] - top[..., 1]).tolist()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", required=True, help="checkpoint directory")
    p.add_argument("--out", required=True, help="output directory (created)")
    p.add_argument("--image", action="append", required=True, metavar="NAME=PATH",
                   help="an image, in prompt order; repeat for several (e.g. six cameras)")
    p.add_argument("--prompt", required=True, help="question text, without <image> or <bos>")
    p.add_argument("--max_new_tokens", type=int, default=16)
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                   help="dtype the model runs in (goldens for the fp32 engine: float32)")
    p.add_argument("--attn_implementation", choices=["eager", "sdpa"], default="eager")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--max_tensor_mb", type=float, default=64.0,
                   help="optional tensors larger than this are left out (listed in inputs.json)")
    args = p.parse_args(argv)

    if args.max_new_tokens < 1:
        raise GoldenError(f"--max_new_tokens must be >= 1, got {args.max_new_tokens}")
    if IMAGE_TOKEN in args.prompt:
        raise GoldenError(f"--prompt must not contain {IMAGE_TOKEN!r}: the processor adds the "
                          "image tokens, one block per --image")
    if not os.path.isfile(os.path.join(args.model, "config.json")):
        raise GoldenError(f"{args.model}/config.json not found")
    if args.device.startswith("cuda"):
        # TF32 would change the numbers: the SigLIP patch embedding is a cuDNN convolution.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    # Silences the processor's "add <image> tokens yourself" and cache-format notices; loading
    # problems are checked explicitly below.
    transformers.logging.set_verbosity_error()

    config = PaliGemmaConfig.from_pretrained(args.model)
    names, paths, images = load_images(args.image)
    processor = build_processor(args.model, config)
    if processor.image_token_id != config.image_token_index:
        raise GoldenError(
            f"tokenizer id of {IMAGE_TOKEN!r} is {processor.image_token_id} but config.json "
            f"image_token_index is {config.image_token_index}")

    inputs = processor(text=[args.prompt], images=[images], return_tensors="pt")
    input_ids = inputs["input_ids"][0].tolist()
    prefix_len = len(input_ids)
    n_img, seq = len(images), processor.image_seq_length
    expected_head = [config.image_token_index] * (n_img * seq) + [processor.tokenizer.bos_token_id]
    if input_ids[: len(expected_head)] != expected_head or input_ids.count(config.image_token_index) != n_img * seq:
        raise GoldenError(f"unexpected token layout {input_ids[:len(expected_head) + 4]}...: want "
                          f"{n_img}x{seq} image tokens then bos")
    if "token_type_ids" in inputs:
        raise GoldenError("processor returned token_type_ids; the goldens assume it does not")
    fast_ids = fast_tokenizer_ids(args.model, processor.image_processor, args.prompt, images)

    model, info = PaliGemmaForConditionalGeneration.from_pretrained(
        args.model, torch_dtype=getattr(torch, args.dtype),
        attn_implementation=args.attn_implementation, output_loading_info=True)
    # A missing weight would be initialized at random and the goldens silently meaningless.
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise GoldenError(f"{args.model}: checkpoint does not match config.json: {problems}")
    model = model.to(args.device).eval()
    # model.config.text_config is a copy; the layers read language_model.config.
    attn_classes = sorted({type(m).__name__ for m in model.modules()
                           if type(m).__name__.endswith("Attention")})
    lm_attn = model.language_model.config._attn_implementation
    if args.attn_implementation == "eager" and (
            lm_attn != "eager" or any("Sdpa" in c or "Flash" in c for c in attn_classes)):
        raise GoldenError(f"eager attention requested but the model uses {attn_classes}, {lm_attn}")
    text_config = model.config.text_config
    inputs = {k: v.to(args.device) for k, v in inputs.items()}
    inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)

    tensors, omitted = {}, []

    def keep(name, t, required=False):
        t = t.detach().to("cpu", torch.float32).clone()  # own storage: safetensors refuses views
        if not required and t.numel() * 4 > args.max_tensor_mb * 2**20:
            omitted.append(f"{name} {list(t.shape)}")
            return
        tensors[name] = t

    with torch.no_grad():
        # Plain forward over the prompt: what the engine's prefill must reproduce.
        vision = model.vision_tower(inputs["pixel_values"])
        image_features = model.get_image_features(inputs["pixel_values"])
        out = model(**inputs, output_hidden_states=True, use_cache=False)
        logits = out.logits[0]                                   # [prefix_len, vocab]
        keep("pixel_values", inputs["pixel_values"], required=True)
        keep("prefill_logits", logits[-1], required=True)
        keep("image_features", image_features.reshape(-1, image_features.shape[-1]))
        keep("vision_last_hidden_state", vision.last_hidden_state)
        keep("prefill_hidden_states", torch.stack([h[0] for h in out.hidden_states]))
        keep("prefill_logits_all", logits)

        # Greedy generation exactly as HF serves it (KV cache: Dynamic for Gemma, Hybrid for
        # Gemma-2). Stops at eos (config eos_token_id) or after max_new_tokens.
        gen = model.generate(**inputs, max_new_tokens=args.max_new_tokens, do_sample=False,
                             output_logits=True, return_dict_in_generate=True)
        greedy_ids = gen.sequences[0, prefix_len:].tolist()
        gen_logits = torch.stack([s[0] for s in gen.logits])     # [n_new, vocab], raw
        keep("greedy_logits", gen_logits)

        # Cache-free reference for every decode step over the same tokens.
        seq_ids = gen.sequences[:, : prefix_len + len(greedy_ids) - 1]
        tf = model(input_ids=seq_ids, pixel_values=inputs["pixel_values"],
                   attention_mask=ideal_mask(prefix_len, seq_ids.shape[1], model.dtype).to(args.device),
                   use_cache=False).logits[0, prefix_len - 1:]    # [n_new, vocab]
        keep("teacher_forced_logits", tf)

    tok = processor.tokenizer
    eos = model.generation_config.eos_token_id
    eos_ids = eos if isinstance(eos, list) else [eos]
    record = {
        "prompt": args.prompt,
        "prompt_string": tok.decode(input_ids),
        "images": [os.path.basename(x) for x in paths],
        "image_names": names,
        "num_images": n_img,
        "image_seq_length": seq,
        "image_size": list(inputs["pixel_values"].shape[2:]),
        "input_ids": input_ids,
        "prefix_len": prefix_len,
        "image_token_index": config.image_token_index,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": eos_ids,
        "pad_token_id": tok.pad_token_id,
        "max_new_tokens": args.max_new_tokens,
        "greedy_ids": greedy_ids,
        "greedy_text": tok.decode(greedy_ids, skip_special_tokens=True),
        "greedy_text_raw": tok.decode(greedy_ids, skip_special_tokens=False),
        "stopped_at_eos": bool(greedy_ids) and greedy_ids[-1] in eos_ids,
        "greedy_top2_margins": top2_margin(gen_logits),
        "prefill_vs_generate_step0_max_abs_diff": (logits[-1] - gen_logits[0]).abs().max().item(),
        "generate_vs_teacher_forced_max_abs_diff": (gen_logits - tf).abs().max().item(),
        "hf_sliding_cache_bug_expected": sliding_cache_bug_expected(
            text_config, prefix_len, len(greedy_ids)),
        "fast_tokenizer_input_ids_match": None if fast_ids is None else fast_ids == input_ids,
        "text_model_type": text_config.model_type,
        "sliding_window": getattr(text_config, "sliding_window", None),
        "attn_implementation": args.attn_implementation,
        "attention_modules": attn_classes + [f"language_model: {lm_attn}"],
        "dtype": args.dtype,
        "checkpoint_dtypes": checkpoint_dtypes(args.model),
        "device": args.device,
        "tokenizer": "GemmaTokenizer (slow, sentencepiece)",
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
        "omitted_tensors": omitted,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
    }

    os.makedirs(args.out, exist_ok=True)
    save_file(tensors, os.path.join(args.out, "tensors.safetensors"),
              metadata={"producer": "tools/reference/make_goldens.py",
                        "transformers": transformers.__version__})
    with open(os.path.join(args.out, "inputs.json"), "w") as f:
        json.dump(record, f, indent=1, ensure_ascii=False)
        f.write("\n")

    print(f"make_goldens: {args.out}: prefix_len {prefix_len}, greedy {greedy_ids} "
          f"{record['greedy_text']!r}, min top-2 margin {min(record['greedy_top2_margins']):.3g}")
    if fast_ids is not None and fast_ids != input_ids:
        print("make_goldens: WARNING: the fast tokenizer gives different input_ids", file=sys.stderr)
    if record["generate_vs_teacher_forced_max_abs_diff"] > 1e-3:
        print("make_goldens: WARNING: generate() and the cache-free forward disagree by "
              f"{record['generate_vs_teacher_forced_max_abs_diff']:.3g}"
              + (" (the known HybridCache sliding-window bug: see README.md)"
                 if record["hf_sliding_cache_bug_expected"] else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except GoldenError as e:
        print(f"make_goldens: error: {e}", file=sys.stderr)
        sys.exit(2)

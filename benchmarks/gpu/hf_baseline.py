#!/usr/bin/env python3
"""Hugging Face transformers baseline on the GPU: PaliGemma-3B shapes, random weights.

Builds PaliGemmaForConditionalGeneration(PaliGemmaConfig(...)) with the paligemma-3b-pt-224
config (DESIGN.md §5), random init, in bf16 on CUDA, and times (torch.inference_mode, CUDA
synchronized wall clock, medians):

  vision     model.get_image_features over six 224 px cameras (SigLIP + projector)
  prefill    the language model over the merged prompt embeddings of one six-camera question
             (1536 image tokens + bos + question + "\\n"), use_cache=True, logits of the last
             position only
  ttft       generate(max_new_tokens=1) of that question: pixels -> first token
  decode     at batch 1, 8, 32, 64 (each row its own six cameras and question):
             (generate(N) - generate(1)) / (N - 1) per step, both with min_new_tokens so EOS
             cannot end them early; tokens/s = batch / step
  e2e        generate(N) at batch 1: one question end to end

Writes everything as JSON (--out), after every phase, so a run cut short still leaves results;
an out-of-memory batch is recorded as such and the run goes on. Random inputs, never zeros
(/work/.library/device/METHOD.md). Works with transformers 4.47 (here) and 5.x (the GPU image).

  python3 benchmarks/gpu/hf_baseline.py --out /tmp/hf.json            # the GPU run
  /tmp/venv/ref/bin/python benchmarks/gpu/hf_baseline.py --tiny --device cpu --dtype float32 \\
      --out /tmp/hf_tiny.json                                          # a smoke test anywhere
"""

import argparse
import inspect
import json
import statistics
import sys
import time

import torch
import transformers
from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration

IMAGE_TOKEN = 257152
BOS = 2
NEWLINE = 108  # "\n" in the Gemma tokenizer


def paligemma_3b_config(tiny):
    """paligemma-3b-pt-224's config.json (DESIGN.md §5); --tiny shrinks every size."""
    text = dict(model_type="gemma", hidden_size=2048, intermediate_size=16384,
                num_hidden_layers=18, num_attention_heads=8, num_key_value_heads=1, head_dim=256,
                vocab_size=257216, hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6,
                rope_theta=10000.0, max_position_embeddings=8192, num_image_tokens=256)
    vision = dict(model_type="siglip_vision_model", hidden_size=1152, intermediate_size=4304,
                  num_hidden_layers=27, num_attention_heads=16, patch_size=14, image_size=224,
                  num_image_tokens=256, projection_dim=2048, layer_norm_eps=1e-6,
                  vision_use_head=False)
    if tiny:
        text.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                    num_attention_heads=2, head_dim=32)
        vision.update(hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                      num_attention_heads=2, projection_dim=64)
    # transformers 4.47 names the image token image_token_index; later versions image_token_id.
    return PaliGemmaConfig(text_config=text, vision_config=vision, image_token_index=IMAGE_TOKEN,
                           image_token_id=IMAGE_TOKEN, projection_dim=text["hidden_size"],
                           hidden_size=text["hidden_size"], vocab_size=text["vocab_size"],
                           bos_token_id=BOS, eos_token_id=1, pad_token_id=0)


def image_token(config):
    for name in ("image_token_id", "image_token_index"):
        value = getattr(config, name, None)
        if value is not None:
            return value
    return IMAGE_TOKEN


def image_features(model, pixels):
    """model.get_image_features (4.x), else the inner PaliGemmaModel's (later layouts)."""
    fn = getattr(model, "get_image_features", None) or model.model.get_image_features
    return as_tensor(fn(pixels))


def as_tensor(x):
    """get_image_features returns a tensor in 4.x and may return an output object later."""
    if torch.is_tensor(x):
        return x
    for name in ("image_embeds", "pooler_output", "last_hidden_state"):
        if getattr(x, name, None) is not None:
            return getattr(x, name)
    return x[0]


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    p.add_argument("--tiny", action="store_true", help="tiny sizes: a smoke test of the script")
    p.add_argument("--cameras", type=int, default=6)
    p.add_argument("--question_tokens", type=int, default=20)
    p.add_argument("--batches", default="1,8,32,64")
    p.add_argument("--new_tokens", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--budget_s", type=float, default=300.0,
                   help="skip the remaining decode batches once this much time has passed")
    args = p.parse_args(argv)
    t_start = time.perf_counter()
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    transformers.logging.set_verbosity_error()

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def timed(fn, repeats, warmup=1):
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    res = {"torch": torch.__version__, "transformers": transformers.__version__,
           "device": torch.cuda.get_device_name(0) if cuda else args.device,
           "dtype": args.dtype, "tiny": args.tiny, "cameras": args.cameras,
           "new_tokens": args.new_tokens, "repeats": args.repeats, "phases_ms": {},
           "decode": {}, "errors": {}}

    def save():
        res["elapsed_s"] = time.perf_counter() - t_start
        with open(args.out, "w") as f:
            json.dump(res, f, indent=2)

    config = paligemma_3b_config(args.tiny)
    t0 = time.perf_counter()
    with torch.device(device):
        model = PaliGemmaForConditionalGeneration(config)
    model = model.to(dtype=dtype).eval()
    sync()
    res["build_s"] = time.perf_counter() - t0
    res["params"] = sum(t.numel() for t in model.parameters())
    res["attn_implementation"] = getattr(model.config, "_attn_implementation", None)
    forward_params = inspect.signature(model.forward).parameters
    keep = {}
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in forward_params:
            keep = {name: 1}
            break
    print(f"hf_baseline: torch {torch.__version__}, transformers {transformers.__version__}, "
          f"{res['device']}, {args.dtype}, {res['params'] / 1e9:.2f}B params, attention "
          f"{res['attn_implementation']}, built in {res['build_s']:.1f} s", flush=True)
    save()

    vc = config.vision_config
    image_id = image_token(model.config)
    res["image_token_id"] = image_id
    tokens_per_image = (vc.image_size // vc.patch_size) ** 2
    vocab = config.text_config.vocab_size
    gen = torch.Generator().manual_seed(1)

    def make_inputs(batch):
        ids = []
        for _ in range(batch):
            question = torch.randint(3, min(image_id, vocab), (args.question_tokens,),
                                     generator=gen).tolist()
            ids.append([image_id] * (tokens_per_image * args.cameras) + [BOS] + question +
                       [NEWLINE])
        input_ids = torch.tensor(ids, device=device)
        pixels = torch.rand(batch * args.cameras, 3, vc.image_size, vc.image_size,
                            generator=gen) * 2 - 1  # normalized pixels lie in [-1, 1]
        return dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                    pixel_values=pixels.to(device=device, dtype=dtype))

    inputs = make_inputs(1)
    prompt_len = inputs["input_ids"].shape[1]
    res["prompt_tokens"] = prompt_len

    def generate(inp, n):
        return model.generate(**inp, max_new_tokens=n, min_new_tokens=n, do_sample=False)

    with torch.inference_mode():
        # ---- vision: six cameras ----
        px = inputs["pixel_values"]
        res["phases_ms"]["vision"] = timed(lambda: image_features(model, px), args.repeats) * 1e3
        save()
        # ---- prefill over merged embeddings ----
        features = image_features(model, px)
        ids = inputs["input_ids"]
        embeds = model.get_input_embeddings()(ids)
        mask = (ids == image_id).unsqueeze(-1).expand_as(embeds)
        embeds = embeds.masked_scatter(mask, features.reshape(-1, embeds.shape[-1]).to(embeds.dtype))

        def prefill():
            return model(inputs_embeds=embeds, attention_mask=inputs["attention_mask"],
                         use_cache=True, **keep)

        res["phases_ms"]["prefill"] = timed(prefill, args.repeats) * 1e3
        res["prefill_tokens_per_s"] = prompt_len / (res["phases_ms"]["prefill"] / 1e3)
        save()
        # ---- TTFT and one question end to end ----
        res["phases_ms"]["ttft"] = timed(lambda: generate(inputs, 1), args.repeats) * 1e3
        res["phases_ms"]["e2e"] = timed(lambda: generate(inputs, args.new_tokens),
                                        max(1, args.repeats - 1), warmup=0) * 1e3
        out = generate(inputs, args.new_tokens)
        res["first_ids"] = out[0, prompt_len:prompt_len + 16].tolist()
        save()
        print(f"vision {res['phases_ms']['vision']:.1f} ms, prefill "
              f"{res['phases_ms']['prefill']:.1f} ms ({prompt_len} tokens), TTFT "
              f"{res['phases_ms']['ttft']:.1f} ms, e2e {args.new_tokens} tokens "
              f"{res['phases_ms']['e2e']:.1f} ms", flush=True)

        # ---- decode at each batch size ----
        n = args.new_tokens
        for batch in [int(b) for b in args.batches.split(",") if b]:
            if time.perf_counter() - t_start > args.budget_s:
                res["errors"][f"batch_{batch}"] = "skipped: time budget spent"
                save()
                continue
            try:
                inp = make_inputs(batch)
                reps = max(1, args.repeats - 1)
                g1 = timed(lambda: generate(inp, 1), reps, warmup=1)
                gn = timed(lambda: generate(inp, n), reps, warmup=0)
                step = (gn - g1) / (n - 1)
                res["decode"][str(batch)] = {
                    "generate_1_ms": g1 * 1e3, "generate_n_ms": gn * 1e3,
                    "step_ms": step * 1e3, "tokens_per_s": batch / step if step > 0 else None}
                rate = f"{batch / step:.1f} tokens/s" if step > 0 else "no measurable step"
                print(f"decode batch {batch}: generate(1) {g1 * 1e3:.1f} ms, generate({n}) "
                      f"{gn * 1e3:.1f} ms, {step * 1e3:.2f} ms/step, {rate}", flush=True)
                del inp
            except torch.cuda.OutOfMemoryError as e:  # noqa: PERF203 (one per batch size)
                res["errors"][f"batch_{batch}"] = f"out of memory: {str(e).splitlines()[0]}"
                print(f"decode batch {batch}: out of memory", flush=True)
            if cuda:
                torch.cuda.empty_cache()
            save()
    if cuda:
        res["max_memory_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
    save()
    print(json.dumps({k: res[k] for k in ("phases_ms", "decode", "errors")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Hugging Face transformers on the CPU, phase by phase, for the engine_bench workload.

Measures the same phases as //benchmarks:engine_bench on the same checkpoint, image and prompt,
so the two can be compared per phase:

  bazel run -c opt //benchmarks:engine_bench -- --model_out /tmp/eb/model \\
      --save_image /tmp/eb/cam.jpg --json /tmp/eb/engine.json
  /tmp/venv/ref/bin/python benchmarks/hf_cpu_baseline.py --model /tmp/eb/model \\
      --image /tmp/eb/cam.jpg --engine_json /tmp/eb/engine.json [--attn sdpa|eager] [--threads 2]

Phases (medians of repeats, torch.inference_mode, float32):
  image    PIL decode + convert("RGB") + SiglipImageProcessor (resize, rescale, normalize), one
           camera at a time, as PaliGemmaProcessor does it
  vision   model.get_image_features (SigLIP + projector + 1/sqrt(hidden)): 1 image and 6 images
  prefill  the language model over the merged prompt embeddings (inputs_embeds: image features
           already scattered into the <image> slots), use_cache=True, num_logits_to_keep=1;
           i.e. what PaliGemmaModel::Prefill does. The full forward (vision + prefill) is also
           timed.
  decode   model.generate(greedy, N tokens, min_new_tokens=N so eos cannot end it early): the
           median interval between consecutive tokens (a LogitsProcessor stamps each one); plus
           a hand-written loop of forward(next id, past_key_values) steps, median step, for a
           figure without generate's per-step overhead.
Requires torch and transformers (tools/requirements.txt pins 2.5.1 / 4.47.1).
"""

import argparse
import io
import json
import os
import platform
import resource
import statistics
import sys
import time

import torch
import transformers
from PIL import Image
from transformers import (GemmaTokenizer, LogitsProcessor, LogitsProcessorList,
                          PaliGemmaForConditionalGeneration, PaliGemmaProcessor,
                          SiglipImageProcessor)

QUESTION = ("What are the important objects in the current scene? Those objects will be "
            "considered for the future reasoning and driving decision.")


class StepTimer(LogitsProcessor):
    """Records when generate() scores each new token: consecutive calls are one decode step
    apart (forward + logits processing + token selection), so their intervals time decode
    inside generate() without its prefill."""

    def __init__(self):
        self.stamps = []

    def __call__(self, input_ids, scores):
        self.stamps.append(time.perf_counter())
        return scores

    def intervals(self):
        return [b - a for a, b in zip(self.stamps, self.stamps[1:])]


def cpu_snapshot():
    """(wall s, all CPUs' busy s from /proc/stat, this process's CPU s)."""
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), busy, ru.ru_utime + ru.ru_stime


def other_cpus(a, b):
    """CPUs kept busy by other processes between two snapshots (the machine is shared)."""
    wall = b[0] - a[0]
    return max(0.0, ((b[1] - a[1]) - (b[2] - a[2])) / wall) if wall > 0 else 0.0


def median_time(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", required=True, help="checkpoint directory (engine_bench --model_out)")
    p.add_argument("--image", required=True, help="JPEG used for every camera")
    p.add_argument("--cameras", type=int, default=6)
    p.add_argument("--question", default=QUESTION)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa",
                   help="attn_implementation (sdpa: transformers' default)")
    p.add_argument("--decode_tokens", type=int, default=32)
    p.add_argument("--image_repeats", type=int, default=30)
    p.add_argument("--vision_repeats", type=int, default=5)
    p.add_argument("--prefill_repeats", type=int, default=3)
    p.add_argument("--generate_repeats", type=int, default=2)
    p.add_argument("--engine_json", help="engine_bench --json output: print ours/HF per phase")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    if args.decode_tokens < 2:
        p.error("--decode_tokens must be >= 2")

    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    with open(args.image, "rb") as f:
        jpeg = f.read()

    image_processor = SiglipImageProcessor.from_pretrained(args.model)
    tokenizer = GemmaTokenizer.from_pretrained(args.model)  # slow: what the engine reproduces
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model = PaliGemmaForConditionalGeneration.from_pretrained(
        args.model, torch_dtype=torch.float32, attn_implementation=args.attn).eval()
    n_params = sum(t.numel() for t in model.parameters())

    res = {"torch": torch.__version__, "transformers": transformers.__version__,
           "threads": torch.get_num_threads(), "attn": args.attn, "params": n_params}

    # ---- image: one camera ----
    def decode_only():
        with Image.open(io.BytesIO(jpeg)) as im:
            return im.convert("RGB")

    def decode_process():
        return image_processor(images=decode_only(), return_tensors="pt")["pixel_values"]

    load = {}
    snap = cpu_snapshot()
    res["image_decode_ms"] = median_time(decode_only, args.image_repeats)[0] * 1e3
    res["image_total_per_camera_ms"] = median_time(decode_process, args.image_repeats)[0] * 1e3
    load["image"] = other_cpus(snap, cpu_snapshot())

    images = [decode_only() for _ in range(args.cameras)]
    inputs = processor(text=[args.question], images=[images], return_tensors="pt")
    input_ids = inputs["input_ids"]
    pixel_values = inputs["pixel_values"]
    prompt_len = input_ids.shape[1]
    res["prompt_tokens"] = prompt_len

    with torch.inference_mode():
        # ---- vision ----
        snap = cpu_snapshot()
        t1, _ = median_time(lambda: model.get_image_features(pixel_values[:1]),
                            args.vision_repeats)
        tn, _ = median_time(lambda: model.get_image_features(pixel_values), args.vision_repeats)
        res["vision_one_image_ms"] = t1 * 1e3
        res["vision_batch_ms"] = tn * 1e3
        res["vision_per_image_in_batch_ms"] = tn / args.cameras * 1e3
        load["vision"] = other_cpus(snap, cpu_snapshot())

        # ---- prefill over merged embeddings ----
        features = model.get_image_features(pixel_values)  # [n, tokens, hidden]
        embeds = model.get_input_embeddings()(input_ids)
        mask = (input_ids == model.config.image_token_index).unsqueeze(-1).expand_as(embeds)
        embeds = embeds.masked_scatter(mask, features.to(embeds.dtype))
        attention_mask = inputs["attention_mask"]

        def prefill():
            return model(inputs_embeds=embeds, attention_mask=attention_mask, use_cache=True,
                         num_logits_to_keep=1)

        snap = cpu_snapshot()
        tp, tp_all = median_time(prefill, args.prefill_repeats)
        load["prefill"] = other_cpus(snap, cpu_snapshot())
        res["prefill_ms"] = tp * 1e3
        res["prefill_all_ms"] = [t * 1e3 for t in tp_all]
        res["prefill_tokens_per_s"] = prompt_len / tp
        tf, _ = median_time(lambda: model(**inputs, use_cache=True, num_logits_to_keep=1),
                            max(1, args.prefill_repeats - 1))
        res["vision_plus_prefill_forward_ms"] = tf * 1e3

        # ---- reference: torch's GEMM at the prefill's MLP shape (best of 3) ----
        hidden = model.config.text_config.hidden_size
        inter = model.config.text_config.intermediate_size
        x = torch.rand(prompt_len, hidden)
        w = torch.rand(inter, hidden)
        tg = min(median_time(lambda: torch.nn.functional.linear(x, w), 3)[1])
        res["torch_linear_mlp_up_gflops"] = 2 * prompt_len * hidden * inter / tg / 1e9

        # ---- decode via generate ----
        n = args.decode_tokens

        snap = cpu_snapshot()
        intervals, gen_times = [], []
        for _ in range(args.generate_repeats):
            timer = StepTimer()
            t0 = time.perf_counter()
            out = model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                 logits_processor=LogitsProcessorList([timer]))
            gen_times.append(time.perf_counter() - t0)
            intervals += timer.intervals()
        step = statistics.median(intervals)
        res["generate_ms"] = statistics.median(gen_times) * 1e3
        res["decode_tokens"] = n
        res["generate_decode_ms_per_token"] = step * 1e3
        res["generate_decode_tokens_per_s"] = 1 / step
        res["first_ids"] = out[0, prompt_len:prompt_len + 16].tolist()
        load["generate"] = other_cpus(snap, cpu_snapshot())

        # ---- decode via a forward loop (median step) ----
        step_times = []
        snap = cpu_snapshot()
        for _ in range(args.generate_repeats):
            o = prefill()
            past = o.past_key_values
            nxt = o.logits[:, -1].argmax(-1, keepdim=True)
            mask_len = prompt_len
            for _ in range(n - 1):
                mask_len += 1
                t0 = time.perf_counter()
                o = model(input_ids=nxt, past_key_values=past, use_cache=True,
                          attention_mask=torch.ones(1, mask_len, dtype=attention_mask.dtype),
                          cache_position=torch.tensor([mask_len - 1]), num_logits_to_keep=1)
                past = o.past_key_values
                nxt = o.logits[:, -1].argmax(-1, keepdim=True)
                step_times.append(time.perf_counter() - t0)
        res["loop_decode_step_ms"] = statistics.median(step_times) * 1e3
        res["loop_decode_tokens_per_s"] = 1 / statistics.median(step_times)
        load["decode_loop"] = other_cpus(snap, cpu_snapshot())
    res["other_cpus"] = load

    print(f"hf_cpu_baseline: torch {torch.__version__}, transformers {transformers.__version__}, "
          f"{res['threads']} threads, attn_implementation={args.attn}, {n_params / 1e6:.2f}M "
          f"params, prompt {prompt_len} tokens, {platform.processor() or platform.machine()}")
    rows = [
        ("image: PIL decode 1600x900", res["image_decode_ms"], "image.decode_ms", "image"),
        ("image: decode+resize+normalize per camera", res["image_total_per_camera_ms"],
         "image.total_per_camera_ms", "image"),
        ("vision tower + projector, 1 image", res["vision_one_image_ms"], "vision.one_image_ms",
         "vision"),
        (f"vision tower + projector, {args.cameras} images", res["vision_batch_ms"],
         "vision.batch_ms", "vision"),
        (f"prefill, {prompt_len} tokens", res["prefill_ms"], "prefill.ms", "prefill"),
        ("decode step (generate, median interval)", res["generate_decode_ms_per_token"],
         "decode.step_ms", "generate"),
        ("decode step (forward loop, median)", res["loop_decode_step_ms"], "decode.step_ms",
         "decode_loop"),
    ]
    ours = None
    if args.engine_json:
        with open(args.engine_json) as f:
            ours = json.load(f)
        if ours["inputs"]["prompt_tokens"] != prompt_len:
            print(f"WARNING: engine prompt {ours['inputs']['prompt_tokens']} tokens, HF "
                  f"{prompt_len}", file=sys.stderr)
        k = min(16, len(ours["decode"]["first_ids"]), len(res["first_ids"]))
        if ours["decode"]["first_ids"][:k] != res["first_ids"][:k]:
            print(f"note: greedy ids differ: engine {ours['decode']['first_ids'][:k]} HF "
                  f"{res['first_ids'][:k]}", file=sys.stderr)
        else:
            print(f"greedy ids: engine and HF agree on the first {k}")
    # HF/ours: HF time over ours, i.e. our throughput over HF's (> 1: the engine is faster).
    # other: CPUs kept busy by other processes during the HF phase (shared machine).
    print(f"\n{'phase':<46} {'HF ms':>11} {'other':>6} {'ours ms':>11} {'HF/ours':>8}")
    res["speedup_ours_over_hf"] = {}
    for name, hf_ms, key, phase in rows:
        line = f"{name:<46} {hf_ms:>11.3f} {load[phase]:>6.2f}"
        if ours is not None:
            section, field = key.split(".")
            our_ms = ours[section][field]
            line += f" {our_ms:>11.3f} {hf_ms / our_ms:>7.2f}x"
            res["speedup_ours_over_hf"][name] = hf_ms / our_ms
        print(line)
    print(f"\nHF prefill {res['prefill_tokens_per_s']:.0f} tok/s; decode "
          f"{res['generate_decode_tokens_per_s']:.1f} tok/s (generate), "
          f"{res['loop_decode_tokens_per_s']:.1f} tok/s (loop); full forward vision+prefill "
          f"{res['vision_plus_prefill_forward_ms']:.0f} ms")
    print(f"torch linear [{prompt_len}x{hidden}]x[{inter}x{hidden}]^T: "
          f"{res['torch_linear_mlp_up_gflops']:.1f} GFLOP/s (best of 3)")
    print(f"HF first greedy ids: {' '.join(map(str, res['first_ids']))}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

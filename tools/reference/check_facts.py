#!/usr/bin/env python3
"""Checks, by experiment on tiny random checkpoints, the facts README.md states about HF 4.47.

It writes tiny Gemma and Gemma-2 PaliGemma checkpoints (tiny_checkpoint.py) into a temporary
directory and asserts each fact, among them a from-scratch forward pass (plain torch ops, no HF
modules) written from the README's description, which must reproduce HF's logits. Run:

  tools/reference/run_reference.sh --script check_facts.py        # prints one line per fact

Exit status 0 when every fact holds, 1 otherwise.
"""

import math
import os
import sys
import tempfile

import torch
import torch.nn.functional as F
import transformers
from PIL import Image
from transformers import (GemmaTokenizer, PaliGemmaForConditionalGeneration, PaliGemmaProcessor,
                          SiglipImageProcessor)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tiny_checkpoint  # noqa: E402

FAILED = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    if not ok:
        FAILED.append(name)


def load(model_dir, attn="eager"):
    kwargs = {} if attn is None else {"attn_implementation": attn}  # None: HF's default choice
    model = PaliGemmaForConditionalGeneration.from_pretrained(
        model_dir, torch_dtype=torch.float32, **kwargs).eval()
    proc = PaliGemmaProcessor(image_processor=SiglipImageProcessor.from_pretrained(model_dir),
                              tokenizer=GemmaTokenizer.from_pretrained(model_dir))
    return model, proc


def images(n):
    g = torch.Generator().manual_seed(1)
    return [Image.fromarray((torch.rand(45, 80, 3, generator=g) * 255).to(torch.uint8).numpy())
            for _ in range(n)]


# ---------------------------------------------------------------- from-scratch reference
def rms_norm(x, w, eps):
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps) * (1.0 + w.float())).to(x.dtype)


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


def vision_forward(sd, vc, pixels):
    """SigLIP: conv patch embed + learned positions, pre-LN blocks, post_layernorm."""
    p = "vision_tower.vision_model."
    x = F.conv2d(pixels, sd[p + "embeddings.patch_embedding.weight"],
                 sd[p + "embeddings.patch_embedding.bias"], stride=vc.patch_size)
    x = x.flatten(2).transpose(1, 2)                                  # [n, tokens, hidden]
    x = x + sd[p + "embeddings.position_embedding.weight"][None]
    heads, hd = vc.num_attention_heads, vc.hidden_size // vc.num_attention_heads
    for i in range(vc.num_hidden_layers):
        q = f"{p}encoder.layers.{i}."
        h = F.layer_norm(x, (vc.hidden_size,), sd[q + "layer_norm1.weight"], sd[q + "layer_norm1.bias"], vc.layer_norm_eps)
        n, t, _ = h.shape
        qs, ks, vs = (F.linear(h, sd[f"{q}self_attn.{m}_proj.weight"], sd[f"{q}self_attn.{m}_proj.bias"])
                      .view(n, t, heads, hd).transpose(1, 2) for m in "qkv")
        a = torch.softmax(qs @ ks.transpose(2, 3) * hd**-0.5, dim=-1, dtype=torch.float32)
        o = (a @ vs).transpose(1, 2).reshape(n, t, -1)
        x = x + F.linear(o, sd[q + "self_attn.out_proj.weight"], sd[q + "self_attn.out_proj.bias"])
        h = F.layer_norm(x, (vc.hidden_size,), sd[q + "layer_norm2.weight"], sd[q + "layer_norm2.bias"], vc.layer_norm_eps)
        h = F.linear(gelu_tanh(F.linear(h, sd[q + "mlp.fc1.weight"], sd[q + "mlp.fc1.bias"])),
                     sd[q + "mlp.fc2.weight"], sd[q + "mlp.fc2.bias"])
        x = x + h
    return F.layer_norm(x, (vc.hidden_size,), sd[p + "post_layernorm.weight"], sd[p + "post_layernorm.bias"], vc.layer_norm_eps)


def rope(x, pos, theta):
    """x [heads, T, hd]; pos [T] (1-based PaliGemma positions); rotate_half convention."""
    hd = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    freqs = inv_freq[:, None].float() @ pos[None, :].float()           # [hd/2, T]
    emb = torch.cat((freqs.T, freqs.T), dim=-1)                        # [T, hd]
    x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
    return x * emb.cos() + torch.cat((-x2, x1), dim=-1) * emb.sin()


def text_forward(sd, cfg, ids, pixels, prefix_len):
    """Logits [T, vocab] for ids [T]: prefix bidirectional, causal after it (README fact a)."""
    tc = cfg.text_config
    gemma2 = tc.model_type == "gemma2"
    feats = F.linear(vision_forward(sd, cfg.vision_config, pixels),
                     sd["multi_modal_projector.linear.weight"], sd["multi_modal_projector.linear.bias"])
    feats = feats / (tc.hidden_size ** 0.5)                          # fact c, first half
    emb = sd["language_model.model.embed_tokens.weight"]
    x = emb[ids].clone()
    x[ids == cfg.image_token_index] = feats.reshape(-1, tc.hidden_size)
    x = x * torch.tensor(tc.hidden_size ** 0.5, dtype=x.dtype)      # fact c, second half
    T = ids.shape[0]
    pos = torch.arange(T) + 1                                        # fact b
    i_idx, j_idx = torch.arange(T)[:, None], torch.arange(T)[None, :]
    visible = (j_idx <= i_idx) | (j_idx < prefix_len)                # fact a
    H, KV, hd = tc.num_attention_heads, tc.num_key_value_heads, tc.head_dim
    scale = (tc.query_pre_attn_scalar if gemma2 else hd) ** -0.5
    for layer in range(tc.num_hidden_layers):
        p = f"language_model.model.layers.{layer}."
        vis = visible
        if gemma2 and layer % 2 == 0:                                # fact d: even layers slide
            vis = visible & (i_idx - j_idx < tc.sliding_window)
        h = rms_norm(x, sd[p + "input_layernorm.weight"], tc.rms_norm_eps)
        q = F.linear(h, sd[p + "self_attn.q_proj.weight"]).view(T, H, hd).transpose(0, 1)
        k = F.linear(h, sd[p + "self_attn.k_proj.weight"]).view(T, KV, hd).transpose(0, 1)
        v = F.linear(h, sd[p + "self_attn.v_proj.weight"]).view(T, KV, hd).transpose(0, 1)
        q, k = rope(q, pos, tc.rope_theta), rope(k, pos, tc.rope_theta)
        k, v = k.repeat_interleave(H // KV, 0), v.repeat_interleave(H // KV, 0)
        s = q @ k.transpose(1, 2) * scale
        if gemma2:
            s = torch.tanh(s / tc.attn_logit_softcapping) * tc.attn_logit_softcapping
        s = s + torch.where(vis, 0.0, torch.finfo(torch.float32).min)
        o = (torch.softmax(s, dim=-1, dtype=torch.float32) @ v).transpose(0, 1).reshape(T, H * hd)
        o = F.linear(o, sd[p + "self_attn.o_proj.weight"])
        if gemma2:
            o = rms_norm(o, sd[p + "post_attention_layernorm.weight"], tc.rms_norm_eps)
            x = x + o
            h = rms_norm(x, sd[p + "pre_feedforward_layernorm.weight"], tc.rms_norm_eps)
        else:
            x = x + o
            h = rms_norm(x, sd[p + "post_attention_layernorm.weight"], tc.rms_norm_eps)
        m = F.linear(gelu_tanh(F.linear(h, sd[p + "mlp.gate_proj.weight"])) * F.linear(h, sd[p + "mlp.up_proj.weight"]),
                     sd[p + "mlp.down_proj.weight"])
        if gemma2:
            m = rms_norm(m, sd[p + "post_feedforward_layernorm.weight"], tc.rms_norm_eps)
        x = x + m
    x = rms_norm(x, sd["language_model.model.norm.weight"], tc.rms_norm_eps)
    logits = x @ emb.T                                               # tied lm_head, float32
    if gemma2:
        logits = torch.tanh(logits / tc.final_logit_softcapping) * tc.final_logit_softcapping
    return logits


# ---------------------------------------------------------------- the checks
def attention_classes(model):
    return sorted({type(m).__name__ for m in model.modules() if type(m).__name__.endswith("Attention")})


def capture_layer_kwargs(model):
    """Per-call (layer_idx, mask visible [q, k] bool, position_ids, cache_position, key count)."""
    calls = []

    def hook(mod, args, kwargs):
        m = kwargs.get("attention_mask")
        calls.append((mod.layer_idx, None if m is None else (m[0, 0] > torch.finfo(m.dtype).min / 2),
                      kwargs["position_ids"][0].tolist(), kwargs["cache_position"].tolist()))

    handles = [l.self_attn.register_forward_pre_hook(hook, with_kwargs=True)
               for l in model.language_model.model.layers]
    return calls, handles


def check_model(model_dir, label, n_images, max_new, prompt="What is the future state of the car?"):
    model, proc = load(model_dir)
    tc = model.config.text_config
    imgs = images(n_images)
    inp = proc(text=[prompt], images=[imgs], return_tensors="pt")
    ids = inp["input_ids"][0]
    L = ids.shape[0]
    seq = proc.image_seq_length
    check(f"{label}: processor returns no token_type_ids", "token_type_ids" not in inp, str(list(inp.keys())))
    check(f"{label}: layout <image>*{seq}*{n_images} <bos> prompt \\n",
          ids[: seq * n_images].eq(model.config.image_token_index).all().item()
          and ids[seq * n_images].item() == proc.tokenizer.bos_token_id
          and proc.tokenizer.convert_ids_to_tokens(ids[-1].item()) == "\n"
          and list(inp["pixel_values"].shape) == [n_images, 3, 28, 28])

    calls, handles = capture_layer_kwargs(model)
    with torch.no_grad():
        out = model(**inp, output_hidden_states=True)
        out_tt = model(**inp, token_type_ids=torch.zeros_like(inp["input_ids"]))
    fwd = [c for c in calls if c[0] == 1][0]
    check(f"{label}: plain forward mask is fully bidirectional", bool(fwd[1][:, :L].all()))
    check(f"{label}: token_type_ids without labels changes nothing", torch.equal(out.logits, out_tt.logits))
    check(f"{label}: forward position_ids = cache_position + 1", fwd[2] == [c + 1 for c in fwd[3]], str(fwd[2][:4]))
    if tc.model_type == "gemma2":
        w = tc.sliding_window
        s = [c for c in calls if c[0] == 0][0][1][:, :L]
        i, j = torch.arange(L)[:, None], torch.arange(L)[None, :]
        check(f"{label}: sliding layer 0 hides key j from query i iff i - j >= {w} (future keys stay visible)",
              torch.equal(s, ~(i - j >= w)))

    # fact c: features / sqrt(h), then the whole embedding * float32(sqrt(h))
    with torch.no_grad():
        feats = model.get_image_features(inp["pixel_values"]).reshape(-1, tc.hidden_size)
        proj = model.multi_modal_projector(model.vision_tower(inp["pixel_values"]).last_hidden_state)
    check(f"{label}: image features = projector(siglip) / sqrt(hidden)",
          torch.equal(feats, (proj / tc.hidden_size ** 0.5).reshape(-1, tc.hidden_size)))
    h0 = out.hidden_states[0][0]
    normalizer = torch.tensor(tc.hidden_size ** 0.5, dtype=torch.float32)
    img_pos = ids == model.config.image_token_index
    check(f"{label}: layer-0 input = scattered embeddings * float32(sqrt(hidden))",
          torch.equal(h0[img_pos], feats * normalizer)
          and torch.equal(h0[~img_pos], model.get_input_embeddings()(ids[~img_pos]) * normalizer))
    check(f"{label}: logits are float32", out.logits.dtype == torch.float32)

    # from-scratch forward vs HF (prefill)
    sd = {k: v.float() for k, v in model.state_dict().items()}
    ours = text_forward(sd, model.config, ids, inp["pixel_values"], L)
    d = (ours - out.logits[0]).abs().max().item()
    check(f"{label}: from-scratch prefill logits match HF", d < 1e-4, f"max abs diff {d:.2e}")

    # generate: masks and positions of the decode steps, then the from-scratch check per step
    calls.clear()
    with torch.no_grad():
        gen = model.generate(**inp, max_new_tokens=max_new, min_new_tokens=max_new, do_sample=False,
                             output_logits=True, return_dict_in_generate=True)
    for hd in handles:
        hd.remove()
    steps = [c for c in calls if c[0] == 1]
    check(f"{label}: generate prefill positions 1..L, then L+1, L+2, ...",
          steps[0][2] == list(range(1, L + 1)) and [s[2][0] for s in steps[1:]] == list(range(L + 1, L + len(steps))))
    check(f"{label}: generate decode step sees keys 0..its own position",
          all(bool(s[1][0, : s[3][0] + 1].all()) and not bool(s[1][0, s[3][0] + 1:].any()) for s in steps[1:]))
    full = gen.sequences[0]
    ours = text_forward(sd, model.config, full[:-1], inp["pixel_values"], L)[L - 1:]
    hf = torch.stack([s[0] for s in gen.logits])
    diffs = (ours - hf).abs().amax(-1)
    return L, diffs


def main():
    torch.manual_seed(0)
    transformers.logging.set_verbosity_error()
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        g1 = os.path.join(tmp, "gemma")
        tiny_checkpoint.main(["--out", g1, "--text", "gemma"])
        _, diffs = check_model(g1, "gemma", n_images=6, max_new=6)
        check("gemma: from-scratch decode logits match generate()", diffs.max().item() < 1e-4,
              f"max abs diff {diffs.max().item():.2e}")

        # prompt (17 tokens) longer than the window: generate() is right
        g2 = os.path.join(tmp, "gemma2_w6")
        tiny_checkpoint.main(["--out", g2, "--text", "gemma2", "--sliding_window", "6", "--dtype", "bfloat16"])
        _, diffs = check_model(g2, "gemma2 window 6", n_images=2, max_new=6)
        check("gemma2 window 6: from-scratch decode logits match generate()", diffs.max().item() < 1e-4,
              f"max abs diff {diffs.max().item():.2e}")

        # prompt (13 tokens) shorter than the window, generation crosses it: HF's HybridCache bug
        g3 = os.path.join(tmp, "gemma2_w16")
        tiny_checkpoint.main(["--out", g3, "--text", "gemma2", "--sliding_window", "16"])
        L, diffs = check_model(g3, "gemma2 window 16", n_images=1, max_new=10, prompt="Go?")
        w = 16
        check("gemma2 window 16: prompt shorter than the window, generation crosses it",
              L < w <= L + len(diffs) - 1, f"prompt {L} tokens, {len(diffs)} steps")
        # step t queries position L - 1 + t; correct up to position w - 2, wrong from w - 1 on
        bad = [t for t in range(len(diffs)) if diffs[t] > 1e-3]
        check("gemma2 window 16: generate() diverges exactly from query position window-1 on",
              bad == list(range(w - 1 - (L - 1), len(diffs))),
              f"per-step max diffs {[f'{d:.1e}' for d in diffs.tolist()]}")

        # eager vs sdpa
        m_e, proc = load(g1, "eager")
        m_s, _ = load(g1, None)
        inp = proc(text=["What is ahead?"], images=[images(2)], return_tensors="pt")
        with torch.no_grad():
            d = (m_e(**inp).logits - m_s(**inp).logits).abs().max().item()
        check("gemma: eager vs sdpa logits differ (so the goldens pin eager)", d > 0, f"max abs diff {d:.2e}")
        m_2, _ = load(g2, None)
        m_3, _ = load(g2, "eager")
        # model.config.text_config is a copy: language_model.config is what the layers read.
        defaults = (attention_classes(m_s), attention_classes(m_2), m_2.language_model.config._attn_implementation)
        check("default attention: SigLIP sdpa, Gemma sdpa, Gemma-2 eager",
              defaults == (["GemmaSdpaAttention", "SiglipSdpaAttention"], ["Gemma2Attention", "SiglipSdpaAttention"], "eager"),
              str(defaults))
        forced = (attention_classes(m_e), attention_classes(m_3), m_3.language_model.config._attn_implementation)
        check("attn_implementation='eager' reaches SigLIP, Gemma and Gemma-2",
              forced == (["GemmaAttention", "SiglipAttention"], ["Gemma2Attention", "SiglipAttention"], "eager"),
              str(forced))

    print("all facts hold" if not FAILED else f"{len(FAILED)} failed: {FAILED}")
    return 0 if not FAILED else 1


if __name__ == "__main__":
    sys.exit(main())

"""Prints the PyTorch/transformers golden values that engine/backend/cpu/cpu_backend_test.cc
embeds (kGolden* arrays): outputs of the Hugging Face code on small exact inputs, so the test
checks semantics (constants, op order, rope convention) against the ground truth, beside the
double-precision loops that check the math.

Run: /tmp/venv/ref/bin/python tools/cpu_backend_goldens.py  (torch 2.5.1, transformers 4.47.1)
"""
import torch
from transformers.models.gemma.modeling_gemma import (GemmaRMSNorm, GemmaRotaryEmbedding,
                                                      apply_rotary_pos_emb)


def exact_inputs(n, mod=101, div=16.0):
    # Small dyadic rationals: exactly representable in float, identical in C++ and Python.
    return torch.tensor([((i * 37) % mod - mod // 2) / div for i in range(n)], dtype=torch.float32)


def literal(v):
    s = f"{v:.9g}"
    return (s if any(c in s for c in ".en") else s + ".0") + "f"  # "0f" is not C++


def emit(name, t):
    vals = ", ".join(literal(v) for v in t.flatten().tolist())
    print(f"constexpr float {name}[] = {{{vals}}};")


def main():
    torch.set_grad_enabled(False)
    # Rope: tokens at positions [0, 1, 7, 257, 1599, 4095], 2 heads, head_dim 16, theta 10000.
    positions = torch.tensor([[0, 1, 7, 257, 1599, 4095]])
    heads, dim = 2, 16
    x = exact_inputs(6 * heads * dim).reshape(1, 6, heads, dim).transpose(1, 2)  # [b, h, t, d]
    rope = GemmaRotaryEmbedding(dim, base=10000)
    cos, sin = rope(x, positions)
    q, _ = apply_rotary_pos_emb(x, x, cos, sin)
    emit("kGoldenRope", q.transpose(1, 2).contiguous())  # [t, h, d]

    # gelu(approximate="tanh") on 24 values in [-6, 6].
    g = exact_inputs(24, mod=97, div=8.0)
    emit("kGoldenGelu", torch.nn.functional.gelu(g, approximate="tanh"))

    # Gemma RMSNorm, 2 rows of 12, eps 1e-6, weight from exact_inputs / 4.
    n = 12
    norm = GemmaRMSNorm(n, eps=1e-6)
    norm.weight.copy_(exact_inputs(n, mod=13, div=64.0))
    emit("kGoldenRmsNorm", norm(exact_inputs(2 * n).reshape(2, n)))

    # layer_norm, 2 rows of 12, eps 1e-6.
    w = exact_inputs(n, mod=13, div=8.0)
    b = exact_inputs(n, mod=11, div=32.0)
    emit("kGoldenLayerNorm", torch.nn.functional.layer_norm(
        exact_inputs(2 * n).reshape(2, n), (n,), w, b, 1e-6))


if __name__ == "__main__":
    main()

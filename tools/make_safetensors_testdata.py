#!/usr/bin/env python3
"""Writes the engine/model test data with the reference Python libraries.

- engine/model/testdata/python_written.safetensors: tensors of every dtype the engine reads,
  written by the `safetensors` library; engine/model/safetensors_file_test.cc checks these exact
  values (each exactly representable in its dtype), and safetensors_writer_test.cc checks that
  SafetensorsWriter produces the same bytes.
- engine/model/testdata/tiny_paligemma_{gemma,gemma2}/: tiny random PaliGemma checkpoints saved
  by transformers' save_pretrained (config.json + safetensors; the Gemma-2 one sharded with an
  index), so engine/model/architecture_test.cc checks the tensor table against the names and
  shapes transformers really writes.

Run from the repository root:

    /tmp/venv/ref/bin/python tools/make_safetensors_testdata.py
"""
import os
import shutil

import torch
from safetensors.torch import save_file

TESTDATA = os.path.join("engine", "model", "testdata")


def write_dtype_file():
    tensors = {
        "f32": torch.tensor([[-1.0, -0.5, 0.0], [0.5, 1.0, 1.5]], dtype=torch.float32),
        "f16": torch.tensor([1.0, -2.5, 0.000061035156, 65504.0], dtype=torch.float16),
        "bf16": torch.tensor([[1.5, -0.15625], [256.0, -(2.0**127)]], dtype=torch.bfloat16),
        "i32": torch.tensor([-7, 0, 2147483647], dtype=torch.int32),
        "i64": torch.tensor([-1, 1 << 40], dtype=torch.int64),
        "empty": torch.zeros((0, 4), dtype=torch.float32),
        "scalar": torch.tensor(3.25, dtype=torch.float32),
    }
    out = os.path.join(TESTDATA, "python_written.safetensors")
    save_file(tensors, out, metadata={"format": "pt"})
    print("wrote", out)


def write_tiny_paligemma(text_type, max_shard_size):
    from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration

    text_config = dict(model_type=text_type, hidden_size=8, intermediate_size=16, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=1, head_dim=4, vocab_size=40)
    if text_type == "gemma2":
        text_config.update(sliding_window=4, query_pre_attn_scalar=4)
    config = PaliGemmaConfig(
        vision_config=dict(hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                           patch_size=4, image_size=8, vision_use_head=False),
        text_config=text_config,
        projection_dim=8,
        image_token_index=32,
        bos_token_id=2, eos_token_id=1, pad_token_id=0,
    )
    torch.manual_seed(0)
    model = PaliGemmaForConditionalGeneration(config).eval()
    out = os.path.join(TESTDATA, f"tiny_paligemma_{text_type}")
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out, safe_serialization=True, max_shard_size=max_shard_size)
    print("wrote", out, sorted(os.listdir(out)))


def main():
    os.makedirs(TESTDATA, exist_ok=True)
    write_dtype_file()
    write_tiny_paligemma("gemma", "10GB")     # one model.safetensors
    write_tiny_paligemma("gemma2", "4KB")     # sharded, with model.safetensors.index.json


if __name__ == "__main__":
    main()

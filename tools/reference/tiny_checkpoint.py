#!/usr/bin/env python3
"""Writes a tiny random PaliGemma checkpoint directory, for testing make_goldens.py only.

The real golden checkpoints come from the C++ tool `bazel run //tools:make_tiny_model`; this
script exists so that the reference tools can be tested without it, and it writes the same
minimal files that the C++ generator must write (see README.md, "Checkpoint directory"):
config.json, model.safetensors, tokenizer.model, tokenizer_config.json,
special_tokens_map.json, preprocessor_config.json. The JSON files are written by hand (not by
save_pretrained) so that what is tested is exactly the minimal content documented.

  python tiny_checkpoint.py --out /tmp/tiny_pg --text gemma2 --dtype bfloat16
"""

import argparse
import io
import json
import os
import sys

import sentencepiece as spm
import torch
from safetensors.torch import save_file
from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration

# A small corpus in the style of DriveLM questions; the trained vocabulary only needs to cover it.
_CORPUS = [
    "What are the important objects in the current scene?",
    "What is the future state of <c1,CAM_FRONT,1088.3,497.5>?",
    "What actions could the ego vehicle take? Keep going straight.",
    "There is a white sedan to the front of the ego vehicle.\nAnswer: yes. No. A B C D",
    "You are an autonomous driving labeler. You have access to six camera images.",
    "front, front-right, front-left, back, back-right, back-left 0123456789",
]


def train_tokenizer(vocab_size):
    """Returns a serialized SentencePiece model with Gemma's special-token layout.

    Gemma's layout: <pad>=0 <eos>=1 <bos>=2 <unk>=3, no dummy prefix, identity normalization
    (spaces and newlines are kept), digits split. The piece names must be <pad>/<eos>/<bos>/<unk>:
    GemmaTokenizer's defaults look them up by these names.
    """
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS * 20), model_writer=out, vocab_size=vocab_size,
        model_type="bpe", pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>",
        eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        add_dummy_prefix=False, byte_fallback=False, user_defined_symbols=["\n"],
        split_digits=True, character_coverage=1.0, minloglevel=2)
    return out.getvalue()


def config_dict(args, sp_size):
    """Minimal config.json: every field the engine reads is explicit (no HF defaults relied on)."""
    image_token_index = sp_size  # like the real tokenizer: <image> is the first id after the SP pieces
    vocab = sp_size + 8          # padded text vocabulary, like 257216 > 257152 in the real model
    tokens = (args.image_size // args.patch_size) ** 2
    text = {
        "model_type": args.text,
        "vocab_size": vocab,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2 if args.text == "gemma" else 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 1 if args.text == "gemma" else 2,
        "head_dim": 16,
        "hidden_activation": "gelu_pytorch_tanh",
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "max_position_embeddings": 8192,
        "tie_word_embeddings": True,
        "num_image_tokens": tokens,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "bos_token_id": 2,
    }
    if args.text == "gemma2":
        text.update({
            "query_pre_attn_scalar": 16,
            "sliding_window": args.sliding_window,
            "attn_logit_softcapping": 50.0,
            "final_logit_softcapping": 30.0,
            "cache_implementation": "hybrid",
        })
    return {
        "architectures": ["PaliGemmaForConditionalGeneration"],
        "model_type": "paligemma",
        "image_token_index": image_token_index,
        "bos_token_id": 2,
        "eos_token_id": 1,
        "pad_token_id": 0,
        "hidden_size": 64,
        "projection_dim": 64,
        "vocab_size": vocab,
        "torch_dtype": args.dtype,
        "text_config": text,
        "vision_config": {
            "model_type": "siglip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_channels": 3,
            "image_size": args.image_size,
            "patch_size": args.patch_size,
            "hidden_act": "gelu_pytorch_tanh",
            "layer_norm_eps": 1e-6,
            "num_image_tokens": tokens,
            "projection_dim": 64,
            "vision_use_head": False,
        },
    }


def processor_files(args, tokens):
    preprocessor = {
        "image_processor_type": "SiglipImageProcessor",
        "processor_class": "PaliGemmaProcessor",
        "image_seq_length": tokens,
        "do_resize": True,
        "size": {"height": args.image_size, "width": args.image_size},
        "resample": 3,
        "do_rescale": True,
        "rescale_factor": 1.0 / 255.0,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "do_convert_rgb": None,
    }
    tokenizer_config = {
        "tokenizer_class": "GemmaTokenizer",
        "processor_class": "PaliGemmaProcessor",
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "clean_up_tokenization_spaces": False,
    }
    special_tokens_map = {
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "additional_special_tokens": ["<image>"],
    }
    return preprocessor, tokenizer_config, special_tokens_map


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--text", choices=["gemma", "gemma2"], default="gemma")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    p.add_argument("--image_size", type=int, default=28)
    p.add_argument("--patch_size", type=int, default=14)
    p.add_argument("--sliding_window", type=int, default=4096,
                   help="gemma2 only; make it smaller than the prompt to exercise the window")
    p.add_argument("--sp_vocab", type=int, default=120)
    p.add_argument("--init_std", type=float, default=0.2,
                   help="weight init std; larger than HF's 0.02 so greedy argmax margins are wide")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    sp_model = train_tokenizer(args.sp_vocab)
    sp = spm.SentencePieceProcessor(model_proto=sp_model)
    with open(os.path.join(args.out, "tokenizer.model"), "wb") as f:
        f.write(sp_model)

    cfg = config_dict(args, sp.get_piece_size())
    torch.manual_seed(args.seed)
    model = PaliGemmaForConditionalGeneration(PaliGemmaConfig(**json.loads(json.dumps(cfg))))
    with torch.no_grad():
        for name, t in model.named_parameters():
            is_norm = "norm" in name.rsplit(".", 2)[-2]  # input_layernorm, layer_norm1, norm, ...
            if is_norm and name.endswith(".weight"):
                # Gemma RMSNorm weights are offsets from 1; SigLIP LayerNorm weights are scales.
                t.copy_(torch.randn_like(t) * 0.1 + (0.0 if "language_model" in name else 1.0))
            else:
                t.copy_(torch.randn_like(t) * args.init_std)
    model.tie_weights()
    dtype = getattr(torch, args.dtype)
    state = {k: v.to(dtype).contiguous() for k, v in model.state_dict().items()
             if k != "language_model.lm_head.weight"}  # tied to embed_tokens, as on the Hub
    save_file(state, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})

    write_json(os.path.join(args.out, "config.json"), cfg)
    pre, tok, special = processor_files(args, cfg["text_config"]["num_image_tokens"])
    write_json(os.path.join(args.out, "preprocessor_config.json"), pre)
    write_json(os.path.join(args.out, "tokenizer_config.json"), tok)
    write_json(os.path.join(args.out, "special_tokens_map.json"), special)
    print(f"wrote {args.out}: sp pieces {sp.get_piece_size()}, image_token_index "
          f"{cfg['image_token_index']}, text vocab {cfg['vocab_size']}, dtype {args.dtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

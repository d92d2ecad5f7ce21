#!/usr/bin/env bash
# Regenerates every golden configuration under tests/golden/: the tiny checkpoints (from the C++
# generator, so the engine and transformers read the very same files) and the Hugging Face
# outputs for them. Needs Bazel and the reference venv (tools/reference/run_reference.sh makes
# it; set DRIVELM_REF_VENV to reuse one).
#
#   tools/reference/make_all_goldens.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
golden="$repo/tests/golden"
images="$golden/images"
ref_script="$repo/tools/reference/run_reference.sh"
# Goldens are committed: optional tensors over 1 MB (all-position logits, per-layer states) stay out.
ref() { "$ref_script" "$@" --max_tensor_mb 1; }

bazel build //tools:make_tiny_model
gen="$(mktemp -d)/make_tiny_model"
cp "$repo/bazel-bin/tools/make_tiny_model" "$gen"  # bazel-bin moves when another config builds

cams=(--image "CAM_FRONT=$images/cam0.jpg" --image "CAM_FRONT_LEFT=$images/cam1.jpg"
      --image "CAM_FRONT_RIGHT=$images/cam2.jpg" --image "CAM_BACK=$images/cam3.jpg"
      --image "CAM_BACK_LEFT=$images/cam4.jpg" --image "CAM_BACK_RIGHT=$images/cam5.png")
labeler="You are an autonomous driving labeler. You have access to six camera images (front, front-right, front-left, back, back-right, back-left).
"

# 1. Gemma decoder, hidden 64, 224 px (256 tokens per image, as PaliGemma-3B-224): 1 and 6 images.
"$gen" --out "$golden/models/gemma_h64" --seed 1 --decoder gemma --hidden 64 --image_size 224
ref --model "$golden/models/gemma_h64" --out "$golden/gemma_h64_1img" \
  --image "CAM_FRONT=$images/cam0.jpg" \
  --prompt "What is the moving status of object <c1,CAM_FRONT,152.3,69.6>?" --max_new_tokens 16
ref --model "$golden/models/gemma_h64" --out "$golden/gemma_h64_6img" "${cams[@]}" \
  --prompt "${labeler}What are the important objects in the current scene?" --max_new_tokens 16

# 2. Gemma-2 decoder (sliding window 32 < prompt length, soft-capping, extra norms), hidden 96,
#    grouped-query attention (4 heads, 2 kv heads), 56 px images (16 tokens each), 6 images.
"$gen" --out "$golden/models/gemma2_h96" --seed 2 --decoder gemma2 --hidden 96 --head_dim 24 \
  --intermediate 192 --heads 4 --kv_heads 2 --sliding_window 32 --image_size 56
ref --model "$golden/models/gemma2_h96" --out "$golden/gemma2_h96_6img" "${cams[@]}" \
  --prompt "${labeler}What actions could the ego vehicle take?" --max_new_tokens 16

# 3. bf16 checkpoint (the engine widens it to f32, transformers upcasts it), hidden 128,
#    3+3 layers, 112 px images, 6 images.
"$gen" --out "$golden/models/gemma_h128_bf16" --seed 6 --decoder gemma --dtype bf16 \
  --hidden 128 --head_dim 32 --intermediate 256 --layers 3 --vision_hidden 96 \
  --vision_intermediate 192 --vision_layers 3 --image_size 112
ref --model "$golden/models/gemma_h128_bf16" --out "$golden/gemma_h128_bf16_6img" "${cams[@]}" \
  --prompt "${labeler}Is it necessary for the ego vehicle to take <c2,CAM_BACK,30.5,120.0> into account?" \
  --max_new_tokens 16

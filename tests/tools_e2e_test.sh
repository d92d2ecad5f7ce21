#!/usr/bin/env bash
# The command-line contract of //tools:make_tiny_model and //tools:drivelm_generate:
# a generated six-camera model answers; on a golden checkpoint the printed token ids are the
# ones transformers generated; bad invocations fail with a message.
set -euo pipefail
make_tiny_model="$1"
drivelm_generate="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
img=tests/golden/images
cams=(--image "CAM_FRONT=$img/cam0.jpg" --image "CAM_FRONT_LEFT=$img/cam1.jpg"
      --image "CAM_FRONT_RIGHT=$img/cam2.jpg" --image "CAM_BACK=$img/cam3.jpg"
      --image "CAM_BACK_LEFT=$img/cam4.jpg" --image "CAM_BACK_RIGHT=$img/cam5.png")
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. A generated model (both decoders) answers a six-camera question.
for decoder in gemma gemma2; do
  "$make_tiny_model" --out "$tmp/$decoder" --seed 5 --decoder "$decoder" --image_size 28 \
    --hidden 32 --head_dim 8 --intermediate 64 --layers 1 --vision_layers 1 --vision_hidden 32 \
    --vision_intermediate 64 --sliding_window 16 > /dev/null
  for f in config.json model.safetensors tokenizer.model preprocessor_config.json \
           tokenizer_config.json drivelm_profile.yaml; do
    [[ -s "$tmp/$decoder/$f" ]] || fail "make_tiny_model did not write $f"
  done
  out="$("$drivelm_generate" --model "$tmp/$decoder" "${cams[@]}" \
    --question "What are the important objects in the current scene?" --max_new_tokens 5 \
    --greedy --print_token_ids 2>/dev/null)"
  ids="$(grep '^token_ids:' <<<"$out" | cut -d: -f2 | wc -w)"
  [[ "$ids" == 5 ]] || fail "$decoder: expected 5 token ids, got: $out"
done

# 2. Same seed, same checkpoint bytes (the generator is deterministic).
"$make_tiny_model" --out "$tmp/again" --seed 5 --decoder gemma2 --image_size 28 \
  --hidden 32 --head_dim 8 --intermediate 64 --layers 1 --vision_layers 1 --vision_hidden 32 \
  --vision_intermediate 64 --sliding_window 16 > /dev/null
cmp "$tmp/gemma2/model.safetensors" "$tmp/again/model.safetensors" || fail "not deterministic"
cmp "$tmp/gemma2/tokenizer.model" "$tmp/again/tokenizer.model" || fail "tokenizer not deterministic"

# 3. On the golden checkpoint, the printed ids are transformers' greedy ids.
expected="$(python3 -c 'import json,sys; print(" ".join(map(str, json.load(open(sys.argv[1]))["greedy_ids"])))' \
  tests/golden/gemma_h64_6img/inputs.json)"
out="$("$drivelm_generate" --model tests/golden/models/gemma_h64 "${cams[@]}" \
  --question "What are the important objects in the current scene?" --max_new_tokens 16 \
  --greedy --print_token_ids 2>/dev/null)"
got="$(grep '^token_ids:' <<<"$out" | cut -d: -f2 | xargs)"
[[ "$got" == "$expected" ]] || fail "golden ids differ: got '$got' expected '$expected'"

# 4. Bad invocations: non-zero exit and a message naming the problem.
expect_error() {
  local needle="$1"; shift
  local err
  if err="$("$@" 2>&1 >/dev/null)"; then fail "expected failure: $*"; fi
  grep -q -- "$needle" <<<"$err" || fail "message lacks '$needle': $err"
}
expect_error "--model DIR is required" "$drivelm_generate" --question q "${cams[@]}"
expect_error "CAMERA=PATH" "$drivelm_generate" --model "$tmp/gemma" --question q --image front.jpg
expect_error "cannot read image" "$drivelm_generate" --model "$tmp/gemma" --question q \
  --image CAM_FRONT=/nonexistent.jpg
expect_error "CAM_BACK_RIGHT is missing" "$drivelm_generate" --model "$tmp/gemma" --question q \
  "${cams[@]:0:10}"
expect_error "config.json" "$drivelm_generate" --model "$tmp/nothing" --question q "${cams[@]}"
expect_error "--decoder must be gemma or gemma2" "$make_tiny_model" --out "$tmp/x" --decoder llama
echo "tools_e2e_test: OK"

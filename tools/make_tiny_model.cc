// make_tiny_model: writes a random PaliGemma-architecture checkpoint for tests and demos.
//
//   bazel run //tools:make_tiny_model -- --out DIR --seed N [--decoder gemma|gemma2]
//     [--image_size 224] [--hidden 64] [--dtype f32|bf16|f16] ...
//
// The directory loads in Hugging Face transformers (PaliGemmaForConditionalGeneration,
// PaliGemmaProcessor) and in this engine alike.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tools/tiny_model_spec.h"

ABSL_FLAG(std::string, out, "", "output directory (required)");
ABSL_FLAG(uint64_t, seed, 1, "random seed of the weights and the tokenizer");
ABSL_FLAG(std::string, decoder, "gemma", "gemma (PaliGemma) or gemma2 (PaliGemma 2)");
ABSL_FLAG(std::string, dtype, "f32", "stored weight dtype: f32, bf16 or f16");
ABSL_FLAG(int64_t, image_size, 224, "input image side in pixels (a multiple of patch_size)");
ABSL_FLAG(int64_t, patch_size, 14, "SigLIP patch side");
ABSL_FLAG(int64_t, vision_hidden, 64, "SigLIP hidden size");
ABSL_FLAG(int64_t, vision_intermediate, 128, "SigLIP MLP size");
ABSL_FLAG(int64_t, vision_layers, 2, "SigLIP layers");
ABSL_FLAG(int64_t, vision_heads, 4, "SigLIP attention heads");
ABSL_FLAG(int64_t, hidden, 64, "decoder hidden size");
ABSL_FLAG(int64_t, intermediate, 128, "decoder MLP size");
ABSL_FLAG(int64_t, layers, 2, "decoder layers");
ABSL_FLAG(int64_t, heads, 4, "decoder attention heads");
ABSL_FLAG(int64_t, kv_heads, 1, "decoder key/value heads (1: multi-query, as Gemma-2B)");
ABSL_FLAG(int64_t, head_dim, 16, "decoder head dimension");
ABSL_FLAG(int64_t, sliding_window, 64, "Gemma-2 local attention window");
ABSL_FLAG(int32_t, tokenizer_pieces, 2048, "SentencePiece vocabulary size (1567..3264 with the built-in corpus)");
ABSL_FLAG(int32_t, vocab_padding, 1,
          "embedding rows beyond the tokenizer (>= 1: the image token; PaliGemma pads by 64)");
ABSL_FLAG(bool, profile, true, "also write drivelm_profile.yaml (the DriveVLMs layout)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes a random PaliGemma-architecture checkpoint: make_tiny_model --out DIR --seed N");
  absl::ParseCommandLine(argc, argv);
  using drivelm::engine::DecoderKind;
  using drivelm::engine::DType;
  drivelm::tools::TinyModelSpec spec;
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::fprintf(stderr, "make_tiny_model: --out DIR is required\n");
    return 2;
  }
  const std::string decoder = absl::GetFlag(FLAGS_decoder);
  if (decoder == "gemma") {
    spec.decoder = DecoderKind::kGemma;
  } else if (decoder == "gemma2") {
    spec.decoder = DecoderKind::kGemma2;
  } else {
    std::fprintf(stderr, "make_tiny_model: --decoder must be gemma or gemma2, not '%s'\n",
                 decoder.c_str());
    return 2;
  }
  const std::string dtype = absl::GetFlag(FLAGS_dtype);
  if (dtype == "f32") {
    spec.dtype = DType::kF32;
  } else if (dtype == "bf16") {
    spec.dtype = DType::kBF16;
  } else if (dtype == "f16") {
    spec.dtype = DType::kF16;
  } else {
    std::fprintf(stderr, "make_tiny_model: --dtype must be f32, bf16 or f16, not '%s'\n",
                 dtype.c_str());
    return 2;
  }
  spec.seed = absl::GetFlag(FLAGS_seed);
  spec.image_size = absl::GetFlag(FLAGS_image_size);
  spec.patch_size = absl::GetFlag(FLAGS_patch_size);
  spec.vision_hidden = absl::GetFlag(FLAGS_vision_hidden);
  spec.vision_intermediate = absl::GetFlag(FLAGS_vision_intermediate);
  spec.vision_layers = absl::GetFlag(FLAGS_vision_layers);
  spec.vision_heads = absl::GetFlag(FLAGS_vision_heads);
  spec.hidden = absl::GetFlag(FLAGS_hidden);
  spec.intermediate = absl::GetFlag(FLAGS_intermediate);
  spec.layers = absl::GetFlag(FLAGS_layers);
  spec.heads = absl::GetFlag(FLAGS_heads);
  spec.kv_heads = absl::GetFlag(FLAGS_kv_heads);
  spec.head_dim = absl::GetFlag(FLAGS_head_dim);
  spec.sliding_window = absl::GetFlag(FLAGS_sliding_window);
  spec.tokenizer_pieces = absl::GetFlag(FLAGS_tokenizer_pieces);
  spec.vocab_padding = absl::GetFlag(FLAGS_vocab_padding);
  spec.write_profile = absl::GetFlag(FLAGS_profile);
  if (absl::Status s = drivelm::tools::WriteTinyModel(spec, out); !s.ok()) {
    std::fprintf(stderr, "make_tiny_model: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

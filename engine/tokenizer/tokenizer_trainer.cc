#include "engine/tokenizer/tokenizer_trainer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/tokenizer/sentencepiece_training.h"

namespace drivelm::engine {
namespace {

std::string LocationAndSegmentTokens() {
  std::vector<std::string> tokens;
  tokens.reserve(1024 + 128);
  for (int i = 0; i < 1024; ++i) tokens.push_back(absl::StrFormat("<loc%04d>", i));
  for (int i = 0; i < 128; ++i) tokens.push_back(absl::StrFormat("<seg%03d>", i));
  return absl::StrJoin(tokens, ",");
}

}  // namespace

std::map<std::string, std::string> TinyTokenizerTrainerFlags(int vocab_size) {
  return {
      {"model_type", "bpe"},
      {"vocab_size", absl::StrCat(vocab_size)},
      {"pad_id", "0"},
      {"eos_id", "1"},
      {"bos_id", "2"},
      {"unk_id", "3"},
      {"pad_piece", "<pad>"},
      {"eos_piece", "<eos>"},
      {"bos_piece", "<bos>"},
      {"unk_piece", "<unk>"},
      {"user_defined_symbols", LocationAndSegmentTokens()},
      {"byte_fallback", "true"},
      {"split_digits", "true"},
      {"add_dummy_prefix", "false"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"allow_whitespace_only_pieces", "true"},
      {"character_coverage", "1.0"},
      // One thread and the whole corpus (no sampling): the same input gives the same bytes.
      {"num_threads", "1"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"minloglevel", "2"},
  };
}

absl::StatusOr<std::string> TrainTinyTokenizerModel(const std::vector<std::string>& corpus_lines,
                                                    int vocab_size, uint64_t seed) {
  if (corpus_lines.empty()) {
    return absl::InvalidArgumentError("tokenizer training: the corpus is empty");
  }
  if (vocab_size <= kTinyTokenizerMinPieces) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer training: vocab_size ", vocab_size, " is too small; at least ",
                     kTinyTokenizerMinPieces, " pieces are fixed (specials, <locNNNN>, <segNNN>, "
                     "bytes) and the corpus' characters come on top"));
  }
  std::string model, message;
  // SentencePiece takes a 32-bit seed; fold the upper half in so every bit counts.
  const uint32_t seed32 = static_cast<uint32_t>(seed ^ (seed >> 32));
  if (!TrainSentencePiece(TinyTokenizerTrainerFlags(vocab_size), corpus_lines, seed32, &model,
                          &message)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer training (vocab_size ", vocab_size, ", ", corpus_lines.size(),
                     " lines) failed: ", message));
  }
  return model;
}

absl::Status TrainTinyTokenizer(const std::vector<std::string>& corpus_lines, int vocab_size,
                                const std::string& out_model_path, uint64_t seed) {
  absl::StatusOr<std::string> model = TrainTinyTokenizerModel(corpus_lines, vocab_size, seed);
  if (!model.ok()) return model.status();
  const std::string tmp_path = out_model_path + ".tmp";
  std::FILE* file = std::fopen(tmp_path.c_str(), "wb");
  if (file == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer training: cannot write ", tmp_path,
                                                   ": ", std::strerror(errno)));
  }
  const size_t written = std::fwrite(model->data(), 1, model->size(), file);
  const bool closed = std::fclose(file) == 0;
  if (written != model->size() || !closed) {
    const int err = errno;
    std::remove(tmp_path.c_str());
    return absl::InternalError(absl::StrCat("tokenizer training: writing ", tmp_path,
                                            " failed: ", std::strerror(err)));
  }
  if (std::rename(tmp_path.c_str(), out_model_path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp_path.c_str());
    return absl::InvalidArgumentError(absl::StrCat("tokenizer training: cannot move ", tmp_path,
                                                   " to ", out_model_path, ": ",
                                                   std::strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace drivelm::engine

// TrainTinyTokenizer: trains a small Gemma-like SentencePiece tokenizer.model for the tiny test
// checkpoints, so that they need no downloaded tokenizer.
//
// Settings follow PaliGemma's real tokenizer.model: BPE; pad=0 "<pad>", eos=1 "<eos>",
// bos=2 "<bos>", unk=3 "<unk>"; then the 1024 <locNNNN> and 128 <segNNN> tokens as user-defined
// pieces 4..1155 (so transformers' add_tokens(EXTRA_TOKENS) adds nothing and <image> becomes id
// = piece count); 256 byte-fallback pieces; digits split; no dummy prefix; identity
// normalization; whitespace kept as is (whitespace-only pieces allowed); character coverage 1.0.
#ifndef DRIVELM_ENGINE_TOKENIZER_TOKENIZER_TRAINER_H_
#define DRIVELM_ENGINE_TOKENIZER_TOKENIZER_TRAINER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace drivelm::engine {

// Fewest pieces a tiny tokenizer can have: 4 specials + 1152 location/segment tokens + 256
// bytes; the corpus' characters and merges come on top.
inline constexpr int kTinyTokenizerMinPieces = 4 + 1024 + 128 + 256;

// The SentencePiece trainer flags used by TrainTinyTokenizer (for inspection and tests).
std::map<std::string, std::string> TinyTokenizerTrainerFlags(int vocab_size);

// Trains on `corpus_lines` (one sentence each; a line may contain '\n') and returns the
// serialized model. The model has exactly `vocab_size` pieces. Deterministic: the same inputs
// give byte-identical bytes (single-threaded training, SentencePiece seeded with `seed`).
// InvalidArgument for an empty corpus, or a vocab_size the corpus cannot fill (with
// SentencePiece's bound in the message).
absl::StatusOr<std::string> TrainTinyTokenizerModel(const std::vector<std::string>& corpus_lines,
                                                    int vocab_size, uint64_t seed);

// Same, written to `out_model_path` (through a temporary file renamed into place).
absl::Status TrainTinyTokenizer(const std::vector<std::string>& corpus_lines, int vocab_size,
                                const std::string& out_model_path, uint64_t seed);

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_TOKENIZER_TOKENIZER_TRAINER_H_

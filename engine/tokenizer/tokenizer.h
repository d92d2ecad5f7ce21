// Tokenizer: PaliGemma's text tokenizer, id for id what transformers 4.47 produces with the slow
// GemmaTokenizer inside PaliGemmaProcessor.
//
// What transformers does, and so what this class does:
// - The SentencePiece model (tokenizer.model) gives the pieces 0..N-1. Gemma-style models
//   (add_dummy_prefix=false, identity normalization, byte fallback) are required: models that
//   strip a leading space when decoding are refused at load time.
// - "Added tokens" sit on top: the specials <bos>, <eos>, <unk>, <pad> (pieces of the model);
//   <image> (PaliGemmaProcessor adds it as a special token; it is not a piece of PaliGemma's
//   model, so it gets id N = 257152 for the real model); and the 1024 <locNNNN> + 128 <segNNN>
//   tokens (add_tokens(EXTRA_TOKENS); they are pieces of PaliGemma's model, so they keep their
//   piece ids; ones that are not pieces would get ids after <image>, as in transformers).
// - Encode: the text is first split at every added token (leftmost, longest match; transformers'
//   Trie), each added token becomes its id, and each stretch of text between them is encoded by
//   SentencePiece on its own. So "<bos>", "<eos>", "<image>" or "<loc0123>" written in the text
//   become those ids, exactly as transformers does: text from untrusted clients can contain
//   special tokens. BuildPaliGemmaPrompt refuses "<image>" in the prompt (below).
// - Decode(ids) = tokenizer.decode(ids, skip_special_tokens=True): bos, eos, pad, unk and
//   <image> are dropped; the remaining ids are cut at every other added token (<locNNNN>,
//   <segNNN>), which is written as its text; each run in between is decoded by SentencePiece
//   (byte-fallback pieces are joined into characters, a byte that starts no valid character
//   becomes U+FFFD); finally every U+2581 becomes a space. Ids outside the vocabulary are
//   skipped (transformers would raise).
//
// Threading: immutable after Load; all methods are const and safe from many threads.
#ifndef DRIVELM_ENGINE_TOKENIZER_TOKENIZER_H_
#define DRIVELM_ENGINE_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/tokenizer/sentencepiece_model.h"

namespace drivelm::engine {

// Text of PaliGemma's image placeholder token.
inline constexpr std::string_view kImageToken = "<image>";
// U+2581 LOWER ONE EIGHTH BLOCK: SentencePiece's visible space.
inline constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";

// `text` with every U+2581 turned into a space (the last step of transformers' Gemma decode).
std::string SpaceSymbolToSpace(std::string_view text);

// Overrides of the ids the tokenizer takes from the model (config.json's bos_token_id,
// eos_token_id, pad_token_id); -1 keeps the model's own. An override must name a piece of the
// model; its piece text becomes the special token's text. The <image> id is not an option: it
// follows transformers' rule (the piece "<image>" if the model has one, else the first id after
// the pieces), and Validate checks it against config.json's image_token_index.
struct TokenizerOptions {
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t pad_id = -1;
  int32_t unk_id = -1;
};

// How Decode and IncrementalDetokenizer treat one id. Computed once per id at load time.
enum class TokenKind {
  kText,     // an ordinary piece: its text with U+2581 turned into spaces
  kByte,     // a byte-fallback piece <0xNN>
  kControl,  // a control piece that is not one of the specials: no text
  kUnknown,  // SentencePiece's unk piece when it is not the special unk: its surface (" ⁇ ")
  kAdded,    // a non-special added token (<locNNNN>, <segNNN>): its text, cuts byte runs
  kSpecial,  // bos, eos, pad, unk, <image>: skipped by Decode
};

struct TokenInfo {
  TokenKind kind = TokenKind::kText;
  uint8_t byte = 0;  // kByte only
  std::string text;  // decoded text for kText, kUnknown, kAdded; empty otherwise
};

class Tokenizer {
 public:
  // Loads a SentencePiece tokenizer.model. Errors: NotFound (no such file / unreadable),
  // InvalidArgument (not a SentencePiece model, missing special pieces, bad overrides, a model
  // that strips the leading space when decoding), each naming the file.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& model_path,
                                                         const TokenizerOptions& options = {});
  // Same, from the serialized model bytes; `name` stands for the file in messages.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> LoadFromSerialized(
      std::string_view bytes, const std::string& name, const TokenizerOptions& options = {});

  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Ids of `text` without bos/eos; added tokens written in the text become their ids (see top).
  std::vector<int32_t> Encode(std::string_view text) const;

  // The input_ids of PaliGemmaProcessor(text=prompt, images=[num_images images]) with
  // image_seq_length = image_tokens_per_image:
  //   [image] * (image_tokens_per_image * num_images) + [bos] + Encode(prompt + "\n").
  // InvalidArgument when num_images < 1 (the processor requires images), when
  // image_tokens_per_image < 1, when the image tokens would exceed 2^24, when the prompt is not
  // valid UTF-8, or when the prompt contains "<image>" (the processor then switches to a
  // different layout that expands each written <image> instead).
  absl::StatusOr<std::vector<int32_t>> BuildPaliGemmaPrompt(std::string_view prompt,
                                                            int num_images,
                                                            int image_tokens_per_image) const;

  // tokenizer.decode(ids, skip_special_tokens=True); see top.
  std::string Decode(absl::Span<const int32_t> ids) const;

  // Id of a piece or added token ("<image>" included); nullopt when there is none.
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // Piece or added-token text of `id`; empty when `id` is not in [0, vocab_size()).
  std::string IdToToken(int32_t id) const;

  // Pieces of the SentencePiece model (256000 + 1152 = 257152 for PaliGemma).
  int32_t piece_count() const { return piece_count_; }
  // len(tokenizer) in transformers: pieces + added tokens that are not pieces (257153).
  int32_t vocab_size() const { return static_cast<int32_t>(tokens_.size()); }
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t image_token_id() const { return image_token_id_; }
  // Whether Decode skips `id` (bos, eos, pad, unk, image).
  bool IsSpecial(int32_t id) const;
  // How `id` decodes; `id` must be in [0, vocab_size()).
  const TokenInfo& token_info(int32_t id) const { return tokens_[id]; }

  // Checks this tokenizer against a model: every id it can produce must be below `vocab_size`
  // (the embedding rows) and <image> must be `image_token_index`. InvalidArgument naming what is
  // wrong, e.g. "tokenizer has N pieces but the model's vocabulary is M".
  absl::Status Validate(int64_t vocab_size, int64_t image_token_index) const;

  const std::string& name() const { return name_; }

 private:
  Tokenizer() = default;
  absl::Status Init(const TokenizerOptions& options);
  // Appends SentencePiece's ids of `text` (no added tokens inside) to `ids`.
  void EncodeText(std::string_view text, std::vector<int32_t>* ids) const;

  std::string name_;
  std::unique_ptr<SentencePieceModel> model_;
  int32_t piece_count_ = 0;
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  int32_t pad_id_ = -1;
  int32_t unk_id_ = -1;
  int32_t image_token_id_ = -1;
  std::vector<TokenInfo> tokens_;  // [vocab_size()]
  // Added tokens (specials, <image>, <locNNNN>, <segNNN>) by text, for splitting input text.
  std::unordered_map<std::string, int32_t> added_tokens_;
  std::vector<std::string> added_only_text_;  // texts of added tokens with id >= piece_count_
  size_t max_added_token_length_ = 0;
  bool added_token_first_byte_[256] = {};
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_TOKENIZER_TOKENIZER_H_

// SentencePieceModel: the one wrapper around libsentencepiece's SentencePieceProcessor.
//
// Why a wrapper: Debian's <sentencepiece_processor.h> declares `namespace absl { using
// std::string_view; }`, which collides with Debian's abseil (built with its own
// absl::string_view class), so no translation unit may include both. sentencepiece_model.cc
// includes SentencePiece and never abseil; this header uses only the standard library, and
// errors come back as plain strings that callers turn into absl::Status.
//
// Threading: after loading, every method is const and safe to call from many threads
// (SentencePieceProcessor's encode/decode are const and keep no mutable state).
#ifndef DRIVELM_ENGINE_TOKENIZER_SENTENCEPIECE_MODEL_H_
#define DRIVELM_ENGINE_TOKENIZER_SENTENCEPIECE_MODEL_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}  // namespace sentencepiece

namespace drivelm::engine {

class SentencePieceModel {
 public:
  // What libsentencepiece says went wrong when loading.
  enum class LoadError {
    kNone,
    kNotFound,  // the file does not exist or cannot be opened
    kInvalid,   // the bytes are not a SentencePiece ModelProto
  };

  // Loads a serialized ModelProto from `path`. On failure returns null and sets `*error` and
  // `*message` (libsentencepiece's own words).
  static std::unique_ptr<SentencePieceModel> LoadFile(const std::string& path, LoadError* error,
                                                      std::string* message);
  // Same, from the serialized bytes.
  static std::unique_ptr<SentencePieceModel> LoadSerialized(std::string_view bytes,
                                                            LoadError* error,
                                                            std::string* message);

  ~SentencePieceModel();
  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;

  int PieceCount() const;
  std::string IdToPiece(int id) const;  // id in [0, PieceCount())
  int PieceToId(std::string_view piece) const;  // -1 when `piece` is not a piece of the model
  bool IsControl(int id) const;
  bool IsUnknown(int id) const;
  bool IsByte(int id) const;
  bool IsUnused(int id) const;
  // The model's own special ids; -1 where the model disables one.
  int bos_id() const;
  int eos_id() const;
  int pad_id() const;
  int unk_id() const;

  // SentencePiece's encoding of `text` (no bos/eos). False with `*message` on failure.
  bool Encode(std::string_view text, std::vector<int>* ids, std::string* message) const;
  // SentencePiece's decoding of `ids` (all in [0, PieceCount())). False with `*message` on failure.
  bool Decode(const std::vector<int>& ids, std::string* text, std::string* message) const;

 private:
  explicit SentencePieceModel(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor);

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_TOKENIZER_SENTENCEPIECE_MODEL_H_

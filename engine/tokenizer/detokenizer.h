// IncrementalDetokenizer: turns a stream of generated token ids into text deltas for streaming.
//
// Every delta is complete UTF-8, and the concatenation of all deltas (including Finish()'s)
// equals Tokenizer::Decode of all ids fed, for any id sequence. How:
// - a text piece or added token (<locNNNN>) is emitted at once: Gemma-style models keep the
//   leading space of a piece ("▁the" -> " the"), so piece-by-piece decoding needs no lookahead;
// - byte-fallback pieces (<0xE2><0x82><0xAC> = "€") are held until they form a character; a
//   byte that can no longer start a valid character becomes U+FFFD, as SentencePiece does;
// - a text, control or added token ends a byte run (held bytes that never completed become one
//   U+FFFD each); special ids (bos, eos, pad, unk, <image>) are skipped without ending the run,
//   as transformers drops them before SentencePiece sees the ids; ids outside the vocabulary
//   are skipped like Decode does;
// - Finish() flushes what is held (incomplete bytes -> U+FFFD each) and resets the state.
//
// Ownership and threading: holds a pointer to the Tokenizer, which must outlive it. One
// detokenizer per generated sequence; not thread-safe.
#ifndef DRIVELM_ENGINE_TOKENIZER_DETOKENIZER_H_
#define DRIVELM_ENGINE_TOKENIZER_DETOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/types/span.h"
#include "engine/tokenizer/tokenizer.h"

namespace drivelm::engine {

class IncrementalDetokenizer {
 public:
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer);

  // Feeds one id; returns the text it completes (often empty while bytes are held).
  std::string Add(int32_t id);
  // Feeds several ids; returns the concatenation of their deltas.
  std::string AddAll(absl::Span<const int32_t> ids);
  // Ends the sequence: returns held bytes (each byte of an incomplete character as U+FFFD) and
  // resets, so the detokenizer can start a new sequence.
  std::string Finish();

  // Bytes of an unfinished character held back (0-3).
  size_t held_bytes() const { return held_.size(); }

 private:
  // Emits from held_ what can no longer change; with `end_of_run` emits everything.
  void Drain(bool end_of_run, std::string* out);

  const Tokenizer* tokenizer_;
  std::string held_;  // bytes of a byte run not yet emitted
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_TOKENIZER_DETOKENIZER_H_

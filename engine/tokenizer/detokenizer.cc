#include "engine/tokenizer/detokenizer.h"

#include "engine/tokenizer/utf8.h"

namespace drivelm::engine {
namespace {

// transformers' final .replace("▁", " ") over the decoded text. Applying it per delta is the
// same as applying it to the whole text, because every delta is complete UTF-8.
void AppendWithSpaces(std::string_view text, std::string* out) {
  out->append(SpaceSymbolToSpace(text));
}

}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer)
    : tokenizer_(&tokenizer) {}

void IncrementalDetokenizer::Drain(bool end_of_run, std::string* out) {
  std::string text;
  size_t offset = 0;
  while (offset < held_.size()) {
    const std::string_view rest = std::string_view(held_).substr(offset);
    const int need = Utf8SequenceLength(static_cast<uint8_t>(rest[0]));
    if (!end_of_run && need > 1 && rest.size() < static_cast<size_t>(need)) {
      // An unfinished character: wait while every byte after the lead is a continuation byte
      // (more bytes may complete it); otherwise the lead byte is already invalid.
      bool can_complete = true;
      for (size_t i = 1; i < rest.size(); ++i) {
        can_complete = can_complete && IsUtf8Continuation(static_cast<uint8_t>(rest[i]));
      }
      if (can_complete) break;
    }
    const size_t n = DecodeUtf8Char(rest);
    if (n == 0) {
      text.append(kUtf8ReplacementChar);
      offset += 1;
    } else {
      text.append(rest.substr(0, n));
      offset += n;
    }
  }
  held_.erase(0, offset);
  AppendWithSpaces(text, out);
}

std::string IncrementalDetokenizer::Add(int32_t id) {
  std::string out;
  if (id < 0 || id >= tokenizer_->vocab_size()) return out;
  const TokenInfo& info = tokenizer_->token_info(id);
  switch (info.kind) {
    case TokenKind::kSpecial:
      break;
    case TokenKind::kByte:
      held_.push_back(static_cast<char>(info.byte));
      Drain(/*end_of_run=*/false, &out);
      break;
    case TokenKind::kText:
    case TokenKind::kControl:
    case TokenKind::kUnknown:
    case TokenKind::kAdded:
      Drain(/*end_of_run=*/true, &out);
      AppendWithSpaces(info.text, &out);
      break;
  }
  return out;
}

std::string IncrementalDetokenizer::AddAll(absl::Span<const int32_t> ids) {
  std::string out;
  for (int32_t id : ids) out += Add(id);
  return out;
}

std::string IncrementalDetokenizer::Finish() {
  std::string out;
  Drain(/*end_of_run=*/true, &out);
  return out;
}

}  // namespace drivelm::engine

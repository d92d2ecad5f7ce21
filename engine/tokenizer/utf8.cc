#include "engine/tokenizer/utf8.h"

namespace drivelm::engine {

int Utf8SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 0;
}

size_t DecodeUtf8Char(std::string_view bytes) {
  if (bytes.empty()) return 0;
  const auto b = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
  const int len = Utf8SequenceLength(b(0));
  if (len == 1) return 1;
  if (len == 0 || bytes.size() < static_cast<size_t>(len)) return 0;
  for (int i = 1; i < len; ++i) {
    if (!IsUtf8Continuation(b(i))) return 0;
  }
  uint32_t cp = 0;
  uint32_t min_cp = 0;
  switch (len) {
    case 2:
      cp = ((b(0) & 0x1Fu) << 6) | (b(1) & 0x3Fu);
      min_cp = 0x80;
      break;
    case 3:
      cp = ((b(0) & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
      min_cp = 0x800;
      break;
    case 4:
      cp = ((b(0) & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) |
           (b(3) & 0x3Fu);
      min_cp = 0x10000;
      break;
    default:
      return 0;
  }
  // SentencePiece's IsValidCodepoint: below the surrogates, or between them and U+10FFFF.
  const bool valid_cp = cp < 0xD800 || (cp >= 0xE000 && cp <= 0x10FFFF);
  return cp >= min_cp && valid_cp ? static_cast<size_t>(len) : 0;
}

void AppendUtf8Repaired(std::string_view bytes, std::string* out) {
  size_t offset = 0;
  while (offset < bytes.size()) {
    const size_t n = DecodeUtf8Char(bytes.substr(offset));
    if (n == 0) {
      out->append(kUtf8ReplacementChar);
      offset += 1;
    } else {
      out->append(bytes.substr(offset, n));
      offset += n;
    }
  }
}

bool IsValidUtf8(std::string_view text, size_t* bad_offset) {
  size_t offset = 0;
  while (offset < text.size()) {
    const size_t n = DecodeUtf8Char(text.substr(offset));
    if (n == 0) {
      if (bad_offset != nullptr) *bad_offset = offset;
      return false;
    }
    offset += n;
  }
  return true;
}

}  // namespace drivelm::engine

// UTF-8 helpers with SentencePiece's decoding rules. SentencePiece (and so Hugging Face's slow
// GemmaTokenizer) turns runs of byte-fallback pieces into text one character at a time: a valid
// character is copied, and every byte that does not start a valid character becomes U+FFFD on
// its own. Those rules are strict UTF-8 (no overlong forms, no surrogates, nothing above
// U+10FFFF), so the same functions validate user text.
#ifndef DRIVELM_ENGINE_TOKENIZER_UTF8_H_
#define DRIVELM_ENGINE_TOKENIZER_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace drivelm::engine {

// U+FFFD REPLACEMENT CHARACTER, UTF-8 encoded.
inline constexpr std::string_view kUtf8ReplacementChar = "\xEF\xBF\xBD";

// Length of the sequence that byte `lead` starts, by its bit pattern alone: 1 (ASCII), 2, 3 or 4;
// 0 for a continuation byte (0x80-0xBF) or 0xF8-0xFF, which never start a character.
int Utf8SequenceLength(uint8_t lead);

// Whether `byte` is a continuation byte (10xxxxxx).
inline bool IsUtf8Continuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

// Decodes the character at the start of `bytes` (non-empty) with SentencePiece's DecodeUTF8 rules.
// Returns its length (1-4) when `bytes` starts with a complete valid character, else 0 (the first
// byte is then one invalid byte: SentencePiece maps it to U+FFFD and goes on at the next byte).
size_t DecodeUtf8Char(std::string_view bytes);

// Appends `bytes` to `out` the way SentencePiece decodes a run of byte pieces: valid characters
// as they are, each byte that does not start a valid character as U+FFFD.
void AppendUtf8Repaired(std::string_view bytes, std::string* out);

// Whether `text` is entirely valid UTF-8; when not, `*bad_offset` (if given) is the offset of the
// first byte that does not start a valid character.
bool IsValidUtf8(std::string_view text, size_t* bad_offset = nullptr);

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_TOKENIZER_UTF8_H_

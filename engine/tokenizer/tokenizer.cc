#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/tokenizer/utf8.h"

namespace drivelm::engine {
namespace {

// At most this many image tokens in one prompt (2^24: far beyond any real request, small enough
// that the id vector cannot exhaust memory).
constexpr int64_t kMaxImageTokens = int64_t{1} << 24;

// transformers' PaliGemma EXTRA_TOKENS, in the order add_tokens() receives them.
std::vector<std::string> PaliGemmaExtraTokens() {
  std::vector<std::string> tokens;
  tokens.reserve(1024 + 128);
  for (int i = 0; i < 1024; ++i) tokens.push_back(absl::StrFormat("<loc%04d>", i));
  for (int i = 0; i < 128; ++i) tokens.push_back(absl::StrFormat("<seg%03d>", i));
  return tokens;
}

// Parses a byte-fallback piece "<0xNN>".
bool ParseBytePiece(std::string_view piece, uint8_t* byte) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return false;
  unsigned value = 0;
  for (char c : piece.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value |= static_cast<unsigned>(c - '0');
    } else if (c >= 'A' && c <= 'F') {
      value |= static_cast<unsigned>(c - 'A' + 10);
    } else {
      return false;
    }
  }
  *byte = static_cast<uint8_t>(value);
  return true;
}

// absl::string_view is not std::string_view in Debian's abseil.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

std::string SpaceSymbolToSpace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t start = 0;
  while (true) {
    const size_t pos = text.find(kSpaceSymbol, start);
    if (pos == std::string_view::npos) break;
    out.append(text.substr(start, pos - start));
    out.push_back(' ');
    start = pos + kSpaceSymbol.size();
  }
  out.append(text.substr(start));
  return out;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& model_path,
                                                           const TokenizerOptions& options) {
  std::error_code ec;
  const auto status = std::filesystem::status(model_path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return absl::NotFoundError(
        absl::StrCat("tokenizer model ", model_path, ": no such file"));
  }
  if (std::filesystem::is_directory(status)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer model ", model_path, ": is a directory, expected a tokenizer.model file"));
  }
  SentencePieceModel::LoadError error = SentencePieceModel::LoadError::kNone;
  std::string message;
  auto model = SentencePieceModel::LoadFile(model_path, &error, &message);
  switch (error) {
    case SentencePieceModel::LoadError::kNone:
      break;
    case SentencePieceModel::LoadError::kNotFound:
      return absl::NotFoundError(
          absl::StrCat("tokenizer model ", model_path, ": ", message));
    case SentencePieceModel::LoadError::kInvalid:
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer model ", model_path, ": not a SentencePiece model (", message, ")"));
  }
  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer());
  tokenizer->name_ = model_path;
  tokenizer->model_ = std::move(model);
  if (absl::Status s = tokenizer->Init(options); !s.ok()) return s;
  return tokenizer;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::LoadFromSerialized(
    std::string_view bytes, const std::string& name, const TokenizerOptions& options) {
  SentencePieceModel::LoadError error = SentencePieceModel::LoadError::kNone;
  std::string message;
  auto model = SentencePieceModel::LoadSerialized(bytes, &error, &message);
  switch (error) {
    case SentencePieceModel::LoadError::kNone:
      break;
    case SentencePieceModel::LoadError::kNotFound:
    case SentencePieceModel::LoadError::kInvalid:
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer model ", name, ": not a SentencePiece model (", message, ")"));
  }
  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer());
  tokenizer->name_ = name;
  tokenizer->model_ = std::move(model);
  if (absl::Status s = tokenizer->Init(options); !s.ok()) return s;
  return tokenizer;
}

absl::Status Tokenizer::Init(const TokenizerOptions& options) {
  const SentencePieceModel& model = *model_;
  piece_count_ = model.PieceCount();

  // Special ids: the model's, or the overrides; each must be a piece.
  struct Special {
    const char* what;
    int32_t override_id;
    int model_id;
    int32_t* out;
  };
  const Special specials[] = {
      {"bos", options.bos_id, model.bos_id(), &bos_id_},
      {"eos", options.eos_id, model.eos_id(), &eos_id_},
      {"pad", options.pad_id, model.pad_id(), &pad_id_},
      {"unk", options.unk_id, model.unk_id(), &unk_id_},
  };
  for (const Special& s : specials) {
    const int32_t id = s.override_id >= 0 ? s.override_id : s.model_id;
    if (s.override_id < -1) {
      return absl::InvalidArgumentError(absl::StrCat("tokenizer model ", name_, ": ", s.what,
                                                     " id override ", s.override_id,
                                                     " is negative"));
    }
    if (id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer model ", name_, ": the model defines no ", s.what,
                       " piece and no ", s.what, " id was given"));
    }
    if (id >= piece_count_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer model ", name_, ": ", s.what, " id ", id, " is not a piece of the model (",
          piece_count_, " pieces)"));
    }
    *s.out = id;
  }

  // Per-piece decoding table.
  tokens_.assign(piece_count_, TokenInfo{});
  int first_space_piece = -1;
  for (int id = 0; id < piece_count_; ++id) {
    TokenInfo& info = tokens_[id];
    const std::string piece = model.IdToPiece(id);
    if (model.IsByte(id)) {
      if (!ParseBytePiece(piece, &info.byte)) {
        return absl::InvalidArgumentError(
            absl::StrCat("tokenizer model ", name_, ": byte piece ", id, " is \"", piece,
                         "\", expected <0xNN>"));
      }
      info.kind = TokenKind::kByte;
    } else if (model.IsControl(id)) {
      info.kind = TokenKind::kControl;
    } else if (model.IsUnknown(id)) {
      info.kind = TokenKind::kUnknown;
      std::string surface, message;
      if (!model.Decode({id}, &surface, &message)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tokenizer model ", name_, ": cannot decode the unknown piece: ", message));
      }
      info.text = std::move(surface);
    } else {
      // Normal, user-defined and unused pieces decode to their text.
      info.kind = TokenKind::kText;
      info.text = SpaceSymbolToSpace(piece);
      if (first_space_piece < 0 && piece.size() > kSpaceSymbol.size() &&
          std::string_view(piece).substr(0, kSpaceSymbol.size()) == kSpaceSymbol) {
        first_space_piece = id;
      }
    }
  }

  // Decoding piece by piece (and so IncrementalDetokenizer) equals SentencePiece's decoding
  // only when SentencePiece keeps a leading space; models with add_dummy_prefix=true strip it.
  if (first_space_piece >= 0) {
    std::string decoded, message;
    if (!model.Decode({first_space_piece}, &decoded, &message)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer model ", name_, ": cannot decode piece ", first_space_piece,
                       ": ", message));
    }
    if (decoded != tokens_[first_space_piece].text) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer model ", name_, ": SentencePiece strips the leading space when decoding (\"",
          model.IdToPiece(first_space_piece), "\" decodes to \"", decoded,
          "\"; add_dummy_prefix=true?); only Gemma-style models (add_dummy_prefix=false) are "
          "supported"));
    }
  }

  // Added tokens, in transformers' order: the specials (pieces), then <image> (a special token
  // added by PaliGemmaProcessor), then EXTRA_TOKENS (plain added tokens).
  int32_t next_id = piece_count_;
  for (int32_t id : {bos_id_, eos_id_, unk_id_, pad_id_}) {
    added_tokens_.emplace(model.IdToPiece(id), id);
  }
  const int image_piece = model.PieceToId(kImageToken);
  if (image_piece >= 0) {
    image_token_id_ = image_piece;
  } else {
    image_token_id_ = next_id++;
    tokens_.push_back(TokenInfo{});
    added_only_text_.emplace_back(kImageToken);
  }
  added_tokens_.emplace(std::string(kImageToken), image_token_id_);
  for (const std::string& token : PaliGemmaExtraTokens()) {
    if (added_tokens_.count(token) > 0) continue;
    const int piece = model.PieceToId(token);
    int32_t id = piece;
    if (piece < 0) {
      id = next_id++;
      tokens_.push_back(TokenInfo{});
      added_only_text_.push_back(token);
    }
    tokens_[id].kind = TokenKind::kAdded;
    tokens_[id].byte = 0;
    tokens_[id].text = SpaceSymbolToSpace(token);
    added_tokens_.emplace(token, id);
  }
  for (int32_t id : {bos_id_, eos_id_, pad_id_, unk_id_, image_token_id_}) {
    tokens_[id] = TokenInfo{TokenKind::kSpecial, 0, ""};
  }
  for (const auto& [text, id] : added_tokens_) {
    max_added_token_length_ = std::max(max_added_token_length_, text.size());
    if (!text.empty()) added_token_first_byte_[static_cast<uint8_t>(text[0])] = true;
  }
  return absl::OkStatus();
}

void Tokenizer::EncodeText(std::string_view text, std::vector<int32_t>* ids) const {
  if (text.empty()) return;
  std::vector<int> piece_ids;
  std::string message;
  if (model_->Encode(text, &piece_ids, &message)) {
    ids->insert(ids->end(), piece_ids.begin(), piece_ids.end());
    return;
  }
  // libsentencepiece does not fail on a loaded model; should it ever, fall back to bytes
  // rather than dropping text.
  for (char c : text) {
    char piece[8];
    std::snprintf(piece, sizeof(piece), "<0x%02X>", static_cast<unsigned>(static_cast<uint8_t>(c)));
    const int id = model_->PieceToId(piece);
    ids->push_back(id >= 0 ? id : unk_id_);
  }
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids;
  size_t segment_start = 0;
  size_t i = 0;
  while (i < text.size()) {
    bool matched = false;
    if (added_token_first_byte_[static_cast<uint8_t>(text[i])]) {
      const size_t longest = std::min(max_added_token_length_, text.size() - i);
      for (size_t len = longest; len > 0; --len) {
        auto it = added_tokens_.find(std::string(text.substr(i, len)));
        if (it == added_tokens_.end()) continue;
        EncodeText(text.substr(segment_start, i - segment_start), &ids);
        ids.push_back(it->second);
        i += len;
        segment_start = i;
        matched = true;
        break;
      }
    }
    if (!matched) ++i;
  }
  EncodeText(text.substr(segment_start), &ids);
  return ids;
}

absl::StatusOr<std::vector<int32_t>> Tokenizer::BuildPaliGemmaPrompt(
    std::string_view prompt, int num_images, int image_tokens_per_image) const {
  if (num_images < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PaliGemma prompt: num_images is ", num_images,
        ", expected at least 1 (transformers' PaliGemmaProcessor requires images)"));
  }
  if (image_tokens_per_image < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PaliGemma prompt: image_tokens_per_image is ", image_tokens_per_image,
        ", expected at least 1"));
  }
  const int64_t image_tokens = int64_t{num_images} * image_tokens_per_image;
  if (image_tokens > kMaxImageTokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PaliGemma prompt: ", num_images, " images x ", image_tokens_per_image,
        " tokens = ", image_tokens, " image tokens, more than the limit ", kMaxImageTokens));
  }
  size_t bad_offset = 0;
  if (!IsValidUtf8(prompt, &bad_offset)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PaliGemma prompt: not valid UTF-8 at byte ", bad_offset, " of ", prompt.size()));
  }
  if (prompt.find(kImageToken) != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PaliGemma prompt: contains \"", AsAbsl(kImageToken),
        "\"; image tokens are placed by the server (transformers would switch to expanding the "
        "written <image> tokens instead)"));
  }
  std::vector<int32_t> ids(static_cast<size_t>(image_tokens), image_token_id_);
  ids.push_back(bos_id_);
  std::string text(prompt);
  text.push_back('\n');
  const std::vector<int32_t> text_ids = Encode(text);
  ids.insert(ids.end(), text_ids.begin(), text_ids.end());
  return ids;
}

std::string Tokenizer::Decode(absl::Span<const int32_t> ids) const {
  std::string out;
  std::vector<int> run;  // ids that SentencePiece decodes together
  const auto flush = [&]() {
    if (run.empty()) return;
    std::string text, message;
    if (model_->Decode(run, &text, &message)) {
      out += text;
    } else {
      // libsentencepiece does not fail on ids of its own model; should it ever, decode with the
      // table, which follows the same rules.
      std::string bytes;
      for (int id : run) {
        const TokenInfo& info = tokens_[id];
        if (info.kind == TokenKind::kByte) {
          bytes.push_back(static_cast<char>(info.byte));
          continue;
        }
        AppendUtf8Repaired(bytes, &out);
        bytes.clear();
        out += info.text;
      }
      AppendUtf8Repaired(bytes, &out);
    }
    run.clear();
  };
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) continue;
    const TokenInfo& info = tokens_[id];
    switch (info.kind) {
      case TokenKind::kSpecial:
        break;
      case TokenKind::kAdded:
        flush();
        out += info.text;
        break;
      case TokenKind::kText:
      case TokenKind::kByte:
      case TokenKind::kControl:
      case TokenKind::kUnknown:
        run.push_back(id);
        break;
    }
  }
  flush();
  // transformers' GemmaTokenizer._decode ends with .replace("▁", " "): this also turns a U+2581
  // that byte pieces spelled out into a space.
  return SpaceSymbolToSpace(out);
}

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  auto it = added_tokens_.find(std::string(token));
  if (it != added_tokens_.end()) return it->second;
  const int id = model_->PieceToId(token);
  if (id >= 0) return id;
  return std::nullopt;
}

std::string Tokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return "";
  if (id < piece_count_) return model_->IdToPiece(id);
  return added_only_text_[id - piece_count_];
}

bool Tokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() && tokens_[id].kind == TokenKind::kSpecial;
}

absl::Status Tokenizer::Validate(int64_t vocab_size, int64_t image_token_index) const {
  if (vocab_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model vocabulary size is ", vocab_size, ", expected > 0"));
  }
  if (piece_count_ > vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer ", name_, " has ", piece_count_,
                     " pieces but the model's vocabulary is ", vocab_size));
  }
  const std::pair<const char*, int32_t> specials[] = {
      {"bos", bos_id_}, {"eos", eos_id_}, {"pad", pad_id_}, {"unk", unk_id_},
      {"image (<image>)", image_token_id_}};
  for (const auto& [what, id] : specials) {
    if (id >= vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer ", name_, ": ", what, " id ", id,
                       " is outside the model's vocabulary of ", vocab_size));
    }
  }
  if (image_token_id_ != image_token_index) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer ", name_, " gives <image> id ", image_token_id_,
        " but the model's image_token_index is ", image_token_index));
  }
  if (this->vocab_size() > vocab_size) {
    const int32_t highest = this->vocab_size() - 1;
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer ", name_, " has ", this->vocab_size(), " tokens (", piece_count_,
        " pieces + added tokens up to id ", highest, " \"", IdToToken(highest),
        "\") but the model's vocabulary is ", vocab_size));
  }
  return absl::OkStatus();
}

}  // namespace drivelm::engine

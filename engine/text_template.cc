#include "engine/text_template.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace drivelm::engine {
namespace {

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool Contains(absl::Span<const std::string_view> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string AsList(absl::Span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out.append("{").append(n).append("}");
  }
  return out.empty() ? "none" : out;
}

}  // namespace

absl::StatusOr<TextTemplate> TextTemplate::Parse(std::string_view text, std::string_view field,
                                                 absl::Span<const std::string_view> allowed,
                                                 absl::Span<const std::string_view> required) {
  const std::string where(field);
  std::vector<Piece> pieces;
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal += c;  // "{{" or "}}"
      i += 2;
      continue;
    }
    if (c == '}') {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": lone '}' at byte ", i, " (write '}}' for a literal brace)"));
    }
    if (c != '{') {
      literal += c;
      ++i;
      continue;
    }
    const size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unclosed '{' at byte ", i, " (write '{{' for a literal brace)"));
    }
    const std::string name(text.substr(i + 1, close - i - 1));
    if (!IsIdentifier(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": placeholder '{", name, "}' at byte ", i, " is not a name"));
    }
    if (!Contains(allowed, name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unknown placeholder {", name, "}; allowed: ", AsList(allowed)));
    }
    if (!literal.empty()) pieces.push_back({false, std::move(literal)});
    literal.clear();
    pieces.push_back({true, name});
    i = close + 1;
  }
  if (!literal.empty()) pieces.push_back({false, std::move(literal)});

  TextTemplate parsed(std::move(pieces));
  for (std::string_view name : required) {
    if (!parsed.Has(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": missing the required placeholder {", std::string(name), "}"));
    }
  }
  return parsed;
}

bool TextTemplate::Has(std::string_view name) const {
  return std::any_of(pieces_.begin(), pieces_.end(),
                     [&](const Piece& p) { return p.placeholder && p.text == name; });
}

std::string TextTemplate::Render(absl::Span<const TemplateValue> values) const {
  std::string out;
  for (const Piece& piece : pieces_) {
    if (!piece.placeholder) {
      out += piece.text;
      continue;
    }
    for (const TemplateValue& v : values) {
      if (v.name == piece.text) {
        out.append(v.value);
        break;
      }
    }
  }
  return out;
}

}  // namespace drivelm::engine

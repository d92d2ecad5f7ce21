#include "eval/python_str.h"

#include <string>
#include <string_view>
#include <vector>

namespace drivelm::eval {
namespace {

// Decodes the code point at s[i] and its byte length; invalid bytes decode as one byte, U+FFFD.
char32_t DecodeAt(std::string_view s, size_t i, size_t* len) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  char32_t cp = 0;
  if (c < 0x80) {
    *len = 1;
    return c;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    *len = 1;
    return 0xFFFD;
  }
  if (i + n > s.size()) {
    *len = 1;
    return 0xFFFD;
  }
  for (size_t k = 1; k < n; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) {
      *len = 1;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  *len = n;
  return cp;
}

}  // namespace

bool IsPythonWhitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

std::vector<std::string> PythonSplit(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 1;
    const char32_t cp = DecodeAt(s, i, &len);
    if (IsPythonWhitespace(cp)) {
      if (in_word) out.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur.append(s.substr(i, len));
      in_word = true;
    }
    i += len;
  }
  if (in_word) out.push_back(std::move(cur));
  return out;
}

std::vector<std::string> PythonSplitOn(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string PythonRstrip(std::string_view s) {
  size_t end = 0;  // end of the last non-whitespace code point
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 1;
    const char32_t cp = DecodeAt(s, i, &len);
    i += len;
    if (!IsPythonWhitespace(cp)) end = i;
  }
  return std::string(s.substr(0, end));
}

}  // namespace drivelm::eval

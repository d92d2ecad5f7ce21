// Python str methods that the reference Python code applies to UTF-8 text, with Python's
// definitions of whitespace, so token lists match pycocoevalcap's exactly: str.split() (any
// Unicode whitespace, runs collapse, no empty pieces), str.split(' ') (single ASCII space, empty
// pieces kept) and str.rstrip().
// Thread-safety: stateless.
#ifndef DRIVELM_EVAL_PYTHON_STR_H_
#define DRIVELM_EVAL_PYTHON_STR_H_

#include <string>
#include <string_view>
#include <vector>

namespace drivelm::eval {

// Python's str.isspace() for one code point.
bool IsPythonWhitespace(char32_t c);

// s.split(): splits at runs of whitespace; no empty pieces ("" -> []). Invalid UTF-8 bytes are
// never whitespace.
std::vector<std::string> PythonSplit(std::string_view s);

// s.split(sep) for a one-character sep: "" -> [""], "a  b" -> ["a", "", "b"].
std::vector<std::string> PythonSplitOn(std::string_view s, char sep);

// s.rstrip().
std::string PythonRstrip(std::string_view s);

}  // namespace drivelm::eval

#endif  // DRIVELM_EVAL_PYTHON_STR_H_

#include "engine/coordinate_rescaler.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace drivelm::engine {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameChar(char c) {
  return IsDigit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

// A cursor over the text being scanned. Every element of the grammar is followed by a required
// character, so running out of text anywhere means "incomplete", never "complete".
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  size_t pos() const { return pos_; }

  ReferenceScan Char(char c) {
    if (pos_ == text_.size()) return ReferenceScan::kIncomplete;
    if (text_[pos_] != c) return ReferenceScan::kNoMatch;
    ++pos_;
    return ReferenceScan::kMatch;
  }

  // One or more characters satisfying `pred`.
  ReferenceScan Run(bool (*pred)(char)) {
    const size_t start = pos_;
    while (pos_ < text_.size() && pred(text_[pos_])) ++pos_;
    if (pos_ == text_.size()) return ReferenceScan::kIncomplete;
    return pos_ > start ? ReferenceScan::kMatch : ReferenceScan::kNoMatch;
  }

  // `-`? digits (`.` digits)?
  ReferenceScan Number(double* value) {
    const size_t start = pos_;
    if (pos_ == text_.size()) return ReferenceScan::kIncomplete;
    if (text_[pos_] == '-') ++pos_;
    if (ReferenceScan r = Run(IsDigit); r != ReferenceScan::kMatch) return r;
    if (text_[pos_] == '.') {
      ++pos_;
      if (ReferenceScan r = Run(IsDigit); r != ReferenceScan::kMatch) return r;
    }
    const std::string_view digits = text_.substr(start, pos_ - start);
    if (!absl::SimpleAtod(absl::string_view(digits.data(), digits.size()), value) ||
        !std::isfinite(*value)) {
      return ReferenceScan::kNoMatch;
    }
    return ReferenceScan::kMatch;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

absl::Status ValidateCoordinateSpace(const CoordinateSpace& space) {
  const struct {
    const char* name;
    int value;
  } sizes[] = {{"source_width", space.source_width},
               {"source_height", space.source_height},
               {"model_width", space.model_width},
               {"model_height", space.model_height}};
  for (const auto& size : sizes) {
    if (size.value <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("coordinates.", size.name, " must be > 0, got ", size.value));
    }
  }
  if (space.decimals < 0 || space.decimals > 6) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinates.decimals must be in [0, 6], got ", space.decimals));
  }
  return absl::OkStatus();
}

ReferenceScan ScanCoordinateReference(std::string_view text, CoordinateReference* ref) {
  Cursor cursor(text);
  double x = 0.0;
  double y = 0.0;
  ReferenceScan r = cursor.Char('<');
  if (r == ReferenceScan::kMatch) r = cursor.Char('c');
  if (r == ReferenceScan::kMatch) r = cursor.Run(IsDigit);
  if (r == ReferenceScan::kMatch) r = cursor.Char(',');
  if (r == ReferenceScan::kMatch) r = cursor.Run(IsNameChar);
  if (r == ReferenceScan::kMatch) r = cursor.Char(',');
  const size_t head_length = cursor.pos();
  if (r == ReferenceScan::kMatch) r = cursor.Number(&x);
  if (r == ReferenceScan::kMatch) r = cursor.Char(',');
  if (r == ReferenceScan::kMatch) r = cursor.Number(&y);
  if (r == ReferenceScan::kMatch) r = cursor.Char('>');
  if (r != ReferenceScan::kMatch) return r;
  ref->length = cursor.pos();
  ref->head = text.substr(0, head_length);
  ref->x = x;
  ref->y = y;
  return ReferenceScan::kMatch;
}

absl::StatusOr<CoordinateRescaler> CoordinateRescaler::Create(const CoordinateSpace& space) {
  if (absl::Status s = ValidateCoordinateSpace(space); !s.ok()) return s;
  return CoordinateRescaler(space);
}

std::string CoordinateRescaler::ToModel(std::string_view text) const {
  return Rescale(text, static_cast<double>(space_.model_width) / space_.source_width,
                 static_cast<double>(space_.model_height) / space_.source_height);
}

std::string CoordinateRescaler::ToSource(std::string_view text) const {
  return Rescale(text, static_cast<double>(space_.source_width) / space_.model_width,
                 static_cast<double>(space_.source_height) / space_.model_height);
}

std::string CoordinateRescaler::Format(double value) const {
  std::string s = absl::StrFormat("%.*f", space_.decimals, value);
  // "-0.0" (a small negative value rounded to zero) reads as a different point; write "0.0".
  if (s[0] == '-' && s.find_first_not_of("0.", 1) == std::string::npos) s.erase(0, 1);
  return s;
}

std::string CoordinateRescaler::Rescale(std::string_view text, double scale_x,
                                        double scale_y) const {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find('<', i);
    if (open == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, open - i));
    CoordinateReference ref;
    if (ScanCoordinateReference(text.substr(open), &ref) == ReferenceScan::kMatch) {
      out.append(ref.head);
      out += Format(ref.x * scale_x);
      out += ',';
      out += Format(ref.y * scale_y);
      out += '>';
      i = open + ref.length;
    } else {
      out += '<';
      i = open + 1;
    }
  }
  return out;
}

}  // namespace drivelm::engine

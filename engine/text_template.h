// TextTemplate: the profile's prompt templates, `{name}` placeholders in Python str.format style
// with `{{` and `}}` for literal braces. Values are inserted verbatim and never re-scanned, so a
// question containing "{answer}" stays as typed.
#ifndef DRIVELM_ENGINE_TEXT_TEMPLATE_H_
#define DRIVELM_ENGINE_TEXT_TEMPLATE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace drivelm::engine {

struct TemplateValue {
  std::string_view name;
  std::string_view value;
};

// A parsed template; immutable, safe to share.
class TextTemplate {
 public:
  // `field` names the template in messages (e.g. "prompt_template"). InvalidArgument for a lone
  // '{' or '}', an empty or non-identifier name, a placeholder outside `allowed`, or a name in
  // `required` that never appears.
  static absl::StatusOr<TextTemplate> Parse(std::string_view text, std::string_view field,
                                            absl::Span<const std::string_view> allowed,
                                            absl::Span<const std::string_view> required);

  bool Has(std::string_view name) const;
  // Placeholders without a value become "" (Parse already restricted them to `allowed`).
  std::string Render(absl::Span<const TemplateValue> values) const;

 private:
  struct Piece {
    bool placeholder;  // true: `text` is a placeholder name; false: literal text
    std::string text;
  };
  explicit TextTemplate(std::vector<Piece> pieces) : pieces_(std::move(pieces)) {}

  std::vector<Piece> pieces_;
};

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_TEXT_TEMPLATE_H_

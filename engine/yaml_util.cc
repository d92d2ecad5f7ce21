#include "engine/yaml_util.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace drivelm::engine {

const char* YamlNodeKind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
      return "nothing";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
  }
  return "?";
}

std::string CheckMappingKey(const std::string& key, const std::string& field,
                            absl::Span<const char* const> known, std::set<std::string>* seen) {
  if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
    return absl::StrCat("unknown key; known keys",
                        field.empty() ? "" : absl::StrCat(" of ", field), ": ",
                        absl::StrJoin(known, ", "));
  }
  if (!seen->insert(key).second) return "given twice";
  return "";
}

}  // namespace drivelm::engine

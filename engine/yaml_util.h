// Helpers shared by the project's YAML readers (model profile, server config): node kinds for
// messages, and the mapping-key check that makes typos and repeated keys errors.
#ifndef DRIVELM_ENGINE_YAML_UTIL_H_
#define DRIVELM_ENGINE_YAML_UTIL_H_

#include <set>
#include <string>

#include "absl/types/span.h"
#include "yaml-cpp/yaml.h"

namespace drivelm::engine {

// "nothing", "null", "a scalar", "a list", "a mapping".
const char* YamlNodeKind(const YAML::Node& node);

// The problem with `key` as a key of the mapping at `field` ("" at the root), or "" when it is
// one of `known` and not already in `seen` (it is added). yaml-cpp keeps repeated keys.
std::string CheckMappingKey(const std::string& key, const std::string& field,
                            absl::Span<const char* const> known, std::set<std::string>* seen);

}  // namespace drivelm::engine

#endif  // DRIVELM_ENGINE_YAML_UTIL_H_

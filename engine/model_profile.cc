#include "engine/model_profile.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "engine/yaml_util.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "engine/text_template.h"

namespace drivelm::engine {
namespace {

constexpr const char* kRootKeys[] = {
    "name",        "cameras",        "prompt_template", "context_template", "image_size",
    "coordinates", "max_new_tokens", "sampling",        "image_prefix"};
constexpr const char* kCoordinateKeys[] = {"source_width", "source_height", "model_width",
                                           "model_height", "decimals"};
constexpr const char* kSamplingKeys[] = {"greedy", "temperature", "top_k", "top_p", "seed"};

// `root[key]` where given, else `root` itself: a node to point messages at.
YAML::Node NodeFor(const YAML::Node& root, const char* key) {
  const YAML::Node node = root[key];
  return node.IsDefined() ? node : root;
}

bool IsCameraName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Turns YAML nodes into profile fields. Messages read "<source>:<line>: <field>: <problem>".
// yaml-cpp reports type mismatches by throwing; every call into it that can throw is caught here.
class ProfileParser {
 public:
  explicit ProfileParser(std::string source) : source_(std::move(source)) {}

  absl::Status Error(const YAML::Node& node, const std::string& field,
                     const std::string& problem) const {
    const YAML::Mark mark = node.Mark();
    const std::string where = mark.is_null() ? source_ : absl::StrCat(source_, ":", mark.line + 1);
    if (field.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", problem));
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", field, ": ", problem));
  }

  template <typename T>
  absl::Status Read(const YAML::Node& node, const std::string& field, const char* type,
                    T* out) const {
    if (!node.IsScalar()) {
      return Error(node, field, absl::StrCat("expected ", type, ", got ", YamlNodeKind(node)));
    }
    const std::string& text = node.Scalar();
    if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
      if (!text.empty() && text[0] == '-') {
        return Error(node, field, absl::StrCat("expected ", type, ", got '", text, "'"));
      }
    }
    try {
      *out = node.as<T>();
    } catch (const YAML::Exception&) {
      return Error(node, field, absl::StrCat("expected ", type, ", got '", text, "'"));
    }
    return absl::OkStatus();
  }

  // Calls `fn` for each entry of the mapping `node`, rejecting keys outside `known` and keys
  // given twice (yaml-cpp keeps both).
  absl::Status ForEachKey(
      const YAML::Node& node, const std::string& field, absl::Span<const char* const> known,
      const std::function<absl::Status(const std::string&, const YAML::Node&)>& fn) const {
    if (!node.IsMap()) {
      return Error(node, field, absl::StrCat("expected a mapping, got ", YamlNodeKind(node)));
    }
    std::set<std::string> seen;
    for (const auto& entry : node) {
      std::string key;
      if (absl::Status s = Read(entry.first, field, "a key", &key); !s.ok()) return s;
      const std::string path = field.empty() ? key : absl::StrCat(field, ".", key);
      if (std::string problem = CheckMappingKey(key, field, known, &seen); !problem.empty()) {
        return Error(entry.first, path, problem);
      }
      if (absl::Status s = fn(key, entry.second); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status ParseCameras(const YAML::Node& node, std::vector<std::string>* cameras) const {
    if (!node.IsSequence()) {
      return Error(node, "cameras", absl::StrCat("expected a list, got ", YamlNodeKind(node)));
    }
    cameras->clear();
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string field = absl::StrCat("cameras[", i, "]");
      std::string name;
      if (absl::Status s = Read(node[i], field, "a camera name", &name); !s.ok()) return s;
      if (!IsCameraName(name)) {
        return Error(node[i], field,
                     absl::StrCat("'", name, "' is not a camera name ([A-Za-z0-9_]+)"));
      }
      if (std::find(cameras->begin(), cameras->end(), name) != cameras->end()) {
        return Error(node[i], field, absl::StrCat("camera ", name, " is listed twice"));
      }
      cameras->push_back(name);
    }
    return absl::OkStatus();
  }

  absl::Status ParseCoordinates(const YAML::Node& node, CoordinateSpace* space) const {
    std::set<std::string> given;
    absl::Status s =
        ForEachKey(node, "coordinates", kCoordinateKeys,
                   [&](const std::string& key, const YAML::Node& value) -> absl::Status {
                     given.insert(key);
                     const std::string field = absl::StrCat("coordinates.", key);
                     if (key == "source_width")
                       return Read(value, field, "an integer", &space->source_width);
                     if (key == "source_height")
                       return Read(value, field, "an integer", &space->source_height);
                     if (key == "model_width")
                       return Read(value, field, "an integer", &space->model_width);
                     if (key == "model_height")
                       return Read(value, field, "an integer", &space->model_height);
                     return Read(value, field, "an integer", &space->decimals);
                   });
    if (!s.ok()) return s;
    // The sizes decide every rescaled number; a profile must state them, not inherit them.
    for (const char* key : {"source_width", "source_height", "model_width", "model_height"}) {
      if (given.count(key) == 0) {
        return Error(node, absl::StrCat("coordinates.", key), "required when coordinates is given");
      }
    }
    if (absl::Status v = ValidateCoordinateSpace(*space); !v.ok()) {
      return Error(node, "", std::string(v.message()));
    }
    return absl::OkStatus();
  }

  absl::Status ParseSampling(const YAML::Node& node, SamplingParams* sampling) const {
    bool greedy_given = false;
    std::string warper_key;  // a key that only matters when sampling
    absl::Status s =
        ForEachKey(node, "sampling", kSamplingKeys,
                   [&](const std::string& key, const YAML::Node& value) -> absl::Status {
                     const std::string field = absl::StrCat("sampling.", key);
                     if (key == "greedy") {
                       greedy_given = true;
                       return Read(value, field, "true or false", &sampling->greedy);
                     }
                     if (key == "seed")
                       return Read(value, field, "a non-negative integer", &sampling->seed);
                     warper_key = key;
                     if (key == "temperature")
                       return Read(value, field, "a number", &sampling->temperature);
                     if (key == "top_k") return Read(value, field, "an integer", &sampling->top_k);
                     return Read(value, field, "a number", &sampling->top_p);
                   });
    if (!s.ok()) return s;
    if (!greedy_given) {
      sampling->greedy = warper_key.empty();
    } else if (sampling->greedy && !warper_key.empty()) {
      return Error(node, absl::StrCat("sampling.", warper_key),
                   "has no effect with greedy: true (set greedy: false to sample)");
    }
    if (absl::Status v = ValidateSamplingParams(*sampling); !v.ok()) {
      return Error(node, "", std::string(v.message()));
    }
    return absl::OkStatus();
  }

  absl::Status ParseRoot(const YAML::Node& root, ModelProfile* p) const {
    p->cameras = NuScenesCameras();  // a profile file without `cameras` means DriveLM's six
    absl::Status s = ForEachKey(
        root, "", kRootKeys, [&](const std::string& key, const YAML::Node& value) -> absl::Status {
          if (key == "name") return Read(value, key, "a string", &p->name);
          if (key == "cameras") return ParseCameras(value, &p->cameras);
          if (key == "prompt_template") return Read(value, key, "a string", &p->prompt_template);
          if (key == "context_template") return Read(value, key, "a string", &p->context_template);
          if (key == "image_size") {
            int64_t size = 0;
            if (absl::Status r = Read(value, key, "an integer", &size); !r.ok()) return r;
            if (size <= 0) return Error(value, key, absl::StrCat("must be > 0, got ", size));
            p->image_size = size;
            return absl::OkStatus();
          }
          if (key == "coordinates") {
            if (value.IsNull()) return absl::OkStatus();  // `coordinates:` = no rescaling
            CoordinateSpace space;
            if (absl::Status r = ParseCoordinates(value, &space); !r.ok()) return r;
            p->coordinates = space;
            return absl::OkStatus();
          }
          if (key == "sampling") return ParseSampling(value, &p->sampling);
          if (key == "max_new_tokens") {
            if (absl::Status r = Read(value, key, "an integer", &p->max_new_tokens); !r.ok())
              return r;
            if (p->max_new_tokens < 1) {
              return Error(value, key, absl::StrCat("must be >= 1, got ", p->max_new_tokens));
            }
            return absl::OkStatus();
          }
          // image_prefix
          std::string mode;
          if (absl::Status r = Read(value, key, "exact or shared", &mode); !r.ok()) return r;
          if (mode == "exact") {
            p->image_prefix = ImagePrefixMode::kExact;
          } else if (mode == "shared") {
            p->image_prefix = ImagePrefixMode::kShared;
          } else {
            return Error(value, key, absl::StrCat("expected exact or shared, got '", mode, "'"));
          }
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    if (p->name.empty()) return Error(NodeFor(root, "name"), "name", "must not be empty");
    // Parse the templates now so a bad one fails at load, not on the first request.
    const absl::StatusOr<TextTemplate> prompt = TextTemplate::Parse(
        p->prompt_template, "prompt_template", {"question", "context"}, {"question"});
    if (!prompt.ok()) {
      return Error(NodeFor(root, "prompt_template"), "", std::string(prompt.status().message()));
    }
    const absl::StatusOr<TextTemplate> context = TextTemplate::Parse(
        p->context_template, "context_template", {"question", "answer"}, {"question", "answer"});
    if (!context.ok()) {
      return Error(NodeFor(root, "context_template"), "", std::string(context.status().message()));
    }
    return absl::OkStatus();
  }

 private:
  std::string source_;
};

}  // namespace

const char* ImagePrefixModeName(ImagePrefixMode mode) {
  switch (mode) {
    case ImagePrefixMode::kExact:
      return "exact";
    case ImagePrefixMode::kShared:
      return "shared";
  }
  return "?";
}

const std::vector<std::string>& NuScenesCameras() {
  static const std::vector<std::string>* const cameras =
      new std::vector<std::string>{"CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT",
                                   "CAM_BACK",  "CAM_BACK_LEFT",  "CAM_BACK_RIGHT"};
  return *cameras;
}

ModelProfile DefaultModelProfile() { return ModelProfile{}; }

absl::StatusOr<ModelProfile> ParseModelProfile(std::string_view yaml, std::string_view source) {
  const std::string where_file(source);
  ModelProfile profile;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where_file, ": a model profile is a YAML mapping of keys, got ", YamlNodeKind(root)));
    }
    if (absl::Status s = ProfileParser(where_file).ParseRoot(root, &profile); !s.ok()) return s;
  } catch (const YAML::Exception& e) {
    // Syntax errors (and anything yaml-cpp throws that the parser did not catch itself).
    const std::string where =
        e.mark.is_null() ? where_file : absl::StrCat(where_file, ":", e.mark.line + 1);
    return absl::InvalidArgumentError(absl::StrCat(where, ": invalid YAML: ", e.msg));
  }
  return profile;
}

absl::StatusOr<ModelProfile> LoadModelProfile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("model profile ", path, " does not exist"));
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::PermissionDeniedError(absl::StrCat("cannot read model profile ", path));
  std::stringstream text;
  text << file.rdbuf();
  if (file.bad()) return absl::DataLossError(absl::StrCat("error reading model profile ", path));
  return ParseModelProfile(text.str(), path);
}

absl::StatusOr<ModelProfile> LoadModelProfileOrDefault(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return DefaultModelProfile();
  return LoadModelProfile(path);
}

}  // namespace drivelm::engine

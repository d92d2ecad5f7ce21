#include "server/server_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <type_traits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/yaml_util.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"

namespace drivelm::server {
namespace {

constexpr const char* kRootKeys[] = {"listen",   "metrics_listen", "model",
                                     "profile",  "backend",        "threads",
                                     "limits",   "shutdown_grace_seconds", "log_level"};
constexpr const char* kLimitKeys[] = {
    "max_message_bytes",  "max_decoded_pixels", "max_images",     "max_questions_per_scene",
    "max_question_bytes", "max_new_tokens",     "max_prompt_tokens", "queue_capacity"};
constexpr const char* kLogLevels[] = {"trace", "debug", "info", "warn",
                                      "error", "critical", "off"};

// Turns YAML nodes into config fields. Messages read "<source>:<line>: <key>: <problem>".
// yaml-cpp reports type mismatches by throwing; every call into it that can throw is caught here
// or in ParseServerConfig.
class ConfigParser {
 public:
  explicit ConfigParser(std::string source) : source_(std::move(source)) {}

  absl::Status Error(const YAML::Node& node, const std::string& key,
                     const std::string& problem) const {
    const YAML::Mark mark = node.Mark();
    const std::string where = mark.is_null() ? source_ : absl::StrCat(source_, ":", mark.line + 1);
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, ": ", problem));
  }

  template <typename T>
  absl::Status Read(const YAML::Node& node, const std::string& key, const char* type,
                    T* out) const {
    if (!node.IsScalar()) {
      return Error(node, key, absl::StrCat("expected ", type, ", got ", engine::YamlNodeKind(node)));
    }
    const std::string& text = node.Scalar();
    try {
      *out = node.as<T>();
    } catch (const YAML::Exception&) {
      return Error(node, key, absl::StrCat("expected ", type, ", got '", text, "'"));
    }
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(*out)) {
        return Error(node, key, absl::StrCat("expected a finite number, got '", text, "'"));
      }
    }
    return absl::OkStatus();
  }

  // An integer that must be >= `min`.
  template <typename T>
  absl::Status ReadAtLeast(const YAML::Node& node, const std::string& key, T min, T* out) const {
    T value{};
    if (absl::Status s = Read(node, key, "an integer", &value); !s.ok()) return s;
    if (value < min) return Error(node, key, absl::StrCat("must be >= ", min, ", got ", value));
    *out = value;
    return absl::OkStatus();
  }

  // Calls `fn` for each entry of the mapping `node`, rejecting keys outside `known` and keys
  // given twice (yaml-cpp keeps both).
  absl::Status ForEachKey(
      const YAML::Node& node, const std::string& prefix, absl::Span<const char* const> known,
      const std::function<absl::Status(const std::string&, const YAML::Node&)>& fn) const {
    if (!node.IsMap()) {
      return Error(node, prefix.empty() ? "config" : prefix,
                   absl::StrCat("expected a mapping, got ", engine::YamlNodeKind(node)));
    }
    std::set<std::string> seen;
    for (const auto& entry : node) {
      std::string key;
      if (absl::Status s = Read(entry.first, prefix.empty() ? "config" : prefix, "a key", &key);
          !s.ok()) {
        return s;
      }
      const std::string path = prefix.empty() ? key : absl::StrCat(prefix, ".", key);
      if (std::string problem = engine::CheckMappingKey(key, prefix, known, &seen); !problem.empty()) {
        return Error(entry.first, path, problem);
      }
      if (absl::Status s = fn(path, entry.second); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status ParseLimits(const YAML::Node& node, ServerLimits* limits) const {
    return ForEachKey(
        node, "limits", kLimitKeys,
        [&](const std::string& key, const YAML::Node& value) -> absl::Status {
          if (key == "limits.max_message_bytes")
            return ReadAtLeast<int64_t>(value, key, 1, &limits->max_message_bytes);
          if (key == "limits.max_decoded_pixels")
            return ReadAtLeast<int64_t>(value, key, 1, &limits->max_decoded_pixels);
          if (key == "limits.max_images") return ReadAtLeast(value, key, 1, &limits->max_images);
          if (key == "limits.max_questions_per_scene")
            return ReadAtLeast(value, key, 1, &limits->max_questions_per_scene);
          if (key == "limits.max_question_bytes")
            return ReadAtLeast(value, key, 1, &limits->max_question_bytes);
          if (key == "limits.max_new_tokens")
            return ReadAtLeast(value, key, 1, &limits->max_new_tokens);
          if (key == "limits.max_prompt_tokens")
            return ReadAtLeast<int64_t>(value, key, 1, &limits->max_prompt_tokens);
          return ReadAtLeast(value, key, 1, &limits->queue_capacity);  // queue_capacity
        });
  }

  absl::Status ParseRoot(const YAML::Node& root, ServerConfig* config) const {
    return ForEachKey(
        root, "", kRootKeys, [&](const std::string& key, const YAML::Node& value) -> absl::Status {
          if (key == "listen") return Read(value, key, "host:port", &config->listen);
          if (key == "metrics_listen") {
            if (value.IsNull()) {  // `metrics_listen:` turns /metrics off, as "" does
              config->metrics_listen.clear();
              return absl::OkStatus();
            }
            return Read(value, key, "host:port", &config->metrics_listen);
          }
          if (key == "model") return Read(value, key, "a directory", &config->model);
          if (key == "profile") {
            if (value.IsNull()) {
              config->profile.clear();
              return absl::OkStatus();
            }
            return Read(value, key, "a file path", &config->profile);
          }
          if (key == "backend") {
            std::string name;
            if (absl::Status s = Read(value, key, "cpu or cuda", &name); !s.ok()) return s;
            absl::StatusOr<BackendKind> kind = ParseBackendKind(name);
            if (!kind.ok()) return Error(value, key, std::string(kind.status().message()));
            config->backend = *kind;
            return absl::OkStatus();
          }
          if (key == "threads") return ReadAtLeast(value, key, 0, &config->threads);
          if (key == "limits") return ParseLimits(value, &config->limits);
          if (key == "shutdown_grace_seconds") {
            double grace = 0;
            if (absl::Status s = Read(value, key, "a number of seconds", &grace); !s.ok()) return s;
            if (grace < 0) return Error(value, key, absl::StrCat("must be >= 0, got ", grace));
            config->shutdown_grace_seconds = grace;
            return absl::OkStatus();
          }
          // log_level
          std::string level;
          if (absl::Status s = Read(value, key, "a log level", &level); !s.ok()) return s;
          config->log_level = level;
          if (std::find_if(std::begin(kLogLevels), std::end(kLogLevels), [&](const char* l) {
                return level == l;
              }) == std::end(kLogLevels)) {
            return Error(value, key,
                         absl::StrCat("expected one of ", absl::StrJoin(kLogLevels, ", "),
                                      ", got '", level, "'"));
          }
          return absl::OkStatus();
        });
  }

 private:
  std::string source_;
};

// host:port with a port in 0..65535; the host is a name, an IPv4 address or a bracketed IPv6
// address ("[::]:50051").
absl::Status ValidateAddress(const std::string& key, const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": expected host:port (e.g. 127.0.0.1:50051), got '", address, "'"));
  }
  const std::string host = address.substr(0, colon);
  if (host.find(':') != std::string::npos && (host.front() != '[' || host.back() != ']')) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": an IPv6 host must be in brackets ([::1]:50051), got '", address, "'"));
  }
  int port = -1;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": port must be an integer in 0..65535 (0: any free port), got '", address, "'"));
  }
  return absl::OkStatus();
}

}  // namespace

const char* BackendKindName(BackendKind kind) {
  switch (kind) {
    case BackendKind::kCpu:
      return "cpu";
    case BackendKind::kCuda:
      return "cuda";
  }
  return "?";
}

absl::StatusOr<BackendKind> ParseBackendKind(std::string_view name) {
  if (name == "cpu") return BackendKind::kCpu;
  if (name == "cuda") return BackendKind::kCuda;
  return absl::InvalidArgumentError(
      absl::StrCat("expected cpu or cuda, got '", std::string(name), "'"));
}

absl::StatusOr<ServerConfig> ParseServerConfig(std::string_view yaml, std::string_view source) {
  const std::string where_file(source);
  ServerConfig config;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsNull()) {  // an empty file means "all defaults"
      if (!root.IsMap()) {
        return absl::InvalidArgumentError(absl::StrCat(
            where_file, ": a server config is a YAML mapping of keys, got ", engine::YamlNodeKind(root)));
      }
      if (absl::Status s = ConfigParser(where_file).ParseRoot(root, &config); !s.ok()) return s;
    }
  } catch (const YAML::Exception& e) {
    // Syntax errors (and anything yaml-cpp throws that the parser did not catch itself).
    const std::string where =
        e.mark.is_null() ? where_file : absl::StrCat(where_file, ":", e.mark.line + 1);
    return absl::InvalidArgumentError(absl::StrCat(where, ": invalid YAML: ", e.msg));
  }
  if (absl::Status s = ValidateServerConfig(config); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where_file, ": ", s.message()));
  }
  return config;
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("config file ", path, " does not exist"));
  }
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", path, " is a directory, expected a YAML file"));
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::PermissionDeniedError(absl::StrCat("cannot read config file ", path));
  std::stringstream text;
  text << file.rdbuf();
  if (file.bad()) return absl::DataLossError(absl::StrCat("error reading config file ", path));
  return ParseServerConfig(text.str(), path);
}

absl::Status ApplyOverrides(const ConfigOverrides& overrides, ServerConfig* config) {
  ServerConfig next = *config;  // decide, then mutate
  if (overrides.listen) next.listen = *overrides.listen;
  if (overrides.metrics_listen) next.metrics_listen = *overrides.metrics_listen;
  if (overrides.model) next.model = *overrides.model;
  if (overrides.profile) next.profile = *overrides.profile;
  if (overrides.backend) {
    absl::StatusOr<BackendKind> kind = ParseBackendKind(*overrides.backend);
    if (!kind.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--backend: ", kind.status().message()));
    }
    next.backend = *kind;
  }
  if (overrides.threads) next.threads = *overrides.threads;
  if (overrides.log_level) next.log_level = *overrides.log_level;
  if (overrides.shutdown_grace_seconds) {
    next.shutdown_grace_seconds = *overrides.shutdown_grace_seconds;
  }
  if (absl::Status s = ValidateServerConfig(next); !s.ok()) return s;
  *config = std::move(next);
  return absl::OkStatus();
}

absl::Status ValidateServerConfig(const ServerConfig& config) {
  if (absl::Status s = ValidateAddress("listen", config.listen); !s.ok()) return s;
  if (!config.metrics_listen.empty()) {
    if (absl::Status s = ValidateAddress("metrics_listen", config.metrics_listen); !s.ok()) {
      return s;
    }
  }
  if (config.model.empty()) return absl::InvalidArgumentError("model: must not be empty");
  if (config.threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads: must be >= 0 (0: all cores), got ", config.threads));
  }
  if (!std::isfinite(config.shutdown_grace_seconds) || config.shutdown_grace_seconds < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shutdown_grace_seconds: must be a finite number >= 0, got ",
        config.shutdown_grace_seconds));
  }
  if (std::find_if(std::begin(kLogLevels), std::end(kLogLevels), [&](const char* l) {
        return config.log_level == l;
      }) == std::end(kLogLevels)) {
    return absl::InvalidArgumentError(absl::StrCat("log_level: expected one of ",
                                                   absl::StrJoin(kLogLevels, ", "), ", got '",
                                                   config.log_level, "'"));
  }
  const ServerLimits& l = config.limits;
  const std::pair<const char*, int64_t> positive[] = {
      {"limits.max_message_bytes", l.max_message_bytes},
      {"limits.max_decoded_pixels", l.max_decoded_pixels},
      {"limits.max_images", l.max_images},
      {"limits.max_questions_per_scene", l.max_questions_per_scene},
      {"limits.max_question_bytes", l.max_question_bytes},
      {"limits.max_new_tokens", l.max_new_tokens},
      {"limits.max_prompt_tokens", l.max_prompt_tokens},
      {"limits.queue_capacity", l.queue_capacity},
  };
  for (const auto& [key, value] : positive) {
    if (value < 1) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": must be >= 1, got ", value));
    }
  }
  // gRPC takes the message size as an int.
  if (l.max_message_bytes > int64_t{2147483647}) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.max_message_bytes: must be < 2 GiB (gRPC's limit), got ", l.max_message_bytes));
  }
  if (l.max_new_tokens >= l.max_prompt_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.max_new_tokens (", l.max_new_tokens, ") must be below limits.max_prompt_tokens (",
        l.max_prompt_tokens, "), which also holds the image and question tokens"));
  }
  return absl::OkStatus();
}

engine::EngineOptions ToEngineOptions(const ServerConfig& config) {
  const ServerLimits& l = config.limits;
  engine::EngineOptions options;
  options.max_queued_requests = l.queue_capacity;
  options.max_questions_per_request = l.max_questions_per_scene;
  options.max_images_per_request = l.max_images;
  options.max_new_tokens_limit = l.max_new_tokens;
  options.max_question_bytes = l.max_question_bytes;
  options.generator.profile_path = config.profile;
  options.generator.max_pixels = l.max_decoded_pixels;
  options.generator.max_prompt_tokens = l.max_prompt_tokens;
  options.generator.max_new_tokens_limit = l.max_new_tokens;
  return options;
}

absl::Duration ShutdownGrace(const ServerConfig& config) {
  return absl::Seconds(config.shutdown_grace_seconds);
}

}  // namespace drivelm::server

#include "engine/model/weight_store.h"

#include <sys/stat.h>

#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/model/safetensors_file.h"
#include "nlohmann/json.hpp"

namespace drivelm::engine {
namespace {

constexpr char kIndexName[] = "model.safetensors.index.json";
constexpr char kSingleName[] = "model.safetensors";

// transformers >= 4.52 prefix -> canonical (< 4.52 Hub) prefix; the inverse of PaliGemma's
// `_checkpoint_conversion_mapping`.
constexpr std::pair<const char*, const char*> kPrefixMap[] = {
    {"model.language_model.", "language_model.model."},
    {"model.vision_tower.", "vision_tower."},
    {"model.multi_modal_projector.", "multi_modal_projector."},
    {"lm_head.", "language_model.lm_head."},
};

enum class PathKind { kMissing, kFile, kDir, kOther };

PathKind KindOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return PathKind::kMissing;
  if (S_ISDIR(st.st_mode)) return PathKind::kDir;
  if (S_ISREG(st.st_mode)) return PathKind::kFile;
  return PathKind::kOther;
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class SafetensorsWeightStore final : public WeightStore {
 public:
  explicit SafetensorsWeightStore(std::string source) : source_(std::move(source)) {}

  // Takes the file and indexes its tensors under their canonical names.
  absl::Status AddFile(std::unique_ptr<SafetensorsFile> file) {
    const SafetensorsFile& f = *file;
    files_.push_back(std::move(file));
    for (const SafetensorsTensor& t : f.tensors()) {
      std::string canonical = CanonicalWeightName(t.name);
      auto prev = origin_.find(canonical);
      if (prev != origin_.end()) {
        if (prev->second.first == t.name) {
          return absl::InvalidArgumentError(absl::StrCat("checkpoint ", source_, ": tensor '", t.name,
                                                         "' is stored twice, in ", prev->second.second, " and in ",
                                                         f.path()));
        }
        return absl::InvalidArgumentError(absl::StrCat(
            "checkpoint ", source_, ": tensors '", prev->second.first, "' (", prev->second.second, ") and '", t.name,
            "' (", f.path(), ") both map to canonical name '", canonical, "'"));
      }
      origin_.emplace(canonical, std::make_pair(t.name, f.path()));
      std::optional<DType> dtype = ToEngineDType(t.dtype);
      if (!dtype) {
        unusable_.emplace(canonical, SafetensorsDTypeName(t.dtype));
        continue;
      }
      views_.emplace(canonical, WeightView{canonical, t.name, *dtype, t.shape, t.data, t.nbytes});
    }
    return absl::OkStatus();
  }

  const WeightView* Find(const std::string& canonical_name) const override {
    auto it = views_.find(canonical_name);
    return it == views_.end() ? nullptr : &it->second;
  }

  absl::StatusOr<const WeightView*> Require(const std::string& canonical_name,
                                            const Shape& expected_shape) const override {
    const WeightView* v = Find(canonical_name);
    if (v == nullptr) {
      auto bad = unusable_.find(canonical_name);
      if (bad != unusable_.end()) {
        const auto& origin = origin_.at(canonical_name);
        return absl::InvalidArgumentError(absl::StrCat("checkpoint ", source_, ": tensor '", canonical_name,
                                                       "' (stored as '", origin.first, "' in ", origin.second,
                                                       ") has dtype ", bad->second,
                                                       ", which the engine cannot use; expected shape ",
                                                       ShapeToString(expected_shape)));
      }
      return absl::NotFoundError(absl::StrCat("checkpoint ", source_, " has no tensor '", canonical_name,
                                              "' (expected shape ", ShapeToString(expected_shape), ")"));
    }
    if (v->shape != expected_shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", source_, ": tensor '", canonical_name, "' (stored as '", v->file_name, "' in ",
          origin_.at(canonical_name).second, ") has shape ", ShapeToString(v->shape), ", expected ",
          ShapeToString(expected_shape)));
    }
    return v;
  }

  std::vector<std::string> Names() const override {
    std::vector<std::string> names;
    names.reserve(views_.size());
    for (const auto& kv : views_) names.push_back(kv.first);  // std::map: already sorted
    return names;
  }

 private:
  std::string source_;  // what Open() was given, for messages
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, WeightView> views_;                            // canonical -> view
  std::map<std::string, std::string> unusable_;                        // canonical -> dtype name
  std::map<std::string, std::pair<std::string, std::string>> origin_;  // canonical -> (stored name, file)
};

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

absl::StatusOr<std::unique_ptr<WeightStore>> OpenSingle(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  auto store = std::make_unique<SafetensorsWeightStore>(path);
  if (absl::Status s = store->AddFile(*std::move(file)); !s.ok()) return s;
  return std::unique_ptr<WeightStore>(std::move(store));
}

absl::StatusOr<std::unique_ptr<WeightStore>> OpenSharded(const std::string& index_path) {
  absl::StatusOr<std::string> text = ReadText(index_path);
  if (!text.ok()) return text.status();
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint index ", index_path, ": ", what));
  };
  nlohmann::json index = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded()) return bad("not valid JSON");
  if (!index.is_object()) return bad("not a JSON object");
  auto wm = index.find("weight_map");
  if (wm == index.end() || !wm->is_object()) return bad("missing or non-object \"weight_map\"");
  if (wm->empty()) return bad("\"weight_map\" is empty");

  // shard -> tensors the index places in it
  std::map<std::string, std::vector<std::string>> shards;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it.value().is_string()) return bad(absl::StrCat("weight_map entry for '", it.key(), "' is not a string"));
    std::string shard = it.value().get<std::string>();
    // Shards sit beside the index; a path would let a checkpoint point anywhere.
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..") {
      return bad(absl::StrCat("weight_map entry for '", it.key(), "' names shard '", shard,
                              "', which is not a plain file name"));
    }
    shards[shard].push_back(it.key());
  }

  const std::string dir = DirName(index_path);
  auto store = std::make_unique<SafetensorsWeightStore>(index_path);
  for (const auto& [shard, names] : shards) {
    const std::string shard_path = absl::StrCat(dir, "/", shard);
    if (KindOf(shard_path) == PathKind::kMissing) {
      return absl::NotFoundError(absl::StrCat("checkpoint index ", index_path, ": shard '", shard, "' (holding '",
                                              names.front(), "' and ", names.size() - 1,
                                              " more tensors) is missing: ", shard_path));
    }
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(shard_path);
    if (!file.ok()) return file.status();
    for (const std::string& name : names) {
      if ((*file)->Find(name) == nullptr) {
        return bad(absl::StrCat("weight_map places tensor '", name, "' in shard '", shard, "', which has no such tensor"));
      }
    }
    if (absl::Status s = store->AddFile(*std::move(file)); !s.ok()) return s;
  }
  return std::unique_ptr<WeightStore>(std::move(store));
}

}  // namespace

std::string CanonicalWeightName(std::string_view stored_name) {
  for (const auto& [from, to] : kPrefixMap) {
    // Debian's absl::string_view is not std::string_view: plain std::string_view operations here.
    const std::string_view prefix(from);
    if (stored_name.substr(0, prefix.size()) == prefix) {
      return std::string(to) + std::string(stored_name.substr(prefix.size()));
    }
  }
  return std::string(stored_name);
}

absl::StatusOr<std::unique_ptr<WeightStore>> WeightStore::Open(const std::string& path) {
  switch (KindOf(path)) {
    case PathKind::kMissing:
      return absl::NotFoundError(absl::StrCat("checkpoint path does not exist: ", path));
    case PathKind::kOther:
      return absl::InvalidArgumentError(absl::StrCat("checkpoint path is neither a file nor a directory: ", path));
    case PathKind::kFile:
      if (absl::EndsWith(path, ".json")) return OpenSharded(path);
      return OpenSingle(path);
    case PathKind::kDir:
      break;
  }
  const std::string index = absl::StrCat(path, "/", kIndexName);
  if (KindOf(index) == PathKind::kFile) return OpenSharded(index);
  const std::string single = absl::StrCat(path, "/", kSingleName);
  if (KindOf(single) == PathKind::kFile) return OpenSingle(single);
  return absl::NotFoundError(
      absl::StrCat("checkpoint directory ", path, " holds neither ", kIndexName, " nor ", kSingleName));
}

}  // namespace drivelm::engine

#include "clients/prediction_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace drivelm::clients {

absl::StatusOr<std::vector<Prediction>> PredictionFile::Parse(std::string_view json_text,
                                                              std::string_view source) {
  const std::string where(source);
  const nlohmann::json root = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not valid JSON"));
  }
  if (!root.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected a list of {\"id\", \"question\", \"answer\"}"));
  }
  std::vector<Prediction> out;
  out.reserve(root.size());
  for (size_t i = 0; i < root.size(); ++i) {
    const nlohmann::json& item = root[i];
    const std::string at = absl::StrCat(where, ": entry ", i);
    if (!item.is_object()) return absl::InvalidArgumentError(absl::StrCat(at, ": not an object"));
    Prediction p;
    for (auto [key, field] : {std::pair<const char*, std::string*>{"id", &p.id},
                              {"question", &p.question},
                              {"answer", &p.answer}}) {
      if (!item.contains(key)) {
        // "question" is informational; the challenge's scorer only reads id and answer.
        if (std::string(key) == "question") continue;
        return absl::InvalidArgumentError(absl::StrCat(at, ": no \"", key, "\""));
      }
      if (!item[key].is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ".", key, ": expected a string, got ", item[key].dump()));
      }
      *field = item[key].get<std::string>();
    }
    if (p.id.empty()) return absl::InvalidArgumentError(absl::StrCat(at, ": empty \"id\""));
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<PredictionFile> PredictionFile::Open(const std::string& path) {
  PredictionFile file;
  file.path_ = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (::access(path.c_str(), F_OK) == 0) {
      return absl::PermissionDeniedError(absl::StrCat("cannot read prediction file ", path));
    }
    return file;  // a new file
  }
  std::ostringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<Prediction>> loaded = Parse(text.str(), path);
  if (!loaded.ok()) return loaded.status();
  for (Prediction& p : *loaded) {
    if (file.Has(p.id)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": id ", p.id, " appears twice"));
    }
    file.Add(std::move(p));
  }
  return file;
}

void PredictionFile::Add(Prediction prediction) {
  auto [it, inserted] = index_.emplace(prediction.id, predictions_.size());
  if (inserted) {
    predictions_.push_back(std::move(prediction));
  } else {
    predictions_[it->second] = std::move(prediction);
  }
}

absl::Status PredictionFile::Write() const {
  // ordered_json: each entry reads id, question, answer, as the challenge's files do.
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Prediction& p : predictions_) {
    list.push_back({{"id", p.id}, {"question", p.question}, {"answer", p.answer}});
  }
  // Invalid UTF-8 (a model can emit it) is replaced, not fatal: the file must stay writable.
  const std::string text =
      list.dump(2, ' ', /*ensure_ascii=*/false, nlohmann::ordered_json::error_handler_t::replace) +
      "\n";
  const std::string tmp = absl::StrCat(path_, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string error = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::InternalError(absl::StrCat("cannot write ", tmp, ": ", error));
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const std::string sync_error = synced ? "" : std::strerror(errno);
  if (::close(fd) != 0 || !synced) {
    const std::string error = synced ? std::strerror(errno) : sync_error;
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot flush ", tmp, ": ", error));
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    const std::string error = std::strerror(errno);
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path_, ": ", error));
  }
  return absl::OkStatus();
}

}  // namespace drivelm::clients
